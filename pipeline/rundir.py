"""Run directories: the resolved config, a manifest of stages (config hash, input checksums, wall time),
versions, seed and git commit. Decides whether a stage is up to date and refuses a run of another task or
a changed config without --force."""

from __future__ import annotations

import json
import platform
import subprocess
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from data.atomic import write_json, write_text
from data.locate import sha256_file
from pipeline.config import diff_configs, dump_toml, load_config
from pipeline.errors import PipelineError
from pipeline.stage_keys import StageKeySpec, stable_hash

REPO_ROOT = Path(__file__).resolve().parents[1]
VERSIONED_PACKAGES = ("tensorflow", "keras", "gensim", "scikit-learn", "numpy", "pandas", "sacrebleu")


def default_run_path(config_path: str | Path | None, name: str | None) -> Path:
    """`runs/<name>` or `runs/<config stem>`."""
    if name:
        return Path(name) if ("/" in name or name.startswith(".")) else Path("runs") / name
    if config_path is None:
        raise PipelineError("give --config or --name to choose a run directory")
    return Path("runs") / Path(config_path).stem


def versions() -> dict[str, str]:
    """Python and library versions recorded in the manifest."""
    found = {"python": platform.python_version()}
    for package in VERSIONED_PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "absent"
    return found


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


@dataclass
class RunDir:
    """One run directory and its manifest."""

    path: Path
    config: dict
    manifest: dict

    @classmethod
    def open_for_stage(cls, path: str | Path, config: dict, force: bool = False) -> RunDir:
        """Create a run directory or reuse one: refused for another task, or a changed config without force."""
        path = Path(path)
        manifest_path = path / "manifest.json"
        if path.exists() and not path.is_dir():
            raise PipelineError(f"{path} exists and is not a directory")
        if manifest_path.exists():
            manifest = _read_json(manifest_path)
            recorded_task = manifest.get("task")
            if recorded_task != config["task"]:
                raise PipelineError(
                    f"{path} is a run of task '{recorded_task}', not '{config['task']}'; choose another --name"
                )
            finished = [s for s, r in manifest.get("stages", {}).items() if r.get("status") == "done"]
            if finished and (path / "config.toml").is_file() and not force:
                changed = diff_configs(load_config(path / "config.toml"), config)
                if changed:
                    raise PipelineError(
                        f"{path} was made with a different config (changed: {', '.join(changed)}); "
                        "use --force to rerun it in place or --name for a new run"
                    )
        elif path.exists() and any(path.iterdir()):
            raise PipelineError(
                f"{path} exists, is not empty and has no manifest.json; choose another --name"
            )
        else:
            manifest = {"task": config["task"], "created": _now(), "stages": {}}
        run = cls(path, config, manifest)
        path.mkdir(parents=True, exist_ok=True)
        manifest.update(
            {
                "task": config["task"],
                "seed": config["seed"],
                "versions": versions(),
                "git_commit": git_commit(),
            }
        )
        run.save_manifest()
        return run

    @classmethod
    def open_existing(cls, path: str | Path, task: str | None = None) -> RunDir:
        """Open a finished or partial run for inference or evaluation."""
        path = Path(path)
        if not (path / "manifest.json").is_file():
            raise PipelineError(f"{path} is not a run directory (no manifest.json)")
        manifest = _read_json(path / "manifest.json")
        if task is not None and manifest.get("task") != task:
            raise PipelineError(f"{path} is a run of task '{manifest.get('task')}', not '{task}'")
        return cls(path, load_config(path / "config.toml"), manifest)

    def subdir(self, name: str) -> Path:
        """A stage's output folder inside the run (made when missing)."""
        (self.path / name).mkdir(exist_ok=True)
        return self.path / name

    def save_manifest(self) -> None:
        write_json(self.path / "manifest.json", self.manifest)

    def stage_key(self, spec: StageKeySpec, extra: dict | None = None) -> str:
        """The key of a stage as `spec` declares it (see pipeline.stage_keys)."""
        return spec.key(self.config, self.manifest, extra)

    def is_current(self, stage: str, key: str, legacy_key: str | None = None) -> bool:
        """True when the stage finished with the same key and its outputs are still on disk. A record made
        under the old key rule (`legacy_key`) counts too, and is rewritten with `key`."""
        record = self.manifest["stages"].get(stage)
        if not record or record.get("status") != "done" or record.get("key") not in (key, legacy_key):
            return False
        if not all((self.path / name).exists() for name in record.get("outputs", {})):
            return False
        if record["key"] != key:
            record["key"] = key
            self.save_manifest()
        return True

    def finish_stage(self, stage: str, key: str, outputs: list[str], started: float, **extra: Any) -> None:
        """Record a finished stage with the checksums of its outputs (paths relative to the run); config.toml
        is written here, so it always names the config that produced what the run holds."""
        write_text(self.path / "config.toml", dump_toml(self.config))
        self.manifest["stages"][stage] = {
            "status": "done",
            "key": key,
            "finished": _now(),
            "wall_seconds": round(time.time() - started, 2),
            "outputs": {name: _checksum(self.path / name) for name in outputs},
            **extra,
        }
        self.save_manifest()

    def require(self, stage: str) -> None:
        """Refuse to go on when an earlier stage has not finished."""
        if self.manifest["stages"].get(stage, {}).get("status") != "done":
            raise PipelineError(
                f"{self.path}: stage '{stage}' has not run yet; run it first "
                f"(python -m pipeline {stage} --config ...)"
            )


def _checksum(path: Path) -> str:
    if path.is_dir():
        return stable_hash({p.name: _checksum(p) for p in sorted(path.iterdir())})
    return sha256_file(path)[:16]


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PipelineError(f"{path}: not a readable manifest ({exc})") from None


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
