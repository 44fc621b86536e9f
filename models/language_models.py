"""Language models (functional API): token ids -> next-token logits at every position, and their steppers.

`build_language_model(model_cfg, vocabulary_size, sequence_length)` builds a many-to-many model from
`model_cfg["kind"]`: stacked recurrent layers or a decoder-only Transformer. The model returns logits
(float32, also under mixed precision); train it with `SparseCategoricalCrossentropy(from_logits=True)` on
targets shifted by one. `make_stepper(model)` wraps a built (or loaded) model for incremental decoding:
recurrent states or Transformer key/value caches carried between calls (see `models.decoding.generate`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
from keras import ops

from models.builders import RECURRENT_LAYERS, flag, positive_int, rate, token_embedding, transformer_sizes
from models.layers.positional_embedding import PositionalEmbedding
from models.layers.tied_output import TiedOutput
from models.layers.transformer_decoder import TransformerDecoder

LANGUAGE_MODEL_KINDS = ("simplernn", "lstm", "gru", "transformer")

LANGUAGE_MODEL_DEFAULTS: dict[str, Any] = {
    "kind": "lstm",
    "embed_dim": 64,
    "units": 64,
    "layers": 1,
    "dropout": 0.1,
    "num_heads": 2,
    "ff_dim": 256,
    "tie_embeddings": False,
}


def build_language_model(model_cfg: dict, vocabulary_size: int, sequence_length: int) -> keras.Model:
    """Many-to-many language model over right-padded token ids (0 = padding): logits for the next token.

    Recurrent kinds: Embedding(mask_zero) -> dropout -> `layers` x [recurrent layer (return_sequences)
    -> dropout] -> [Dense(embed_dim) "projection", only when tying with units != embed_dim] -> logits.
    The recurrent layers keep Keras's defaults (tanh, sigmoid gates, no recurrent dropout, no unroll,
    bias) so that LSTM/GRU are cuDNN-eligible on a GPU. Transformer: PositionalEmbedding (token + learned
    position, table of `sequence_length` rows) -> dropout -> `layers` pre-norm `TransformerDecoder`
    blocks (causal) -> final LayerNormalization -> logits.

    Logits come from Dense(vocabulary_size) ("logits", float32) or, with `tie_embeddings`, from the
    transposed token table (`TiedOutput(..., reverse=True)`, plus a per-token bias) followed by a
    float32 "logits" layer. When `tie_embeddings` is set and `units != embed_dim`, a linear projection
    to `embed_dim` is inserted (rather than refusing the configuration). The logits carry the Keras mask
    `ids != 0`, so Keras losses give the positions whose input is padding zero weight (the last real
    position is still trained to predict the target after it; pass `ignore_class=0` to the loss to skip
    padding targets too).

    Args:
        model_cfg: `kind` (one of LANGUAGE_MODEL_KINDS, default "lstm"), `embed_dim` (64), `units` (64,
            recurrent kinds), `layers` (1), `dropout` (0.1), `num_heads` (2) and `ff_dim` (256)
            (Transformer), `tie_embeddings` (False). Unknown keys are ignored.
        vocabulary_size: number of token ids, padding included.
        sequence_length: the longest input; the Transformer's position table (and cache) size.

    Returns:
        An uncompiled `keras.Model` from int ids (batch, time <= sequence_length) to float32 logits
        (batch, time, vocabulary_size), named "<kind>_language_model".

    Example:
    >>> model = build_language_model({"kind": "transformer", "embed_dim": 32}, 1000, 64)
    >>> model(np.array([[5, 6, 7]])).shape
    TensorShape([1, 3, 1000])
    """
    cfg = {**LANGUAGE_MODEL_DEFAULTS, **model_cfg}
    kind = cfg["kind"]
    if kind not in LANGUAGE_MODEL_KINDS:
        raise ValueError(f"unknown language model kind {kind!r}; known: {', '.join(LANGUAGE_MODEL_KINDS)}")
    vocabulary_size = positive_int("vocabulary_size", vocabulary_size, minimum=2)
    sequence_length = positive_int("sequence_length", sequence_length)
    embed_dim = positive_int("embed_dim", cfg["embed_dim"])
    num_layers = positive_int("layers", cfg["layers"])
    dropout = rate("dropout", cfg["dropout"])
    tie_embeddings = flag("tie_embeddings", cfg["tie_embeddings"])

    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    if kind == "transformer":
        num_heads, ff_dim = transformer_sizes(cfg, embed_dim)
    else:
        units = positive_int("units", cfg["units"])
    if tie_embeddings:  # "embedding" is the TiedOutput wrapping the token layer
        token_name = "positional_embedding" if kind == "transformer" else "token_embedding"
    else:
        token_name = "embedding"
    token_layer = token_embedding(kind, vocabulary_size, sequence_length, embed_dim, name=token_name)
    embedding = TiedOutput(token_layer, name="embedding") if tie_embeddings else token_layer
    x = embedding(token_ids)
    x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)

    if kind == "transformer":
        for index in range(num_layers):
            x = TransformerDecoder(
                intermediate_dim=ff_dim,
                num_heads=num_heads,
                dropout=dropout,
                normalize_first=True,
                name=f"decoder_{index}",
            )(x)
        x = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")(x)
    else:
        recurrent_class = RECURRENT_LAYERS[kind]
        for index in range(num_layers):
            x = recurrent_class(units, return_sequences=True, name=f"{kind}_{index}")(x)
            x = keras.layers.Dropout(dropout, name=f"dropout_{index}")(x)
        if tie_embeddings and units != embed_dim:
            x = keras.layers.Dense(embed_dim, name="projection")(x)

    x = keras.layers.Identity(name="output_features")(x)  # what the output layer reads (sampled softmax)
    if tie_embeddings:
        x = embedding(x, reverse=True)
        logits = keras.layers.Activation("linear", dtype="float32", name="logits")(x)
    else:
        logits = keras.layers.Dense(vocabulary_size, dtype="float32", name="logits")(x)
    return keras.Model(token_ids, logits, name=f"{kind}_language_model")


def language_model_context_length(model: keras.Model) -> int | None:
    """How many positions the model can see: the position table's size, or None (recurrent: no limit)."""
    token_layer = _token_layer(model)
    if isinstance(token_layer, PositionalEmbedding):
        return token_layer.sequence_length
    return None


