"""Weight tying: one token table both embeds the input ids and projects hidden states to logits."""

from __future__ import annotations

import keras
from keras import backend, ops


@keras.saving.register_keras_serializable(package="pipeline")
class TiedOutput(keras.layers.Layer):
    """A token embedding whose transpose is also the output projection: `logits = hidden @ E^T (+ b)`.

    The layer wraps the embedding layer and is called twice in the model: `tied(token_ids)` embeds
    (it is exactly the wrapped layer, mask included) and `tied(hidden, reverse=True)` gives the logits
    from the same matrix E, so both ends train one table. Wrapping, rather than holding a reference to
    a separate embedding layer, is what keeps the tie through `.keras` saving: the model config then
    contains one layer called at two places, and loading rebuilds one shared table (a reference would
    be deserialized into a second, independent copy).

    Args:
        embedding: the embedding layer to tie: a `keras.layers.Embedding`, or a layer with a
            `token_embedding` sublayer such as `PositionalEmbedding` (whose token table is used).
        use_bias: whether the logits get a per-token bias (initialised to zeros).
        **kwargs: standard layer arguments (`name`, `dtype`, `trainable`).

    Example:
    >>> tied = TiedOutput(keras.layers.Embedding(100, 16, mask_zero=True))
    >>> token_ids = keras.Input(shape=(None,), dtype="int32")
    >>> hidden = keras.layers.GRU(16, return_sequences=True)(tied(token_ids))
    >>> model = keras.Model(token_ids, tied(hidden, reverse=True))
    >>> model(np.array([[4, 5, 6]])).shape
    TensorShape([1, 3, 100])

    References:
        Press & Wolf, "Using the Output Embedding to Improve Language Models" (2017); Inan et al.,
        "Tying Word Vectors and Word Classifiers" (2017); KerasHub `ReversibleEmbedding`.
    """

    def __init__(self, embedding: keras.layers.Layer, use_bias: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        token_table = getattr(embedding, "token_embedding", embedding)
        if not isinstance(token_table, keras.layers.Embedding):
            raise ValueError(
                "`embedding` must be a keras.layers.Embedding or have a `token_embedding` Embedding "
                f"sublayer, got {type(embedding).__name__}"
            )
        self.embedding = embedding
        self.token_table = token_table
        self.use_bias = bool(use_bias)
        self.supports_masking = True

    @property
    def vocabulary_size(self) -> int:
        return self.token_table.input_dim

    @property
    def embedding_dim(self) -> int:
        return self.token_table.output_dim

    def build(self, input_shape=None) -> None:
        # The first call may be either direction; the table itself does not depend on the input shape.
        if not self.embedding.built:
            self.embedding.build((None, None))
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias", shape=(self.vocabulary_size,), initializer="zeros", trainable=True
            )
        super().build(input_shape)

    def call(self, inputs, reverse: bool = False):
        """Embed int ids (`reverse=False`) or turn (..., embedding_dim) vectors into (..., vocabulary) logits.

        Args:
            inputs: token ids, or hidden vectors whose last axis is the embedding size.
            reverse: `False` to embed, `True` for logits.
        """
        if not reverse:
            return self.embedding(inputs)
        matrix = ops.cast(self.token_table.embeddings, self.compute_dtype)
        logits = ops.matmul(inputs, ops.transpose(matrix))
        if self.use_bias:
            logits = logits + ops.cast(self.bias, self.compute_dtype)
        return logits

    def compute_output_spec(self, inputs, reverse: bool = False):
        # Explicit, so that symbolic calls do not trace the wrapped layer with unknown dimensions (JAX
        # cannot broadcast PositionalEmbedding's position slice against a dynamic length).
        if not reverse:
            shape = self.embedding.compute_output_shape(inputs.shape)
            return keras.KerasTensor(shape, dtype=self.embedding.compute_dtype)
        return keras.KerasTensor((*inputs.shape[:-1], self.vocabulary_size), dtype=self.compute_dtype)

    def compute_mask(self, inputs, mask=None):
        # Keras passes only the inputs here, not `reverse`: integer inputs are ids (embedding call).
        if "int" in backend.standardize_dtype(inputs.dtype):
            return self.embedding.compute_mask(inputs)
        return mask

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {"embedding": keras.saving.serialize_keras_object(self.embedding), "use_bias": self.use_bias}
        )
        return config

    @classmethod
    def from_config(cls, config: dict) -> TiedOutput:
        config = dict(config)
        config["embedding"] = keras.saving.deserialize_keras_object(config["embedding"])
        return cls(**config)
