"""Attention of a decoder over the encoder's states: additive (Bahdanau) and dot / general (Luong) scoring.

Both layers take `query` (batch, steps, query_dim), the decoder's states, and `values` (batch, source,
value_dim), the encoder's states, score every query against every source position, softmax the scores over
the source (padding positions masked out) and return the weighted sum of the values, the **context
vectors** (batch, steps, value_dim), with the **attention weights** (batch, steps, source) beside them.
"""

from __future__ import annotations

import keras
from keras import ops

# Added to the scores of padding positions (scores are float32, so this stays finite).
_MASKED_SCORE = -1e9


class _SourceAttention(keras.layers.Layer):
    """Shared part: masking, softmax, weighted sum. Subclasses define `scores(query, values)`."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True

    def scores(self, query, values):
        raise NotImplementedError

    def call(self, query, values, values_mask=None):
        """(context vectors, attention weights). `values_mask` (batch, source), True for real tokens, hides
        the source's padding (pass it: Keras masks of `values` are not read)."""
        scores = ops.cast(self.scores(query, values), "float32")
        if values_mask is not None:
            keep = ops.expand_dims(ops.cast(values_mask, "bool"), 1)
            scores = ops.where(keep, scores, _MASKED_SCORE)
        weights = ops.softmax(scores, axis=-1)
        context = ops.matmul(ops.cast(weights, values.dtype), values)
        return context, weights

    def compute_mask(self, query, values, values_mask=None, mask=None):
        return [mask, None]  # `mask` is the query's (Keras passes the first argument's)

    def compute_output_spec(self, query, values, values_mask=None):
        steps, source = query.shape[1], values.shape[1]
        return (
            keras.KerasTensor((query.shape[0], steps, values.shape[-1]), dtype=self.compute_dtype),
            keras.KerasTensor((query.shape[0], steps, source), dtype="float32"),
        )


@keras.saving.register_keras_serializable(package="pipeline")
class AdditiveAttention(_SourceAttention):
    """Bahdanau scoring: `e_ti = v^T tanh(W_q s_t + W_k h_i)`, a one-hidden-layer MLP `f_att` of `units`.

    Args:
        units: size of the MLP's hidden layer.
        **kwargs: standard layer arguments (`name`, `dtype`).

    Example:
    >>> attention = AdditiveAttention(16)
    >>> context, weights = attention(np.ones((2, 3, 8)), np.ones((2, 5, 12)))
    >>> context.shape, weights.shape
    (TensorShape([2, 3, 12]), TensorShape([2, 3, 5]))

    References:
        Bahdanau, Cho & Bengio, "Neural Machine Translation by Jointly Learning to Align and Translate" (2015).
    """

    def __init__(self, units: int, **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, int) or units < 1:
            raise ValueError(f"`units` must be a positive integer, got {units!r}")
        self.units = units
        self.query_dense = keras.layers.Dense(units, use_bias=False, name="query_dense")
        self.key_dense = keras.layers.Dense(units, name="key_dense")
        self.score_dense = keras.layers.Dense(1, use_bias=False, name="score_dense")

    def build(self, query_shape, values_shape, values_mask_shape=None) -> None:
        self.query_dense.build(query_shape)
        self.key_dense.build(values_shape)
        self.score_dense.build((None, None, None, self.units))
        self.built = True

    def scores(self, query, values):
        projected_query = ops.expand_dims(self.query_dense(query), 2)  # (batch, steps, 1, units)
        projected_keys = ops.expand_dims(self.key_dense(values), 1)  # (batch, 1, source, units)
        return ops.squeeze(self.score_dense(ops.tanh(projected_query + projected_keys)), -1)

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="pipeline")
class DotAttention(_SourceAttention):
    """Luong scoring: `dot` (`e_ti = s_t . h_i`, equal sizes) or `general` (`e_ti = s_t^T W h_i`).

    Args:
        score: "dot" or "general".
        scale: divide the scores by sqrt(value_dim) (off by default, as in Luong et al.).
        **kwargs: standard layer arguments (`name`, `dtype`).

    References:
        Luong, Pham & Manning, "Effective Approaches to Attention-based Neural Machine Translation" (2015).
    """

    def __init__(self, score: str = "general", scale: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        if score not in ("dot", "general"):
            raise ValueError(f"`score` must be 'dot' or 'general', got {score!r}")
        self.score = score
        self.scale = bool(scale)

    def build(self, query_shape, values_shape, values_mask_shape=None) -> None:
        query_dim, value_dim = query_shape[-1], values_shape[-1]
        if self.score == "dot" and query_dim != value_dim:
            raise ValueError(
                f"dot scoring needs equal query and value sizes, got {query_dim} and {value_dim}"
            )
        if self.score == "general":
            self.kernel = self.add_weight(
                name="kernel", shape=(value_dim, query_dim), initializer="glorot_uniform"
            )
        self.built = True

    def scores(self, query, values):
        keys = values if self.score == "dot" else ops.matmul(values, ops.cast(self.kernel, values.dtype))
        scores = ops.matmul(query, ops.transpose(keys, (0, 2, 1)))
        if self.scale:
            scores = scores / ops.sqrt(ops.cast(ops.shape(values)[-1], scores.dtype))
        return scores

    def get_config(self) -> dict:
        return {**super().get_config(), "score": self.score, "scale": self.scale}
