"""Decoding a recurrent translator (`models.seq2seq.build_seq2seq`): one compiled step per output token.

`Seq2SeqStepper(model)` splits a trained translator into its encoder (run once per batch of sources) and one
decoder step that reads the previous output token and the carried states and returns next-token log-
probabilities and the attention weights. `translate_ids(stepper, source_ids, beam=1)` decodes a batch
greedily (`beam=1`) or with beam search (`beam > 1`, length penalty), stopping each sentence at `<end>`.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
from keras import ops

from models.beam_loop import decode_beam_compiled
from models.greedy_loop import END_ID, NEVER_OUTPUT, PAD_ID, START_ID, decode_greedy_compiled
from models.translator_output import logits_function, target_embedding


class Seq2SeqStepper(keras.Model):
    """The encoder and a single decoder step of a translator built by `build_seq2seq`, sharing its weights.

    `encode(source_ids)` -> (encoder outputs, source mask, initial decoder states); `step(...)` feeds one
    token per row. Additive attention scores the state before the step (`s_{t-1}`), dot/general the state
    after (`s_t`), exactly as the training graph does, so step-by-step decoding reproduces the teacher-forced
    logits (a test checks this).
    """

    def __init__(self, model: keras.Model, **kwargs) -> None:
        kwargs.setdefault("name", f"{model.name}_stepper")
        super().__init__(**kwargs)
        layers = {layer.name: layer for layer in model.layers}
        self.translator = model
        source_ids = model.inputs[0]
        if "bidirectional_encoder" in layers:
            encoded = layers["bidirectional_encoder"].output
            states = [
                layers[name].output for name in sorted(n for n in layers if n.startswith("encoder_state_"))
            ]
        else:
            encoded = layers["encoder"].output
            states = list(encoded[1:])
        self.encoder = keras.Model(source_ids, [encoded[0], *states], name="encoder_part")
        self.target_embedding = target_embedding(model)
        self.decoder_cell = layers["decoder"].cell
        self.attention = layers.get("attention")
        self.attentional = layers.get("attentional")
        self.logits_layer = layers["logits"]  # the Dense, or the float32 cast after a tied table
        self.logits = logits_function(model)
        self.additive = self.attention is not None and type(self.attention).__name__ == "AdditiveAttention"
        self.state_count = len(states)
        self.built = True

    def call(self, inputs: dict) -> dict:
        """`token_ids` (batch,), `states` (tuple), `encoded` (batch, source, dim), `source_mask` (batch, source)
        -> `log_probs` (batch, vocabulary) float32, `states`, `weights` (batch, source) float32."""
        token_ids = ops.cast(inputs["token_ids"], "int32")
        states = list(inputs["states"])
        table = self.target_embedding.embeddings  # looked up directly: no Keras mask reaches the cell
        x = ops.cast(ops.take(table, token_ids, axis=0), self.decoder_cell.compute_dtype)
        output, new_states = self.decoder_cell(x, states, training=False)
        new_states = list(new_states) if isinstance(new_states, (list, tuple)) else [new_states]
        encoded = inputs["encoded"]
        weights = ops.zeros((ops.shape(encoded)[0], ops.shape(encoded)[1]), dtype="float32")
        if self.attention is not None:
            query = states[0] if self.additive else output
            context, weights = self.attention(
                ops.expand_dims(query, 1), encoded, values_mask=inputs["source_mask"]
            )
            combined = ops.concatenate([output, ops.cast(context[:, 0], output.dtype)], axis=-1)
            output = self.attentional(combined)
            weights = weights[:, 0]
        logits = self.logits(output)
        return {
            "log_probs": ops.log_softmax(logits, axis=-1),
            "states": tuple(new_states),
            "weights": weights,
        }

    def start(self, source_ids, length: int | None = None):
        """`encode` inside a graph (for `models.greedy_loop`): (encoder outputs, source mask, states tuple).
        `length` (steps to come) is not needed: recurrent states do not grow."""
        outputs = [ops.copy(output) for output in self.encoder(source_ids)]  # copies carry no Keras mask
        return outputs[0], ops.not_equal(source_ids, PAD_ID), tuple(outputs[1:])

    def encode(self, source_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        outputs = self.encoder.predict_on_batch(np.asarray(source_ids, dtype="int32"))
        return outputs[0], np.asarray(source_ids) != 0, list(outputs[1:])

    def step(
        self, token_ids: np.ndarray, states, encoded, source_mask
    ) -> tuple[np.ndarray, list, np.ndarray]:
        """One decoder step: (log-probabilities, new states, attention weights) as numpy arrays."""
        outputs = self.predict_on_batch(
            {
                "token_ids": np.asarray(token_ids, dtype="int32"),
                "states": tuple(states),
                "encoded": encoded,
                "source_mask": source_mask,
            }
        )
        return outputs["log_probs"], list(outputs["states"]), outputs["weights"]


@dataclass
class Translation:
    """One decoded sentence: token ids (without `<end>`), total log-probability, and the attention
    weights of each output step over the source positions (steps, source)."""

    ids: list[int]
    log_prob: float
    attention: np.ndarray


def length_penalty(length: int, alpha: float) -> float:
    """GNMT's length normalisation `((5 + length) / 6) ** alpha` (alpha 0 = raw log-probabilities)."""
    return ((5.0 + length) / 6.0) ** alpha


