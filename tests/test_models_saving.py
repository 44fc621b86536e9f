"""models/saving.py: a fresh Python process loads every kind of saved model (no custom class imported first)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from models.classifiers import build_classifier
from models.language_models import build_language_model
from models.seq2seq import build_seq2seq
from models.transformer_translator import build_transformer_translator

TINY = {"embed_dim": 16, "units": 16, "num_heads": 2, "ff_dim": 32, "dropout": 0.0}
PROJECT = Path(__file__).resolve().parents[1]

LOAD_SCRIPT = """
import sys
import numpy as np
from models.saving import load_model
for path in sys.argv[1:]:
    model = load_model(path)
    expected = np.load(path + ".npz")
    inputs = [expected[f"input_{i}"] for i in range(len(model.inputs))]
    outputs = model.predict_on_batch(inputs if len(inputs) > 1 else inputs[0])
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    np.testing.assert_allclose(outputs[0], expected["output"], rtol=1e-4, atol=1e-5)
    print("loaded", model.name)
"""


def _models() -> dict:
    return {
        "classifier": build_classifier(
            {**TINY, "kind": "transformer"},
            input_kind="sequence",
            vocabulary_size=30,
            sequence_length=8,
            num_classes=2,
        ),
        "lm": build_language_model({**TINY, "kind": "transformer", "tie_embeddings": True}, 30, 8),
        "seq2seq": build_seq2seq({**TINY, "attention": "additive", "bidirectional": True}, 30, 30),
        "transformer": build_transformer_translator({**TINY, "layers": 1}, 30, 30, 8),
    }


def test_fresh_process_loads_every_model_kind(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for name, model in _models().items():
        inputs = [rng.integers(1, 30, size=(2, 8)).astype("int32") for _ in model.inputs]
        output = model.predict_on_batch(inputs if len(inputs) > 1 else inputs[0])
        output = output[0] if isinstance(output, (list, tuple)) else output
        path = tmp_path / f"{name}.keras"
        model.save(path)
        np.savez(str(path) + ".npz", output=output, **{f"input_{i}": x for i, x in enumerate(inputs)})
        paths.append(str(path))
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    result = subprocess.run(
        [sys.executable, "-c", LOAD_SCRIPT, *paths], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("loaded") == 4
