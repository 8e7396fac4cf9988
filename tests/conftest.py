"""Shared fixtures: tiny corpora, a fake embedder, isolated data folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrieval.config import Settings
from retrieval.embeddings import HashEmbedder
from retrieval.pipeline import Newsbot

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"

ARTICLES = [
    {"id": "wien-1", "title": "Neue U-Bahn in Wien", "date": "2015-09-18",
     "source": "https://example.org/wien", "lang": "de",
     "text": "Die Stadt Wien baut eine neue U-Bahn-Linie. Die Linie U5 soll 2026 eröffnet werden. "
             "Bürgermeister Michael Häupl sprach am 18. September von einem Jahrhundertprojekt. "
             "Die Kosten betragen rund 950 Millionen Euro."},
    {"id": "graz-1", "title": "Hochwasser in Graz", "date": "2015-06-02", "source": "APA",
     "lang": "de",
     "text": "In Graz trat die Mur über die Ufer. Mehr als 300 Feuerwehrleute waren im Einsatz. "
             "Verletzt wurde niemand, sagte ein Sprecher der Polizei."},
]


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own NEWSBOT_HOME, so nothing touches the user's index."""
    monkeypatch.setenv("NEWSBOT_HOME", str(tmp_path / "home"))


@pytest.fixture
def corpus_file(tmp_path: Path) -> Path:
    """A small JSONL corpus of two German articles."""
    path = tmp_path / "corpus.jsonl"
    path.write_text("\n".join(json.dumps(a, ensure_ascii=False) for a in ARTICLES) + "\n",
                    encoding="utf-8")
    return path


@pytest.fixture
def fake_bot(tmp_path: Path, corpus_file: Path) -> Newsbot:
    """A Newsbot over the small corpus with the deterministic hash embedder."""
    bot = Newsbot(Settings(home=tmp_path / "home"), embedder=HashEmbedder(),
                  index_dir=tmp_path / "index")
    bot.index_paths([corpus_file], progress=False)
    return bot
