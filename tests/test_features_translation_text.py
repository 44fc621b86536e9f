"""Translation text: normalisation keeps what references contain; tokenisation is exactly reversible."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from data.locate import default_mirror_dir
from features.translation_text import JOINER, detokenize, normalize_sentence, tokenize_sentence

SENTENCES = [
    "¿Qué es eso?",
    "¡Estamos comiendo pan!",
    "Tom doesn't know what to think.",
    "Arrête de faire de la lèche au prof\u202f!",
    "«\u00a0Bonjour\u00a0», dit-il.",
    "Il est 8 h 30, n'est-ce pas\u202f?",
    "He paid $3.50 (cash)...",
    'Él dijo: "no".',
]


@pytest.mark.parametrize("sentence", SENTENCES)
def test_tokenize_then_detokenize_gives_the_sentence_back(sentence: str) -> None:
    assert normalize_sentence(sentence) == sentence
    assert detokenize(tokenize_sentence(sentence)) == sentence


def test_joiners_sit_on_the_punctuation_so_words_keep_one_form() -> None:
    assert tokenize_sentence("¿Qué es eso?") == ["¿" + JOINER, "Qué", "es", "eso", JOINER + "?"]
    assert tokenize_sentence("Qué es eso") == ["Qué", "es", "eso"]
    assert tokenize_sentence("don't") == ["don", JOINER + "'" + JOINER, "t"]
    # French no-break spaces travel with their punctuation mark.
    assert tokenize_sentence("prof\u202f!") == ["prof", JOINER + "\u202f!"]
    assert tokenize_sentence("«\u00a0oui\u00a0»") == ["«\u00a0" + JOINER, "oui", JOINER + "\u00a0»"]


def test_normalisation_keeps_accents_case_and_french_spacing() -> None:
    assert normalize_sentence("Ca\u0301mara  \t lenta ") == "Cámara lenta"  # NFC, one space
    assert normalize_sentence("fille\u202f ?") == "fille\u202f?"  # a no-break space absorbs spaces
    assert normalize_sentence("Ce\u00a0n'est\u00a0pas") == "Ce n'est pas"  # between words: a space
    assert normalize_sentence("acusados \u200b\u200bfue") == "acusados fue"  # invisible characters
    assert normalize_sentence("Hola, ¿QUÉ tal?", lowercase=True) == "hola, ¿qué tal?"
    assert JOINER not in normalize_sentence(f"a {JOINER} b")


def test_detokenize_accepts_any_model_output() -> None:
    assert detokenize([]) == ""
    assert detokenize([JOINER + "?", "hola", JOINER, "¿" + JOINER]) == "? hola ¿"
    assert detokenize(["¿" + JOINER, "Qué", JOINER + "?"]) == "¿Qué?"


@pytest.mark.mirror
@pytest.mark.parametrize("name", ["spa-eng", "fra-eng"])
def test_every_mirror_sentence_round_trips(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    value = os.environ.get("PIPELINE_DATA_DIR")
    mirror = Path(value) if value else default_mirror_dir()
    if mirror is None or not (mirror / "translation" / f"{name}.tsv.gz").is_file():
        pytest.skip("no data mirror (set PIPELINE_DATA_DIR or provide ../shared/data)")
    monkeypatch.setenv("PIPELINE_DATA_DIR", str(mirror))
    from data.readers import load_registry_frame  # noqa: PLC0415

    frame = load_registry_frame(name)
    for side in (*frame["source"], *frame["target"]):
        sentence = normalize_sentence(side)
        assert detokenize(tokenize_sentence(sentence)) == sentence, side
    assert len(frame) > 100_000
