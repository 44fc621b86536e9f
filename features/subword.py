"""Subword vocabularies: SentencePiece models (Kudo & Richardson 2018) with this project's reserved ids.

`SubwordModel.train(texts, pieces, kind)` learns a unigram or BPE model of `pieces` pieces from raw
sentences, in memory, with `<pad>`=0, `<unk>`=1, `<start>`=2, `<end>`=3 as DESIGN.md fixes them. Text is kept
as it is (the "identity" normalisation: case, accents, `¿ ¡` and punctuation survive), every character of
the training text gets a piece, and a character never seen falls back to its UTF-8 bytes, so no input
becomes `<unk>` and decoding gives the text back. The model is saved as the `.model` file SentencePiece
writes (a protobuf), never pickled.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

import sentencepiece as spm

from data.atomic import write_with
from features.vocabulary import RESERVED

SUBWORD_KINDS = ("unigram", "bpe")


class SubwordModel:
    """A trained SentencePiece model: text <-> ids, optionally sampling segmentations (subword regularisation)."""

    def __init__(self, model_bytes: bytes) -> None:
        self.model_bytes = bytes(model_bytes)
        self.processor = spm.SentencePieceProcessor(model_proto=self.model_bytes)
        reserved = tuple(self.processor.id_to_piece(i) for i in range(len(RESERVED)))
        if reserved != RESERVED:
            raise ValueError(
                f"a subword model must start with the reserved pieces {RESERVED}, got {reserved}"
            )

    @classmethod
    def train(
        cls, texts: Iterable[str], pieces: int, kind: str = "unigram", symbols: Iterable[str] = ()
    ) -> SubwordModel:
        """Learn a model of at most `pieces` pieces (fewer when the text cannot fill them) from `texts`;
        each of `symbols` (e.g. placeholders) is one piece of its own, never cut, right after the reserved."""
        if kind not in SUBWORD_KINDS:
            raise ValueError(f"unknown subword model {kind!r}; known: {', '.join(SUBWORD_KINDS)}")
        buffer = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(list(texts)),
            model_writer=buffer,
            vocab_size=int(pieces),
            model_type=kind,
            pad_id=0,
            unk_id=1,
            bos_id=2,
            eos_id=3,
            pad_piece=RESERVED[0],
            unk_piece=RESERVED[1],
            bos_piece=RESERVED[2],
            eos_piece=RESERVED[3],
            character_coverage=1.0,
            byte_fallback=True,
            normalization_rule_name="identity",
            hard_vocab_limit=False,
            num_threads=1,  # repeatable
            minloglevel=2,
            **({"user_defined_symbols": list(symbols)} if symbols else {}),
        )
        return cls(buffer.getvalue())

    def __len__(self) -> int:
        return self.processor.get_piece_size()

    @property
    def pieces(self) -> list[str]:
        """Every piece, in id order (the reserved ones first)."""
        return [self.processor.id_to_piece(i) for i in range(len(self))]

    def encode(self, text: str, sample_alpha: float = 0.0) -> list[int]:
        """The ids of `text`: the best segmentation, or with `sample_alpha` > 0 one sampled from all of them
        (unigram: smoothing `alpha`; BPE: BPE-dropout with that probability)."""
        if sample_alpha > 0:
            return self.processor.encode(text, enable_sampling=True, alpha=sample_alpha, nbest_size=-1)
        return self.processor.encode(text)

    def to_pieces(self, ids: Iterable[int]) -> list[str]:
        return [self.processor.id_to_piece(int(i)) for i in ids]

    def decode(self, ids: Iterable[int]) -> str:
        """The text of ids (reserved ids ignored)."""
        return self.processor.decode([int(i) for i in ids if int(i) >= len(RESERVED)])

    def save(self, path: str | Path) -> None:
        write_with(Path(path), lambda tmp: Path(tmp).write_bytes(self.model_bytes))

    @classmethod
    def load(cls, path: str | Path) -> SubwordModel:
        return cls(Path(path).read_bytes())


WORD_START = "\u2581"  # SentencePiece's "▁": the piece begins a new word


def word_groups(pieces: list[str]) -> tuple[list[str], list[list[int]]]:
    """The words a piece sequence spells and, for each, the positions of its pieces: a word starts at a piece
    beginning with "▁" (or at the first piece); a reserved piece such as `<end>` is a word of its own."""
    words: list[str] = []
    groups: list[list[int]] = []
    for index, piece in enumerate(pieces):
        reserved = piece in RESERVED
        if not groups or reserved or piece.startswith(WORD_START) or words[-1] in RESERVED:
            words.append(piece if reserved else piece.lstrip(WORD_START))
            groups.append([index])
        else:
            words[-1] += piece
            groups[-1].append(index)
    return words, groups


def merge_pieces(weights, source_pieces: list[str], output_pieces: list[str]):
    """Attention weights (..., output pieces, source pieces) summed into (..., output words, source words),
    with the word labels: each word's row and column is the sum of its pieces'."""
    import numpy as np  # noqa: PLC0415

    weights = np.asarray(weights)
    source_words, source_groups = word_groups(source_pieces)
    output_words, output_groups = word_groups(output_pieces)
    columns = np.stack([weights[..., group].sum(axis=-1) for group in source_groups], axis=-1)
    rows = np.stack([columns[..., group, :].sum(axis=-2) for group in output_groups], axis=-2)
    return rows, source_words, output_words
