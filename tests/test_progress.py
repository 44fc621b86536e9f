"""data.progress: live tqdm bars on a terminal, a few plain lines a minute (no carriage returns) in a log."""

from __future__ import annotations

import io
import sys

import pytest
from tqdm import std as tqdm_std

from data.progress import LOG_INTERVAL, TERMINAL_INTERVAL, LogLinesTqdm, is_interactive, progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class _FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _no_notebook(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)


def test_a_log_gets_a_few_short_lines_for_many_quick_iterations() -> None:
    log = io.StringIO()
    for _ in progress(range(100_000), desc="tokenising", unit="text", file=log):
        pass
    text = log.getvalue()
    assert "\r" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert 1 <= len(lines) <= 3 and len(text) < 400, text
    assert lines[-1].startswith("tokenising: 100%") and "100000/100000" in lines[-1]


def test_a_log_line_at_most_every_log_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _FakeTime()
    monkeypatch.setattr(tqdm_std, "time", clock)  # tqdm reads its clock from here when a bar starts
    log = io.StringIO()
    seconds = 200.0
    iterations = 100_000
    for _ in progress(range(iterations), desc="scoring", file=log):
        clock.now += seconds / iterations
    lines = log.getvalue().splitlines()
    # the first line, one per LOG_INTERVAL at most, the last one
    assert 3 <= len(lines) <= seconds / LOG_INTERVAL + 2, lines
    assert "\r" not in log.getvalue()


def test_a_manual_bar_in_a_log_ends_with_its_total() -> None:
    log = io.StringIO()
    with progress(total=5, desc="word2vec", unit="epoch", file=log) as bar:
        for _ in range(5):
            bar.update(1)
    lines = log.getvalue().splitlines()
    assert isinstance(bar, LogLinesTqdm)
    assert lines[-1].startswith("word2vec: 100%") and "5/5" in lines[-1]
    assert all(line.strip() for line in lines)  # no blank lines from tqdm's end-of-bar newline


def test_a_terminal_gets_a_live_bar() -> None:
    terminal = _Terminal()
    bar = progress(range(10), desc="x", file=terminal)
    assert not isinstance(bar, LogLinesTqdm) and bar.mininterval == TERMINAL_INTERVAL
    list(bar)
    assert "\r" in terminal.getvalue()  # redrawn in place


def test_disabled_bars_write_nothing_and_explicit_options_win() -> None:
    log = io.StringIO()
    assert list(progress(range(3), file=log, disable=True)) == [0, 1, 2]
    assert log.getvalue() == ""
    bar = progress(range(3), file=log, mininterval=5.0)
    assert bar.mininterval == 5.0
    bar.close()


def test_is_interactive() -> None:
    assert is_interactive(_Terminal()) and not is_interactive(io.StringIO())
