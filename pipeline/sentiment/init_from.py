"""`model.init_from`: which language-model run starts a sentiment classifier, and what the classifier takes
from it (no Keras here: configs are resolved without starting a backend).

The classifier's encoder is the language model's, so its shape keys come from the LM run: a config that
leaves them out inherits them (and `config show` prints them), one that sets them to anything else is
refused with the differing keys named. The head's keys (`dropout`, `head_units`) stay free. The vocabulary
and tokenisation are the LM run's too (`features.lowercase` likewise inherited or checked).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pipeline.errors import PipelineError

# The [model] keys that shape a language model's encoder (the Transformer's two only matter for it).
ENCODER_KEYS = ("kind", "embed_dim", "units", "layers", "num_heads", "ff_dim")
# The files of the LM run the classifier reads; their checksums are part of its featurize key.
LM_FILES = ("model.keras", "features/vocab.json")


def inherit_encoder(given: dict, cfg: dict) -> None:
    """Fill `cfg`'s encoder keys from the `model.init_from` run's config; refuse those `given` sets
    otherwise. A missing LM run is left for featurize to report (a finished classifier keeps working)."""
    if cfg["task"] != "sentiment":
        raise PipelineError(f"model.init_from applies to sentiment classifiers, not task '{cfg['task']}'")
    path = Path(cfg["model"]["init_from"])
    features = cfg["features"]
    if features["kind"] != "sequence":
        raise PipelineError(f"model.init_from needs features.kind = 'sequence', not '{features['kind']}'")
    if features["embeddings"] != "random":
        raise PipelineError(
            f"model.init_from takes the token table from {path}; features.embeddings = "
            f"'{features['embeddings']}' cannot also set it (leave it 'random')"
        )
    if not (path / "config.toml").is_file():
        return
    from pipeline.config import load_config  # noqa: PLC0415 - config.py imports this module

    lm_cfg = load_config(path / "config.toml")
    if lm_cfg["task"] != "language_model":
        raise PipelineError(
            f"model.init_from: {path} is a run of task '{lm_cfg['task']}', not a language model"
        )
    if lm_cfg["features"]["tokenizer"] != "word":
        raise PipelineError(
            f"model.init_from: {path} is a character-level language model; "
            "a classifier needs a word-level one"
        )
    given_model, given_features = given.get("model", {}), given.get("features", {})
    wanted = {f"model.{key}": lm_cfg["model"][key] for key in ENCODER_KEYS}
    wanted["model.bidirectional"] = False
    wanted["model.rnn_pooling"] = "concat"  # the head pools as ULMFiT's: [last state, max, mean]
    wanted["features.lowercase"] = lm_cfg["features"]["lowercase"]
    differing = []
    for name, value in wanted.items():
        table, key = name.split(".")
        set_here = (given_model if table == "model" else given_features).get(key, value)
        if set_here != value:
            differing.append(f"{name} = {set_here!r} (the language model has {value!r})")
        cfg[table][key] = value
    if differing:
        raise PipelineError(
            f"model.init_from = '{path}' fixes the encoder; these keys differ from it: {'; '.join(differing)}"
        )


def check_init_from(cfg: dict) -> Path | None:
    """The LM run of a sentiment config (None without one), checked: a finished word-level language model
    with its vocabulary, whose encoder keys are still the config's."""
    if not cfg["model"]["init_from"]:
        return None
    path = Path(cfg["model"]["init_from"])
    if not (path / "manifest.json").is_file():
        raise PipelineError(f"model.init_from: {path} is not a run directory (no manifest.json)")
    for name in LM_FILES:
        if not (path / name).is_file():
            raise PipelineError(f"model.init_from: {path} has no {name}; train the language model first")
    inherit_encoder(cfg, {**cfg, "model": dict(cfg["model"]), "features": dict(cfg["features"])})
    return path


def lm_fingerprint(path: Path) -> dict:
    """The LM run's identity in the classifier's featurize key: its path and the checksums of LM_FILES."""
    sums = {}
    for name in LM_FILES:
        digest = hashlib.sha256()
        with open(path / name, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        sums[name] = digest.hexdigest()
    return {"init_from": str(path), "sha256": sums}
