"""The translators' output side, tied or not: which layer embeds target ids and how hidden states become logits.

With `model.tie_embeddings` a translator's "target_embedding" is a `TiedOutput` wrapping the token table (a
`keras.layers.Embedding` for the recurrent translators, a `PositionalEmbedding` for the Transformer) and the
logits come from that table's transpose (after a "projection" to `embed_dim` where the decoder is wider);
without it, from a Dense "logits" layer. The step-by-step decoders read the model through these helpers, so
both kinds decode tied and untied translators alike.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import ops

from models.layers.tied_output import TiedOutput


def check_shared_sizes(shared: bool, source_size: int, target_size: int) -> None:
    """A shared token table needs one vocabulary: refuse different sizes."""
    if shared and source_size != target_size:
        raise ValueError(
            "a shared vocabulary needs equal source and target vocabulary sizes, "
            f"got {source_size} and {target_size}"
        )


def token_layers(
    make: Callable[[int, str], keras.layers.Layer],
    tie: bool,
    shared: bool,
    source_size: int,
    target_size: int,
) -> tuple[keras.layers.Layer, Callable[[], keras.layers.Layer]]:
    """(the source's token layer, a function giving the target's), from `make(vocabulary size, name)`.

    The target layer (a `TiedOutput` "target_embedding" around "target_token_table" when tied) is made when
    the function is first called, where the untied builders always made it: layers draw their initialisers'
    seeds as they are made, so the order keeps seeded models as they were. With `tie` and `shared` the source
    uses the target's layer itself (made at once)."""
    check_shared_sizes(tie and shared, source_size, target_size)
    made: list[keras.layers.Layer] = []

    def target() -> keras.layers.Layer:
        if not made:
            made.append(
                TiedOutput(make(target_size, "target_token_table"), name="target_embedding")
                if tie
                else make(target_size, "target_embedding")
            )
        return made[0]

    source = target() if tie and shared else make(source_size, "source_embedding")
    return source, target


def output_logits(hidden, tied: TiedOutput | None, embed_dim: int, vocabulary_size: int):
    """Float32 logits (layer "logits") from the decoder's hidden states (symbolic, while building)."""
    if tied is None:
        return keras.layers.Dense(vocabulary_size, dtype="float32", name="logits")(hidden)
    if hidden.shape[-1] != embed_dim:
        hidden = keras.layers.Dense(embed_dim, name="projection")(hidden)
    return keras.layers.Activation("linear", dtype="float32", name="logits")(tied(hidden, reverse=True))


def target_embedding(model: keras.Model) -> keras.layers.Layer:
    """The layer that embeds target ids (the one a `TiedOutput` wraps, when tied)."""
    layer = model.get_layer("target_embedding")
    return layer.embedding if isinstance(layer, TiedOutput) else layer


def logits_function(model: keras.Model) -> Callable:
    """hidden (..., decoder width) -> float32 logits (..., target vocabulary), with the model's own layers."""
    layers = {layer.name: layer for layer in model.layers}
    tied = layers["target_embedding"] if isinstance(layers["target_embedding"], TiedOutput) else None
    projection, logits = layers.get("projection"), layers["logits"]

    def compute(hidden):
        if tied is not None:
            if projection is not None:
                hidden = projection(hidden)
            hidden = tied(hidden, reverse=True)
        return ops.cast(logits(hidden), "float32")

    return compute
