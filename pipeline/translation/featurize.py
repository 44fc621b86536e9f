"""featurize (translation): pairs -> two vocabularies and padded id arrays per split (features/{split}.npz).

Both sides are tokenised by `features.translation_text.tokenize_sentence` (words and punctuation, joiners
where there was no space, so outputs detokenise exactly); the source is lower-cased when
`features.lowercase` is set, the target keeps its case. Each side gets its own vocabulary built on the
training pairs (`features.max_tokens`, `features.min_count`; reserved ids first, rarer tokens are `<unk>`).

Per split, `features/{split}.npz` holds `source` (ids + `<end>`), `target_in` (`<start>` + ids, what the
decoder reads under teacher forcing) and `target_out` (ids + `<end>`, what it must predict), each padded with
0 to `features.sequence_length`. Training pairs with a side longer than that are left out (counted);
valid and test pairs are cut to it (counted too) so that every one of them is scored.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from data.atomic import write_json, write_with
from data.progress import progress
from features.sequences import pad_ids
from features.translation_text import tokenize_sentence
from features.vocabulary import END_ID, START_ID, UNK_ID, Vocabulary
from pipeline.rundir import RunDir
from pipeline.splits import read_prepared, split_names
from pipeline.stage import StageOutput, make_stage
from pipeline.stage_keys import LEGACY_TABLE_KEYS, LegacyKey, StageKeySpec

__all__ = ["featurize", "feature_info", "load_arrays", "read_pairs_split", "source_tokens", "split_names"]

READ_KEYS = ("lowercase", "max_tokens", "min_count", "sequence_length")
KEY = StageKeySpec(
    reads=tuple(f"features.{key}" for key in READ_KEYS),
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
    if start:
        ids = [[START_ID, *vocab.encode(tokens)] for tokens in token_lists]
    else:
        ids = [[*vocab.encode(tokens), END_ID] for tokens in token_lists]
    return pad_ids(ids, length)


def _featurize(run: RunDir) -> StageOutput:
    """Build the source and target vocabularies on train and write every split's padded ids."""
    cfg = run.config["features"]
    out_dir = run.subdir("features")
    length = cfg["sequence_length"]
    tokens = {}
    for split in split_names(run):
        frame = read_pairs_split(run, split)
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
    source_vocab.save(out_dir / "source_vocab.json")
    target_vocab.save(out_dir / "target_vocab.json")
    info: dict = {
        "source_vocabulary_size": len(source_vocab),
        "target_vocabulary_size": len(target_vocab),
        "sequence_length": length,
        "pairs": {},
        "dropped_long_train_pairs": int(len(fits) - sum(fits)),
        "truncated_pairs": {},
        "oov_rate": {},
    }
    outputs = ["features/source_vocab.json", "features/target_vocab.json"]
    for split, (source, target) in tokens.items():
        if split == "train":
            source, target = train_source, train_target
        arrays = {
            "source": encode_side(source, source_vocab, length, start=False),
            "target_in": encode_side(target, target_vocab, length, start=True),
            "target_out": encode_side(target, target_vocab, length, start=False),
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
    return StageOutput(
        outputs,
        f"vocabularies {len(source_vocab):,} source / {len(target_vocab):,} target tokens, "
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
