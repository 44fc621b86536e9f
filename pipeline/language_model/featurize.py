"""featurize (language model): texts -> vocab.json and one int32 token stream per split (features/{split}.npy).

Word level: normalised, lower-cased (features.lowercase) word tokens; each document ends with `<end>`.
Character level: the raw characters (case, punctuation and newlines kept); documents also end with `<end>`
(a continuous text is one document). The vocabulary (reserved `<pad> <unk> <start> <end>` first) is built on
the training split with features.max_tokens / features.min_count; rarer tokens become `<unk>`, and the OOV
rate of each split is recorded.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import numpy as np

from data.atomic import write_json, write_with
from data.progress import progress
from features.normalize import normalize_text
from features.tokenize import char_tokenize, word_tokenize
from features.vocabulary import END, UNK_ID, Vocabulary
from pipeline.errors import PipelineError
from pipeline.language_model.prepare import read_texts, split_names
from pipeline.rundir import RunDir
from pipeline.stage import StageOutput, make_stage
from pipeline.stage_keys import LEGACY_TABLE_KEYS, LegacyKey, StageKeySpec

KEY = StageKeySpec(
    reads=("features.tokenizer", "features.lowercase", "features.max_tokens", "features.min_count"),
    inputs=("prepare",),
    legacy=LegacyKey(
        ("features",),
        exclude=tuple(
            f"features.{key}"
            for key in LEGACY_TABLE_KEYS["features"]
            if key not in ("tokenizer", "lowercase", "max_tokens", "min_count", "sequence_length")
        ),
    ),
)


def tokenize(text: str, tokenizer: str, lowercase: bool) -> list[str]:
    """Tokens of one text, as the language model sees them."""
    if tokenizer == "char":
        return char_tokenize(text)
    return word_tokenize(normalize_text(text, lowercase=lowercase))


def _documents(texts: Iterable[str], cfg: dict, desc: str) -> list[list[str]]:
    return [
        tokenize(text, cfg["tokenizer"], cfg["lowercase"]) + [END]
        for text in progress(texts, desc=desc, unit="text")
    ]


def _featurize(run: RunDir) -> StageOutput:
    """Build the vocabulary on train and write every split's id stream."""
    cfg = run.config["features"]
    if cfg["tokenizer"] not in ("word", "char"):
        raise PipelineError(
            f"features.tokenizer = '{cfg['tokenizer']}': language models read words or characters (word, char)"
        )
    out_dir = run.subdir("features")
    splits = split_names(run)
    train_docs = _documents(read_texts(run, "train"), cfg, "tokenising train")
    char_level = cfg["tokenizer"] == "char"
    vocab = Vocabulary.build(
        train_docs,
        max_size=cfg["max_tokens"],
        min_count=1 if char_level else cfg["min_count"],
        settings={"tokenizer": cfg["tokenizer"], "lowercase": cfg["lowercase"] and not char_level},
    )
    vocab.save(out_dir / "vocab.json")
    info: dict = {"tokenizer": cfg["tokenizer"], "vocabulary_size": len(vocab), "tokens": {}, "oov_rate": {}}
    outputs = ["features/vocab.json"]
    for split in splits:
        docs = (
            train_docs if split == "train" else _documents(read_texts(run, split), cfg, f"tokenising {split}")
        )
        stream = np.fromiter((i for doc in docs for i in vocab.encode(doc)), dtype=np.int32)
        write_with(out_dir / f"{split}.npy", lambda tmp, s=stream: np.save(tmp, s))
        outputs.append(f"features/{split}.npy")
        info["tokens"][split] = int(len(stream))
        info["oov_rate"][split] = round(float(np.mean(stream == UNK_ID)), 5)
    write_json(out_dir / "info.json", info)
    outputs.append("features/info.json")
    return StageOutput(
        outputs,
        f"{cfg['tokenizer']} vocabulary of {len(vocab):,}, "
        + ", ".join(f"{s} {info['tokens'][s]:,} tokens (OOV {info['oov_rate'][s]:.2%})" for s in splits)
        + f" -> {out_dir}",
        info,
    )


featurize = make_stage("featurize", KEY, _featurize)


def load_stream(run: RunDir, split: str) -> np.ndarray:
    return np.load(run.path / "features" / f"{split}.npy", allow_pickle=False)


def feature_info(run: RunDir) -> dict:
    return json.loads((run.path / "features" / "info.json").read_text(encoding="utf-8"))
