"""Quiet TensorFlow start-up for the pipeline's commands.

TensorFlow's C++ runtime writes about six lines straight to file descriptor 2 while it is imported and while
its devices start ("All log messages before absl::InitializeLog() ...", oneDNN, "Could not find cuda
drivers", cpu_feature_guard, "failed call to cuInit"), even with TF_CPP_MIN_LOG_LEVEL=3 (tensorflow#100442).
`install()` puts an import hook in front of `import tensorflow`, wherever it comes from (Keras, gensim, our
own lazy imports): while TensorFlow is imported and its devices are listed, descriptor 2 points at a
temporary file; afterwards descriptor 2 is restored and every captured line that is not known start-up chatter
is written back, so real errors stay visible. Nothing is imported until a command needs TensorFlow, so
`--help` stays fast.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from importlib import metadata

# Lines TensorFlow prints at start-up that say nothing to a user of the pipeline.
CHATTER = (
    re.compile(r"^WARNING: All log messages before absl::InitializeLog\(\) is called"),
    re.compile(r"^[IW]\d{4} [\d:.]+\s+\d+ \S+\.cc:\d+\]"),  # absl INFO / WARNING lines
    re.compile(r"^E\d{4} [\d:.]+\s+\d+ cuda_(platform|executor|diagnostics)\.cc:\d+\] .*(cuInit|CUDA|cuda)"),
    re.compile(r"^To enable the following instructions: .* rebuild TensorFlow"),
)


def is_chatter(line: str) -> bool:
    """True for a known TensorFlow start-up line (INFO/WARNING logging, the missing-GPU complaints)."""
    return any(pattern.search(line) for pattern in CHATTER)


@contextlib.contextmanager
def filtered_stderr() -> Iterator[None]:
    """Point descriptor 2 at a temporary file; on exit restore it and write back what is not chatter."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode("utf-8", errors="replace")
            kept = [line for line in text.splitlines() if line.strip() and not is_chatter(line)]
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")
                sys.stderr.flush()


class _QuietLoader(importlib.abc.Loader):
    """Runs TensorFlow's own loader with descriptor 2 filtered, then starts its devices the same way."""

    def __init__(self, loader: importlib.abc.Loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        with filtered_stderr():
            self.loader.exec_module(module)
            with contextlib.suppress(Exception):  # devices start here, not at the first op
                module.config.list_physical_devices()


class _QuietTensorFlowFinder(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` with the other finders and wraps its loader (once)."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        uninstall()
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _QuietLoader(spec.loader)
        return spec


_FINDER = _QuietTensorFlowFinder()


# TensorFlow releases known to print this chatter regardless of TF_CPP_MIN_LOG_LEVEL (checked by
# tests/test_cli_output.py, which fails once the pinned release stops printing it: then drop this module).
AFFECTED_RELEASES = ("2.21.",)


def affected() -> bool:
    """Whether the installed TensorFlow is one that needs the filter (read from its metadata, not imported)."""
    try:
        return metadata.version("tensorflow").startswith(AFFECTED_RELEASES)
    except metadata.PackageNotFoundError:
        return False


def install() -> None:
    """Quiet the next `import tensorflow` (does nothing when it is already imported, or not affected)."""
    if "tensorflow" not in sys.modules and _FINDER not in sys.meta_path and affected():
        sys.meta_path.insert(0, _FINDER)


def uninstall() -> None:
    with contextlib.suppress(ValueError):
        sys.meta_path.remove(_FINDER)
