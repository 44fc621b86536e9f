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
equal ranks). `<pad>`/`<start>` are never emitted and `<end>` is barred before `min_length`.
"""

from __future__ import annotations

import weakref

import keras
import numpy as np
from keras import ops

from models.greedy_loop import END_ID, NEVER_OUTPUT, PAD_ID, START_ID

_LOOPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # stepper -> {(steps, beam, alpha): loop}


def _penalty(length, alpha: float):
    """GNMT's length penalty of a float tensor of lengths."""
    return ops.power((5.0 + length) / 6.0, alpha)


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
            scores, history, attention, best = carry
            bias = ops.where(ops.less(step, min_length), barred[1], barred[0])
            log_probs = ops.cast(outputs["log_probs"], "float32") + bias
            candidates = ops.reshape(ops.expand_dims(scores, 1) + log_probs, (batch, beam * vocabulary))
            values, flat = ops.top_k(candidates, 2 * beam)  # (batch, 2 beam), ties to the lower flat id
            flat = ops.cast(flat, "int32")
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
            appended = ops.cast(ops.not_equal(tokens, END_ID), "float32")  # the last step's non-<end> tokens
            lengths = ops.cast(step, "float32") + appended  # tokens in the finished output
            ranks = ops.where(finishing, values / _penalty(lengths + 1.0, self.alpha), neg_inf)  # + <end>
            pick = ops.cast(ops.argmax(ranks, axis=1), "int32")  # first of equal ranks
            pick_rank = ops.take_along_axis(ranks, ops.expand_dims(pick, 1), axis=1)[:, 0]
            better = ops.greater(pick_rank, best["rank"])
            pick_row = ops.take_along_axis(source_row, ops.expand_dims(pick, 1), axis=1)[:, 0]
            pick_token = ops.take_along_axis(tokens, ops.expand_dims(pick, 1), axis=1)[:, 0]
            pick_value = ops.take_along_axis(values, ops.expand_dims(pick, 1), axis=1)[:, 0]
            with_token = ops.not_equal(pick_token, END_ID)
            ids = ops.take(history, pick_row, axis=0)
            ids = ops.slice_update(
                ids, (0, step), ops.expand_dims(ops.where(with_token, pick_token, PAD_ID), 1)
            )
            step_weights = ops.cast(ops.take(outputs["weights"], pick_row, axis=0), "float32")
            shaped = ops.reshape(with_token, (-1,) + (1,) * len(weights_shape))
            maps = ops.slice_update(
                ops.take(attention, pick_row, axis=0),
                (0, step, *zeros_tail),
                ops.expand_dims(ops.where(shaped, step_weights, 0.0), 1),
            )
            keep = ops.reshape(better, (-1, 1))
            best = {
                "rank": ops.where(better, pick_rank, best["rank"]),
                "score": ops.where(better, pick_value, best["score"]),
                "length": ops.where(better, step + ops.cast(with_token, "int32"), best["length"]),
                "ids": ops.where(keep, ids, best["ids"]),
                "weights": ops.where(
                    ops.reshape(better, (-1, 1) + (1,) * len(weights_shape)), maps, best["weights"]
                ),
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
            new_rows = ops.reshape(new_rows, (rows,))
            new_tokens = ops.reshape(new_tokens, (rows,))
            history = ops.take(history, new_rows, axis=0)
            history = ops.slice_update(history, (0, step), ops.expand_dims(new_tokens, 1))
            step_maps = ops.expand_dims(
                ops.cast(ops.take(outputs["weights"], new_rows, axis=0), "float32"), 1
            )
            attention = ops.slice_update(
                ops.take(attention, new_rows, axis=0), (0, step, *zeros_tail), step_maps
            )
            return new_tokens, new_rows, (ops.reshape(new_scores, (rows,)), history, attention, best)

        initial_scores = ops.reshape(
            ops.tile(ops.expand_dims(ops.where(ops.equal(slots, 0), 0.0, float("-inf")), 0), (batch, 1)),
            (rows,),
        )
        best = {
            "rank": ops.full((batch,), float("-inf"), "float32"),
            "score": ops.zeros((batch,), "float32"),
            "length": ops.zeros((batch,), "int32"),
            "ids": ops.zeros((batch, steps), "int32"),
            "weights": ops.zeros((batch, steps, *weights_shape), "float32"),
        }
        carry = (
            initial_scores,
            ops.zeros((rows, steps), "int32"),
            ops.zeros((rows, steps, *weights_shape), "float32"),
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
        best = carry[3]
        return {
            "ids": best["ids"],
            "lengths": best["length"],
            "scores": best["score"],
            "weights": best["weights"],
        }


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
