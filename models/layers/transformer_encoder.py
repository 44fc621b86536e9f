"""One Transformer encoder block: self-attention and feed-forward, each with residual and layer norm."""

from __future__ import annotations

import keras
from keras import ops

from models.layers.transformer_block import TransformerBlock


@keras.saving.register_keras_serializable(package="pipeline")
class TransformerEncoder(TransformerBlock):
    """Transformer encoder block that never attends to padding.

    `x = norm(x + dropout(attention(x, x, x)))`, then `x = norm(x + dropout(ffn(x)))` (post-norm, as in
    the paper); with `normalize_first=True` the norms move before each sub-block (pre-norm). The padding
    mask comes from Keras mask propagation (e.g. `PositionalEmbedding(mask_zero=True)`) or from the
    `padding_mask` argument (`True` = real token); keys at padding positions get no attention weight.

    Args:
        intermediate_dim: hidden size of the feed-forward network.
        num_heads: number of attention heads; must divide the input's hidden size.
        dropout: dropout rate on the attention weights and after each sub-block.
        layer_norm_epsilon: epsilon of the layer norms.
        normalize_first: pre-norm (`True`) or post-norm (`False`).
        activation: activation of the feed-forward network's first layer.
        kernel_initializer: initializer of the dense kernels.
        **kwargs: standard layer arguments (`name`, `dtype`, `trainable`).

    Example:
    >>> encoder = TransformerEncoder(intermediate_dim=64, num_heads=2)
    >>> vectors = np.random.rand(2, 10, 16).astype("float32")
    >>> encoder(vectors, padding_mask=np.arange(10) < np.array([[10], [4]])).shape
    TensorShape([2, 10, 16])

    References:
        Vaswani et al., "Attention Is All You Need" (2017); KerasHub `TransformerEncoder`.
    """

    def __init__(
        self,
        intermediate_dim: int,
        num_heads: int,
        dropout: float = 0.1,
        layer_norm_epsilon: float = 1e-5,
        normalize_first: bool = False,
        activation: str = "relu",
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
        self.self_attention = keras.layers.MultiHeadAttention(
            num_heads=self.num_heads,
            key_dim=self.head_dim,
            dropout=self.dropout,
            kernel_initializer=keras.initializers.get(self.kernel_initializer),
            dtype=self.dtype_policy,
            name="self_attention",
        )
        self.self_attention.build(inputs_shape, inputs_shape)
        self.attention_norm = self._layer_norm("attention_norm", inputs_shape)
        self.attention_dropout = self._dropout()
        self._build_feed_forward(inputs_shape)
        super().build(inputs_shape)

    def call(
        self,
        inputs,
        padding_mask=None,
        attention_mask=None,
        training=None,
        return_attention_scores: bool = False,
        mask=None,
    ):
        """Encode `inputs` (batch, length, hidden).

        Args:
            inputs: the sequence of vectors.
            padding_mask: (batch, length) booleans, `True` at real tokens; defaults to the Keras mask.
            attention_mask: optional (batch, length, length) booleans, `True` where query i may see key j;
                combined with the padding mask.
            training: whether dropout is active.
            return_attention_scores: also return the attention weights (batch, heads, length, length).
        """
        if padding_mask is None:
            padding_mask = mask
        combined_mask = None
        if padding_mask is not None:
            # Every query may look at every real key: (batch, 1, length) broadcast over queries.
            combined_mask = ops.expand_dims(ops.cast(padding_mask, "bool"), axis=1)
            combined_mask = ops.broadcast_to(
                combined_mask, (ops.shape(inputs)[0], ops.shape(inputs)[1], ops.shape(inputs)[1])
            )
        if attention_mask is not None:
            attention_mask = ops.cast(attention_mask, "bool")
            combined_mask = (
                attention_mask if combined_mask is None else ops.logical_and(combined_mask, attention_mask)
            )

        residual = inputs
        x = self.attention_norm(inputs) if self.normalize_first else inputs
        attention_output = self.self_attention(
            query=x,
            value=x,
            key=x,
            attention_mask=combined_mask,
            training=training,
            return_attention_scores=return_attention_scores,
        )
        if return_attention_scores:
            x, scores = attention_output
        else:
            x = attention_output
        x = residual + self.attention_dropout(x, training=training)
        if not self.normalize_first:
            x = self.attention_norm(x)

        x = self._feed_forward_block(x, training)

        if return_attention_scores:
            return x, scores
        return x

    def compute_mask(self, inputs, padding_mask=None, mask=None, **kwargs):
        return mask if padding_mask is None else padding_mask
