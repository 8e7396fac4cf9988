"""The `newsbot` command: index, ask, repl, sources, remove, check, repair, eval, feeds, update,
telegram."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click
from pydantic import ValidationError

from retrieval.errors import NewsbotError

log = logging.getLogger("newsbot")


def _settings(ctx: click.Context):
    """The settings for this invocation: the environment, with the flags given on top."""
    from retrieval.config import Settings

    return Settings(**{k: v for k, v in ctx.obj["overrides"].items() if v is not None})


def _bot(ctx: click.Context):  # -> retrieval.pipeline.Newsbot
    """The Newsbot for this invocation, built once from settings and flags."""
    if "bot" not in ctx.obj:
        from retrieval.pipeline import Newsbot

        ctx.obj["bot"] = Newsbot(_settings(ctx))
        ctx.call_on_close(ctx.obj["bot"].close)
    return ctx.obj["bot"]


def _answering_bot(ctx: click.Context):  # -> retrieval.pipeline.Newsbot
    """The Newsbot of a command that answers, its chat model (if any) checked before anything
    else runs, so a bad NEWSBOT_LLM or a missing extra is one line at start-up."""
    bot = _bot(ctx)
    _check_llm(bot.settings)
    return bot


def _check_llm(settings) -> None:
    """ConfigError when NEWSBOT_LLM names no usable chat model (no server is contacted)."""
    if settings.llm:
        from retrieval.answering.chat_models import check_llm

        check_llm(settings)


def _say(message: str) -> None:
    """A status line on stderr, so stdout stays the answer."""
    click.echo(message, err=True)


def _say_problem(problem) -> None:
    """A skipped input, or one read with a repair, on stderr."""
    _say(f"{'repaired' if problem.kept else 'skipped'} {problem}")


def _report_index(outcome) -> None:
    """Print what an indexing run did and what it skipped or repaired."""
    r = outcome.report
    for problem in outcome.problems:
        _say_problem(problem)
    merged = f", {r.merged} merged into stored stories as further sources" if r.merged else ""
    _say(
        f"Indexed {r.added} new and {r.updated} changed articles ({r.unchanged} unchanged{merged}): "
        f"embedded {r.chunks_embedded} chunks and {r.sentences_embedded} sentences "
        f"in {r.seconds:.1f} s."
    )


def _set_llm(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    """Put --llm among the settings overrides (given, even empty, it beats NEWSBOT_LLM)."""
    if value is not None:
        ctx.ensure_object(dict).setdefault("overrides", {})["llm"] = value


# The chat model option of the commands that answer questions.
llm_option = click.option(
    "--llm",
    metavar="BACKEND:MODEL",
    expose_value=False,
    callback=_set_llm,
    help="Write answers with a chat model: openai:MODEL (OpenAI or a compatible server at "
    "NEWSBOT_LLM_BASE_URL) or ollama:MODEL; '' for offline answers [env NEWSBOT_LLM].",
)


class _DateParam(click.ParamType):
    """A date on the command line ("2015-09-18", "18.09.2015", "Sep 18, 2015") as an ISO date."""

    name = "DATE"

    def convert(self, value, param, ctx) -> str:
        from retrieval.readers.dates import DateError, iso_date

        try:
            return iso_date(value, allow_future=True)
        except DateError as exc:
            self.fail(str(exc), param, ctx)


def _set_as_of(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    """Put --as-of (an ISO date, see _DateParam) among the settings overrides (it beats NEWSBOT_AS_OF)."""
    if value is not None:
        ctx.ensure_object(dict).setdefault("overrides", {})["as_of"] = value


# The reference day of the commands that answer questions.
as_of_option = click.option(
    "--as-of",
    type=_DateParam(),
    expose_value=False,
    callback=_set_as_of,
    help="Resolve 'last week', 'gestern' … in questions against DATE instead of the newest "
    "article's date [env NEWSBOT_AS_OF].",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    type=click.Path(path_type=Path),
    envvar="NEWSBOT_HOME",
    help="Data folder for the index [env NEWSBOT_HOME].",
)
@click.option(
    "--embedder",
    envvar="NEWSBOT_EMBEDDER",
    help="Embedder: use-multilingual-v3 (default), all-minilm-l6-v2, st:NAME_OR_PATH.",
)
@click.option(
    "--store",
    type=click.Choice(["local", "milvus"]),
    envvar="NEWSBOT_STORE",
    help="Vector store: local (SQLite + FAISS, default) or milvus (NEWSBOT_MILVUS_URI) [env NEWSBOT_STORE].",
)
@click.option("-v", "--verbose", is_flag=True, help="Log details to stderr.")
@click.pass_context
def cli(
    ctx: click.Context, home: Path | None, embedder: str | None, store: str | None, verbose: bool
) -> None:
    """Ask questions about news articles; answers quote and cite their sources."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    ctx.ensure_object(dict)
    ctx.obj["overrides"] = {"home": home, "embedder": embedder, "store": store}


