"""What the bench scripts share: a step run in its own subprocess with its log, a pipeline run's record,
the machine line of a report's header, Markdown cells and tables, results saved as JSON."""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path


def machine() -> str:
    """The machine line of a report's header: architecture, CPU cores, Python version."""
    return f"{platform.machine()} with {os.cpu_count()} CPU cores, Python {platform.python_version()}"


def today() -> str:
    return time.strftime("%Y-%m-%d")


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (Linux reports ru_maxrss in KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run_logged(command: list[str], log: Path, env: dict[str, str] | None = None) -> int:
    """Run `command` in a subprocess (environment `env`, default this one's), its stdout and stderr in `log`;
    return its exit status."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as handle:
        return subprocess.run(
            command, stdout=handle, stderr=subprocess.STDOUT, env=env, check=False
        ).returncode


def run_checked(command: list[str], log: Path, env: dict[str, str] | None = None) -> None:
    """`run_logged`, raising RuntimeError (naming the log) when the command fails."""
    if run_logged(command, log, env):
        raise RuntimeError(f"{' '.join(command)} failed; see {log}")


def bench_row(command: list[str], log: Path) -> dict:
    """Run one benchmark-row subprocess and return the JSON of its last `BENCH {...}` line, with the day it
    was measured (`measured`)."""
    status = run_logged(command, log)
    for line in reversed(log.read_text(errors="replace").splitlines()):
        if line.startswith("BENCH "):
            return {**json.loads(line[6:]), "measured": today()}
    raise RuntimeError(f"{' '.join(command)} failed (exit {status}); see {log}")


def print_bench_row(row: dict) -> None:
    """The line `bench_row` reads back from a row's subprocess."""
    print("BENCH " + json.dumps(row), flush=True)


def pipeline_run(
    config: str, log: Path, *, name: str | None = None, sets: tuple[str, ...] = (), force: bool = False
) -> tuple[Path, dict]:
    """`python -m pipeline run` of `config` (train.verbose=2) in a subprocess logged to `log`; returns the
    run directory and its manifest."""
    command = [sys.executable, "-m", "pipeline", "run", "--config", config]
    command += ["--name", name] if name else []
    command += ["--force"] if force else []
    command += [arg for setting in (*sets, "train.verbose=2") for arg in ("--set", setting)]
    run_checked(command, log)
    run = Path("runs") / (name or Path(config).stem)
    return run, read_json(run / "manifest.json")


def run_record(config: str, log: Path, retrain: bool) -> dict:
    """A pipeline run's entry in a report's results: run directory, seed, metrics, train stage record."""
    run, manifest = pipeline_run(config, log, force=retrain)
    return {
        "run": str(run),
        "seed": manifest["seed"],
        "metrics": read_json(run / "metrics.json"),
        "train": manifest["stages"]["train"],
    }


def read_json(path: Path, default=None):
    """The JSON in `path`; `default` where there is no such file (None: the file must exist)."""
    path = Path(path)
    if default is not None and not path.is_file():
        return default
    return json.loads(path.read_text())


def config_arguments(description: str, configs: list[str]) -> argparse.Namespace:
    """The command line of a bench that trains each of its configs: --only CONFIG ..., --retrain."""
    parser = argparse.ArgumentParser(description=description.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=configs, default=configs)
    parser.add_argument("--retrain", action="store_true")
    return parser.parse_args()


def save_json(path: Path, results, default=None) -> None:
    """Write `results` as indented JSON with a final newline."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=default) + "\n")


def fmt(value, spec: str = ".4f") -> str:
    """`value` formatted with `spec`, or "-" where there is none."""
    return "-" if value is None else format(value, spec)


def md_row(*cells) -> str:
    """One Markdown table row."""
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def md_table(header: str) -> list[str]:
    """A Markdown table's header row, from its cells separated by " | ", and the separator row."""
    cells = header.split(" | ")
    return [md_row(*cells), "|" + "---|" * len(cells)]


def md_section(title: str, header: str) -> list[str]:
    """A `## title` heading, a blank line and the header rows of the table that follows."""
    return [f"## {title}", "", *md_table(header)]


def write_markdown(path: Path, lines: list[str], final_newline: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + ("\n" if final_newline else ""))
    print(f"wrote {path}")
