"""Text generation from a language model: greedy, temperature, top-k and nucleus (top-p) sampling.

`generate(model_or_stepper, prompt_ids, length, ...)` continues a prompt of token ids. With `use_cache`
(the default) it decodes incrementally through a stepper (`models.language_models.make_stepper`:
recurrent states or Transformer key/value caches); without, it runs the whole model on the prefix at
every step. Both paths turn the logits into float64 probabilities and draw with the same numpy
`Generator`, one draw per sampled token, so the same seed gives the same tokens on either path.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import keras
import numpy as np

from models.language_models import (
    LanguageModelStepper,
    bucket_length,
    language_model_context_length,
    make_stepper,
)

PADDING_ID = 0


def _check_sampling(temperature: float, top_k: int, top_p: float) -> None:
    if not isinstance(temperature, (int, float)) or isinstance(temperature, bool) or not temperature > 0:
        raise ValueError(f"`temperature` must be > 0 (use greedy=True for argmax), got {temperature!r}")
    if not isinstance(top_k, (int, np.integer)) or isinstance(top_k, bool) or top_k < 0:
        raise ValueError(f"`top_k` must be an integer >= 0 (0 = no limit), got {top_k!r}")
    if not isinstance(top_p, (int, float)) or isinstance(top_p, bool) or not 0.0 < top_p <= 1.0:
        raise ValueError(f"`top_p` must be in (0, 1], got {top_p!r}")


def next_token_distribution(
    logits: np.ndarray, *, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0
) -> np.ndarray:
    """Float64 probabilities of the next token after temperature, top-k and top-p filtering.

    The padding id 0 always gets probability 0. Ties at the top-k boundary keep the lower ids; top-p
    keeps the smallest set of most likely tokens whose probabilities sum to at least `top_p`.

    Args:
        logits: (vocabulary_size,) logits.
        temperature: logits are divided by it (> 0); lower is sharper.
        top_k: keep only the k most likely tokens (0 = all).
        top_p: nucleus mass in (0, 1] (1 = all).

    Returns:
        (vocabulary_size,) float64 probabilities summing to 1.

    Example:
    >>> next_token_distribution(np.array([0.0, 2.0, 1.0, 0.0]), top_k=1)
    array([0., 1., 0., 0.])

    References:
        Fan et al., "Hierarchical Neural Story Generation" (top-k, 2018); Holtzman et al., "The Curious
        Case of Neural Text Degeneration" (nucleus sampling, 2020).
    """
    _check_sampling(temperature, top_k, top_p)
    scaled = np.asarray(logits, dtype=np.float64).reshape(-1) / float(temperature)
    scaled[PADDING_ID] = -np.inf
    if top_k and top_k < scaled.size:
        order = np.argsort(-scaled, kind="stable")
        scaled[order[top_k:]] = -np.inf
    probabilities = np.exp(scaled - np.max(scaled))
    probabilities /= probabilities.sum()
    if top_p < 1.0:
        order = np.argsort(-probabilities, kind="stable")
        cumulative = np.cumsum(probabilities[order])
        # Keep every token up to and including the first that brings the mass to top_p.
        keep = int(np.searchsorted(cumulative, top_p, side="left")) + 1
        probabilities[order[keep:]] = 0.0
        probabilities /= probabilities.sum()
    return probabilities


def sample_next_token(
    logits: np.ndarray,
    rng: np.random.Generator,
    *,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    greedy: bool = False,
) -> int:
    """The next token id: the argmax with `greedy` (no draw), otherwise one draw from
    `next_token_distribution`. The padding id 0 is never chosen."""
    if greedy:
        scores = np.asarray(logits, dtype=np.float64).reshape(-1).copy()
        scores[PADDING_ID] = -np.inf
        return int(np.argmax(scores))
    probabilities = next_token_distribution(logits, temperature=temperature, top_k=top_k, top_p=top_p)
    return int(rng.choice(probabilities.size, p=probabilities))


def full_model_logits(model: keras.Model, token_ids: Sequence[int], context_length: int | None) -> np.ndarray:
    """Float32 next-token logits after `token_ids` from one pass of the whole model over the prefix
    (its last `context_length` ids when longer).

    The prefix is right-padded to a bucket length (`bucket_length`) so that the compiled model is traced
    a few times rather than once per prefix length; the model being causal, padding after the prefix
    leaves its logits unchanged.
    """
    window = list(token_ids)
    if context_length is not None:
        window = window[-context_length:]
    padded = np.zeros((1, bucket_length(len(window), context_length)), dtype="int32")
    padded[0, : len(window)] = window
    logits = model.predict_on_batch(padded)
    return np.asarray(logits[0, len(window) - 1], dtype=np.float32)


def generate(
    model_or_stepper: keras.Model | LanguageModelStepper, prompt_ids: Sequence[int], length: int, **options
) -> list[int]:
    """`list(iter_generate(...))`: the generated ids all at once; the same arguments and options."""
    return list(iter_generate(model_or_stepper, prompt_ids, length, **options))


def iter_generate(
    model_or_stepper: keras.Model | LanguageModelStepper,
    prompt_ids: Sequence[int],
    length: int,
    *,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    greedy: bool = False,
    seed: int | None = None,
    use_cache: bool = True,
    stop_id: int | None = None,
) -> Iterator[int]:
    """Continue `prompt_ids` with up to `length` new token ids, yielding each as soon as it is drawn (the
    one decoding loop behind `generate` and streaming). Bad arguments raise at the call, before any
    token is asked for.

    The model sees at most its context length (a Transformer's position table; unlimited for
    recurrent models unless the stepper was made with a `context_length`): a longer prompt is cut to
    its last ids, and once the history outgrows the context every step sees the last `context_length`
    ids (the cached path then restarts from that window at each step, costing a full pass).

    Args:
        model_or_stepper: a model from `build_language_model`, or a stepper from `make_stepper` (reuse
            one across calls: a model builds a new stepper, traced again, at every cached call).
        prompt_ids: the prompt, a non-empty sequence of ids in [1, vocabulary_size) (0 is padding).
        length: the number of tokens to generate (>= 1).
        temperature: divides the logits before sampling (> 0); unused with `greedy`.
        top_k: sample among the k most likely tokens only (0 = no limit).
        top_p: sample among the smallest set of tokens whose probability reaches `top_p`, in (0, 1].
        greedy: take the most likely token at every step (deterministic).
        seed: seed of the numpy Generator that draws the tokens; the same seed gives the same tokens,
            with or without the cache.
        use_cache: decode incrementally (recurrent states, key/value caches) rather than running the
            whole model on the prefix at every step.
        stop_id: stop as soon as this id is generated; it is not included in the result.

    Returns:
        An iterator over the generated ids (without the prompt): `length` of them, fewer if `stop_id`
        came first.

    Example:
    >>> model = build_language_model({"kind": "transformer", "embed_dim": 32}, 100, 64)
    >>> len(list(iter_generate(make_stepper(model), [5, 6, 7], 10, top_k=20, seed=0)))
    10
    """
    if not isinstance(length, (int, np.integer)) or isinstance(length, bool) or length < 1:
        raise ValueError(f"`length` must be an integer >= 1, got {length!r}")
    _check_sampling(temperature, top_k, top_p)
    prompt = [int(token) for token in prompt_ids]
    if not prompt:
        raise ValueError("the prompt is empty: give at least one token id")
    if isinstance(model_or_stepper, LanguageModelStepper):
        stepper: LanguageModelStepper | None = model_or_stepper
        model = model_or_stepper.language_model
        context_length = model_or_stepper.context_length
    elif isinstance(model_or_stepper, keras.Model):
        stepper = None
        model = model_or_stepper
        context_length = language_model_context_length(model)
    else:
        raise ValueError(f"expected a language model or a stepper, got {type(model_or_stepper).__name__}")
    vocabulary_size = int(model.outputs[0].shape[-1])
    bad = [token for token in prompt if not 0 < token < vocabulary_size]
    if bad:
        raise ValueError(
            f"prompt ids must be in [1, {vocabulary_size}) (0 is padding), got {bad[:5]}"
            + (" ..." if len(bad) > 5 else "")
        )
    if context_length is not None:
        prompt = prompt[-context_length:]

    sampling = {"temperature": temperature, "top_k": top_k, "top_p": top_p, "greedy": greedy}
    return _decode(model, stepper, prompt, length, context_length, sampling, seed, use_cache, stop_id)


def _decode(
    model: keras.Model,
    stepper: LanguageModelStepper | None,
    prompt: list[int],
    length: int,
    context_length: int | None,
    sampling: dict,
    seed: int | None,
    use_cache: bool,
    stop_id: int | None,
) -> Iterator[int]:
    """The decoding loop of `iter_generate` (arguments already checked)."""
    rng = np.random.default_rng(seed)
    if use_cache:
        stepper = stepper if stepper is not None else make_stepper(model)
        state = stepper.start(prompt)
        logits = state.logits
    else:
        history = list(prompt)
        logits = full_model_logits(model, history, context_length)
    for step in range(length):
        token = sample_next_token(logits, rng, **sampling)
        if stop_id is not None and token == stop_id:
            return
        yield token
        if step == length - 1:
            return
        if use_cache:
            state = stepper.advance(state, token)
            logits = state.logits
        else:
            history.append(token)
            logits = full_model_logits(model, history, context_length)