class _SourceParam(click.ParamType):
    """A file, a folder or an http(s) URL (kept as a string: a Path would fold its '//')."""

    name = "PATH|URL"

    def __init__(self, exists: bool = False) -> None:
        self.exists = exists

    def convert(self, value, param, ctx) -> Path | str:
        from retrieval.readers.fetch import is_url

        if isinstance(value, Path) or not is_url(value):
            path = Path(value)
            if self.exists and not path.exists():
                self.fail(f"'{value}' does not exist", param, ctx)
            return path
        return value


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=_SourceParam())
@click.option("--rebuild", is_flag=True, help="Build a fresh index (swapped in when complete).")
@click.pass_context
def index(ctx: click.Context, paths: tuple[Path | str, ...], rebuild: bool) -> None:
    """Index .txt, .md (with YAML front matter), .jsonl, .html/.htm and .rss/.atom/.xml feed articles
    from files or folders, and pages or feeds from http(s) URLs."""
    _report_index(_bot(ctx).index_paths(paths, rebuild=rebuild))


@cli.command()
@llm_option
@as_of_option
@click.argument("question", nargs=-1, required=True)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the answer as one JSON object (text, short answer, citations…) for scripts.",
)
@click.pass_context
def ask(ctx: click.Context, question: tuple[str, ...], as_json: bool) -> None:
    """Answer one question, quoting and citing the articles."""
    bot = _answering_bot(ctx)
    text = bot.check_question(" ".join(question))
    _ensure_index(bot)
    answer = bot.answer(text)
    if as_json:
        click.echo(json.dumps(answer.to_json(), ensure_ascii=False, indent=2))
    else:
        from bot.render import format_answer

        click.echo(format_answer(answer, bold=_is_terminal()))


def _is_terminal() -> bool:
    """Whether stdout is a terminal (then the short answer is shown in bold)."""
    return sys.stdout.isatty()


def _ensure_index(bot) -> None:
    """Index the bundled seed articles first when there is no index."""
    if not bot.has_index():
        _say(f"No index yet in {bot.index_dir}: indexing the seed articles in {bot.settings.seeds} first.")
        _report_index(bot.ensure_index())


SOURCES_PAGE = 20


@cli.command()
@click.option("--since", type=_DateParam(), help="Only articles dated on or after DATE.")
@click.option("--until", type=_DateParam(), help="Only articles dated on or before DATE.")
@click.option("--grep", metavar="TEXT", help="Only articles whose title or source holds TEXT (any case).")
@click.option("--source", "site", metavar="SOURCE", help="Only articles from this source (any case).")
@click.option("--sort", type=click.Choice(["date", "title"]), default="date", show_default=True,
              help="Order by date (undated last) or title.")
@click.option("--reverse", is_flag=True, help="Newest (or last by title) first.")
@click.option("--limit", type=click.IntRange(min=1), help="Show at most N articles.")
@click.option("--offset", type=click.IntRange(min=0), default=0, help="Skip the first N articles.")
@click.option("--page", type=click.IntRange(min=1),
              help=f"Show page N ({SOURCES_PAGE} articles a page, or --limit).")
@click.option("--json", "as_json", is_flag=True,
              help="Print {total, chunks, offset, articles: [{id, title, date, source, url, lang, chunks,"
                   " sources}]}.")
