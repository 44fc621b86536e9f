"""What the Transformer blocks share: argument checks, sizes, sublayer factories, feed-forward sub-block, config."""

from __future__ import annotations

import keras


class TransformerBlock(keras.layers.Layer):
    """Base of `TransformerEncoder` and `TransformerDecoder` (arguments documented there; their defaults
    differ). Not registered for saving: only the concrete blocks are.

    A subclass's `build` calls `_set_sizes(inputs_shape)` first (it checks the hidden size and sets
    `hidden_dim` and `head_dim`), builds its attention sublayers with `_dense` / `_layer_norm` /
    `_dropout`, then calls `_build_feed_forward(inputs_shape)`; its `call` ends with
    `_feed_forward_block`. Sublayer attribute names are part of the saved weights' paths: keep them.
    """

    def __init__(
        self,
        intermediate_dim: int,
        num_heads: int,
        dropout: float,
        layer_norm_epsilon: float,
        normalize_first: bool,
        activation: str,
        kernel_initializer: str | keras.initializers.Initializer,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        for name, value in (("intermediate_dim", intermediate_dim), ("num_heads", num_heads)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer, got {value!r}")
        if not isinstance(dropout, (int, float)) or isinstance(dropout, bool) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"`dropout` must be in [0, 1), got {dropout!r}")
        self.intermediate_dim = intermediate_dim
        self.num_heads = num_heads
        self.dropout = float(dropout)
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        self.normalize_first = bool(normalize_first)
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.supports_masking = True

    def _set_sizes(self, inputs_shape) -> None:
        """Check the input's hidden size (known, divisible by `num_heads`); set `hidden_dim` and `head_dim`."""
        hidden_dim = inputs_shape[-1]
        if hidden_dim is None:
            raise ValueError(f"the last axis of the input must be known, got shape {inputs_shape}")
        if hidden_dim % self.num_heads != 0:
            raise ValueError(
                f"hidden size {hidden_dim} of the input is not divisible by num_heads={self.num_heads}"
            )
        self.hidden_dim = hidden_dim
        self.head_dim = hidden_dim // self.num_heads

    def _dense(self, units: int, name: str, input_shape, activation=None) -> keras.layers.Dense:
        """A Dense sublayer with the block's kernel initializer and dtype policy, built for `input_shape`."""
        layer = keras.layers.Dense(
            units,
            activation=activation,
            kernel_initializer=keras.initializers.get(self.kernel_initializer),
            dtype=self.dtype_policy,
            name=name,
        )
        layer.build(input_shape)
        return layer

    def _layer_norm(self, name: str, input_shape) -> keras.layers.LayerNormalization:
        """A layer norm with the block's epsilon and dtype policy, built for `input_shape`."""
        layer = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name=name
        )
        layer.build(input_shape)
        return layer

    def _dropout(self) -> keras.layers.Dropout:
        return keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)

    def _build_feed_forward(self, inputs_shape) -> None:
        """The feed-forward network (hidden -> intermediate -> hidden), its norm and its dropout."""
        self.ffn_intermediate = self._dense(
            self.intermediate_dim, "ffn_intermediate", inputs_shape, self.activation
        )
        self.ffn_output = self._dense(
            self.hidden_dim, "ffn_output", (*inputs_shape[:-1], self.intermediate_dim)
        )
        self.ffn_norm = self._layer_norm("ffn_norm", inputs_shape)
        self.ffn_dropout = self._dropout()

    def _feed_forward_block(self, x, training):
        """The feed-forward network with its residual (and norm)."""
        residual = x
        if self.normalize_first:
            x = self.ffn_norm(x)
        x = self.ffn_output(self.ffn_intermediate(x))
        x = residual + self.ffn_dropout(x, training=training)
        if not self.normalize_first:
            x = self.ffn_norm(x)
        return x

    def compute_output_shape(self, inputs_shape) -> tuple:
        return inputs_shape

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "intermediate_dim": self.intermediate_dim,
                "num_heads": self.num_heads,
                "dropout": self.dropout,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "normalize_first": self.normalize_first,
                "activation": keras.activations.serialize(self.activation),
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            }
        )
        return config
