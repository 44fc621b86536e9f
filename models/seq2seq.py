"""Recurrent encoder-decoder translators (functional API): vanilla seq2seq and seq2seq with attention.

`build_seq2seq(model_cfg, source_vocabulary_size, target_vocabulary_size)` returns a model from
`source_ids` (batch, source) and `target_in` (batch, steps: `<start>` + the target, teacher forcing) to
float32 next-token logits (batch, steps, target vocabulary); `with_attention_weights(model)` adds the
attention weights (batch, steps, source). Id 0 is padding on both sides.

- Encoder: Embedding(mask_zero) -> GRU or LSTM (`model.kind`), optionally bidirectional (the two directions'
  states are concatenated, so the decoder has twice `units`).
- Vanilla (`model.attention = "none"`): the encoder's final state is the context vector, the decoder's
  initial state; the decoder never sees the source otherwise (the bottleneck).
- Attention: the decoder also starts from the encoder's final state and, at step t, scores its state against
  every encoder state: `additive` scores `s_{t-1}`, the state before reading `y_{t-1}` (Bahdanau), `dot` and
  `general` score `s_t` (Luong). The context `c_t` and `s_t` give the attentional vector
  `tanh(W_c [s_t; c_t])` (Luong), then the logits.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from models.builders import flag, positive_int, rate
from models.layers.attention import AdditiveAttention, DotAttention
from models.translator_output import output_logits, token_layers

SEQ2SEQ_KINDS = ("gru", "lstm")
ATTENTION_KINDS = ("none", "additive", "dot", "general")

SEQ2SEQ_DEFAULTS: dict[str, Any] = {
    "kind": "gru",
    "attention": "additive",
    "bidirectional": False,
    "embed_dim": 128,
    "units": 256,
    "attention_units": 0,  # additive: hidden size of f_att (0 = the decoder's units)
    "dropout": 0.1,
    "tie_embeddings": False,  # the logits from the target token table (a projection to embed_dim first)
}

_RECURRENT = {"gru": keras.layers.GRU, "lstm": keras.layers.LSTM}


@keras.saving.register_keras_serializable(package="pipeline")
class ShiftStates(keras.layers.Layer):
    """`[s_0, s_1, ..., s_{T-1}]` from the decoder's outputs `[s_1, ..., s_T]` and its initial state `s_0`:
    the state each step starts from (the query of additive attention)."""

    def call(self, outputs, initial):
        return ops.concatenate([ops.expand_dims(initial, 1), outputs[:, :-1]], axis=1)

    def compute_mask(self, outputs, initial, mask=None):
        return mask[0] if isinstance(mask, (list, tuple)) else mask


def build_seq2seq(
    model_cfg: dict, source_vocabulary_size: int, target_vocabulary_size: int, shared_vocabulary: bool = False
) -> keras.Model:
    """An encoder-decoder translator; see the module docstring.

    Args:
        model_cfg: `kind` ("gru" or "lstm"), `attention` ("none", "additive", "dot", "general"),
            `bidirectional`, `embed_dim`, `units`, `attention_units`, `dropout`, `tie_embeddings`
            (SEQ2SEQ_DEFAULTS). Unknown keys are ignored.
        source_vocabulary_size / target_vocabulary_size: numbers of ids, padding included.
        shared_vocabulary: one vocabulary over both sides; with `tie_embeddings` the encoder then embeds
            with the decoder's (tied) token table too.

    Example:
    >>> model = build_seq2seq({"attention": "additive", "units": 32}, 500, 600)
    >>> logits, weights = with_attention_weights(model)([np.array([[5, 6, 3]]), np.array([[2, 7]])])
    >>> logits.shape, weights.shape
    (TensorShape([1, 2, 600]), TensorShape([1, 2, 3]))
    """
    cfg = {**SEQ2SEQ_DEFAULTS, **model_cfg}
    if cfg["kind"] not in SEQ2SEQ_KINDS:
        raise ValueError(f"unknown seq2seq kind {cfg['kind']!r}; known: {', '.join(SEQ2SEQ_KINDS)}")
    if cfg["attention"] not in ATTENTION_KINDS:
        raise ValueError(f"unknown attention {cfg['attention']!r}; known: {', '.join(ATTENTION_KINDS)}")
    source_vocabulary_size = positive_int("source_vocabulary_size", source_vocabulary_size, minimum=2)
    target_vocabulary_size = positive_int("target_vocabulary_size", target_vocabulary_size, minimum=2)
    embed_dim = positive_int("embed_dim", cfg["embed_dim"])
    units = positive_int("units", cfg["units"])
    dropout = rate("dropout", cfg["dropout"])
    bidirectional = bool(cfg["bidirectional"])
    recurrent = _RECURRENT[cfg["kind"]]
    decoder_units = units * (2 if bidirectional else 1)
    tie = flag("tie_embeddings", cfg["tie_embeddings"])

    source_ids = keras.Input(shape=(None,), dtype="int32", name="source_ids")
    target_in = keras.Input(shape=(None,), dtype="int32", name="target_in")

    source_layer, the_target_layer = token_layers(
        lambda size, name: keras.layers.Embedding(size, embed_dim, mask_zero=True, name=name),
        tie,
        shared_vocabulary,
        source_vocabulary_size,
        target_vocabulary_size,
    )

    x = source_layer(source_ids)
    x = keras.layers.Dropout(dropout, name="source_dropout")(x)
    encoder_layer = recurrent(units, return_sequences=True, return_state=True, name="encoder")
    if bidirectional:
        encoded = keras.layers.Bidirectional(encoder_layer, name="bidirectional_encoder")(x)
        encoder_outputs, states = encoded[0], encoded[1:]
        half = len(states) // 2  # forward states, then backward states
        states = [
            keras.layers.Concatenate(name=f"encoder_state_{i}")([states[i], states[half + i]])
            for i in range(half)
        ]
    else:
        encoder_outputs, *states = encoder_layer(x)

    y = the_target_layer()(target_in)
    y = keras.layers.Dropout(dropout, name="target_dropout")(y)
    decoder_outputs, *_ = recurrent(decoder_units, return_sequences=True, return_state=True, name="decoder")(
        y, initial_state=states
    )
    if cfg["attention"] != "none":
        if cfg["attention"] == "additive":
            attention = AdditiveAttention(cfg["attention_units"] or decoder_units, name="attention")
            query = ShiftStates(name="previous_states")(decoder_outputs, states[0])
        else:
            attention = DotAttention(cfg["attention"], name="attention")
            query = decoder_outputs
        source_mask = keras.layers.Identity(name="source_mask")(ops.not_equal(source_ids, 0))
        context, _ = attention(query, encoder_outputs, values_mask=source_mask)
        combined = keras.layers.Concatenate(name="state_and_context")([decoder_outputs, context])
        decoder_outputs = keras.layers.Dense(decoder_units, activation="tanh", name="attentional")(combined)
    x = keras.layers.Dropout(dropout, name="output_dropout")(decoder_outputs)
    logits = output_logits(x, the_target_layer() if tie else None, embed_dim, target_vocabulary_size)
    name = f"{cfg['kind']}_seq2seq" + ("" if cfg["attention"] == "none" else f"_{cfg['attention']}_attention")
    return keras.Model([source_ids, target_in], logits, name=name)


def with_attention_weights(model: keras.Model) -> keras.Model:
    """The same translator (shared layers) returning `(logits, attention weights)`; the weights are
    (batch, steps, source), float32. Refused for a model without attention."""
    layers = {layer.name: layer for layer in model.layers}
    if "attention" not in layers:
        raise ValueError(f"model {model.name!r} has no attention layer")
    weights = layers["attention"].output[1]
    return keras.Model(model.inputs, [model.outputs[0], weights], name=f"{model.name}_with_weights")
