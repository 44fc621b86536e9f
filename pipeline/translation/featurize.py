"""featurize (translation): pairs -> two vocabularies and padded id arrays per split (features/{split}.npz).

Both sides are tokenised by `features.translation_text.tokenize_sentence` (words and punctuation, joiners
where there was no space, so outputs detokenise exactly); the source is lower-cased when
`features.lowercase` is set, the target keeps its case. Each side gets its own vocabulary built on the
training pairs (`features.max_tokens`, `features.min_count`; reserved ids first, rarer tokens are `<unk>`).

With `features.tokenizer = "sentencepiece"`, each side is instead cut into SentencePiece pieces
(`features.subword` : `SubwordModel`; `features.subword_model` unigram or BPE, `features.max_tokens` pieces,
`features.shared_vocab` for one model over both sides) learnt on the training pairs only, case and
punctuation kept on both sides; `features/source.model` and `features/target.model` are the models
(the same bytes when shared) and the vocabularies list their pieces. `features.sequence_length` then counts
pieces.

Per split, `features/{split}.npz` holds `source` (ids + `<end>`), `target_in` (`<start>` + ids, what the
decoder reads under teacher forcing) and `target_out` (ids + `<end>`, what it must predict), each padded with
0 to `features.sequence_length`. Training pairs with a side longer than that are left out (counted);
valid and test pairs are cut to it (counted too) so that every one of them is scored.

With `features.placeholders`, the pairs are first rewritten with placeholders for numbers and unknown words
(pipeline.translation.protection); features/known_words.json keeps the training sources' known words, and
info.json the placeholders both vocabularies hold. `features.casual_source_rate` lower-cases that share of
the training sources and drops their final punctuation (info.json counts them).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from data.atomic import write_json, write_with
from data.progress import progress
from features.placeholders import PLACEHOLDERS
from features.sequences import pad_ids
from features.subword import SubwordModel
from features.translation_text import normalize_sentence, tokenize_sentence
from features.vocabulary import END_ID, START_ID, UNK_ID, Vocabulary
from pipeline.errors import PipelineError
from pipeline.rundir import RunDir
from pipeline.splits import read_prepared, split_names
from pipeline.stage import StageOutput, make_stage
from pipeline.stage_keys import LEGACY_TABLE_KEYS, LegacyKey, StageKeySpec
from pipeline.translation.protection import (
    KNOWN_WORDS_FILE,
    rewrite_frames,
    usable_placeholders,
)

__all__ = ["featurize", "feature_info", "load_arrays", "read_pairs_split", "source_tokens", "split_names"]

READ_KEYS = ("lowercase", "max_tokens", "min_count", "sequence_length")
KEY = StageKeySpec(
    reads=tuple(f"features.{key}" for key in READ_KEYS),
    later=(
        "features.tokenizer",
        "features.subword_model",
        "features.shared_vocab",
        "features.placeholders",
        "features.placeholder_copy_rate",
        "features.casual_source_rate",
    ),
    inputs=("prepare",),
    legacy=LegacyKey(
        ("features",),
        exclude=tuple(f"features.{key}" for key in LEGACY_TABLE_KEYS["features"] if key not in READ_KEYS),
    ),
)


def source_tokens(sentence: str, lowercase: bool) -> list[str]:
    """The tokens of a normalised source sentence, as the encoder reads them."""
    return tokenize_sentence(sentence.lower() if lowercase else sentence)


def read_pairs_split(run: RunDir, split: str) -> pd.DataFrame:
    """A prepared split: source, target, reference."""
    return read_prepared(run, split)


def encode_side(token_lists: list[list[str]], vocab: Vocabulary, length: int, start: bool) -> np.ndarray:
    """Padded int32 ids: `<start>` + ids when `start`, else ids + `<end>`; cut to `length`."""
    return pad_side([vocab.encode(tokens) for tokens in token_lists], length, start)


def pad_side(id_lists: list[list[int]], length: int, start: bool) -> np.ndarray:
    """`<start>` + ids when `start`, else ids + `<end>`, padded (or cut) to `length`."""
    if start:
        return pad_ids([[START_ID, *ids] for ids in id_lists], length)
    return pad_ids([[*ids, END_ID] for ids in id_lists], length)


SUBWORD_FILES = {"source": "features/source.model", "target": "features/target.model"}


def subword_models(run: RunDir) -> dict[str, SubwordModel] | None:
    """The run's source and target SentencePiece models, or None for a word-level run."""
    if run.config["features"]["tokenizer"] != "sentencepiece":
        return None
    return {side: SubwordModel.load(run.path / name) for side, name in SUBWORD_FILES.items()}


