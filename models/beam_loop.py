"""Beam search of a whole batch in one compiled call: the encoder and every decoder step inside one graph.

`BeamLoop(stepper, steps, beam)` is to beam search what `models.greedy_loop.GreedyLoop` is to greedy decoding:
a `keras.Model` whose `call` runs the encoder on each source repeated `beam` times, then a
`keras.ops.while_loop` of decoder steps over the batch x beam rows, with fixed-shape tensors in place of the
Python loop's lists (`models.seq2seq_decoding._beam_search`), and makes the same choices:

- each step scores every live hypothesis's continuations and takes each sentence's `2 * beam` best in order
  (ties to the lower hypothesis-major id, as a stable sort does); a continuation by `<end>`, or any at the last
  step, finishes a hypothesis ranked by log-probability / GNMT's `((5 + length) / 6) ** alpha`, and the first
  `beam` others stay live, dead slots (-inf) filling the rest;
- a sentence stops once its best finished rank is at least what its best live hypothesis could reach
  (its score / the length penalty of the longest output); the loop stops when no row is live.

Only each sentence's best finished hypothesis is kept (the Python loop's `max` over its list: the first of
equal ranks), as where it ended (step, row, token). The loop carries back-pointers rather than histories:
each step writes its chosen tokens, the rows they extend and its attention weights (in its input's row order)
once, and the best hypotheses' tokens and maps are traced back after the loop, so no step copies the
hypotheses' histories. `<pad>`/`<start>` are never emitted and `<end>` is barred before `min_length`.
"""

from __future__ import annotations

import weakref

import keras
import numpy as np
from keras import ops

from models.greedy_loop import END_ID, NEVER_OUTPUT, PAD_ID, START_ID

MIN_BLOCKED_VOCABULARY = 512  # below, one top-k over every candidate
_LOOPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # stepper -> {(steps, beam, alpha): loop}


def _penalty(length, alpha: float):
    """GNMT's length penalty of a float tensor of lengths."""
    return ops.power((5.0 + length) / 6.0, alpha)


def _block_size(vocabulary) -> int | None:
    """A divisor of the vocabulary near 32 for `best_continuations`' blocks (None: too small, or none)."""
    if not isinstance(vocabulary, int) or vocabulary < MIN_BLOCKED_VOCABULARY:
        return None
    for size in sorted(range(16, 65), key=lambda size: (abs(size - 32), size)):
        if vocabulary % size == 0:
            return size
    return None


