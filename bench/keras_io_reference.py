"""The reference row: the keras-io "Bidirectional LSTM on IMDB" example rebuilt in this script.

As in the example: a 20,000-word vocabulary, reviews pre-padded/truncated to 200 words (Keras's
pad_sequences defaults), Embedding(128), two Bidirectional LSTM(64), a sigmoid, Adam, batch 32, 2 epochs,
trained on the 25,000 training reviews. keras.datasets.imdb needs the internet, so the word ids come from
this project's tokeniser (words only, punctuation dropped, as the Keras copy of the corpus has it).
Prints one JSON line with accuracy, training seconds and the test accuracy 4 times per epoch (weight
snapshots scored after training, as for the other rows: see bench/curve.py).
"""

from __future__ import annotations

import re
import statistics
import time
from pathlib import Path

import keras
import numpy as np

from bench.common import peak_rss_mb, print_bench_row
from bench.curve import TestAccuracyCurve
from data.locate import locate
from data.readers import read_imdb
from features.normalize import normalize_text
from features.tokenize import word_tokenize
from features.vocabulary import Vocabulary

MAX_FEATURES, MAXLEN, SEED = 20_000, 200, 1337
_WORD = re.compile(r"\w")


def main() -> None:
    keras.utils.set_random_seed(SEED)
    frame = read_imdb(locate("imdb"))
    tokens = {
        split: [
            [t for t in word_tokenize(normalize_text(text)) if _WORD.match(t)]
            for text in frame[frame["split"] == split]["text"]
        ]
        for split in ("train", "test")
    }
    labels = {split: frame[frame["split"] == split]["label"].to_numpy() for split in ("train", "test")}
    vocab = Vocabulary.build(tokens["train"], max_size=MAX_FEATURES)
    x = {
        split: keras.utils.pad_sequences([vocab.encode(t) for t in tokens[split]], maxlen=MAXLEN)
        for split in tokens
    }
    inputs = keras.Input(shape=(None,), dtype="int32")
    h = keras.layers.Embedding(MAX_FEATURES, 128)(inputs)
    h = keras.layers.Bidirectional(keras.layers.LSTM(64, return_sequences=True))(h)
    h = keras.layers.Bidirectional(keras.layers.LSTM(64))(h)
    outputs = keras.layers.Dense(1, activation="sigmoid")(h)
    model = keras.Model(inputs, outputs)
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    steps = -(-len(labels["train"]) // 32)
    timer = TestAccuracyCurve(Path("runs/bench/reference-curve-snapshots"), steps_per_epoch=steps)
    order = np.random.default_rng(SEED).permutation(len(labels["train"]))
    model.fit(
        x["train"][order], labels["train"][order], batch_size=32, epochs=2, callbacks=[timer], verbose=2
    )
    train_peak = peak_rss_mb()
    texts = frame[frame["split"] == "test"]["text"].tolist()[:2000]
    model.predict(x["test"][:64], verbose=0)  # warm-up
    speeds = []
    for _ in range(3):  # raw text to probability, as the pipeline's predict is timed
        started = time.time()
        ids = [
            vocab.encode(t for t in word_tokenize(normalize_text(text)) if _WORD.match(t)) for text in texts
        ]
        model.predict(keras.utils.pad_sequences(ids, maxlen=MAXLEN), batch_size=256, verbose=0)
        speeds.append(len(texts) / (time.time() - started))
    predict_peak = peak_rss_mb()
    # Pre-padded rows: scored whole (the pipeline's length-sorted batches would trim their tokens away).
    curve = timer.score(
        model, x["test"], labels["test"], predict=lambda m, rows: m.predict(rows, batch_size=256, verbose=0)
    )
    print_bench_row(
        {
            "name": "keras-io reference (2x BiLSTM 64, 2 epochs)",
            "features": "sequence (200, pre-padded)",
            "model": "bilstm x2",
            "seed": SEED,
            "accuracy": curve[-1][1],
            "f1": None,
            "train_seconds": curve[-1][0],
            "snapshot_seconds": round(timer.snapshot_seconds, 2),
            "test_curve": curve,
            "reviews_per_second": round(statistics.median(speeds), 1),
            "train_peak_rss_mb": train_peak,
            "peak_rss_mb": train_peak,  # the example has no evaluation step of its own
            "predict_peak_rss_mb": predict_peak,
        }
    )


if __name__ == "__main__":
    main()
