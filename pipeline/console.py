"""What the pipeline prints: the level set by the global `--quiet` / `--verbose` options.

`quiet` prints only results and errors (no stage lines, no progress bars, no Keras bars); `normal` adds what
each stage did and progress; `verbose` shows everything, TensorFlow's own start-up logging included.
"""

from __future__ import annotations

import sys

from data.progress import set_quiet

LEVELS = ("quiet", "normal", "verbose")
_level = "normal"


def set_level(level: str) -> None:
    if level not in LEVELS:
        raise ValueError(f"unknown output level {level!r}; known: {', '.join(LEVELS)}")
    global _level
    _level = level
    set_quiet(level == "quiet")


def level() -> str:
    return _level


def is_quiet() -> bool:
    return _level == "quiet"


def info(message: str) -> None:
    """A line about what a stage did (stdout), left out under --quiet."""
    if not is_quiet():
        print(message, flush=True)


def warn(message: str) -> None:
    """A warning about the user's data or settings (stderr); kept under --quiet, which drops only chatter."""
    print(message, file=sys.stderr, flush=True)


def train_verbosity(configured: int) -> int:
    """`train.verbose` as the global options override it: 0 under --quiet, at least 1 under --verbose."""
    if _level == "quiet":
        return 0
    if _level == "verbose":
        return max(1, configured)
    return configured
