"""The model tests that matter most for backend independence, run again under KERAS_BACKEND=jax (JAX on the
CPU is a dev requirement): every custom layer's serialisation round trip, through get_config and .keras files. One subprocess, since the backend is fixed when Keras is imported."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

# The whole model suite under JAX takes over 5 minutes on 2 cores. Every custom layer's get_config and .keras
# round trips (test_models_layers.py) take 15 s of it, gradual unfreezing's frozen layers (the layerwise
# optimizer's stateless_apply over the thawed variables only) a few more; the saving test that loads every model kind in fresh
# processes takes 30 s more under JAX and is left to the full run: KERAS_BACKEND=jax pytest tests/test_models_*.py
UNDER_JAX = ["tests/test_models_layers.py", "tests/test_gradual_unfreezing.py"]


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")
def test_model_tests_pass_under_jax() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", *UNDER_JAX],
        cwd=REPO_ROOT,
        env={**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        timeout=480,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