@click.pass_context
def sources(
    ctx: click.Context, since: str | None, until: str | None, grep: str | None, site: str | None,
    sort: str, reverse: bool, limit: int | None, offset: int, page: int | None, as_json: bool,
) -> None:
    """List the indexed articles: filter by date, title or source; sort; page."""
    from bot.render import format_sources
    from retrieval.pipeline import SourceQuery

    if page is not None:
        if offset:
            raise click.UsageError("give --page or --offset, not both")
        limit = limit or SOURCES_PAGE
        offset = (page - 1) * limit
    query = SourceQuery(since=since or "", until=until or "", grep=grep or "", source=site or "",
                        sort=sort, reverse=reverse, limit=limit, offset=offset)
    found = _bot(ctx).source_page(query)
    if as_json:
        rows = [{"id": a.id, "title": a.title, "date": a.date, "source": a.source, "url": a.url,
                 "lang": a.lang, "chunks": a.chunks, "sources": [s.to_json() for s in a.sources]}
                for a in found.articles]
        doc = {"total": found.total, "chunks": found.chunks, "offset": offset, "articles": rows}
        click.echo(json.dumps(doc, ensure_ascii=False, indent=2))
    else:
        click.echo(format_sources(found.articles, found.total, found.chunks, offset))


@cli.command()
@click.argument("article_id")
@click.option("--json", "as_json", is_flag=True,
              help="Print {id, title, date, source, url, lang, meta, text} as one JSON object.")
@click.pass_context
def show(ctx: click.Context, article_id: str, as_json: bool) -> None:
    """Print one indexed article (its id as `newsbot sources` lists it)."""
    article = _bot(ctx).article(article_id)
    if as_json:
        doc = {"id": article.id, "title": article.title, "date": article.date, "source": article.source,
               "url": str(article.meta.get("url", "")), "lang": article.lang, "meta": article.meta,
               "text": article.text}
        click.echo(json.dumps(doc, ensure_ascii=False, indent=2, default=str))
    else:
        from bot.render import format_article

        click.echo(format_article(article))


@cli.command()
@click.argument("article_ids", nargs=-1)
@click.option("--source", "site", metavar="SOURCE",
              help="Remove every article from this source (as `newsbot sources` shows it; any case).")
@click.pass_context
def remove(ctx: click.Context, article_ids: tuple[str, ...], site: str | None) -> None:
    """Remove articles from the index by id (as `newsbot sources` lists them) or by source."""
    if not article_ids and not site:
        raise click.UsageError("give article ids, or --source SOURCE")
    bot = _bot(ctx)
    if site:
        from_site = bot.source_ids_from(site)
        if not from_site:
            raise NewsbotError(f"no articles from source '{site}' in the index")
        article_ids = tuple(dict.fromkeys([*article_ids, *from_site]))
    removed = bot.remove(article_ids)
    unknown = [a for a in article_ids if a not in removed]
    _say(f"Removed {len(removed)} article{'s' * (len(removed) != 1)}.")
    if unknown:
        raise NewsbotError(f"not in the index: {', '.join(unknown)}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the problems as a JSON list.")
@click.pass_context
def check(ctx: click.Context, as_json: bool) -> None:
    """Verify the index: the store, its vectors and the derived indexes (exit 1 on problems)."""
    problems = _bot(ctx).check()
    if as_json:
        click.echo(json.dumps(problems, ensure_ascii=False))
    else:
        for problem in problems:
            click.echo(problem)
        click.echo(
            "The index is sound." if not problems else "Run 'newsbot repair' to fix what can be fixed."
        )
    if problems:
        ctx.exit(1)


@cli.command()
@click.pass_context
def repair(ctx: click.Context) -> None:
    """Rebuild the index's derived parts from its store (no source is read again)."""
    for line in _bot(ctx).repair(progress=_say):
        _say(line)
    problems = _bot(ctx).check()
    for problem in problems:
        click.echo(problem)
    if problems:
        raise NewsbotError("the index still has problems that repair cannot fix; index the articles again")
    _say("The index is sound.")


@cli.command()
@click.option(
    "--to", "to", type=click.Choice(["milvus", "local"]), required=True, help="The vector store to fill."
)
@click.option("--drop", is_flag=True, help="With --to local: drop the Milvus collections afterwards.")
@click.pass_context
def migrate(ctx: click.Context, to: str, drop: bool) -> None:
    """Copy the index's stored vectors into Milvus or the local FAISS files (nothing is embedded again)."""
    for line in _bot(ctx).migrate(to, drop=drop):
        _say(line)
    _say(f"Done; answer from it with NEWSBOT_STORE={to} (or --store {to}).")


