"""featurize: prepared splits -> features/ (vocab.json or vectorizer.json/.npz, {split}_x, {split}_y.npy).

Sparse kinds (onehot, bow, tfidf, nbsvm) fit a scikit-learn vectorizer on the training split; the
sequence kind builds a Vocabulary on the training split and pads ids to `features.sequence_length`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from data.atomic import write_json, write_with
from features.sequences import encode_texts, pad_ids, tokenize_texts
from features.sparse import SPARSE_KINDS, SparseVectorizer
from features.vocabulary import Vocabulary
from pipeline.errors import PipelineError
from pipeline.initial_embeddings import MATRIX_FILE, check_source, initial_embeddings, source_fingerprint
from pipeline.rundir import RunDir
from pipeline.sentiment.init_from import check_init_from, lm_fingerprint
from pipeline.sentiment.prepare import SPLITS, read_split
from pipeline.stage import StageOutput, run_stage
from pipeline.stage_keys import LegacyKey, StageKeySpec, keys

FEATURE_KINDS = ("sequence", *SPARSE_KINDS)
KEY = StageKeySpec(
    reads=keys(
        features="kind lowercase ngram_max max_features min_df sublinear_tf nb_alpha max_tokens min_count sequence_length truncate embeddings word2vec",
    ),
    # Added later: the language model the classifier starts from, and its fine-tuning.
    later=keys(model="init_from", train="lm_finetune"),
    inputs=("prepare",),
    # features.trainable_embeddings is read by train (frozen or fine-tuned table), not here.
    legacy=LegacyKey(("features",), exclude=("features.trainable_embeddings",)),
)


def featurize(run: RunDir, force: bool = False) -> None:
    """Fit the representation on train and transform every split."""
    cfg = run.config["features"]
    if cfg["tokenizer"] != "word":
        raise PipelineError(
            f"features.tokenizer = '{cfg['tokenizer']}' applies to language models and translation; "
            "sentiment features read words"
        )
    if cfg["kind"] not in FEATURE_KINDS:
        raise PipelineError(f"unknown features.kind '{cfg['kind']}'; known: {', '.join(FEATURE_KINDS)}")
    if cfg["kind"] != "sequence" and cfg["embeddings"] != "random":
        raise PipelineError(
            f"features.embeddings = '{cfg['embeddings']}' needs features.kind = 'sequence', not '{cfg['kind']}'"
        )
    check_source(cfg["embeddings"])
    lm_path = check_init_from(run.config)
    extra = source_fingerprint(cfg["embeddings"]) or {}
    if lm_path is not None:
        extra["language_model"] = lm_fingerprint(lm_path)
    run_stage(run, "featurize", KEY, lambda key: _featurize(run, lm_path), force=force, extra=extra or None)


def _featurize(run: RunDir, lm_path: Path | None = None) -> StageOutput:
    cfg = run.config["features"]
    out_dir = run.path / "features"
    out_dir.mkdir(exist_ok=True)
    frames = {split: read_split(run, split) for split in SPLITS}
    if cfg["kind"] == "sequence":
        info = _featurize_sequences(frames, cfg, out_dir, seed=run.config["seed"], run=run, lm_path=lm_path)
    else:
        info = _featurize_sparse(frames, cfg, out_dir)
    outputs = []
    for split, frame in frames.items():
        write_with(
            out_dir / f"{split}_y.npy", lambda tmp, f=frame: np.save(tmp, f["label"].to_numpy(np.int32))
        )
        outputs += [
            f"features/{split}_x.{'npy' if cfg['kind'] == 'sequence' else 'npz'}",
            f"features/{split}_y.npy",
        ]
    write_json(out_dir / "info.json", info)
    outputs += ["features/info.json"] + [f"features/{name}" for name in info["files"]]
    return StageOutput(
        outputs,
        f"{cfg['kind']} features, dimension {info.get('dim', info.get('vocabulary_size'))} -> {out_dir}",
        {k: v for k, v in info.items() if k != "files"},
    )


def _featurize_sequences(
    frames: dict, cfg: dict, out_dir: Path, seed: int, run: RunDir, lm_path: Path | None
) -> dict:
    train_tokens = tokenize_texts(frames["train"]["text"].tolist(), lowercase=cfg["lowercase"])
    if lm_path is not None:
        vocab = Vocabulary.load(lm_path / "features" / "vocab.json")
    else:
        vocab = Vocabulary.build(
            train_tokens,
            max_size=cfg["max_tokens"],
            min_count=cfg["min_count"],
            settings={"tokenizer": "word", "lowercase": cfg["lowercase"]},
        )
    vocab.save(out_dir / "vocab.json")
    length, truncate = cfg["sequence_length"], cfg["truncate"]
    arrays = {"train": pad_ids([vocab.encode(t) for t in train_tokens], length, truncate)}
    for split in ("valid", "test"):
        arrays[split] = encode_texts(
            frames[split]["text"].tolist(), vocab, length, truncate, cfg["lowercase"]
        )
    for split, x in arrays.items():
        write_with(out_dir / f"{split}_x.npy", lambda tmp, x=x: np.save(tmp, x))
    n_tokens = sum(len(t) for t in train_tokens)
    n_unk = sum(1 for tokens in train_tokens for token in tokens if token not in vocab)
    info = {
        "input_kind": "sequence",
        "vocabulary_size": len(vocab),
        "sequence_length": length,
        "train_oov_rate": round(n_unk / max(1, n_tokens), 5),
        "train_truncated_fraction": round(float(np.mean([len(t) > length for t in train_tokens])), 4),
        "files": ["vocab.json"],
    }
    if lm_path is not None:
        from pipeline.sentiment.lm_finetune import LM_FILE, encoder_language_model  # noqa: PLC0415 - Keras

        info["language_model"] = lm_fingerprint(lm_path)
        info.update(encoder_language_model(run, lm_path, frames, train_tokens, vocab))
        info["files"].append(LM_FILE)
    if cfg["embeddings"] != "random":
        extra = initial_embeddings(cfg, vocab, train_tokens, out_dir, seed)
        info["files"] += extra.pop("extra_files")
        info.update(extra)
    return info


def _featurize_sparse(frames: dict, cfg: dict, out_dir: Path) -> dict:
    vectorizer = SparseVectorizer(
        cfg["kind"],
        ngram_max=cfg["ngram_max"],
        max_features=cfg["max_features"],
        min_df=cfg["min_df"],
        sublinear_tf=cfg["sublinear_tf"],
        lowercase=cfg["lowercase"],
        nb_alpha=cfg["nb_alpha"],
    )
    try:
        x_train = vectorizer.fit_transform(
            frames["train"]["text"].tolist(), frames["train"]["label"].tolist()
        )
    except ValueError as exc:
        raise PipelineError(f"featurize: {exc}") from None
    vectorizer.save(out_dir)
    matrices = {"train": x_train}
    for split in ("valid", "test"):
        matrices[split] = vectorizer.transform(frames[split]["text"].tolist())
    for split, x in matrices.items():
        write_with(out_dir / f"{split}_x.npz", lambda tmp, x=x: sp.save_npz(tmp, x))
    return {"input_kind": "sparse", "dim": vectorizer.dim, "files": ["vectorizer.json", "vectorizer.npz"]}


def load_features(run: RunDir, split: str):
    """(x, y) of one split: a CSR matrix or an int32 id matrix, and int32 labels."""
    directory = run.path / "features"
    y = np.load(directory / f"{split}_y.npy", allow_pickle=False)
    if (directory / f"{split}_x.npy").is_file():
        return np.load(directory / f"{split}_x.npy", allow_pickle=False), y
    return sp.load_npz(directory / f"{split}_x.npz").tocsr(), y


def load_embedding_matrix(run: RunDir):
    """features/embeddings.npy (the initial token table) or None when features.embeddings is "random"."""
    path = run.path / "features" / MATRIX_FILE
    return np.load(path, allow_pickle=False) if path.is_file() else None


def feature_info(run: RunDir) -> dict:
    """features/info.json: input kind and sizes."""
    return json.loads((run.path / "features" / "info.json").read_text(encoding="utf-8"))
