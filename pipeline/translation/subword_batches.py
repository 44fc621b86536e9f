"""Subword regularisation (Kudo 2018): the training pairs re-encoded with a sampled segmentation each epoch.

`SampledPairBatches` is `PairBatches` over arrays it makes itself: at the start and after every epoch it
encodes each training pair again with SentencePiece's sampling (`train.subword_sampling`: unigram smoothing
alpha, or BPE-dropout probability), cut to `features.sequence_length`. SentencePiece's sampler is seeded with
the run's seed, so a resumed fit, which replays one `on_epoch_end` per finished epoch, sees the same
segmentations. Only training pairs are sampled; validation and test keep their fixed encodings.
"""

from __future__ import annotations

import numpy as np
import sentencepiece as spm

from features.subword import SubwordModel
from pipeline.batches import PairBatches
from pipeline.translation.featurize import pad_side


class SampledPairBatches(PairBatches):
    """Teacher-forcing batches of the training pairs, segmentations sampled anew each epoch."""

    def __init__(
        self,
        texts: tuple[list[str], list[str]],
        models: dict[str, SubwordModel],
        alpha: float,
        length: int,
        batch_size: int,
        seed: int = 0,
        **options,
    ) -> None:
        spm.set_random_generator_seed(int(seed))
        self.texts, self.models, self.alpha, self.length = texts, models, float(alpha), int(length)
        self.epochs_sampled = 0
        super().__init__(self._sample(), batch_size, seed=seed, **options)

    def _sample(self) -> dict[str, np.ndarray]:
        sources = [self.models["source"].encode(text, self.alpha) for text in self.texts[0]]
        targets = [self.models["target"].encode(text, self.alpha) for text in self.texts[1]]
        self.epochs_sampled += 1
        return {
            "source": pad_side(sources, self.length, start=False),
            "target_in": pad_side(targets, self.length, start=True),
            "target_out": pad_side(targets, self.length, start=False),
        }

    def on_epoch_end(self) -> None:
        arrays = self._sample()
        self.source, self.target_in, self.target_out = (
            arrays["source"],
            arrays["target_in"],
            arrays["target_out"],
        )
        self.source_lengths = (self.source != 0).sum(axis=1)
        self.target_lengths = (self.target_out != 0).sum(axis=1)
        super().on_epoch_end()
