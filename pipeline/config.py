"""Experiment configs: TOML files with the tables [data] [features] [model] [train] [eval].

Every key has a default here, so `config show` can print the resolved config with every key and an unknown
key is refused with the list of known ones. `--set table.key=value` values are parsed as TOML literals.
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

from models.defaults import MODEL_DEFAULTS
from pipeline.errors import PipelineError

TASKS = ("sentiment", "translation", "language_model", "embeddings")
TABLES = ("data", "features", "model", "train", "eval")

DEFAULTS: dict[str, Any] = {
    "task": "sentiment",
    "seed": 1337,
    "data": {
        "dataset": "imdb",  # a registry name or a path to a CSV/TSV/Parquet/JSONL file
        "test_path": "",  # for a user file: an optional separate test file ("" = split off test_fraction)
        "text_col": "text",
        "label_col": "label",
        "valid_fraction": 0.1,
        "test_fraction": 0.1,  # only used when the data has no test split of its own (0 = no test split)
        "max_chars": 200_000,  # longer texts are refused with their row number
        "limit": 0,  # keep at most this many training rows (0 = all); for quick experiments
        "source_col": "source",  # translation: the columns of a CSV/Parquet/JSONL file of pairs
        "target_col": "target",
        "reverse": False,  # translation: swap the sides of the pairs (e.g. Spanish -> English)
    },
    "features": {
        "kind": "sequence",  # sequence | tfidf | bow | onehot | nbsvm
        "tokenizer": "word",  # language model: word | char; translation: word | sentencepiece
        "subword_model": "unigram",  # translation, sentencepiece: unigram | bpe (features.max_tokens pieces)
        "shared_vocab": False,  # translation, sentencepiece: one model over both sides
        # translation: numbers and unknown words become placeholders the model copies (features/placeholders.py)
        "placeholders": False,
        "placeholder_copy_rate": 0.25,  # ... and in training, this share of the copied capitalised words
        # translation: this share of the training sources lower-cased, without final punctuation (0 = none)
        "casual_source_rate": 0.0,
        "lowercase": True,
        "ngram_max": 1,  # sparse features: n-grams from 1 to ngram_max
        "max_features": 200_000,  # sparse features: size cap of the n-gram vocabulary
        "min_df": 2,  # sparse features: minimum document frequency
        "sublinear_tf": True,  # tfidf: 1 + log(tf)
        "nb_alpha": 1.0,  # nbsvm: smoothing of the log-count ratio
        "max_tokens": 20_000,  # sequence: vocabulary size cap, including the 4 reserved ids
        "min_count": 2,  # sequence: minimum token count
        "sequence_length": 256,  # sequence: pad/truncate to this many tokens
        "truncate": "post",  # sequence: keep the first tokens (post) or the last (pre)
        # sequence: the initial token table: "random", a vectors registry name ("glove-6b-50d",
        # "glove-6b-300d", ...), "word2vec" (trained in featurize on this run's training text with the
        # [features.word2vec] settings) or a path to a GloVe/word2vec file or vectors directory. With
        # vectors, model.embed_dim is replaced by their dimension.
        "embeddings": "random",
        "trainable_embeddings": True,  # fine-tune the given vectors (false keeps them frozen)
        "word2vec": {
            "sg": False,  # skip-gram (true) or CBOW
            "dim": 100,
            "window": 5,
            "min_count": 5,
            "negative": 5,
            "epochs": 5,
            "sample": 1e-3,
            "workers": 0,  # 0 = one per CPU core; 1 = bit-for-bit repeatable
        },
    },
    "model": dict(MODEL_DEFAULTS),  # defined, each key explained, in models/defaults.py
    "train": {
        "epochs": 5,
        "batch_size": 64,
        "learning_rate": 1e-3,
        "optimizer": "adam",  # adam | adamw | sgd | rmsprop
        "lr_schedule": "constant",  # constant | cosine (decays to 0 over train.epochs) | linear | slanted_triangular
        # epochs: a decaying schedule ends with train.epochs; time_budget: with the steps train.max_seconds
        # allows, estimated again before each epoch (for runs that the budget stops first)
        "lr_horizon": "epochs",
        "clipnorm": 0.0,  # clip the gradients' global norm to this before each update (0 = no clipping)
        # sentiment: each lower layer group learns at the rate of the one above divided by this (1 = one rate)
        "discriminative_lr": 1.0,
        "unfreeze": "all",  # sentiment: all | gradual (the head alone first, then one more layer group per epoch)
        "patience": 2,  # early stopping: epochs without improvement of train.monitor
        "monitor": "val_loss",  # val_loss | val_accuracy: picks the best epoch's weights and stops early
        "max_seconds": 0.0,  # stop after the epoch that passes this wall time (0 = no limit)
        "mixed_precision": False,
        "strategy": "default",  # default | mirrored | multi-worker (TensorFlow) | data-parallel (JAX)
        "bucket_by_length": True,  # sequence: batches of similar length (less padding, faster RNNs)
        "sampled_softmax": 0,  # language model: negatives per batch for a sampled softmax (0 = full softmax)
        # translation with SentencePiece: each epoch re-encodes the training pairs with sampled segmentations
        # (unigram: this smoothing alpha; BPE: this dropout probability); 0 = always the best segmentation
        "subword_sampling": 0.0,
        "verbose": 1,
        # sentiment with model.init_from: train a copy of the language model further on the training
        # split's texts (never valid or test) before the classifier is built (0 epochs = use it as it is)
        "lm_finetune": {"epochs": 0, "learning_rate": 1e-3, "max_seconds": 0.0},
    },
    "eval": {
        "threshold": 0.5,
        "n_misclassified": 10,
        "n_top_ngrams": 20,
        "batch_size": 256,
        "stride": 0,  # language model: evaluation windows overlap by this stride (0 = half a window)
        "ngram_order": 0,  # language model: Kneser-Ney baseline order (0 = 3 for words, 5 for characters)
        "beam": 1,  # translation: beam width of the evaluation (1 = greedy)
        "length_penalty": 0.6,  # translation, beam search: GNMT alpha (0 = raw log-probabilities)
        "n_samples": 20,  # translation: sample translations in report.md
    },
}


# Allowed values of the keys that name a choice; the task modules check the rest of their meaning.
CHOICES: dict[str, tuple[str, ...]] = {
    "features.kind": ("sequence", "tfidf", "bow", "onehot", "nbsvm"),
    "features.truncate": ("post", "pre"),
    "features.tokenizer": ("word", "char", "sentencepiece"),
    "features.subword_model": ("unigram", "bpe"),
    "model.kind": ("dense", "simplernn", "lstm", "gru", "transformer"),
    "model.pooling": ("mean", "max"),
    "model.rnn_pooling": ("last", "mean", "max", "max_mean", "concat"),
    "model.attention": ("none", "additive", "dot", "general"),
    "train.optimizer": ("adam", "adamw", "sgd", "rmsprop"),
    "train.lr_schedule": ("constant", "cosine", "linear", "slanted_triangular"),
    "train.lr_horizon": ("epochs", "time_budget"),
    "train.strategy": ("default", "mirrored", "multi-worker", "data-parallel"),
    "train.monitor": ("val_loss", "val_accuracy"),
    "train.unfreeze": ("all", "gradual"),
}
# (lowest, highest, whether the bounds themselves are allowed) for numeric keys.
RANGES: dict[str, tuple[float, float, bool]] = {
    "data.valid_fraction": (0.0, 1.0, False),
    "data.test_fraction": (0.0, 0.99, True),
    "data.max_chars": (1, float("inf"), True),
    "data.limit": (0, float("inf"), True),
    "features.ngram_max": (1, 5, True),
    "features.max_features": (0, float("inf"), True),
    "features.min_df": (1, float("inf"), True),
    "features.nb_alpha": (0.0, float("inf"), False),
    "features.placeholder_copy_rate": (0.0, 1.0, True),
    "features.casual_source_rate": (0.0, 1.0, True),
    "features.max_tokens": (5, float("inf"), True),
    "features.min_count": (1, float("inf"), True),
    "features.sequence_length": (1, 100_000, True),
    "features.word2vec.dim": (1, 10_000, True),
    "features.word2vec.window": (1, 1_000, True),
    "features.word2vec.min_count": (1, float("inf"), True),
    "features.word2vec.negative": (1, 1_000, True),
    "features.word2vec.epochs": (1, 10_000, True),
    "features.word2vec.sample": (0.0, 1.0, True),
    "features.word2vec.workers": (0, 1_024, True),
    "model.embed_dim": (1, 100_000, True),
    "model.units": (1, 100_000, True),
    "model.layers": (1, 100, True),
    "model.dropout": (0.0, 0.99, True),
    "model.num_heads": (1, 1024, True),
    "model.ff_dim": (1, 1_000_000, True),
    "model.head_units": (0, 1_000_000, True),
    "model.hidden_units": (0, 1_000_000, True),
    "model.attention_units": (0, 1_000_000, True),
    "model.max_positions": (0, 100_000, True),
    "model.l2": (0.0, float("inf"), True),
    "train.epochs": (1, 100_000, True),
    "train.batch_size": (1, 1_000_000, True),
    "train.learning_rate": (0.0, float("inf"), False),
    "train.patience": (0, 100_000, True),
    "train.max_seconds": (0.0, float("inf"), True),
    "train.clipnorm": (0.0, float("inf"), True),
    "train.discriminative_lr": (1.0, float("inf"), True),
    "train.lm_finetune.epochs": (0, 10_000, True),
    "train.lm_finetune.learning_rate": (0.0, float("inf"), False),
    "train.lm_finetune.max_seconds": (0.0, float("inf"), True),
    "train.sampled_softmax": (0, 10_000_000, True),
    "train.subword_sampling": (0.0, 1.0, True),
    "eval.threshold": (0.0, 1.0, False),
    "eval.n_misclassified": (0, 10_000, True),
    "eval.n_top_ngrams": (0, 10_000, True),
    "eval.batch_size": (1, 1_000_000, True),
    "eval.stride": (0, 100_000, True),
    "eval.ngram_order": (0, 9, True),
    "eval.beam": (1, 1000, True),
    "eval.length_penalty": (0.0, 10.0, True),
    "eval.n_samples": (0, 10_000, True),
}


def get_key(cfg: dict, name: str):
    """The value of a dotted key ("features.word2vec.dim")."""
    node = cfg
    for part in name.split("."):
        node = node[part]
    return node


def _check_values(cfg: dict) -> None:
    for name, choices in CHOICES.items():
        if get_key(cfg, name) not in choices:
            raise PipelineError(f"unknown {name} '{get_key(cfg, name)}'; known: {', '.join(choices)}")
    for name, (low, high, inclusive) in RANGES.items():
        value = get_key(cfg, name)
        inside = low <= value <= high if inclusive else low < value < high
        if not inside:
            bounds = f"from {low} to {high}" if inclusive else f"between {low} and {high} (exclusive)"
            raise PipelineError(
                f"config key '{name}' must be {bounds.replace('inf', 'infinity')}, got {value}"
            )


def _check_keys(given: dict, defaults: dict, where: str) -> None:
    for key, value in given.items():
        if key not in defaults:
            known = ", ".join(sorted(defaults))
            raise PipelineError(
                f"unknown config key '{where}{key}'; known keys{' in ' + where[:-1] if where else ''}: {known}"
            )
        if isinstance(defaults[key], dict):
            if not isinstance(value, dict):
                raise PipelineError(f"config key '{where}{key}' must be a table")
            _check_keys(value, defaults[key], f"{where}{key}.")


def _merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _check_types(cfg: dict, defaults: dict, where: str = "") -> None:
    for key, default in defaults.items():
        value = cfg[key]
        name = f"{where}{key}"
        if isinstance(default, dict):
            _check_types(value, default, f"{name}.")
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise PipelineError(f"config key '{name}' must be true or false, got {value!r}")
        elif isinstance(default, float):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise PipelineError(f"config key '{name}' must be a number, got {value!r}")
            cfg[key] = float(value)
        elif isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, int):
                raise PipelineError(f"config key '{name}' must be an integer, got {value!r}")
        elif isinstance(default, str) and not isinstance(value, str):
            raise PipelineError(f"config key '{name}' must be a string, got {value!r}")


def parse_set(assignment: str) -> tuple[list[str], Any]:
    """Parse one `--set table.key=value` (value as a TOML literal; a bare word is taken as a string)."""
    if "=" not in assignment:
        raise PipelineError(f"--set '{assignment}': expected table.key=value")
    key, raw = assignment.split("=", 1)
    path = [part for part in key.strip().split(".") if part]
    if not path:
        raise PipelineError(f"--set '{assignment}': empty key")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return path, value


def load_config(path: str | Path | None, overrides: list[str] | tuple[str, ...] = ()) -> dict:
    """Read a TOML config, apply `--set` overrides, fill defaults and validate every key and type."""
    given: dict = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise PipelineError(f"config file not found: {path}")
        try:
            given = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise PipelineError(f"{path}: not valid TOML: {exc}") from None
    for assignment in overrides:
        keys, value = parse_set(assignment)
        node = given
        for part in keys[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise PipelineError(f"--set '{assignment}': '{part}' is not a table")
        node[keys[-1]] = value
    return resolve_config(given)


def resolve_config(given: dict) -> dict:
    """Fill the defaults into a config dict (as read from TOML) and validate every key, type and value."""
    _check_keys(given, DEFAULTS, "")
    cfg = _merge(DEFAULTS, given)
    _check_types(cfg, DEFAULTS)
    if cfg["task"] not in TASKS:
        raise PipelineError(f"unknown task '{cfg['task']}'; known: {', '.join(TASKS)}")
    _check_values(cfg)
    if cfg["model"]["init_from"]:
        from pipeline.sentiment.init_from import inherit_encoder  # noqa: PLC0415 - it reads configs too

        inherit_encoder(given, cfg)
    return cfg


def dump_toml(cfg: dict, prefix: str = "") -> str:
    """Write a resolved config back as TOML (scalars first, then one table each, sub-tables after)."""
    lines = [f"{key} = {_literal(value)}" for key, value in cfg.items() if not isinstance(value, dict)]
    for table, values in cfg.items():
        if isinstance(values, dict):
            lines.append(f"\n[{prefix}{table}]")
            lines.append(dump_toml(values, f"{prefix}{table}.").rstrip("\n"))
    return "\n".join(line for line in lines if line) + "\n"


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    return repr(value)


# Display settings: they change no result, so they neither refuse a run directory nor rerun a stage.
DISPLAY_KEYS = ("train.verbose",)


def diff_configs(old: dict, new: dict, where: str = "") -> list[str]:
    """Keys whose values differ between two resolved configs, as dotted names (display keys ignored)."""
    changed = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            changed += diff_configs(a, b, f"{where}{key}.")
        elif a != b and f"{where}{key}" not in DISPLAY_KEYS:
            changed.append(f"{where}{key}")
    return changed
