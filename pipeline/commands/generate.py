"""`generate`: continue a prompt with a trained language model."""

from __future__ import annotations

import sys

import click


@click.command()
@click.option("--run", "run_path", type=click.Path(), required=True, help="A trained language-model run.")
@click.option("--prompt", default="", help="Text to continue ('-' reads stdin; empty = a new document).")
@click.option(
    "--length", default=100, show_default=True, type=int, help="Tokens (words or characters) to add."
)
@click.option("--temperature", default=1.0, show_default=True, type=float, help="Sampling temperature (> 0).")
@click.option(
    "--top-k", default=0, show_default=True, type=int, help="Sample among the k likeliest (0 = all)."
)
@click.option("--top-p", default=1.0, show_default=True, type=float, help="Nucleus sampling mass, in (0, 1].")
@click.option("--greedy", is_flag=True, help="Always take the likeliest token (deterministic).")
@click.option("--seed", default=None, type=int, help="Seed of the sampler (same seed, same text).")
@click.option("--no-cache", is_flag=True, help="Rerun the whole model at each step (slower; same text).")
@click.option("--stop-at-end", is_flag=True, help="Stop when the model ends the document.")
def generate(run_path, prompt, length, temperature, top_k, top_p, greedy, seed, no_cache, stop_at_end):
    """Continue a prompt with a trained language model (greedy, temperature, top-k, top-p sampling).

    \b
    Example:
      python -m pipeline generate --run runs/lm-word-lstm --prompt "the film was" --length 40 --temperature 0.8 --top-k 40 --seed 1
    """
    if prompt == "-":
        prompt = sys.stdin.read().rstrip("\n")
    from pipeline.api import load_run  # noqa: PLC0415
    from pipeline.language_model.inference import check_generation_options  # noqa: PLC0415

    check_generation_options(length, temperature)
    model = load_run(run_path, task="language_model")
    sampling = {"temperature": temperature, "top_k": top_k, "top_p": top_p, "greedy": greedy, "seed": seed}
    click.echo(model.generate(prompt, length, use_cache=not no_cache, stop_at_end=stop_at_end, **sampling))
