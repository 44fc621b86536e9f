"""Greedy decoding of a whole batch in one compiled call: the encoder and every decoder step inside one graph.

`GreedyLoop(stepper, steps)` wraps a step-by-step decoder (`Seq2SeqStepper` or `TransformerTranslatorStepper`)
in a `keras.Model` whose `call` runs the encoder (`stepper.start`), then a `keras.ops.while_loop` of decoder
steps (`stepper(...)`) that stops after `steps` tokens or once every row has emitted `<end>`. Through
`predict_on_batch` it is one `tf.function` (TensorFlow) or one `jax.jit` (JAX) call per batch: no Python,
no host copies of the key/value caches between steps. It makes the same choices as the Python loop of
`models.seq2seq_decoding` (`<pad>`/`<start>` never emitted, `<end>` barred before `min_length`, argmax), so
both give the same tokens (tests check this).
"""

from __future__ import annotations

import weakref

import keras
import numpy as np
from keras import ops

PAD_ID, START_ID, END_ID = 0, 2, 3
NEVER_OUTPUT = [PAD_ID, START_ID]  # ids a decoder never emits (their log-probabilities are set to -inf)
_LOOPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # stepper -> {steps: GreedyLoop}


class GreedyLoop(keras.Model):
    """`predict_on_batch({"source_ids": (batch, source), "min_length": (1,)})` -> `ids` (batch, steps)
    emitted tokens (`<pad>` from `<end>` on), `scores` (batch,) summed log-probabilities including `<end>`'s,
    `weights` (batch, steps, ...) the step's attention weights (the stepper's shape after the batch axis)."""

    def __init__(self, stepper: keras.Model, steps: int, **kwargs) -> None:
        kwargs.setdefault("name", f"{stepper.name}_greedy_{steps}")
        super().__init__(**kwargs)
        if steps < 1:
            raise ValueError(f"`steps` must be at least 1, got {steps}")
        limit = getattr(stepper, "max_length", None)
        if limit is not None and steps > limit:
            raise ValueError(f"the decoder's position table holds {limit} positions; asked for {steps} steps")
        self.stepper = stepper
        self.steps = int(steps)
        self.built = True

    def call(self, inputs: dict) -> dict:
        source_ids = ops.cast(inputs["source_ids"], "int32")
        min_length = ops.cast(inputs["min_length"], "int32")[0]  # one value for the whole batch
        encoded, source_mask, states = self.stepper.start(source_ids, self.steps)  # caches sized to `steps`
        batch = ops.shape(source_ids)[0]
        first = self.stepper(
            {
                "token_ids": ops.full((batch,), START_ID, "int32"),
                "states": states,
                "encoded": encoded,
                "source_mask": source_mask,
            }
        )
        # Step 0 is taken outside the loop: it gives the vocabulary size and the weights' shape.
        vocabulary = ops.shape(first["log_probs"])[-1]
        token_range = ops.arange(vocabulary, dtype="int32")
        # Barred tokens get -inf through one (1, vocabulary) row added to the log-probabilities.
        never = ops.any(
            ops.equal(ops.expand_dims(token_range, 1), ops.convert_to_tensor(NEVER_OUTPUT)), axis=1
        )
        never_or_end = ops.logical_or(never, ops.equal(token_range, END_ID))
        barred = {
            False: ops.expand_dims(ops.where(never, float("-inf"), 0.0), 0),
            True: ops.expand_dims(ops.where(never_or_end, float("-inf"), 0.0), 0),
        }
        weights_shape = tuple(ops.shape(first["weights"])[1:])
        ids = ops.zeros((batch, self.steps), "int32")
        weights = ops.zeros((batch, self.steps, *weights_shape), "float32")
        done = ops.zeros((batch,), "bool")
        scores = ops.zeros((batch,), "float32")

        def choose(step, outputs, done, scores, ids, weights):
            bias = ops.where(ops.less(step, min_length), barred[True], barred[False])
            log_probs = outputs["log_probs"] + bias
            # top_k rather than argmax: one pass (Keras's TensorFlow argmax adds four for negative zeros);
            # ties go to the lower id, as with numpy's argmax.
            best, best_ids = ops.top_k(log_probs, 1)
            chosen, tokens = best[:, 0], ops.cast(best_ids[:, 0], "int32")
            live = ops.logical_not(done)
            scores = scores + ops.where(live, chosen, 0.0)
            emitted = ops.where(ops.logical_and(live, ops.not_equal(tokens, END_ID)), tokens, PAD_ID)
            zero = ops.zeros((), "int32")
            ids = ops.slice_update(ids, (zero, step), ops.expand_dims(emitted, 1))
            step_weights = ops.expand_dims(ops.cast(outputs["weights"], "float32"), 1)
            weights = ops.slice_update(weights, (zero, step) + (zero,) * len(weights_shape), step_weights)
            done = ops.logical_or(done, ops.equal(tokens, END_ID))
            return tokens, done, scores, ids, weights

        tokens, done, scores, ids, weights = choose(ops.zeros((), "int32"), first, done, scores, ids, weights)

        def keep_going(step, tokens, states, done, scores, ids, weights):
            return ops.logical_and(ops.less(step, self.steps), ops.logical_not(ops.all(done)))

        def body(step, tokens, states, done, scores, ids, weights):
            outputs = self.stepper(
                {"token_ids": tokens, "states": states, "encoded": encoded, "source_mask": source_mask}
            )
            tokens, done, scores, ids, weights = choose(step, outputs, done, scores, ids, weights)
            return step + 1, tokens, tuple(outputs["states"]), done, scores, ids, weights

        loop_vars = (ops.ones((), "int32"), tokens, tuple(first["states"]), done, scores, ids, weights)
        _, _, _, _, scores, ids, weights = ops.while_loop(keep_going, body, loop_vars)
        return {"ids": ids, "scores": scores, "weights": weights}


def greedy_loop(stepper: keras.Model, steps: int) -> GreedyLoop:
    """The stepper's `GreedyLoop` for `steps` tokens, built once per stepper and length (so traced once)."""
    loops = _LOOPS.setdefault(stepper, {})
    if steps not in loops:
        loops[steps] = GreedyLoop(stepper, steps)
    return loops[steps]


def decode_greedy_compiled(
    stepper: keras.Model, source_ids: np.ndarray, steps: int, min_length: int = 0
) -> list[tuple[list[int], float, np.ndarray]]:
    """(ids without `<end>`, log-probability, attention (emitted steps, ..., real source positions)) per row."""
    source_ids = np.asarray(source_ids, dtype="int32")
    outputs = greedy_loop(stepper, steps).predict_on_batch(
        {"source_ids": source_ids, "min_length": np.array([min_length], dtype="int32")}
    )
    ids, scores, weights = (np.asarray(outputs[key]) for key in ("ids", "scores", "weights"))
    source_lengths = (source_ids != PAD_ID).sum(axis=1)
    results = []
    for row in range(len(source_ids)):
        length = int((ids[row] != PAD_ID).sum())
        results.append(
            (
                ids[row, :length].tolist(),
                float(scores[row]),
                weights[row, :length, ..., : source_lengths[row]],
            )
        )
    return results