def translate_ids(
    stepper: Seq2SeqStepper,
    source_ids: np.ndarray,
    max_length: int,
    beam: int = 1,
    alpha: float = 0.6,
    min_length: int = 0,
    compiled: bool = True,
) -> list[Translation]:
    """Decode a batch of padded source id rows; greedy when `beam == 1`, else beam search of that width
    whose finished hypotheses are ranked by log-probability / `length_penalty(length, alpha)`. `<end>` is
    not allowed before `min_length` tokens (`min_length == max_length` forces that length: speed tests).
    Greedy decoding and beam search each run as one compiled loop (`models.greedy_loop`,
    `models.beam_loop`); `compiled=False` steps from Python (same hypotheses; one `predict_on_batch` per
    step)."""
    if beam < 1:
        raise ValueError(f"`beam` must be at least 1, got {beam}")
    if max_length < 1:
        raise ValueError(f"`max_length` must be at least 1, got {max_length}")
    source_ids = np.asarray(source_ids, dtype="int32")
    if beam == 1 and compiled:
        return [
            Translation(ids, log_prob, attention)
            for ids, log_prob, attention in decode_greedy_compiled(
                stepper, source_ids, max_length, min_length
            )
        ]
    if compiled:
        return [
            Translation(ids, log_prob, attention)
            for ids, log_prob, attention in decode_beam_compiled(
                stepper, source_ids, max_length, beam, alpha, min_length
            )
        ]
    encoded, source_mask, states = stepper.encode(source_ids)
    if beam == 1:
        return _greedy(stepper, encoded, source_mask, states, max_length, min_length)
    return _beam_search(stepper, encoded, source_mask, states, max_length, beam, alpha, min_length)


def _greedy(stepper, encoded, source_mask, states, max_length, min_length) -> list[Translation]:
    batch = len(source_mask)
    tokens = np.full(batch, START_ID, dtype="int32")
    ids = [[] for _ in range(batch)]
    scores = np.zeros(batch)
    attention = [[] for _ in range(batch)]
    done = np.zeros(batch, dtype=bool)
    for step in range(max_length):
        log_probs, states, weights = stepper.step(tokens, states, encoded, source_mask)
        log_probs[:, NEVER_OUTPUT] = -np.inf
        if step < min_length:
            log_probs[:, END_ID] = -np.inf
        tokens = log_probs.argmax(-1).astype("int32")
        for row in np.flatnonzero(~done):
            scores[row] += log_probs[row, tokens[row]]
            if tokens[row] == END_ID:
                done[row] = True
            else:
                ids[row].append(int(tokens[row]))
                attention[row].append(weights[row])
        if done.all():
            break
    return [
        Translation(ids[row], float(scores[row]), _stack(attention[row], source_mask[row]))
        for row in range(batch)
    ]


def _stack(rows: list[np.ndarray], mask: np.ndarray) -> np.ndarray:
    """Per-step weights (steps, ..., source) cut to the real source positions."""
    length = int(mask.sum())
    return np.stack(rows)[..., :length] if rows else np.zeros((0, length), dtype="float32")