@cli.command()
@llm_option
@as_of_option
@click.pass_context
def repl(ctx: click.Context) -> None:
    """Ask questions interactively (:sources, :help, :quit)."""
    from bot.repl import run_repl

    bot = _answering_bot(ctx)
    _ensure_index(bot)
    run_repl(bot)


@cli.command("eval")
@llm_option
@as_of_option
@click.argument("questions", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--corpus",
    multiple=True,
    type=_SourceParam(exists=True),
    help="Articles to index: a file, folder or URL (repeatable). Default: a SQuAD file's "
    "own contexts, else the seed articles.",
)
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write metrics, configuration and per-question rows as JSON.",
)
@click.option(
    "--report",
    "report_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a Markdown report: metrics, then the worst cases.",
)
@click.option("--limit", type=click.IntRange(min=1), help="Evaluate only the first N questions.")
@click.option(
    "--no-history",
    is_flag=True,
    help="Ask conversation turns alone, without the earlier turns (to compare with history).",
)
@click.pass_context
def eval_command(
    ctx: click.Context,
    questions: Path,
    corpus: tuple[Path, ...],
    json_out: Path | None,
    report_out: Path | None,
    limit: int | None,
    no_history: bool,
) -> None:
    """Score the bot on a question set (JSONL or SQuAD JSON) with a fresh index of a corpus."""
    from retrieval import evaluate

    settings = _settings(ctx)
    _check_llm(settings)
    qset = evaluate.load_questions(questions)
    for problem in qset.problems:
        _say_problem(problem)
    qset.questions = qset.questions[:limit] if limit else qset.questions
    paths = evaluate.default_corpus(qset, corpus, settings)
    _say(
        "Corpus: " + (", ".join(map(str, paths)) or f"the {len(qset.articles)} SQuAD contexts of {questions}")
    )
    result = evaluate.run_eval(qset, paths, settings, history=not no_history)
    for problem in result.question_problems[len(qset.problems) :] + result.article_problems:
        _say_problem(problem)
    if result.question_problems:
        _say(
            f"Skipped {len(result.question_problems)} invalid question(s); "
            f"evaluated the other {result.metrics['questions']}."
        )
    click.echo(evaluate.format_summary(result.metrics))
    for path, write in ((json_out, evaluate.write_json), (report_out, evaluate.write_report)):
        if path:
            write(result, path)
            _say(f"Wrote {path}")


@cli.group()
def feeds() -> None:
    """Register the RSS/Atom feeds that `newsbot update` keeps indexed."""


@feeds.command("add")
@click.argument("urls", nargs=-1, required=True)
@click.pass_context
def feeds_add(ctx: click.Context, urls: tuple[str, ...]) -> None:
    """Register feeds by URL (run `newsbot update` to index them)."""
    with _bot(ctx).feed_list() as feed_list:
        new = feed_list.add(urls)
    for url in dict.fromkeys(u.strip() for u in urls):
        _say(f"{'added' if url in new else 'already registered'}: {url}")


@feeds.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the feeds as a JSON list.")
@click.pass_context
def feeds_list(ctx: click.Context, as_json: bool) -> None:
    """The registered feeds, with when each was last updated and how it went."""
    with _bot(ctx).feed_list() as feed_list:
        records = feed_list.feeds()
    if as_json:
        click.echo(json.dumps([{"url": r.url, "added": r.added, "checked": r.checked, "status": r.status}
                               for r in records], ensure_ascii=False, indent=2))
        return
    if not records:
        _say("No feeds registered; add one with 'newsbot feeds add URL'.")
    for r in records:
        checked = f"  (updated {r.checked}: {r.status})" if r.checked else "  (not updated yet)"
        click.echo(f"{r.url}{checked}")


@feeds.command("remove")
@click.argument("urls", nargs=-1, required=True)
@click.pass_context
def feeds_remove(ctx: click.Context, urls: tuple[str, ...]) -> None:
    """Unregister feeds (their articles stay indexed; `newsbot remove --source` removes them)."""
    with _bot(ctx).feed_list() as feed_list:
        unknown = [u for u in urls if not feed_list.remove(u)]
    for url in urls:
        if url not in unknown:
            _say(f"removed: {url}")
    if unknown:
        raise NewsbotError(f"not a registered feed: {', '.join(unknown)} (see 'newsbot feeds list')")


