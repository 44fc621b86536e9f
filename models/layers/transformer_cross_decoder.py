"""A Transformer decoder block for translation: causal self-attention, cross-attention over the encoder's
outputs, feed-forward; with key/value caches for step-by-step decoding."""

from __future__ import annotations

import keras
from keras import ops

from models.layers.transformer_decoder import TransformerDecoder


@keras.saving.register_keras_serializable(package="pipeline")
class TransformerCrossDecoder(TransformerDecoder):
    """`TransformerDecoder` plus encoder-decoder (cross) attention between self-attention and feed-forward.

    Each query position attends to every real source position (`encoder_mask`, True = real token; padding
    gets no weight). Incremental decoding carries two caches: the self-attention cache of
    `TransformerDecoder` and a cross cache (batch, 2, num_heads, source, head_dim) holding the projected
    encoder keys and values, computed once (`cross_cache(encoder_outputs)`) instead of at every step. With
    `return_attention`, the cross-attention weights (batch, num_heads, queries, source) come back too.

    Example:
    >>> block = TransformerCrossDecoder(intermediate_dim=64, num_heads=2)
    >>> target, source = np.random.rand(2, 7, 16), np.random.rand(2, 5, 16)
    >>> block(target, source).shape
    TensorShape([2, 7, 16])
    """

    def build(self, inputs_shape, encoder_outputs_shape=None) -> None:
        super().build(inputs_shape)
        source_shape = encoder_outputs_shape or inputs_shape
        self.cross_query_dense = self._dense(self.hidden_dim, "cross_query", inputs_shape)
        self.cross_key_dense = self._dense(self.hidden_dim, "cross_key", source_shape)
        self.cross_value_dense = self._dense(self.hidden_dim, "cross_value", source_shape)
        self.cross_output_dense = self._dense(self.hidden_dim, "cross_output", inputs_shape)
        self.cross_norm = self._layer_norm("cross_norm", inputs_shape)
        self.cross_dropout = self._dropout()

    def cross_cache(self, encoder_outputs):
        """The projected encoder keys and values (batch, 2, num_heads, source, head_dim), for `cross_cache=`."""
        key = self._split_heads(self.cross_key_dense(encoder_outputs))
        value = self._split_heads(self.cross_value_dense(encoder_outputs))
        return ops.stack((key, value), axis=1)

    def call(
        self,
        inputs,
        encoder_outputs=None,
        encoder_mask=None,
        padding_mask=None,
        cache=None,
        cache_index=None,
        cross_cache=None,
        return_attention: bool = False,
        training=None,
        mask=None,
    ):
        """Decode `inputs` (batch, length, hidden) against `encoder_outputs` (batch, source, hidden) or a
        precomputed `cross_cache`. Returns the outputs, then the updated self-attention cache when `cache`
        is given, then the cross-attention weights when `return_attention`."""
        if cache is None and padding_mask is None:
            padding_mask = mask[0] if isinstance(mask, (list, tuple)) else mask
        if cache is not None and cache_index is None:
            raise ValueError("`cache_index` (the position of the first new token) is needed with a cache")
        if encoder_outputs is None and cross_cache is None:
            raise ValueError("give `encoder_outputs` or a precomputed `cross_cache`")
        x, cache = self._self_attention_block(inputs, padding_mask, cache, cache_index, training)

        residual = x
        if self.normalize_first:
            x = self.cross_norm(x)
        query = self._split_heads(self.cross_query_dense(x))
        if cross_cache is None:
            cross_cache = self.cross_cache(encoder_outputs)
        key = ops.cast(cross_cache[:, 0], self.compute_dtype)
        value = ops.cast(cross_cache[:, 1], self.compute_dtype)
        if encoder_mask is None:
            allowed = ops.ones((1, 1, ops.shape(key)[2]), dtype="bool")
        else:
            allowed = ops.expand_dims(ops.cast(encoder_mask, "bool"), 1)  # (batch, 1, source)
        attended, weights = self._attend(query, key, value, allowed, training, return_weights=True)
        x = residual + self.cross_dropout(self.cross_output_dense(attended), training=training)
        if not self.normalize_first:
            x = self.cross_norm(x)

        x = self._feed_forward_block(x, training)
        outputs = (x,) + ((cache,) if cache is not None else ()) + ((weights,) if return_attention else ())
        return outputs[0] if len(outputs) == 1 else outputs

    def compute_mask(self, inputs, encoder_outputs=None, mask=None, **kwargs):
        return mask[0] if isinstance(mask, (list, tuple)) else mask

    def compute_output_spec(self, inputs, encoder_outputs=None, return_attention: bool = False, **kwargs):
        out = keras.KerasTensor(inputs.shape, dtype=self.compute_dtype)
        if not return_attention:
            return out
        source = encoder_outputs.shape[1] if encoder_outputs is not None else None
        return out, keras.KerasTensor(
            (inputs.shape[0], self.num_heads, inputs.shape[1], source), dtype="float32"
        )
