"""Progress bars that suit where they are written: live tqdm bars on a terminal (or in a notebook); in a log
file (stderr redirected, as under `make ... > log 2>&1` or nohup) a plain line a few times a minute, with no
carriage returns, so a long run leaves a readable log instead of megabytes of bar fragments."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any, TextIO

from tqdm import auto as tqdm_auto
from tqdm import std as tqdm_std

TERMINAL_INTERVAL = 1.0  # seconds between redraws of a live bar
LOG_INTERVAL = 20.0  # seconds between lines in a log: three a minute
LOG_MAX_INTERVAL = 60.0  # tqdm's monitor thread redraws a stalled bar after this long
LOG_WIDTH = 80
_quiet = False  # set by the CLI's --quiet (pipeline.console): no bars at all


def set_quiet(quiet: bool) -> None:
    """Turn every bar off (True) or back on."""
    global _quiet
    _quiet = quiet


def is_interactive(stream: Any = None) -> bool:
    """Whether `stream` (default sys.stdout) is shown live: a terminal, or a Jupyter/IPython kernel's
    stream (not a tty, but it renders carriage returns and widgets)."""
    stream = sys.stdout if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    try:
        if isatty is not None and isatty():
            return True
    except ValueError:  # a closed file
        return False
    return "ipykernel" in sys.modules


class _LineFile:
    """A file for a log-line bar: drops carriage returns, cursor moves and whitespace-only writes (the
    clearing and end-of-bar writes tqdm makes), passes every real line through."""

    def __init__(self, file: TextIO):
        self.file = file

    def write(self, text: str) -> int:
        text = text.replace("\r", "").replace("\x1b[A", "")
        if text.strip():
            self.file.write(text)
        return len(text)

    def flush(self) -> None:
        getattr(self.file, "flush", lambda: None)()


class LogLinesTqdm(tqdm_std.tqdm):
    """tqdm that prints each refresh as its own line (and skips a line identical to the last one)."""

    def __init__(self, *args: Any, file: TextIO | None = None, **kwargs: Any):
        self._last_line = None
        super().__init__(*args, file=_LineFile(sys.stderr if file is None else file), **kwargs)

    def display(self, msg: str | None = None, pos: int | None = None) -> bool:
        line = self.__str__() if msg is None else msg
        if line and line != self._last_line:
            self.fp.write(line.rstrip() + "\n")
            self.fp.flush()
            self._last_line = line
        return True


def progress(
    iterable: Iterable | None = None,
    *,
    desc: str | None = None,
    total: float | None = None,
    unit: str = "it",
    disable: bool = False,
    file: TextIO | None = None,
    **kwargs: Any,
) -> tqdm_std.tqdm:
    """A tqdm bar over `iterable` (or a manual one with `total` and .update()), written to `file` (default
    sys.stderr). On a terminal: tqdm.auto's live bar, redrawn at most once a second. Otherwise: one plain
    line every LOG_INTERVAL seconds at most, plus the final one. Other keyword arguments go to tqdm (e.g.
    unit_scale=True for bytes); an explicit mininterval, maxinterval or ncols wins."""
    stream = sys.stderr if file is None else file
    options = {"desc": desc, "total": total, "unit": unit, "disable": disable or _quiet, **kwargs}
    if is_interactive(stream):
        options.setdefault("mininterval", TERMINAL_INTERVAL)
        return tqdm_auto.tqdm(iterable, file=file, **options)
    options.setdefault("mininterval", LOG_INTERVAL)
    options.setdefault("maxinterval", LOG_MAX_INTERVAL)
    options.setdefault("ncols", LOG_WIDTH)
    return LogLinesTqdm(iterable, file=stream, **options)