def bucket_length(length: int, limit: int | None = None) -> int:
    """`length` rounded up to a power of two (at least 8), capped at `limit` (never below `length`).

    Compiled steps (XLA, `jax.jit`) are traced once per input shape: padding variable-length inputs to
    a few bucket lengths keeps the number of traces logarithmic.
    """
    padded = max(8, 2 ** math.ceil(math.log2(max(length, 1))))
    if limit is not None:
        padded = min(padded, limit)
    return max(padded, length)


def _layers_by_name(model: keras.Model) -> dict[str, keras.layers.Layer]:
    return {layer.name: layer for layer in model.layers}


def _token_layer(model: keras.Model) -> keras.layers.Layer:
    """The input embedding (unwrapped from a TiedOutput): an Embedding or a PositionalEmbedding."""
    embedding = _layers_by_name(model).get("embedding")
    if embedding is None:
        raise ValueError(f"model {model.name!r} has no layer named 'embedding': not a language model")
    return embedding.embedding if isinstance(embedding, TiedOutput) else embedding


@dataclass
class DecodingState:
    """Where an incremental decoding stands.

    Attributes:
        tokens: the ids the model has seen, oldest first (at most `context_length` of them).
        tensors: the recurrent states (one tuple per layer) or the key/value caches (one per decoder):
            backend tensors under TensorFlow (they stay on the device between steps), numpy arrays
            otherwise.
        logits: float32 (vocabulary_size,) logits for the token after `tokens`.
    """

    tokens: list[int]
    tensors: Any
    logits: np.ndarray


