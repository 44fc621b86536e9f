"""The reference row: the keras-io "Bidirectional LSTM on IMDB" example rebuilt in this script.

As in the example: a 20,000-word vocabulary, reviews pre-padded/truncated to 200 words (Keras's
pad_sequences defaults), Embedding(128), two Bidirectional LSTM(64), a sigmoid, Adam, batch 32, 2 epochs,
trained on the 25,000 training reviews. keras.datasets.imdb needs the internet, so the word ids come from
this project's tokeniser (words only, punctuation dropped, as the Keras copy of the corpus has it).
Prints one JSON line with accuracy, training seconds and the test accuracy after each epoch.
"""

from __future__ import annotations

import json
import re
import resource
import statistics
import time

import keras
import numpy as np

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
    timer = TestAccuracyCurve(x["test"], labels["test"], steps_per_epoch=-(-len(labels["train"]) // 32))
    order = np.random.default_rng(SEED).permutation(len(labels["train"]))
    model.fit(
        x["train"][order], labels["train"][order], batch_size=32, epochs=2, callbacks=[timer], verbose=2
    )
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
    speed = statistics.median(speeds)
    print(
        "BENCH "
        + json.dumps(
            {
                "name": "keras-io reference (2x BiLSTM 64, 2 epochs)",
                "features": "sequence (200, pre-padded)",
                "model": "bilstm x2",
                "seed": SEED,
                "accuracy": timer.curve[-1][1],
                "f1": None,
                "train_seconds": timer.curve[-1][0],
                "test_curve": timer.curve,
                "reviews_per_second": round(speed, 1),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
