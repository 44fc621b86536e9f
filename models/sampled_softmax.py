"""Sampled softmax: train a large-vocabulary language model without computing every output logit.

A word model's full softmax costs `hidden x vocabulary` multiply-adds per token, forward and backward, and
dominates training on a CPU (10,000 words, 256 dimensions: about three quarters of the step). The sampled
softmax (Jean et al., 2015) scores each target against `num_sampled` negatives drawn once per batch from a
proposal distribution `Q`, with every logit corrected by `-log(num_sampled * Q(word))` so that the softmax
over the samples estimates the full one. Only training uses it: evaluation, validation included, computes
the exact cross-entropy over the whole vocabulary.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from models.layers.tied_output import TiedOutput

OUTPUT_FEATURES = "output_features"


@keras.saving.register_keras_serializable(package="pipeline")
class SampledSoftmaxTrainer(keras.Model):
    """Wraps a language model from `build_language_model` for training with a sampled softmax.

    In training mode the wrapper returns the vectors that feed the output layer (the model's
    "output_features" layer) and `compute_loss` scores each non-padding target against `num_sampled`
    shared negatives. Evaluation (`training=False`: `evaluate`, validation, `predict`) runs the wrapped
    model and the compiled loss over its full logits, so `val_loss` is the exact cross-entropy. Both
    directions use the same variables: train the wrapper, then save `trainer.language_model`.

    The proposal is a non-trainable weight of log-probabilities over the vocabulary (uniform until
    `set_proposal` is called; saved with the weights). Negatives are drawn with replacement by inverse
    CDF; a negative equal to a token's own target is masked out for that token ("accidental hit").

    Args:
        language_model: a model built by `build_language_model` (it has an "output_features" layer).
        num_sampled: negatives per batch, at least 1 and below the vocabulary size.
        seed: seed of the sampler (None: unseeded).
        **kwargs: standard model arguments (`name`).

    Example:
    >>> lm = build_language_model({"kind": "lstm"}, 1000, 16)
    >>> trainer = SampledSoftmaxTrainer(lm, num_sampled=64, seed=1)
    >>> trainer.set_proposal(np.arange(1000))  # e.g. training counts
    >>> trainer.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0))

    References:
        Jean, Cho, Memisevic & Bengio, "On Using Very Large Target Vocabulary for Neural Machine
        Translation" (2015); Bengio & Senecal (2008); TensorFlow's `tf.nn.sampled_softmax_loss`.
    """

    def __init__(
        self, language_model: keras.Model, num_sampled: int, seed: int | None = None, **kwargs
    ) -> None:
        kwargs.setdefault("name", f"{language_model.name}_sampled_softmax")
        super().__init__(**kwargs)
        layers = {layer.name: layer for layer in language_model.layers}
        if OUTPUT_FEATURES not in layers:
            raise ValueError(
                f"model {language_model.name!r} has no {OUTPUT_FEATURES!r} layer: build it with "
                "build_language_model"
            )
        self.vocabulary_size = int(language_model.outputs[0].shape[-1])
        if isinstance(num_sampled, bool) or not isinstance(num_sampled, int | np.integer):
            raise ValueError(f"`num_sampled` must be an integer, got {num_sampled!r}")
        if not 1 <= num_sampled < self.vocabulary_size:
            raise ValueError(
                f"`num_sampled` must be from 1 to {self.vocabulary_size - 1} (below the vocabulary size), "
                f"got {num_sampled}"
            )
        self.language_model = language_model
        self.num_sampled = int(num_sampled)
        self.seed = seed
        embedding = layers.get("embedding")
        self.tied = embedding if isinstance(embedding, TiedOutput) else None
        self.output_dense = None if self.tied is not None else layers["logits"]
        # Not tracked as a separate sub-model: its layers are the language model's own.
        features = keras.Model(language_model.inputs, layers[OUTPUT_FEATURES].output)
        object.__setattr__(self, "_features_model", features)
        self.sampler_seed = keras.random.SeedGenerator(seed, name="sampler_seed")
        self.log_proposal = self.add_weight(
            name="log_proposal",
            shape=(self.vocabulary_size,),
            initializer=keras.initializers.Constant(-math.log(self.vocabulary_size)),
            trainable=False,
            dtype="float32",
        )

    def set_proposal(self, counts, power: float = 0.75) -> None:
        """Proposal proportional to `(counts + 1) ** power` (padding id 0 never drawn): e.g. the training
        stream's token counts, flattened by `power` so that rare words are drawn too."""
        counts = np.asarray(counts, dtype=np.float64)
        if counts.shape != (self.vocabulary_size,):
            raise ValueError(f"counts must have shape ({self.vocabulary_size},), got {counts.shape}")
        weights = (np.maximum(counts, 0) + 1.0) ** power
        weights[0] = 0.0
        with np.errstate(divide="ignore"):
            log_proposal = np.log(weights / weights.sum())
        self.log_proposal.assign(np.maximum(log_proposal, -1e30).astype(np.float32))

    def call(self, token_ids, training: bool = False):
        """Training: the output features (batch, time, dim); otherwise the full float32 logits."""
        if training:
            return self._features_model(token_ids, training=True)
        return self.language_model(token_ids, training=False)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if not training:
            return super().compute_loss(x, y, y_pred, sample_weight, training=training)
        return self.sampled_loss(y_pred, y)

    def output_table(self):
        """(vocabulary, dim) output vectors and (vocabulary,) biases, float32."""
        if self.tied is not None:
            table = ops.cast(self.tied.token_table.embeddings, "float32")
            bias = self.tied.bias if self.tied.use_bias else ops.zeros((self.vocabulary_size,))
        else:
            table = ops.transpose(ops.cast(self.output_dense.kernel, "float32"))
            bias = (
                self.output_dense.bias if self.output_dense.use_bias else ops.zeros((self.vocabulary_size,))
            )
        return table, ops.cast(bias, "float32")

    def sample(self):
        """`num_sampled` ids drawn from the proposal, with replacement (inverse CDF)."""
        cdf = ops.cumsum(ops.exp(self.log_proposal))
        uniform = keras.random.uniform((self.num_sampled,), maxval=cdf[-1], seed=self.sampler_seed)
        sampled = ops.searchsorted(cdf, uniform, side="right")
        return ops.minimum(ops.cast(sampled, "int32"), self.vocabulary_size - 1)

    def sampled_loss(self, features, targets):
        """Mean sampled-softmax cross-entropy over the non-padding targets."""
        table, bias = self.output_table()
        hidden = ops.reshape(ops.cast(features, "float32"), (-1, ops.shape(table)[1]))
        targets = ops.reshape(ops.cast(targets, "int32"), (-1,))
        sampled = self.sample()
        correction = math.log(self.num_sampled)
        true_logits = (
            ops.sum(hidden * ops.take(table, targets, axis=0), axis=-1)
            + ops.take(bias, targets)
            - ops.take(self.log_proposal, targets)
            - correction
        )
        sampled_logits = (
            ops.matmul(hidden, ops.transpose(ops.take(table, sampled, axis=0)))
            + ops.take(bias, sampled)
            - ops.take(self.log_proposal, sampled)
            - correction
        )
        hits = ops.equal(ops.expand_dims(targets, 1), ops.expand_dims(sampled, 0))
        sampled_logits = ops.where(hits, -1e9, sampled_logits)
        logits = ops.concatenate([ops.expand_dims(true_logits, 1), sampled_logits], axis=1)
        losses = ops.logsumexp(logits, axis=1) - true_logits
        weights = ops.cast(ops.not_equal(targets, 0), "float32")
        return ops.sum(losses * weights) / ops.maximum(ops.sum(weights), 1.0)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "language_model": keras.saving.serialize_keras_object(self.language_model),
                "num_sampled": self.num_sampled,
                "seed": self.seed,
            }
        )
        return config

    @classmethod
    def from_config(cls, config: dict) -> SampledSoftmaxTrainer:
        config = dict(config)
        config["language_model"] = keras.saving.deserialize_keras_object(config["language_model"])
        return cls(**config)
