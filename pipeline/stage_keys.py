"""Stage keys: what decides whether a stage's outputs are still current.

A stage declares the dotted config keys it reads (`reads`); its key is a hash of their values, the seed, the
output checksums of the stages it reads from and any other identity it names (`extra`). A config key added
later never enters the key of a stage that does not read it, so adding a key with a default makes no run stale.
A key that a stage starts reading after its runs exist goes into `later`: hashed only when it differs from its
default, so runs made before it existed (with the default behaviour) stay current.

Runs made before stage keys were declared hashed whole config tables instead. `legacy_key` recomputes that
older key from the tables as they were then (LEGACY_TABLE_KEYS, frozen), and `RunDir.is_current` accepts it
once, replacing it with the new key: such runs stay current.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipeline.config import DEFAULTS, DISPLAY_KEYS, get_key


def stable_hash(obj: Any) -> str:
    """sha256 of a JSON-serialisable object with sorted keys."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def keys(**tables: str) -> tuple[str, ...]:
    """Dotted config keys from space-separated names per table: keys(data="dataset limit")."""
    return tuple(f"{table}.{name}" for table, names in tables.items() for name in names.split())


# The [train] keys every train stage reads through pipeline.training.fit and pipeline.optimizers.
FIT_KEYS = keys(train="epochs batch_size learning_rate optimizer lr_schedule patience max_seconds")
# The [train] keys added to them later: hashed only when they differ from their defaults (see `later`).
FIT_LATER = keys(train="clipnorm discriminative_lr unfreeze lr_horizon")


@dataclass(frozen=True)
class LegacyKey:
    """How a stage hashed its config before keys were declared (see RunDir.stage_key's old rule)."""

    tables: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    extra: Callable[[dict], dict] | None = None  # config -> what the old rule added to `extra`


@dataclass(frozen=True)
class StageKeySpec:
    """The config keys a stage reads and the earlier stages whose outputs it reads."""

    reads: tuple[str, ...]
    inputs: tuple[str, ...] = ()
    later: tuple[str, ...] = ()
    legacy: LegacyKey | None = field(default=None, compare=False)

    def key(self, config: dict, manifest: dict, extra: dict | None = None) -> str:
        parts: dict[str, Any] = {
            "reads": {name: get_key(config, name) for name in self.reads},
            "seed": config["seed"],
            "inputs": _inputs(manifest, self.inputs),
        }
        later = {
            name: get_key(config, name) for name in self.later if get_key(config, name) != _default(name)
        }
        if later:
            parts["later"] = later
        if extra:
            parts["extra"] = extra
        return stable_hash(parts)

    def legacy_key(self, config: dict, manifest: dict, extra: dict | None = None) -> str | None:
        """The key this stage had before keys were declared, or None for stages younger than that."""
        if self.legacy is None or any(get_key(config, name) != _default(name) for name in self.later):
            return None
        legacy = self.legacy
        exclude = {*legacy.exclude, *_legacy_other_tasks_keys(config["task"])}
        parts: dict[str, Any] = {}
        for table in legacy.tables:
            parts[table] = {
                key: config[table][key]
                for key in LEGACY_TABLE_KEYS[table]
                if f"{table}.{key}" not in exclude and f"{table}.{key}" not in DISPLAY_KEYS
            }
        for name in legacy.include:
            parts[name] = get_key(config, name)
        extra = {**(extra or {}), **(legacy.extra(config) if legacy.extra else {})}
        if extra:
            parts["extra"] = extra
        parts["seed"] = config["seed"]
        parts["inputs"] = _inputs(manifest, self.inputs)
        return stable_hash(parts)


def _inputs(manifest: dict, stages: tuple[str, ...]) -> dict:
    return {stage: manifest["stages"].get(stage, {}).get("outputs") for stage in stages}


def _default(name: str) -> Any:
    return get_key(DEFAULTS, name)


# The keys of each table when stage keys were declared: the old rule hashed these (minus its exclusions).
LEGACY_TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "data": (
        "dataset", "test_path", "text_col", "label_col", "valid_fraction", "test_fraction", "max_chars",
        "limit", "source_col", "target_col", "reverse",
    ),
    "features": (
        "kind", "tokenizer", "lowercase", "ngram_max", "max_features", "min_df", "sublinear_tf", "nb_alpha",
        "max_tokens", "min_count", "sequence_length", "truncate", "embeddings", "trainable_embeddings",
        "word2vec",
    ),
    "model": (
        "kind", "embed_dim", "units", "layers", "bidirectional", "dropout", "num_heads", "ff_dim", "pooling",
        "rnn_pooling", "tie_embeddings", "attention", "attention_units", "max_positions", "head_units",
        "hidden_units", "l2",
    ),
    "train": (
        "epochs", "batch_size", "learning_rate", "optimizer", "lr_schedule", "patience", "monitor",
        "max_seconds", "mixed_precision", "strategy", "bucket_by_length", "sampled_softmax", "verbose",
    ),
    "eval": (
        "threshold", "n_misclassified", "n_top_ngrams", "batch_size", "stride", "ngram_order", "beam",
        "length_penalty", "n_samples",
    ),
}  # fmt: skip

# The old rule's keys that only one task read, left out of the other tasks' hashes.
_LEGACY_TASK_ONLY_KEYS: dict[str, tuple[str, ...]] = {
    "translation": (
        "data.source_col", "data.target_col", "data.reverse", "model.attention", "model.attention_units",
        "model.max_positions", "eval.beam", "eval.length_penalty", "eval.n_samples",
    ),
    "language_model": ("train.sampled_softmax",),
}  # fmt: skip


def _legacy_other_tasks_keys(task: str) -> set[str]:
    return {key for owner, keys in _LEGACY_TASK_ONLY_KEYS.items() if owner != task for key in keys}
