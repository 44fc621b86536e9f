"""Token embedding plus a learned position embedding (the Transformer's input layer)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="pipeline")
class PositionalEmbedding(keras.layers.Layer):
    """Sum of a token embedding and a learned position embedding.

    Token id 0 is padding: with `mask_zero=True` the layer emits the Keras mask `ids != 0`,
    which later layers (the Transformer encoder, masked pooling) use to ignore padding.
    Inputs shorter than `sequence_length` use the first positions of the position table.

    Args:
        vocabulary_size: number of token ids (the vocabulary size, padding included).
        sequence_length: the longest sequence the position table covers.
        embedding_dim: size of each token and position vector.
        mask_zero: whether id 0 is padding and produces a mask.
        embeddings_initializer: initializer of the token table. A pretrained matrix can be passed as
            `keras.initializers.Constant(matrix)`, but that stores the matrix in the saved config;
            prefer `layer.token_embedding.set_weights([matrix])` after building.
        position_initializer: initializer of the position table.
        trainable_token_embeddings: `False` freezes the token table alone (positions still train).
        **kwargs: standard layer arguments (`name`, `dtype`, `trainable`).

    Example:
    >>> layer = PositionalEmbedding(vocabulary_size=100, sequence_length=8, embedding_dim=16)
    >>> layer(np.array([[5, 7, 0, 0, 0, 0, 0, 0]])).shape
    TensorShape([1, 8, 16])

    References:
        Vaswani et al., "Attention Is All You Need" (2017); KerasHub `TokenAndPositionEmbedding`.
    """

    def __init__(
        self,
        vocabulary_size: int,
        sequence_length: int,
        embedding_dim: int,
        mask_zero: bool = True,
        embeddings_initializer: str | keras.initializers.Initializer = "uniform",
        position_initializer: str | keras.initializers.Initializer = "glorot_uniform",
        trainable_token_embeddings: bool = True,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        for name, value in (
            ("vocabulary_size", vocabulary_size),
            ("sequence_length", sequence_length),
            ("embedding_dim", embedding_dim),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer, got {value!r}")
        self.vocabulary_size = vocabulary_size
        self.sequence_length = sequence_length
        self.embedding_dim = embedding_dim
        self.mask_zero = bool(mask_zero)
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.position_initializer = keras.initializers.get(position_initializer)
        self.trainable_token_embeddings = bool(trainable_token_embeddings)
        self.token_embedding = keras.layers.Embedding(
            vocabulary_size,
            embedding_dim,
            embeddings_initializer=self.embeddings_initializer,
            mask_zero=self.mask_zero,
            trainable=self.trainable_token_embeddings,
            dtype=self.dtype_policy,
            name="token_embedding",
        )
        self.supports_masking = self.mask_zero

    def build(self, input_shape) -> None:
        self.token_embedding.build(input_shape)
        self.position_embeddings = self.add_weight(
            name="position_embeddings",
            shape=(self.sequence_length, self.embedding_dim),
            initializer=self.position_initializer,
            trainable=True,
        )
        super().build(input_shape)

    def call(self, inputs):
        token_vectors = self.token_embedding(inputs)
        length = ops.shape(inputs)[-1]
        positions = ops.cast(self.position_embeddings[:length], token_vectors.dtype)
        return token_vectors + positions

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return ops.not_equal(inputs, 0)

    def compute_output_shape(self, input_shape) -> tuple:
        return (*input_shape, self.embedding_dim)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "sequence_length": self.sequence_length,
                "embedding_dim": self.embedding_dim,
                "mask_zero": self.mask_zero,
                "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
                "position_initializer": keras.initializers.serialize(self.position_initializer),
                "trainable_token_embeddings": self.trainable_token_embeddings,
            }
        )
        return config
