"""The Transformer translator (functional API) and its step-by-step decoder with key/value caches.

`build_transformer_translator(model_cfg, source_vocabulary_size, target_vocabulary_size, max_length)`: token +
learned position embeddings on both sides; `layers` pre-norm `TransformerEncoder` blocks over the source (padding
never attended); `layers` `TransformerCrossDecoder` blocks over `<start>` + the target (causal self-attention,
cross-attention to the real source positions); a final layer norm; float32 logits. Inputs and output as for
`models.seq2seq.build_seq2seq`.

`TransformerTranslatorStepper` runs the encoder once per batch. With `use_cache=True` it precomputes each
block's cross-attention keys/values and decodes one position per step against self-attention key/value caches;
with `use_cache=False` it keeps no key/value cache of either kind (as `use_cache=False` means in other
libraries): every step reruns the decoder on the whole prefix and projects the encoder's keys/values again.
Both give the same log-probabilities.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from models.builders import flag, positive_int, rate, transformer_sizes
from models.language_models import bucket_length
from models.layers.positional_embedding import PositionalEmbedding
from models.layers.transformer_cross_decoder import TransformerCrossDecoder
from models.layers.transformer_encoder import TransformerEncoder
from models.translator_output import (
    logits_function,
    output_logits,
    target_embedding,
    token_layers,
)

TRANSFORMER_TRANSLATOR_DEFAULTS: dict[str, Any] = {
    "embed_dim": 128,
    "num_heads": 4,
    "ff_dim": 512,
    "layers": 2,
    "dropout": 0.1,
    "tie_embeddings": False,
}


def build_transformer_translator(
    model_cfg: dict,
    source_vocabulary_size: int,
    target_vocabulary_size: int,
    max_length: int,
    shared_vocabulary: bool = False,
) -> keras.Model:
    """An encoder-decoder Transformer; see the module docstring. `max_length` sizes both position tables.

    With `model_cfg["tie_embeddings"]` the logits come from the decoder's token table (transposed, plus a
    per-token bias); with `shared_vocabulary` as well (one vocabulary over both sides, equal sizes) the
    encoder embeds with that same layer, token and position tables included (three-way tying).
    """
    cfg = {**TRANSFORMER_TRANSLATOR_DEFAULTS, **model_cfg}
    embed_dim = positive_int("embed_dim", cfg["embed_dim"])
    num_heads, ff_dim = transformer_sizes(cfg, embed_dim)
    num_layers = positive_int("layers", cfg["layers"])
    dropout = rate("dropout", cfg["dropout"])
    max_length = positive_int("max_length", max_length)
    tie = flag("tie_embeddings", cfg["tie_embeddings"])

    source_ids = keras.Input(shape=(None,), dtype="int32", name="source_ids")
    target_in = keras.Input(shape=(None,), dtype="int32", name="target_in")

    source_layer, the_target_layer = token_layers(
        lambda size, name: PositionalEmbedding(size, max_length, embed_dim, mask_zero=True, name=name),
        tie,
        shared_vocabulary,
        source_vocabulary_size,
        target_vocabulary_size,
    )
    x = source_layer(source_ids)
    x = keras.layers.Dropout(dropout, name="source_dropout")(x)
    for index in range(num_layers):
        x = TransformerEncoder(ff_dim, num_heads, dropout, normalize_first=True, name=f"encoder_{index}")(x)
    encoded = keras.layers.LayerNormalization(epsilon=1e-5, name="encoder_norm")(x)
    source_mask = keras.layers.Identity(name="source_mask")(ops.not_equal(source_ids, 0))

    y = the_target_layer()(target_in)
    y = keras.layers.Dropout(dropout, name="target_dropout")(y)
    for index in range(num_layers):
        y = TransformerCrossDecoder(
            ff_dim, num_heads, dropout, normalize_first=True, name=f"decoder_{index}"
        )(y, encoded, encoder_mask=source_mask)
    y = keras.layers.LayerNormalization(epsilon=1e-5, name="decoder_norm")(y)
    logits = output_logits(y, the_target_layer() if tie else None, embed_dim, target_vocabulary_size)
    return keras.Model([source_ids, target_in], logits, name="transformer_translator")


class TransformerTranslatorStepper(keras.Model):
    """Step-by-step decoding of a translator from `build_transformer_translator` (the same interface as
    `models.seq2seq_decoding.Seq2SeqStepper`, so `translate_ids` drives either).

    `encode(source_ids)` -> (cross caches, or `[encoder outputs]` without caches, source mask, states) where
    states are the self-attention caches
    (one per block, (batch, heads, max_length, 2 * head_dim)) and the positions (batch,) already decoded.
    `step` feeds one token per row and returns log-probabilities, the new states and the cross-attention
    weights (batch, layers, heads, source). With `use_cache=False`, each step reruns the decoder on the
    whole prefix (kept in the states, padded to a power-of-two bucket) and projects the cross-attention
    keys/values from the encoder's output again: slower, same numbers. Both run the encoder once, so the
    comparison isolates the key/value caches.
    """

    def __init__(self, model: keras.Model, use_cache: bool = True, **kwargs) -> None:
        kwargs.setdefault("name", f"{model.name}_stepper")
        super().__init__(**kwargs)
        layers = {layer.name: layer for layer in model.layers}
        self.translator = model
        self.use_cache = bool(use_cache)
        self.encoder = keras.Model(model.inputs[0], layers["encoder_norm"].output, name="encoder_part")
        self.target_embedding = target_embedding(model)
        self.decoders = [layer for layer in model.layers if isinstance(layer, TransformerCrossDecoder)]
        self.decoder_norm = layers["decoder_norm"]
        self.logits_layer = layers["logits"]  # the Dense, or the float32 cast after a tied table
        self.logits = logits_function(model)
        self.max_length = self.target_embedding.sequence_length
        self.attention = True  # for the Translator: this model has attention maps
        self.built = True

    def call(self, inputs: dict) -> dict:
        encoded, source_mask = inputs["encoded"], inputs["source_mask"]
        positions = ops.cast(inputs["states"][-1], "int32")
        index = positions[0]
        if self.use_cache:
            token_ids = ops.expand_dims(ops.cast(inputs["token_ids"], "int32"), 1)
            x = self.target_embedding.token_embedding(token_ids)
            x = x + ops.cast(
                ops.take(self.target_embedding.position_embeddings, ops.expand_dims(index, 0), axis=0),
                x.dtype,
            )
            caches = []
            weights = []
            for decoder, cache, cross in zip(self.decoders, inputs["states"][:-1], encoded, strict=True):
                x, cache, attention = decoder(
                    x,
                    cache=cache,
                    cache_index=index,
                    cross_cache=cross,
                    encoder_mask=source_mask,
                    return_attention=True,
                )
                caches.append(cache)
                weights.append(attention[:, :, 0])
            last = x[:, 0]
            new_states = (*caches, positions + 1)
        else:
            prefix = ops.cast(inputs["states"][0], "int32")  # (batch, bucket) tokens so far, 0 after
            prefix = ops.slice_update(
                prefix,
                (ops.zeros((), "int32"), index),
                ops.expand_dims(ops.cast(inputs["token_ids"], "int32"), 1),
            )
            x = self.target_embedding(prefix)
            weights = []
            for decoder in self.decoders:  # no cross cache: keys/values projected from the encoder again
                x, attention = decoder(
                    x, encoder_outputs=encoded[0], encoder_mask=source_mask, return_attention=True
                )
                weights.append(ops.take(attention, index, axis=2))
            last = ops.take(x, index, axis=1)
            new_states = (prefix, positions + 1)
        logits = self.logits(self.decoder_norm(last))
        return {
            "log_probs": ops.log_softmax(logits, axis=-1),
            "states": new_states,
            "weights": ops.stack(weights, axis=1),
        }

    def start(self, source_ids, length: int | None = None):
        """`encode` inside a graph (for `models.greedy_loop`): (cross caches, source mask, states tuple), with
        caches (or the uncached prefix) of `length` positions (default: the position table), fixed shapes
        for a compiled loop of at most `length` steps."""
        return self._decoder_inputs(self.encoder(source_ids), source_ids, length)

    def encode(self, source_ids: np.ndarray):
        """`start` for the Python step loop: the encoder through `predict_on_batch`, numpy arrays out."""
        source_ids = np.asarray(source_ids, dtype="int32")
        cross, mask, states = self._decoder_inputs(self.encoder.predict_on_batch(source_ids), source_ids)
        numpy = keras.ops.convert_to_numpy
        return [numpy(part) for part in cross], numpy(mask), [numpy(state) for state in states]

    def _decoder_inputs(self, encoded, source_ids, length: int | None = None):
        """(cross caches, or the encoder's outputs without caches; source mask; initial states)."""
        length = self.max_length if length is None else length
        if not 1 <= length <= self.max_length:
            raise ValueError(f"the decoder's position table holds {self.max_length} positions, not {length}")
        if self.use_cache:
            cross = tuple(decoder.cross_cache(encoded) for decoder in self.decoders)
        else:
            cross = (ops.copy(encoded),)  # a copy carries no Keras mask
        batch = ops.shape(source_ids)[0]
        if self.use_cache:
            states = [decoder.empty_cache(batch, length) for decoder in self.decoders]
        else:
            states = [ops.zeros((batch, length), "int32")]
        return cross, ops.not_equal(source_ids, 0), (*states, ops.zeros((batch,), "int32"))

    def step(self, token_ids: np.ndarray, states, encoded, source_mask):
        """One decoder step: (log-probabilities, new states, weights (batch, layers, heads, source))."""
        positions = states[-1]
        position = int(positions.max(initial=0))
        if position >= self.max_length:
            raise ValueError(f"the decoder's position table holds {self.max_length} positions")
        if not self.use_cache:
            # The prefix padded to a bucket length (few traced shapes), not to the whole table.
            width = bucket_length(position + 1, self.max_length)
            states = [states[0][:, :width], positions]
        outputs = self.predict_on_batch(
            {
                "token_ids": np.asarray(token_ids, dtype="int32"),
                "states": tuple(states),
                "encoded": tuple(encoded),
                "source_mask": source_mask,
            }
        )
        new_states = [np.asarray(state) for state in outputs["states"]]
        if not self.use_cache:
            full = np.zeros((len(positions), self.max_length), dtype="int32")
            full[:, : new_states[0].shape[1]] = new_states[0]
            new_states[0] = full
        return outputs["log_probs"], new_states, outputs["weights"]