def training_texts(run: RunDir) -> tuple[list[str], list[str]]:
    """The normalised (source, target) texts of the training pairs featurize kept, in order: those whose best
    segmentation fits `features.sequence_length` (what subword sampling re-encodes each epoch)."""
    models, length = subword_models(run), run.config["features"]["sequence_length"]
    frame = rewrite_frames(run, {"train": read_pairs_split(run, "train")}, write=False)[0]["train"]
    kept: tuple[list[str], list[str]] = ([], [])
    for source, target in zip(frame["source"], frame["target"], strict=True):
        source, target = normalize_sentence(source), normalize_sentence(target)
        if max(len(models["source"].encode(source)), len(models["target"].encode(target))) < length:
            kept[0].append(source)
            kept[1].append(target)
    return kept


def _train_subwords(frame: pd.DataFrame, cfg: dict, out_dir) -> dict[str, SubwordModel]:
    """SentencePiece models of the training pairs (both sides cased), one shared or one per side."""
    sources = [normalize_sentence(s) for s in frame["source"]]
    targets = [normalize_sentence(t) for t in frame["target"]]
    kind, pieces = cfg["subword_model"], cfg["max_tokens"]
    symbols = PLACEHOLDERS if cfg["placeholders"] else ()
    try:
        if cfg["shared_vocab"]:
            shared = SubwordModel.train(sources + targets, pieces, kind, symbols)
            models = {"source": shared, "target": shared}
        else:
            models = {
                "source": SubwordModel.train(sources, pieces, kind, symbols),
                "target": SubwordModel.train(targets, pieces, kind, symbols),
            }
    except RuntimeError as error:  # SentencePiece's own refusal, e.g. too few pieces for the characters
        raise PipelineError(f"features.tokenizer = 'sentencepiece': {error}") from None
    for side, model in models.items():
        model.save(out_dir / f"{side}.model")
    return models


def _featurize_subwords(run: RunDir, out_dir, frames: dict[str, pd.DataFrame]) -> tuple[dict, dict, dict]:
    """(ids per split and side, the vocabularies of pieces, what info.json says about the models)."""
    cfg = run.config["features"]
    models = _train_subwords(frames["train"], cfg, out_dir)
    ids = {
        split: (
            [
                models["source"].encode(normalize_sentence(s))
                for s in progress(frame["source"], desc=f"encoding {split}")
            ],
            [models["target"].encode(normalize_sentence(t)) for t in frame["target"]],
        )
        for split, frame in frames.items()
    }
    vocabularies = {
        side: Vocabulary(model.pieces, {"tokenizer": "sentencepiece", "lowercase": False})
        for side, model in models.items()
    }
    record = {
        "tokenizer": "sentencepiece",
        "subword_model": cfg["subword_model"],
        "shared_vocab": cfg["shared_vocab"],
    }
    return ids, vocabularies, record


def _featurize(run: RunDir) -> StageOutput:
    """Build the source and target vocabularies on train and write every split's padded ids."""
    cfg = run.config["features"]
    if cfg["tokenizer"] not in ("word", "sentencepiece"):
        raise PipelineError(
            f"features.tokenizer = '{cfg['tokenizer']}': translation reads words or SentencePiece pieces "
            "(word, sentencepiece)"
        )
    out_dir = run.subdir("features")
    length = cfg["sequence_length"]
    frames, marks = rewrite_frames(run, {split: read_pairs_split(run, split) for split in split_names(run)})
    if cfg["tokenizer"] == "sentencepiece":
        ids, vocabularies, record = _featurize_subwords(run, out_dir, frames)
        if cfg["placeholders"]:
            record["placeholders"] = list(PLACEHOLDERS)
        record.update(marks)
        return _write_arrays(run, out_dir, length, ids, vocabularies, record)
    tokens = {}
    for split, frame in frames.items():
        tokens[split] = (
            [
                source_tokens(s, cfg["lowercase"])
                for s in progress(frame["source"], desc=f"tokenising {split}")
            ],
            [tokenize_sentence(t) for t in frame["target"]],
        )
    # One position goes to <end> (source, target_out) or <start> (target_in).
    fits = [max(len(s), len(t)) < length for s, t in zip(*tokens["train"], strict=True)]
    train_source = [s for s, keep in zip(tokens["train"][0], fits, strict=True) if keep]
    train_target = [t for t, keep in zip(tokens["train"][1], fits, strict=True) if keep]
    vocab_settings = {
        "tokenizer": "translation",
        "max_size": cfg["max_tokens"],
        "min_count": cfg["min_count"],
    }
    source_vocab = Vocabulary.build(
        train_source, cfg["max_tokens"], cfg["min_count"], {**vocab_settings, "lowercase": cfg["lowercase"]}
    )
    target_vocab = Vocabulary.build(
        train_target, cfg["max_tokens"], cfg["min_count"], {**vocab_settings, "lowercase": False}
    )
    if cfg["placeholders"]:
        marks["placeholders"] = usable_placeholders(source_vocab, target_vocab)
    ids = {
        split: (
            [source_vocab.encode(t) for t in (train_source if split == "train" else source)],
            [target_vocab.encode(t) for t in (train_target if split == "train" else target)],
        )
        for split, (source, target) in tokens.items()
    }
    return _write_arrays(
        run,
        out_dir,
        length,
        ids,
        {"source": source_vocab, "target": target_vocab},
        {"tokenizer": "word", **marks},
        dropped=int(len(fits) - sum(fits)),
    )


