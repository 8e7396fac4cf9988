"""Articles in the encoder's other languages, end to end with the real model (slow)."""

from __future__ import annotations

import json

import pytest

from retrieval.config import Settings
from retrieval.pipeline import Newsbot
from tests.conftest import ARTICLES

FOREIGN = [
    {
        "id": "lyon-tram",
        "title": "Lyon construit trois lignes de tramway",
        "text": (
            "La métropole de Lyon a présenté mardi son plan de transports pour la prochaine décennie. "
            "Trois nouvelles lignes de tramway seront construites d'ici à 2030, pour un coût de 1,2 milliard "
            "d'euros. Le président de la métropole, Bruno Bernard, a parlé d'un investissement historique. "
            "Les travaux de la première ligne commenceront au printemps dans le quartier de Gerland. "
            "Les associations de cyclistes ont salué le projet mais demandent davantage de pistes."
        ),
    },
    {
        "id": "valencia-lluvias",
        "title": "Lluvias torrenciales en Valencia",
        "text": (
            "Las lluvias torrenciales obligaron a cortar varias carreteras en la provincia de Valencia. "
            "Más de 400 bomberos trabajaron durante toda la noche para achicar agua de los garajes. "
            "El Ayuntamiento abrió dos polideportivos para acoger a unas 150 personas desalojadas. "
            "La Agencia Estatal de Meteorología mantiene la alerta naranja hasta el jueves por la tarde. "
            "No hubo heridos graves, según informó un portavoz de la Guardia Civil."
        ),
    },
    {
        "id": "london-rates",
        "title": "Bank of England raises rates",
        "text": (
            "The Bank of England raised its main interest rate to 5.25 percent on Thursday. "
            "It was the fourteenth increase in a row, the governor Andrew Bailey told reporters in London. "
            "Mortgage holders will face higher monthly payments from next month. "
            "Economists had expected the move after inflation stayed above seven percent in June."
        ),
    },
]


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Newsbot:
    home = tmp_path_factory.mktemp("multilingual")
    corpus = home / "corpus.jsonl"
    rows = [*ARTICLES, *FOREIGN]
    corpus.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    bot = Newsbot(Settings(home=home), index_dir=home / "index")
    bot.index_paths([corpus], progress=False)
    return bot


@pytest.mark.slow
def test_languages_are_detected_when_not_given(bot: Newsbot) -> None:
    langs = {a.id: a.lang for a in bot.sources()}
    assert langs == {
        "lyon-tram": "fr",
        "valencia-lluvias": "es",
        "london-rates": "en",
        "wien-1": "de",
        "graz-1": "de",
    }


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "article", "words"),
    [
        ("Combien coûteront les nouvelles lignes de tramway à Lyon ?", "lyon-tram", ["1,2 milliard"]),
        ("¿Cuántos bomberos trabajaron durante la noche en Valencia?", "valencia-lluvias", ["400"]),
        ("What did the Bank of England raise its interest rate to?", "london-rates", ["5.25"]),
        ("Wie viele Feuerwehrleute waren in Graz im Einsatz?", "graz-1", ["300"]),
    ],
)
def test_questions_about_each_language_are_answered_from_the_right_article(
    bot: Newsbot, question: str, article: str, words: list[str]
) -> None:
    answer = bot.answer(question)
    assert answer.retrieved[0] == article
    assert not answer.abstained, answer.text
    assert answer.citations[0].article_id == article
    assert all(w in answer.citations[0].quote for w in words)


@pytest.mark.slow
def test_foreign_articles_are_found_by_their_words(bot: Newsbot) -> None:
    hits = bot.search("tramway Lyon Gerland", k=3)
    assert hits[0].chunk.article_id == "lyon-tram"
