"""Request bodies of the JSON API. Field names are the Python API's argument names; `explain` and `attention`
are the server's own. Unknown fields, wrong types and out-of-range values are refused (422)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

MAX_BEAM = 16
MAX_GENERATE_LENGTH = 2000


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PredictRequest(_Body):
    texts: list[StrictStr] = Field(min_length=1, description="reviews to classify (one label each)")
    threshold: StrictFloat | None = Field(
        default=None, gt=0.0, lt=1.0, description="binary models: P(positive) cut-off (default: the run's)"
    )
    explain: StrictBool = Field(default=False, description="add per-token contributions")


class TranslateRequest(_Body):
    sentences: list[StrictStr] = Field(min_length=1, description="source sentences")
    beam: StrictInt = Field(default=1, ge=1, le=MAX_BEAM, description="beam width (1 = greedy)")
    length_penalty: StrictFloat | StrictInt = Field(
        default=0.6, ge=0.0, le=5.0, description="GNMT length penalty alpha for beam search"
    )
    attention: StrictBool = Field(default=False, description="add source/output tokens and attention weights")


class GenerateRequest(_Body):
    prompt: StrictStr = Field(default="", description="text to continue ('' starts a new document)")
    length: StrictInt = Field(
        default=100, ge=1, le=MAX_GENERATE_LENGTH, description="tokens (words or characters) to generate"
    )
    temperature: StrictFloat | StrictInt = Field(default=1.0, gt=0.0, description="sampling temperature")
    top_k: StrictInt = Field(default=0, ge=0, description="sample among the k most likely tokens (0 = all)")
    top_p: StrictFloat | StrictInt = Field(default=1.0, gt=0.0, le=1.0, description="nucleus mass")
    greedy: StrictBool = Field(default=False, description="always take the most likely token")
    seed: StrictInt | None = Field(default=None, ge=0, description="seed of the draws (same seed, same text)")
    stop_at_end: StrictBool = Field(default=False, description="stop at the end of a document")


class NeighborsRequest(_Body):
    word: StrictStr = Field(min_length=1)
    topn: StrictInt = Field(default=10, ge=1, le=100)


class AnalogyRequest(_Body):
    a: StrictStr = Field(min_length=1)
    b: StrictStr = Field(min_length=1)
    c: StrictStr = Field(min_length=1)
    topn: StrictInt = Field(default=5, ge=1, le=100)
