"""`runs list|show|compare`: run directories summarised from their manifests and metrics."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.config import diff_configs, load_config
from pipeline.errors import PipelineError
from pipeline.tasks import STAGES, headline_metric


def read_json(path: Path) -> dict | None:
    """A run's JSON file (manifest, metrics), or None when it is missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def run_status(manifest: dict) -> str:
    """The last stage that finished, e.g. 'evaluated', 'trained', or 'new'."""
    done = [stage for stage in STAGES if manifest.get("stages", {}).get(stage, {}).get("status") == "done"]
    return (
        {"prepare": "prepared", "featurize": "featurized", "train": "trained", "evaluate": "evaluated"}[
            done[-1]
        ]
        if done
        else "new"
    )


def list_runs(runs_dir: Path) -> str:
    """A table of every run under runs_dir: name, task, status, headline metric (test split)."""
    if not runs_dir.is_dir():
        return f"no runs yet ({runs_dir} does not exist)"
    rows = []
    for path in sorted(p for p in runs_dir.iterdir() if (p / "manifest.json").is_file()):
        manifest = read_json(path / "manifest.json") or {}
        metrics = read_json(path / "metrics.json") or {}
        name = headline_metric(manifest.get("task", ""))
        value = metrics.get(name)
        shown = f"{name} {value:.4f}" if isinstance(value, float) else "-"
        rows.append((path.name, manifest.get("task", "?"), run_status(manifest), shown))
    if not rows:
        return f"no runs in {runs_dir}"
    widths = [max(len(str(r[i])) for r in rows + [("run", "task", "status", "metric")]) for i in range(4)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(("run", "task", "status", "metric"), widths, strict=True))]
    lines += ["  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def show_run(path: Path) -> str:
    manifest = read_json(path / "manifest.json")
    if manifest is None:
        raise PipelineError(f"{path} is not a run directory (no readable manifest.json)")
    metrics = read_json(path / "metrics.json")
    return json.dumps(
        {"run": str(path), "status": run_status(manifest), "manifest": manifest, "metrics": metrics}, indent=2
    )


def compare_runs(paths: list[Path]) -> str:
    """Headline metrics side by side and the config keys that differ from the first run."""
    configs, metrics = [], []
    for path in paths:
        if not (path / "config.toml").is_file():
            raise PipelineError(f"{path} is not a run directory (no config.toml)")
        configs.append(load_config(path / "config.toml"))
        metrics.append(read_json(path / "metrics.json") or {})
    keys = ["accuracy", "f1", "roc_auc", "bleu", "perplexity"]
    keys = [k for k in keys if any(k in m for m in metrics)]
    changed = sorted({key for cfg in configs[1:] for key in diff_configs(configs[0], cfg)})
    header = ["run", *keys, *changed]
    rows = []
    for path, cfg, metric in zip(paths, configs, metrics, strict=True):
        values = [f"{metric[k]:.4f}" if isinstance(metric.get(k), float) else "-" for k in keys]
        for key in changed:
            node = cfg
            for part in key.split("."):
                node = node.get(part, "") if isinstance(node, dict) else ""
            values.append(str(node))
        rows.append([path.name, *values])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in [header, *rows])
