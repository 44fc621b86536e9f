"""Keras NLP Pipeline: raw text -> features -> Keras models, driven by `python -m pipeline`."""

from pipeline.api import load_run

__all__ = ["load_run"]
