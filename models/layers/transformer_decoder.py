"""One decoder-only (GPT-style) Transformer block with causal self-attention and a key/value cache."""

from __future__ import annotations

import math

import keras
from keras import ops

from models.layers.transformer_block import TransformerBlock

# Added to the scores of masked keys (scores are computed in float32, so this stays finite).
_MASKED_SCORE = -1e9


@keras.saving.register_keras_serializable(package="pipeline")
class TransformerDecoder(TransformerBlock):
    """Decoder-only Transformer block: causal self-attention and feed-forward, each with a residual.

    Pre-norm by default (`x = x + dropout(attention(norm(x)))`, then `x = x + dropout(ffn(norm(x)))`,
    as in GPT-2); `normalize_first=False` gives the post-norm of the original paper. Position i attends
    to positions <= i only. A padding mask (from Keras mask propagation, e.g. an Embedding with
    `mask_zero=True`, or the `padding_mask` argument, `True` = real token) also hides padding keys.

    Attention is written with `keras.ops` (no `MultiHeadAttention`) so that it can run incrementally:
    call the layer with `cache` (see `empty_cache`) and `cache_index` to process only the new token(s);
    their keys and values are written into the fixed-size cache with `ops.slice_update` and the queries
    attend to every cached position <= their own. The cache never changes shape, so a compiled step
    (XLA, `jax.jit`) is traced once. Full-sequence and step-by-step calls give the same outputs.

    Args:
        intermediate_dim: hidden size of the feed-forward network.
        num_heads: number of attention heads; must divide the input's hidden size.
        dropout: dropout rate on the attention weights and after each sub-block.
        layer_norm_epsilon: epsilon of the layer norms.
        normalize_first: pre-norm (`True`, default) or post-norm (`False`).
        activation: activation of the feed-forward network's first layer.
        kernel_initializer: initializer of the dense kernels.
        **kwargs: standard layer arguments (`name`, `dtype`, `trainable`).

    Example:
    >>> decoder = TransformerDecoder(intermediate_dim=64, num_heads=2)
    >>> vectors = np.random.rand(2, 10, 16).astype("float32")
    >>> decoder(vectors).shape
    TensorShape([2, 10, 16])
    >>> cache = decoder.empty_cache(batch_size=2, max_length=10)
    >>> outputs, cache = decoder(vectors[:, :4], cache=cache, cache_index=0)  # first 4 positions
    >>> outputs, cache = decoder(vectors[:, 4:5], cache=cache, cache_index=4)  # then one at a time

    References:
        Vaswani et al., "Attention Is All You Need" (2017); Radford et al., "Language Models are
        Unsupervised Multitask Learners" (GPT-2, 2019); KerasHub `TransformerDecoder` (its cache layout).
    """

    def __init__(
        self,
        intermediate_dim: int,
        num_heads: int,
        dropout: float = 0.1,
        layer_norm_epsilon: float = 1e-5,
        normalize_first: bool = True,
        activation: str = "gelu",
        kernel_initializer: str | keras.initializers.Initializer = "glorot_uniform",
        **kwargs,
    ) -> None:
        super().__init__(
            intermediate_dim,
            num_heads,
            dropout,
            layer_norm_epsilon,
            normalize_first,
            activation,
            kernel_initializer,
            **kwargs,
        )

    def build(self, inputs_shape) -> None:
        self._set_sizes(inputs_shape)
        self.query_dense = self._dense(self.hidden_dim, "query", inputs_shape)
        self.key_dense = self._dense(self.hidden_dim, "key", inputs_shape)
        self.value_dense = self._dense(self.hidden_dim, "value", inputs_shape)
        self.attention_output_dense = self._dense(self.hidden_dim, "attention_output", inputs_shape)
        self.attention_norm = self._layer_norm("attention_norm", inputs_shape)
        self.attention_weights_dropout = self._dropout()
        self.attention_dropout = self._dropout()
        self._build_feed_forward(inputs_shape)
        super().build(inputs_shape)

    def empty_cache(self, batch_size: int, max_length: int):
        """A zero key/value cache (batch_size, num_heads, max_length, 2 * head_dim): each position's key in
        the first `head_dim` features of the last axis, its value in the last `head_dim`.

        Args:
            batch_size: rows generated together.
            max_length: the most positions the cache holds (the model's position table size).

        Returns:
            A tensor of the layer's compute dtype, to pass as `cache` with `cache_index=0`.
        """
        if not self.built:
            raise ValueError("build or call the layer before asking for its cache (head_dim is unknown)")
        return ops.zeros(
            (batch_size, self.num_heads, max_length, 2 * self.head_dim), dtype=self.compute_dtype
        )

    def _split_heads(self, vectors):
        """(batch, length, hidden) -> (batch, num_heads, length, head_dim): head-major, so attention over a
        cache of that layout is a plain batched matmul (no per-step transpose of the whole cache)."""
        shape = ops.shape(vectors)
        split = ops.reshape(vectors, (shape[0], shape[1], self.num_heads, self.head_dim))
        return ops.transpose(split, (0, 2, 1, 3))

    def _attend(
        self, query, key, value, allowed, training, return_weights: bool = False, packed: bool = False
    ):
        """Scaled dot-product attention; `allowed` (batch or 1, queries, keys) is True where a query may
        look at a key. Returns (batch, queries, hidden) [and the float32 weights (batch, heads, q, k)].

        `packed`: `key` is a cache holding keys and values side by side on its last axis (`empty_cache`)
        and `value` is ignored. The query is padded with zeros so it scores against the keys only, and the
        values are the second half of the weighted sum: no slice of the whole cache is copied per step."""
        if packed:
            query = ops.concatenate((query, ops.zeros_like(query)), axis=-1)
            value = key
        scores = ops.einsum("bhqd,bhkd->bhqk", query, key)
        scores = ops.cast(scores, "float32") * (1.0 / math.sqrt(self.head_dim))
        scores = ops.where(ops.expand_dims(allowed, axis=1), scores, _MASKED_SCORE)
        probabilities = ops.softmax(scores, axis=-1)
        weights = ops.cast(probabilities, self.compute_dtype)
        weights = self.attention_weights_dropout(weights, training=training)
        attended = ops.einsum("bhqk,bhkd->bhqd", weights, value)
        if packed:
            attended = attended[..., self.head_dim :]
        attended = ops.transpose(attended, (0, 2, 1, 3))
        shape = ops.shape(attended)
        attended = ops.reshape(attended, (shape[0], shape[1], self.hidden_dim))
        return (attended, probabilities) if return_weights else attended

    def call(self, inputs, padding_mask=None, cache=None, cache_index=None, training=None, mask=None):
        """Decode `inputs` (batch, length, hidden), the whole sequence or, with a cache, the new positions.

        Args:
            inputs: the vectors of the sequence (no cache) or of the new positions (with a cache).
            padding_mask: (batch, length) booleans, `True` at real tokens; defaults to the Keras mask.
                Only for full-sequence calls: a cached call assumes no padding among cached positions.
            cache: optional (batch, num_heads, max_length, 2 * head_dim) keys and values of the earlier
                positions (see `empty_cache`).
            cache_index: with a cache, the position of the first row of `inputs` (an int or int scalar
                tensor); positions >= cache_index + length are ignored whatever the cache holds there.
            training: whether dropout is active.

        Returns:
            The outputs (batch, length, hidden); with a cache, `(outputs, updated_cache)`.
        """
        if cache is None:
            if padding_mask is None:
                padding_mask = mask
        else:
            if padding_mask is not None:
                raise ValueError("`padding_mask` is not supported with a cache: generate without padding")
            if cache_index is None:
                raise ValueError("`cache_index` (the position of the first new token) is needed with a cache")
        x, cache = self._self_attention_block(inputs, padding_mask, cache, cache_index, training)
        x = self._feed_forward_block(x, training)
        if cache is None:
            return x
        return x, cache

    def _self_attention_block(self, inputs, padding_mask, cache, cache_index, training):
        """Causal self-attention with its residual (and norm): (outputs, updated cache or None)."""
        length = ops.shape(inputs)[1]
        residual = inputs
        x = self.attention_norm(inputs) if self.normalize_first else inputs
        query = self._split_heads(self.query_dense(x))
        key = self._split_heads(self.key_dense(x))
        value = self._split_heads(self.value_dense(x))

        if cache is None:
            query_positions = ops.arange(length)
            key_positions = ops.arange(length)
        else:
            cache_index = ops.cast(cache_index, "int32")
            zero = ops.zeros((), "int32")
            update = ops.concatenate((key, value), axis=-1)  # (batch, heads, length, 2 * head_dim)
            cache = ops.slice_update(cache, (zero, zero, cache_index, zero), ops.cast(update, cache.dtype))
            key = value = ops.cast(cache, self.compute_dtype)
            query_positions = cache_index + ops.arange(length, dtype="int32")
            key_positions = ops.arange(ops.shape(cache)[2], dtype="int32")
        # (1, queries, keys): causal, plus (batch, 1, keys) real keys on full-sequence calls.
        allowed = ops.expand_dims(
            ops.greater_equal(ops.expand_dims(query_positions, 1), ops.expand_dims(key_positions, 0)), 0
        )
        if cache is None and padding_mask is not None:
            allowed = ops.logical_and(allowed, ops.expand_dims(ops.cast(padding_mask, "bool"), 1))

        attended = self._attend(query, key, value, allowed, training, packed=cache is not None)
        x = self.attention_output_dense(attended)
        x = residual + self.attention_dropout(x, training=training)
        if not self.normalize_first:
            x = self.attention_norm(x)
        return x, cache

    def compute_mask(self, inputs, mask=None):
        return mask