def _write_arrays(
    run: RunDir, out_dir, length: int, ids: dict, vocabularies: dict, record: dict, dropped: int | None = None
) -> StageOutput:
    """Save the vocabularies and every split's padded arrays (training pairs too long for `length` left out
    unless `dropped` says the caller did it), and info.json."""
    source_vocab, target_vocab = vocabularies["source"], vocabularies["target"]
    if dropped is None:  # one position goes to <end> (source, target_out) or <start> (target_in)
        source, target = ids["train"]
        fits = [max(len(s), len(t)) < length for s, t in zip(source, target, strict=True)]
        ids["train"] = (
            [s for s, keep in zip(source, fits, strict=True) if keep],
            [t for t, keep in zip(target, fits, strict=True) if keep],
        )
        dropped = int(len(fits) - sum(fits))
    source_vocab.save(out_dir / "source_vocab.json")
    target_vocab.save(out_dir / "target_vocab.json")
    info: dict = {
        **record,
        "source_vocabulary_size": len(source_vocab),
        "target_vocabulary_size": len(target_vocab),
        "sequence_length": length,
        "pairs": {},
        "dropped_long_train_pairs": dropped,
        "truncated_pairs": {},
        "oov_rate": {},
    }
    outputs = ["features/source_vocab.json", "features/target_vocab.json"]
    if record["tokenizer"] == "sentencepiece":
        outputs += list(SUBWORD_FILES.values())
    if "placeholders" in record:
        outputs.append(KNOWN_WORDS_FILE)
    for split, (source, target) in ids.items():
        arrays = {
            "source": pad_side(source, length, start=False),
            "target_in": pad_side(target, length, start=True),
            "target_out": pad_side(target, length, start=False),
        }
        write_with(out_dir / f"{split}.npz", lambda tmp, a=arrays: np.savez(tmp, **a))
        outputs.append(f"features/{split}.npz")
        info["pairs"][split] = len(source)
        info["truncated_pairs"][split] = sum(
            max(len(s), len(t)) >= length for s, t in zip(source, target, strict=True)
        )
        info["oov_rate"][split] = {
            "source": _oov(arrays["source"]),
            "target": _oov(arrays["target_out"]),
        }
    write_json(out_dir / "info.json", info)
    outputs.append("features/info.json")
    unit = "pieces" if record["tokenizer"] == "sentencepiece" else "tokens"
    return StageOutput(
        outputs,
        f"vocabularies {len(source_vocab):,} source / {len(target_vocab):,} target {unit}, "
        + ", ".join(f"{s} {n:,} pairs" for s, n in info["pairs"].items())
        + f" ({info['dropped_long_train_pairs']:,} long training pairs left out) -> {out_dir}",
        info,
    )


featurize = make_stage("featurize", KEY, _featurize)


def _oov(ids: np.ndarray) -> float:
    real = ids[ids > END_ID]  # tokens only: no padding, <start> or <end>
    real = np.concatenate([real, ids[ids == UNK_ID]])
    return round(float(np.mean(real == UNK_ID)), 5) if len(real) else 0.0


def load_arrays(run: RunDir, split: str) -> dict[str, np.ndarray]:
    """The padded ids of a split: source, target_in, target_out."""
    with np.load(run.path / "features" / f"{split}.npz", allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def feature_info(run: RunDir) -> dict:
    return json.loads((run.path / "features" / "info.json").read_text(encoding="utf-8"))
