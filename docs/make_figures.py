"""Make the two README pictures from files committed in the repository (no training, no data needed).

    .venv/bin/python docs/make_figures.py

- docs/img/attention.png: a small copy of reports/translation-attention-additive.png, the additive-attention
  translator's alignment of "we are eating bread" -> "Estamos comiendo pan." (`translate --plot-attention`
  on runs/translate-additive).
- docs/img/learning-curve.png: test accuracy against training seconds for a few rows of
  reports/sentiment.json (`make bench-sentiment`: the `test_curve` of each row, sampled 4 times per epoch).
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image  # noqa: E402 - Pillow comes with matplotlib

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "img"
WIDTH = 450  # pixels

# (key in sentiment.json's rows, or "reference"; legend label)
CURVES = [
    ("tfidf", "TF-IDF + linear"),
    ("transformer", "Transformer (make train-sentiment)"),
    ("bigru", "BiGRU"),
    ("reference", "keras-io BiLSTM reference"),
]


def attention_figure() -> Path:
    source = ROOT / "reports" / "translation-attention-additive.png"
    image = Image.open(source).convert("RGB")
    height = round(image.height * WIDTH / image.width)
    small = image.resize((WIDTH, height), Image.Resampling.LANCZOS)
    target = OUT / "attention.png"
    small.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(target, optimize=True)
    return target


def learning_curve_figure() -> Path:
    results = json.loads((ROOT / "reports" / "sentiment.json").read_text())
    fig, ax = plt.subplots(figsize=(4.5, 3.0), dpi=100)
    for key, label in CURVES:
        row = results["reference"] if key == "reference" else results["rows"][key]
        seconds, accuracy = zip(*row["test_curve"], strict=True)
        ax.plot(seconds, accuracy, marker="o", markersize=2.5, linewidth=1.3, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("training seconds (2-core CPU, log scale)", fontsize=8)
    ax.set_ylabel("IMDB test accuracy", fontsize=8)
    ax.set_ylim(0.6, 0.93)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3, linewidth=0.5)
    ax.legend(fontsize=6.5, loc="lower left", bbox_to_anchor=(0.0, 0.12), frameon=False)
    ax.set_title("Test accuracy while training (reports/sentiment.json)", fontsize=8)
    fig.tight_layout()
    target = OUT / "learning-curve.png"
    fig.savefig(target)
    plt.close(fig)
    image = Image.open(target).convert("RGB")
    image.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(target, optimize=True)
    return target


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for target in (attention_figure(), learning_curve_figure()):
        with Image.open(target) as image:
            size = image.size
        print(f"{target.relative_to(ROOT)}: {size[0]}x{size[1]} px, {target.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