class LanguageModelStepper(keras.Model):
    """Runs a language model built by `build_language_model` one token at a time (batch of one).

    `start(prompt_ids)` reads the prompt and returns a `DecodingState` with the next-token logits;
    `advance(state, token_id)` feeds one more token. Each call runs the compiled step (the Keras predict
    function: a `tf.function`, XLA-compiled with `jit_compile`, or a `jax.jit`; traced once per input
    shape) on the same variables as the wrapped model, so later training of the model is seen. Under
    TensorFlow the states stay backend tensors between steps; other backends go through
    `predict_on_batch`, which returns numpy arrays. When the history grows past
    `context_length`, the stepper starts again from the last `context_length` tokens, exactly as the
    full model sees a window cut to that length (each such step costs one full pass).

    Args:
        language_model: the model to run (fresh or loaded from a `.keras` file).
        context_length: the most tokens the model sees; defaults to the Transformer's position table
            size, or no limit for recurrent models. A Transformer's cannot exceed its table.
        jit_compile: compile the step with XLA (`tf.function(jit_compile=True)`, `jax.jit`); the default,
            even on a CPU-only machine where Keras would not: a step is many small ops, which XLA fuses
            (about 2x faster per token on a CPU under TensorFlow).
        **kwargs: standard model arguments (`name`).
    """

    def __init__(
        self,
        language_model: keras.Model,
        context_length: int | None = None,
        jit_compile: bool = True,
        **kwargs,
    ) -> None:
        kwargs.setdefault("name", f"{language_model.name}_stepper")
        kwargs.setdefault("dtype", language_model.dtype_policy)
        super().__init__(**kwargs)
        self.language_model = language_model
        layers = _layers_by_name(language_model)
        embedding = layers.get("embedding")
        self.tied_output = embedding if isinstance(embedding, TiedOutput) else None
        self.token_layer = _token_layer(language_model)
        self.projection = layers.get("projection")
        self.final_norm = layers.get("final_norm")
        self.logits_layer = layers["logits"]
        self.vocabulary_size = int(language_model.outputs[0].shape[-1])
        limit = language_model_context_length(language_model)
        if context_length is not None:
            context_length = positive_int("context_length", context_length)
            if limit is not None and context_length > limit:
                raise ValueError(f"context_length={context_length} exceeds the position table ({limit})")
            limit = context_length
        self.context_length = limit
        self.built = True
        self.jit_compile = bool(jit_compile)

    def _logits(self, hidden):
        """(batch, hidden) -> float32 (batch, vocabulary_size)."""
        if self.final_norm is not None:
            hidden = self.final_norm(hidden)
        if self.projection is not None:
            hidden = self.projection(hidden)
        if self.tied_output is not None:
            hidden = self.tied_output(hidden, reverse=True)
        return self.logits_layer(hidden)

    def _run(self, inputs: dict) -> tuple[np.ndarray, Any]:
        """One compiled call: float32 logits (vocabulary_size,) of the first row, and the new states."""
        if keras.backend.backend() == "tensorflow":
            # The predict function itself returns tensors: no device -> host copy of the caches.
            self.make_predict_function()
            outputs = self.predict_function([(inputs,)])
        else:
            outputs = self.predict_on_batch(inputs)
        logits = np.asarray(keras.ops.convert_to_numpy(outputs["logits"])[0], dtype=np.float32)
        return logits, outputs["states"]

    def start(self, prompt_ids) -> DecodingState:
        """Read `prompt_ids` (cut to its last `context_length` ids) and return the state after it."""
        tokens = [int(token) for token in prompt_ids]
        if not tokens:
            raise ValueError("the prompt is empty")
        if self.context_length is not None:
            tokens = tokens[-self.context_length :]
        return self._start(tokens)

    def advance(self, state: DecodingState, token_id: int) -> DecodingState:
        """Feed `token_id` after `state` and return the new state (the input state is not changed)."""
        tokens = [*state.tokens, int(token_id)]
        if self.context_length is not None and len(tokens) > self.context_length:
            return self._start(tokens[-self.context_length :])
        return self._advance(state, tokens)

    def _start(self, tokens: list[int]) -> DecodingState:
        raise NotImplementedError

    def _advance(self, state: DecodingState, tokens: list[int]) -> DecodingState:
        raise NotImplementedError


class TransformerStepper(LanguageModelStepper):
    """Incremental decoding of a Transformer language model with one key/value cache per decoder.

    Each cache is a fixed-size (batch, num_heads, sequence_length, 2 * head_dim) tensor; a step embeds
    the new token(s) at their positions, writes their keys and values into every cache at `index`
    (`ops.slice_update`) and attends over the cached positions <= its own, so a step costs attention
    over the cache instead of a pass over the whole prefix. The prompt is read in one call, right-padded
    to a bucket length (`bucket_length`) so that few prompt shapes are traced: the padding writes keys
    and values beyond the prompt, but every later step overwrites its own position before attending,
    and never looks further.
    """

    def __init__(self, language_model: keras.Model, context_length: int | None = None, **kwargs) -> None:
        super().__init__(language_model, context_length, **kwargs)
        if not isinstance(self.token_layer, PositionalEmbedding):
            raise ValueError(f"model {language_model.name!r} is not a Transformer language model")
        self.decoders = [layer for layer in language_model.layers if isinstance(layer, TransformerDecoder)]
        self.max_length = self.token_layer.sequence_length

    def call(self, inputs: dict) -> dict:
        """`token_ids` (batch, new) int32 at positions `index` (int32 scalar) onwards, `states` (the
        caches), `output_index` (int32 scalar, default the last) -> `logits` (batch, vocabulary) of the
        new position `output_index` and the updated `states`."""
        token_ids = ops.cast(inputs["token_ids"], "int32")
        index = ops.cast(inputs["index"], "int32")
        length = ops.shape(token_ids)[1]
        x = self.token_layer.token_embedding(token_ids)
        positions = ops.take(self.token_layer.position_embeddings, index + ops.arange(length), axis=0)
        x = x + ops.cast(positions, x.dtype)
        caches = []
        for decoder, cache in zip(self.decoders, inputs["states"], strict=True):
            x, cache = decoder(x, cache=cache, cache_index=index)
            caches.append(cache)
        output_index = inputs.get("output_index")
        last = x[:, -1] if output_index is None else ops.take(x, ops.cast(output_index, "int32"), axis=1)
        return {"logits": self._logits(last), "states": tuple(caches)}

    def empty_caches(self, batch_size: int = 1) -> tuple[np.ndarray, ...]:
        return tuple(
            keras.ops.convert_to_numpy(decoder.empty_cache(batch_size, self.max_length))
            for decoder in self.decoders
        )

    def _start(self, tokens: list[int]) -> DecodingState:
        padded = np.zeros((1, bucket_length(len(tokens), self.max_length)), dtype="int32")
        padded[0, : len(tokens)] = tokens
        logits, caches = self._run(
            {
                "token_ids": padded,
                "index": np.asarray(0, dtype="int32"),
                "states": self.empty_caches(),
                "output_index": np.asarray(len(tokens) - 1, dtype="int32"),
            }
        )
        return DecodingState(tokens, caches, logits)

    def _advance(self, state: DecodingState, tokens: list[int]) -> DecodingState:
        logits, caches = self._run(
            {
                "token_ids": np.asarray([tokens[-1:]], dtype="int32"),
                "index": np.asarray(len(tokens) - 1, dtype="int32"),
                "states": state.tensors,
                "output_index": np.asarray(0, dtype="int32"),
            }
        )
        return DecodingState(tokens, caches, logits)


