"""PNG plots for a run: training curves and the confusion matrix (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from data.atomic import write_with  # noqa: E402


def plot_training_curves(history: pd.DataFrame, path: Path, title: str = "") -> None:
    """Loss and every other metric per epoch, training and validation side by side."""
    names = [
        c
        for c in history.columns
        if not c.startswith("val_") and c not in ("epoch", "elapsed_seconds", "learning_rate")
    ]
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.6), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        ax.plot(history["epoch"], history[name], marker="o", label="train")
        if f"val_{name}" in history:
            ax.plot(history["epoch"], history[f"val_{name}"], marker="o", label="valid")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    write_with(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)


def plot_confusion_matrix(matrix: list[list[int]], classes: list[str], path: Path, title: str = "") -> None:
    """The confusion matrix as a labelled heatmap with counts (rows = true class)."""
    matrix = np.asarray(matrix)
    size = max(4.0, 0.6 * len(classes) + 2.5)
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    image = ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for (row, col), value in np.ndenumerate(matrix):
        ax.text(
            col,
            row,
            str(value),
            ha="center",
            va="center",
            color="white" if value > matrix.max() / 2 else "black",
        )
    fig.colorbar(image, ax=ax)
    ax.set_title(title or "confusion matrix")
    fig.tight_layout()
    write_with(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)


def plot_attention(
    weights: np.ndarray, source_tokens: list[str], output_tokens: list[str], path: Path, title: str = ""
) -> None:
    """An alignment matrix as a labelled heatmap: output tokens down the rows, source tokens across."""
    weights = np.asarray(weights, dtype=float)
    width = max(4.0, 0.55 * len(source_tokens) + 2.0)
    height = max(3.0, 0.45 * len(output_tokens) + 1.8)
    fig, ax = plt.subplots(figsize=(width, height))
    image = ax.imshow(weights, cmap="viridis", vmin=0.0, vmax=max(float(weights.max(initial=0.0)), 1e-9))
    ax.set_xticks(
        range(len(source_tokens)), [t.replace("■", "") for t in source_tokens], rotation=60, ha="right"
    )
    ax.set_yticks(range(len(output_tokens)), [t.replace("■", "") for t in output_tokens])
    ax.set_xlabel("source")
    ax.set_ylabel("output")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    write_with(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)


def plot_attention_grid(
    grid: list[list[np.ndarray]],
    titles: list[list[str]],
    source_tokens: list[str],
    output_tokens: list[str],
    path: Path,
    title: str = "",
) -> None:
    """Several alignment matrices (e.g. a Transformer's layers x heads) as a grid of labelled heatmaps."""
    rows, cols = len(grid), len(grid[0])
    cell_w = max(2.6, 0.42 * len(source_tokens) + 1.2)
    cell_h = max(2.2, 0.36 * len(output_tokens) + 1.0)
    fig, axes = plt.subplots(rows, cols, figsize=(cell_w * cols, cell_h * rows), squeeze=False)
    sources = [t.replace("■", "") for t in source_tokens]
    outputs = [t.replace("■", "") for t in output_tokens]
    for r in range(rows):
        for c in range(cols):
            ax = axes[r][c]
            ax.imshow(np.asarray(grid[r][c], dtype=float), cmap="viridis", vmin=0.0, vmax=1.0)
            ax.set_xticks(range(len(sources)), sources, rotation=60, ha="right", fontsize=7)
            ax.set_yticks(range(len(outputs)), outputs, fontsize=7)
            ax.set_title(titles[r][c], fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    write_with(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"))
    plt.close(fig)
