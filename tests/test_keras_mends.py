"""pipeline/keras_mends.py: the mend for keras-team/keras#20585 / tensorflow#72388 applies to the versions that
need it, and this test fails when the upstream code it replaces changes (then re-check the bug: drop the mend
if Keras fixed it, or record the new source's hash). The two-worker tests (test_multi_worker.py) show it works."""

from __future__ import annotations

import hashlib
import inspect

import keras
import pytest

from pipeline import keras_mends


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the mend is for the TensorFlow trainer")
def test_the_mended_upstream_code_is_unchanged() -> None:
    if not keras_mends.needed():
        pytest.fail(
            f"Keras {keras.__version__} is outside the versions the mend was checked on "
            f"({keras_mends.AFFECTED}): check {', '.join(keras_mends.ISSUES)} and extend AFFECTED or drop the mend"
        )
    for name, function in keras_mends.upstream_functions().items():
        digest = hashlib.sha256(inspect.getsource(function).encode()).hexdigest()
        assert digest == keras_mends.UPSTREAM_SHA256[name], (
            f"Keras changed {name}: check whether {', '.join(keras_mends.ISSUES)} are fixed"
        )


def test_the_mend_applies_only_to_the_affected_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keras.backend, "backend", lambda: "tensorflow")
    assert keras_mends.needed("3.15.1") and keras_mends.needed("3.8.0")
    assert not keras_mends.needed("3.15.2") and not keras_mends.needed("3.16.0")
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    assert not keras_mends.needed("3.15.1")