class RecurrentStepper(LanguageModelStepper):
    """Incremental decoding of a recurrent language model: each layer's cell runs one step on the
    carried states (the layers' own weights; `h` for SimpleRNN/GRU, `[h, c]` for LSTM). A padding id
    (0) leaves the states unchanged, as the masked layer does. The prompt is read one token at a time.
    """

    def __init__(self, language_model: keras.Model, context_length: int | None = None, **kwargs) -> None:
        super().__init__(language_model, context_length, **kwargs)
        self.recurrent_layers = [
            layer for layer in language_model.layers if isinstance(layer, keras.layers.RNN)
        ]
        if not self.recurrent_layers:
            raise ValueError(f"model {language_model.name!r} is not a recurrent language model")

    def call(self, inputs: dict) -> dict:
        """`token_ids` (batch, 1) int32 and `states` (per layer, a tuple of (batch, units)) -> `logits`
        (batch, vocabulary) and the updated `states`."""
        token_ids = ops.cast(inputs["token_ids"], "int32")
        x = self.token_layer(token_ids)[:, 0]
        real = ops.expand_dims(ops.not_equal(token_ids[:, 0], 0), -1)
        new_states = []
        for layer, states in zip(self.recurrent_layers, inputs["states"], strict=True):
            states = list(states)
            output, updated = layer.cell(x, states, training=False)
            updated = updated if isinstance(updated, (list, tuple)) else [updated]
            x = ops.where(real, output, states[0])
            new_states.append(
                tuple(ops.where(real, new, old) for new, old in zip(updated, states, strict=True))
            )
        return {"logits": self._logits(x), "states": tuple(new_states)}

    def initial_states(self, batch_size: int = 1) -> tuple[tuple[np.ndarray, ...], ...]:
        states = []
        for layer in self.recurrent_layers:
            sizes = layer.cell.state_size
            sizes = list(sizes) if isinstance(sizes, (list, tuple)) else [sizes]
            states.append(tuple(np.zeros((batch_size, size), dtype=layer.compute_dtype) for size in sizes))
        return tuple(states)

    def _step(self, states, token_id: int) -> tuple[np.ndarray, Any]:
        return self._run({"token_ids": np.asarray([[token_id]], dtype="int32"), "states": states})

    def _start(self, tokens: list[int]) -> DecodingState:
        states = self.initial_states()
        for token in tokens:
            logits, states = self._step(states, token)
        return DecodingState(tokens, states, logits)

    def _advance(self, state: DecodingState, tokens: list[int]) -> DecodingState:
        logits, states = self._step(state.tensors, tokens[-1])
        return DecodingState(tokens, states, logits)


def make_stepper(
    model: keras.Model, context_length: int | None = None, jit_compile: bool = True
) -> LanguageModelStepper:
    """The incremental decoder of a model built by `build_language_model` (or loaded from one).

    Build it once and reuse it: each stepper traces its step function on first use.

    Args:
        model: a language model from `build_language_model`.
        context_length: the most tokens the model sees (see `LanguageModelStepper`).
        jit_compile: compile the step with XLA (see `LanguageModelStepper`).

    Example:
    >>> stepper = make_stepper(build_language_model({"kind": "gru"}, 100, 32))
    >>> state = stepper.start([5, 6, 7])
    >>> state = stepper.advance(state, int(state.logits.argmax()))
    """
    if any(isinstance(layer, TransformerDecoder) for layer in model.layers):
        return TransformerStepper(model, context_length, jit_compile=jit_compile)
    return RecurrentStepper(model, context_length, jit_compile=jit_compile)