def _top_ids(candidates: np.ndarray, count: int) -> np.ndarray:
    """Per row, the ids of the `count` largest values, largest first, equal values in increasing id order
    (what a stable sort gives, and `ops.top_k`), without sorting whole rows."""
    count = min(count, candidates.shape[1])
    part = np.argpartition(-candidates, count - 1, axis=1)[:, :count]
    threshold = np.take_along_axis(candidates, part, axis=1).min(axis=1)
    rows = []
    for values, cut in zip(candidates, threshold, strict=True):
        above = np.flatnonzero(values > cut)
        ids = np.concatenate([above, np.flatnonzero(values == cut)[: count - len(above)]])
        rows.append(ids[np.lexsort((ids, -values[ids]))])
    return np.stack(rows)


def _beam_search(
    stepper, encoded, source_mask, states, max_length, beam, alpha, min_length
) -> list[Translation]:
    batch = len(source_mask)
    # Every row of the batch becomes `beam` rows; at the start only the first beam of each sentence is live.
    encoded = (
        [np.repeat(part, beam, axis=0) for part in encoded]
        if isinstance(encoded, list)
        else np.repeat(encoded, beam, axis=0)
    )
    source_mask = np.repeat(source_mask, beam, axis=0)
    states = [np.repeat(state, beam, axis=0) for state in states]
    # float32 sums, as the compiled loop (models.beam_loop) adds them: both rank near-ties alike.
    scores = np.tile(np.r_[0.0, np.full(beam - 1, -np.inf)], batch).astype("float32")
    tokens = np.full(batch * beam, START_ID, dtype="int32")
    histories: list[list[int]] = [[] for _ in range(batch * beam)]
    attentions: list[list[np.ndarray]] = [[] for _ in range(batch * beam)]
    finished: list[list[tuple[float, Translation]]] = [[] for _ in range(batch)]
    for step in range(max_length):
        log_probs, states, weights = stepper.step(tokens, states, encoded, source_mask)
        log_probs[:, NEVER_OUTPUT] = -np.inf
        if step < min_length:
            log_probs[:, END_ID] = -np.inf
        vocabulary = log_probs.shape[-1]
        candidates = (scores[:, None] + log_probs).reshape(batch, beam * vocabulary)
        # The 2*beam best continuations per sentence: enough to keep `beam` live ones after some finish.
        top = _top_ids(candidates, 2 * beam)
        new_rows, new_tokens, new_scores = [], [], []
        for sentence in range(batch):
            kept = 0
            for flat in top[sentence]:
                score = candidates[sentence, flat]
                if not np.isfinite(score):
                    break
                row = sentence * beam + flat // vocabulary
                token = int(flat % vocabulary)
                if token == END_ID or step == max_length - 1:
                    ids = histories[row] if token == END_ID else [*histories[row], token]
                    steps = attentions[row] if token == END_ID else [*attentions[row], weights[row]]
                    rank = score / length_penalty(len(ids) + 1, alpha)
                    translation = Translation(list(ids), float(score), _stack(steps, source_mask[row]))
                    finished[sentence].append((rank, translation))
                    continue
                new_rows.append(row)
                new_tokens.append(token)
                new_scores.append(score)
                kept += 1
                if kept == beam:
                    break
            while kept < beam:  # pad with dead beams
                new_rows.append(sentence * beam)
                new_tokens.append(END_ID)
                new_scores.append(-np.inf)
                kept += 1
            # A sentence is done once its best finished hypothesis beats every live one's best possible rank.
            live_best = max(new_scores[-beam:])
            best_finished = max((rank for rank, _ in finished[sentence]), default=-np.inf)
            if finished[sentence] and (
                not np.isfinite(live_best) or best_finished >= live_best / length_penalty(max_length, alpha)
            ):
                new_scores[-beam:] = [-np.inf] * beam
        rows = np.asarray(new_rows)
        new_weights = weights[rows]
        histories = [[*histories[r], t] for r, t in zip(rows, new_tokens, strict=True)]
        attentions = [[*attentions[r], w] for r, w in zip(rows, new_weights, strict=True)]
        states = [state[rows] for state in states]
        tokens = np.asarray(new_tokens, dtype="int32")
        scores = np.asarray(new_scores, dtype="float32")
        if not np.isfinite(scores).any():
            break
    return [max(options, key=lambda item: item[0])[1] for options in finished]