@cli.command()
@click.pass_context
def update(ctx: click.Context) -> None:
    """Fetch every registered feed and index its new and changed entries (exit 1 if a feed failed)."""
    reports = _bot(ctx).update()
    if not reports:
        _say("No feeds registered; add one with 'newsbot feeds add URL'.")
    _report_feeds(reports)
    if any(r.error for r in reports):
        ctx.exit(1)


def _report_feeds(reports) -> None:
    """One line per feed (new, changed, unchanged, failed), after the problems met with it."""
    for report in reports:
        for problem in report.problems:
            _say_problem(problem)
        _say(str(report))


def _interval(value: str | None) -> float | None:
    """Seconds of an interval such as '30m', '2h', '90s' or '45' (minutes)."""
    if value is None:
        return None
    import re

    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", value.lower())
    if not match or float(match.group(1)) <= 0:
        raise click.BadParameter(f"'{value}' is no interval such as 30m, 2h or 90s",
                                 param_hint="--update-every")
    unit = {"s": 1, "m": 60, "": 60, "h": 3600, "d": 86400}[match.group(2)]
    return float(match.group(1)) * unit


@cli.command()
@click.option("--webhook", metavar="URL", help="Receive updates at this public URL instead of long polling.")
@click.option(
    "--listen",
    default="127.0.0.1:8443",
    show_default=True,
    metavar="HOST:PORT",
    help="Where the webhook server listens (with --webhook).",
)
@click.option(
    "--secret-token",
    envvar="NEWSBOT_TELEGRAM_WEBHOOK_SECRET",
    help="Secret Telegram sends with each webhook call "
    "[env NEWSBOT_TELEGRAM_WEBHOOK_SECRET; random when unset].",
)
@click.option(
    "--public", is_flag=True, help="Answer everyone (needed when NEWSBOT_TELEGRAM_ALLOWED is unset)."
)
@click.option("--update-every", metavar="INTERVAL",
              help="Update the registered feeds this often (30m, 2h, 90s) while the bot runs.")
@llm_option
@as_of_option
@click.pass_context
def telegram(
    ctx: click.Context, webhook: str | None, listen: str, secret_token: str | None, public: bool,
    update_every: str | None,
) -> None:
    """Run the Telegram bot (token from NEWSBOT_TELEGRAM_TOKEN) until Ctrl-C."""
    from bot.telegram import run_bot

    every = _interval(update_every)
    bot = _answering_bot(ctx)
    run_bot(
        bot,
        public=public,
        webhook=webhook,
        listen=listen,
        secret_token=secret_token,
        prepare=lambda: _ensure_index(bot),
        update_every=every,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; expected errors become one line on stderr and a non-zero exit."""
    try:
        code = cli.main(args=argv, prog_name="newsbot", standalone_mode=False)
    except NewsbotError as exc:
        click.echo(f"Error: {exc}", err=True)
        return 1
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except ValidationError as exc:  # a NEWSBOT_ variable that is not a valid setting
        click.echo(f"Error: {settings_problem(exc)}", err=True)
        return 2
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
    except Exception as exc:  # unexpected: keep the traceback in the log file
        where = _log_traceback()
        click.echo(f"Error: unexpected {type(exc).__name__}: {exc} (traceback in {where})", err=True)
        return 2
    return code if isinstance(code, int) else 0


def settings_problem(exc: ValidationError) -> str:
    """Which NEWSBOT_ variables are invalid and why, in one line (values never shown: one may
    be a secret)."""
    problems = [
        f"NEWSBOT_{str(error['loc'][0]).upper()}: {error['msg']}" if error["loc"] else error["msg"]
        for error in exc.errors()
    ]
    return "invalid setting " + "; ".join(problems)


def _log_traceback() -> Path:
    """Append the current exception's traceback to NEWSBOT_HOME/newsbot.log; return the path."""
    from retrieval.config import Settings

    path = Settings().home / "newsbot.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    errors = logging.getLogger("newsbot.errors")
    errors.propagate = False
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    errors.addHandler(handler)
    try:
        errors.exception("unexpected error")
    finally:
        errors.removeHandler(handler)
        handler.close()
    return path


if __name__ == "__main__":
    sys.exit(main())