def best_continuations(log_probs, bias, scores, batch, beam: int, vocabulary, count: int):
    """The `count` best (score + (log-probability + bias), flat id = slot * vocabulary + token) of each
    sentence, as `ops.top_k` over its (beam * vocabulary) candidates gives them, ties to the lower flat id;
    without a full top-k, which on a CPU costs more than the rest of a step. `bias` (1, vocabulary) is 0 but
    for the barred ids (-inf), all below 16.

    Each row's vocabulary is cut into blocks; a block's best candidate is its maximum plus the row's score
    (exactly: rounding is monotonic). The `count` blocks with the best maxima (ties to the lower block)
    hold every one of the `count` best candidates, the lower-id ones among equals included, so the top-k of
    their elements, taken in id order, is the top-k of all. Only the first block of a row carries the bias."""
    size = _block_size(vocabulary)
    if size is None:
        candidates = ops.expand_dims(scores, 1) + (log_probs + bias)
        values, flat = ops.top_k(ops.reshape(candidates, (batch, beam * vocabulary)), count)
        return values, ops.cast(flat, "int32")
    blocks = vocabulary // size
    per_block = ops.reshape(log_probs, (batch * beam * blocks, size))
    first_bias = bias[:, :size]  # (1, size)
    maxima = ops.max(ops.reshape(per_block, (batch * beam, blocks, size)), axis=2)
    first_maxima = ops.max(log_probs[:, :size] + first_bias, axis=1, keepdims=True)
    is_first = ops.expand_dims(ops.equal(ops.arange(blocks, dtype="int32"), 0), 0)
    maxima = ops.where(is_first, first_maxima, maxima) + ops.expand_dims(scores, 1)
    _, chosen = ops.top_k(ops.reshape(maxima, (batch, beam * blocks)), count)
    chosen = ops.sort(ops.cast(chosen, "int32"), axis=1)  # (batch, count) in id order
    sentence = ops.expand_dims(ops.arange(batch, dtype="int32"), 1)
    elements = ops.take(per_block, sentence * (beam * blocks) + chosen, axis=0)  # (batch, count, size)
    elements = elements + ops.where(
        ops.expand_dims(ops.equal(chosen % blocks, 0), 2), ops.expand_dims(first_bias, 0), 0.0
    )
    row_scores = ops.take(scores, sentence * beam + chosen // blocks, axis=0)  # (batch, count)
    values = ops.reshape(ops.expand_dims(row_scores, 2) + elements, (batch, count * size))
    first_ids = (chosen // blocks) * vocabulary + (chosen % blocks) * size
    ids = ops.reshape(ops.expand_dims(first_ids, 2) + ops.arange(size, dtype="int32"), (batch, count * size))
    values, position = ops.top_k(values, count)
    return values, ops.take_along_axis(ids, ops.cast(position, "int32"), axis=1)


class BeamLoop(keras.Model):
    """`predict_on_batch({"source_ids": (batch, source), "min_length": (1,)})` -> `ids` (batch, steps) of each
    sentence's best hypothesis (`<pad>` after it), `lengths` (batch,), `scores` (batch,) its log-probability
    (with `<end>`'s), `weights` (batch, steps, ...) its attention weights at each emitted step."""

    def __init__(self, stepper: keras.Model, steps: int, beam: int, alpha: float, **kwargs) -> None:
        kwargs.setdefault("name", f"{stepper.name}_beam_{beam}_{steps}")
        super().__init__(**kwargs)
        if steps < 1 or beam < 2:
            raise ValueError(f"`steps` must be at least 1 and `beam` at least 2, got {steps}, {beam}")
        limit = getattr(stepper, "max_length", None)
        if limit is not None and steps > limit:
            raise ValueError(f"the decoder's position table holds {limit} positions; asked for {steps} steps")
        self.stepper, self.steps, self.beam, self.alpha = stepper, int(steps), int(beam), float(alpha)
        self.built = True

    def call(self, inputs: dict) -> dict:
        beam, steps = self.beam, self.steps
        source_ids = ops.cast(inputs["source_ids"], "int32")
        min_length = ops.cast(inputs["min_length"], "int32")[0]
        batch = ops.shape(source_ids)[0]
        rows = batch * beam
        encoded, source_mask, states = self.stepper.start(ops.repeat(source_ids, beam, axis=0), steps)
        first = self.stepper(
            {
                "token_ids": ops.full((rows,), START_ID, "int32"),
                "states": states,
                "encoded": encoded,
                "source_mask": source_mask,
            }
        )
        vocabulary = ops.shape(first["log_probs"])[-1]
        token_range = ops.arange(vocabulary, dtype="int32")
        never = ops.any(
            ops.equal(ops.expand_dims(token_range, 1), ops.convert_to_tensor(NEVER_OUTPUT)), axis=1
        )
        never_or_end = ops.logical_or(never, ops.equal(token_range, END_ID))
        barred = (
            ops.expand_dims(ops.where(never, float("-inf"), 0.0), 0),
            ops.expand_dims(ops.where(never_or_end, float("-inf"), 0.0), 0),
        )
        weights_shape = tuple(ops.shape(first["weights"])[1:])
        zeros_tail = (0,) * len(weights_shape)
        neg_inf = ops.full((), float("-inf"), "float32")
        slots = ops.arange(beam, dtype="int32")
        sentence_base = ops.expand_dims(ops.arange(batch, dtype="int32") * beam, 1)  # (batch, 1)
        longest = _penalty(float(steps), self.alpha)

        def choose(step, outputs, carry):
            scores, tokens_at, parents, weights_at, best = carry
            bias = ops.where(ops.less(step, min_length), barred[1], barred[0])
            log_probs = ops.cast(outputs["log_probs"], "float32")
            # (batch, 2 beam) of scores + log_probs over each sentence's beam x vocabulary, ties to the lower id
            values, flat = best_continuations(log_probs, bias, scores, batch, beam, vocabulary, 2 * beam)
            source_row = sentence_base + flat // vocabulary
            tokens = flat % vocabulary
            finite = ops.logical_not(ops.isinf(values))
            last_step = ops.equal(step, steps - 1)
            ends = ops.logical_or(ops.equal(tokens, END_ID), last_step)
            live = ops.logical_and(finite, ops.logical_not(ends))
            live_int = ops.cast(live, "int32")
            live_before = ops.cumsum(live_int, axis=1) - live_int
            considered = ops.logical_and(finite, ops.less(live_before, beam))
            finishing = ops.logical_and(considered, ends)
            kept = ops.logical_and(considered, live)

            # The best hypothesis finishing here, against the best so far (kept on equal ranks: it came first).
            # Only where it ends is recorded (step, row, token); its tokens are traced back after the loop.
            appended = ops.cast(ops.not_equal(tokens, END_ID), "float32")  # the last step's non-<end> tokens
            lengths = ops.cast(step, "float32") + appended  # tokens in the finished output
            ranks = ops.where(finishing, values / _penalty(lengths + 1.0, self.alpha), neg_inf)  # + <end>
            pick = ops.expand_dims(ops.cast(ops.argmax(ranks, axis=1), "int32"), 1)  # first of equal ranks
            pick_rank = ops.take_along_axis(ranks, pick, axis=1)[:, 0]
            pick_token = ops.take_along_axis(tokens, pick, axis=1)[:, 0]
            better = ops.greater(pick_rank, best["rank"])
            best = {
                "rank": ops.where(better, pick_rank, best["rank"]),
                "score": ops.where(better, ops.take_along_axis(values, pick, axis=1)[:, 0], best["score"]),
                "length": ops.where(
                    better, step + ops.cast(ops.not_equal(pick_token, END_ID), "int32"), best["length"]
                ),
                "step": ops.where(better, step, best["step"]),
                "row": ops.where(better, ops.take_along_axis(source_row, pick, axis=1)[:, 0], best["row"]),
                "token": ops.where(better, pick_token, best["token"]),
            }

            # The first `beam` live continuations of each sentence fill its slots in order; dead slots after.
            slot_of = ops.logical_and(
                ops.expand_dims(kept, 2), ops.equal(ops.expand_dims(live_before, 2), slots)
            )  # (batch, 2 beam, beam)
            filled = ops.any(slot_of, axis=1)

            def pick_slot(per_candidate):
                spread = ops.expand_dims(per_candidate, 2)
                return ops.sum(ops.where(slot_of, spread, ops.zeros_like(spread)), axis=1)

            new_rows = ops.where(filled, pick_slot(source_row), sentence_base)
            new_tokens = ops.where(filled, pick_slot(tokens), END_ID)
            new_scores = ops.where(filled, pick_slot(ops.where(kept, values, 0.0)), neg_inf)
            # Stop a sentence whose best finished rank beats what its best live hypothesis could reach.
            live_best = ops.max(new_scores, axis=1)
            stop = ops.logical_and(
                ops.isfinite(best["rank"]),
                ops.logical_or(ops.isinf(live_best), ops.greater_equal(best["rank"], live_best / longest)),
            )
            new_scores = ops.where(ops.expand_dims(stop, 1), neg_inf, new_scores)
            new_rows = ops.reshape(new_rows, (1, rows))
            new_tokens = ops.reshape(new_tokens, (1, rows))
            # Back-pointers, not copies: the hypothesis in slot r after this step is `parents[step, r]`'s
            # (a row of the step's input) followed by `tokens_at[step, r]`; the step's attention stays in
            # the input's row order.
            tokens_at = ops.slice_update(tokens_at, (step, 0), new_tokens)
            parents = ops.slice_update(parents, (step, 0), new_rows)
            step_weights = ops.expand_dims(ops.cast(outputs["weights"], "float32"), 0)
            weights_at = ops.slice_update(weights_at, (step, 0, *zeros_tail), step_weights)
            carry = (ops.reshape(new_scores, (rows,)), tokens_at, parents, weights_at, best)
            return new_tokens[0], new_rows[0], carry

        initial_scores = ops.reshape(
            ops.tile(ops.expand_dims(ops.where(ops.equal(slots, 0), 0.0, float("-inf")), 0), (batch, 1)),
            (rows,),
        )
        best = {
            "rank": ops.full((batch,), float("-inf"), "float32"),
            "score": ops.zeros((batch,), "float32"),
            "length": ops.zeros((batch,), "int32"),
            "step": ops.full((batch,), -1, "int32"),  # none finished: nothing traced back
            "row": ops.zeros((batch,), "int32"),
            "token": ops.zeros((batch,), "int32"),
        }
        carry = (
            initial_scores,
            ops.zeros((steps, rows), "int32"),
            ops.zeros((steps, rows), "int32"),
            ops.zeros((steps, rows, *weights_shape), "float32"),
            best,
        )
        tokens, new_rows, carry = choose(ops.zeros((), "int32"), first, carry)
        states = keras.tree.map_structure(
            lambda state: ops.take(state, new_rows, axis=0), tuple(first["states"])
        )

        def keep_going(step, tokens, states, carry):
            return ops.logical_and(ops.less(step, steps), ops.any(ops.isfinite(carry[0])))

        def body(step, tokens, states, carry):
            outputs = self.stepper(
                {"token_ids": tokens, "states": states, "encoded": encoded, "source_mask": source_mask}
            )
            tokens, new_rows, carry = choose(step, outputs, carry)
            states = keras.tree.map_structure(
                lambda state: ops.take(state, new_rows, axis=0), tuple(outputs["states"])
            )
            return step + 1, tokens, states, carry

        _, _, _, carry = ops.while_loop(keep_going, body, (ops.ones((), "int32"), tokens, states, carry))
        _, tokens_at, parents, weights_at, best = carry
        ids, weight_rows, emitted = _trace_back(tokens_at, parents, best, steps, rows)
        weights = ops.take(ops.reshape(weights_at, (steps * rows, *weights_shape)), weight_rows, axis=0)
        shaped = ops.reshape(emitted, (batch, steps) + (1,) * len(weights_shape))
        return {
            "ids": ids,
            "lengths": best["length"],
            "scores": best["score"],
            "weights": ops.where(shaped, weights, 0.0),
        }


def _trace_back(tokens_at, parents, best: dict, steps: int, rows):
    """Each sentence's best hypothesis from the back-pointers, last step first: its ids (batch, steps)
    (`<pad>` after it), the flat (step * rows + row) index of each emitted step's attention, and which
    steps emitted a token."""
    end_step, row, token = best["step"], best["row"], best["token"]
    with_token = ops.not_equal(token, END_ID)
    batch = ops.shape(end_step)[0]

    def body(back, carry):
        row, ids, weight_rows, emitted = carry
        step = steps - 1 - back
        at_end = ops.equal(step, end_step)
        before = ops.less(step, end_step)
        step_tokens = ops.take(ops.take(tokens_at, step, axis=0), row, axis=0)
        step_parents = ops.take(ops.take(parents, step, axis=0), row, axis=0)
        column = ops.where(
            at_end, ops.where(with_token, token, PAD_ID), ops.where(before, step_tokens, PAD_ID)
        )
        weight_row = step * rows + ops.where(before, step_parents, row)
        shown = ops.logical_or(before, ops.logical_and(at_end, with_token))
        ids = ops.slice_update(ids, (0, step), ops.expand_dims(column, 1))
        weight_rows = ops.slice_update(weight_rows, (0, step), ops.expand_dims(weight_row, 1))
        emitted = ops.slice_update(emitted, (0, step), ops.expand_dims(shown, 1))
        return ops.where(before, step_parents, row), ids, weight_rows, emitted

    initial = (
        row,
        ops.zeros((batch, steps), "int32"),
        ops.zeros((batch, steps), "int32"),
        ops.zeros((batch, steps), "bool"),
    )
    _, ids, weight_rows, emitted = ops.fori_loop(0, steps, body, initial)
    return ids, weight_rows, emitted


def beam_loop(stepper: keras.Model, steps: int, beam: int, alpha: float) -> BeamLoop:
    """The stepper's `BeamLoop` for these settings, built once (so traced once per batch shape)."""
    loops = _LOOPS.setdefault(stepper, {})
    key = (steps, beam, float(alpha))
    if key not in loops:
        loops[key] = BeamLoop(stepper, steps, beam, alpha)
    return loops[key]


def decode_beam_compiled(
    stepper: keras.Model, source_ids: np.ndarray, steps: int, beam: int, alpha: float, min_length: int = 0
) -> list[tuple[list[int], float, np.ndarray]]:
    """(ids without `<end>`, log-probability, attention (emitted steps, ..., real source positions)) per row."""
    source_ids = np.asarray(source_ids, dtype="int32")
    outputs = beam_loop(stepper, steps, beam, alpha).predict_on_batch(
        {"source_ids": source_ids, "min_length": np.array([min_length], dtype="int32")}
    )
    ids, lengths, scores, weights = (
        np.asarray(outputs[key]) for key in ("ids", "lengths", "scores", "weights")
    )
    source_lengths = (source_ids != PAD_ID).sum(axis=1)
    return [
        (
            ids[row, : lengths[row]].tolist(),
            float(scores[row]),
            weights[row, : lengths[row], ..., : source_lengths[row]],
        )
        for row in range(len(source_ids))
    ]
