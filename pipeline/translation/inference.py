"""The trained model of a translation run: sentences -> translations (the Python API behind `translate`).

Unknown words (Luong et al. 2015's unk replacement): where a word-vocabulary model outputs `<unk>`, the
source word it attended to most at that step takes its place in the text, in the source's own casing (a
Transformer: the last decoder layer's cross-attention averaged over heads). On by default
(`replace_unknown`); without it, or without attention, `<unk>` is left out of the text as before. Either way
`unknown_tokens` counts the `<unk>` among the output tokens, before any text is made.

A run featurized with `features.placeholders` reads each sentence with its numbers and unknown words
replaced by placeholders (`｟1｠`, ...), and each placeholder of the output is put back as the source wrote it
(`placeholders` on the result says which; pipeline.translation.protection).
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field

import numpy as np

import models.seq2seq  # noqa: F401 - registers its layers (and the attention layers) for loading
from data.progress import progress as progress_bar
from features.placeholders import Protected, restore
from features.sequences import pad_ids
from features.subword import merge_pieces as _merge
from features.translation_text import detokenize, normalize_sentence
from features.vocabulary import END_ID, UNK, UNK_ID, Vocabulary
from models.layers.transformer_cross_decoder import TransformerCrossDecoder
from models.saving import load_model
from models.seq2seq_decoding import Seq2SeqStepper, translate_ids
from models.transformer_translator import TransformerTranslatorStepper
from pipeline.errors import PipelineError
from pipeline.rundir import RunDir
from pipeline.text_limits import EMPTY, UNKNOWN_WORDS, classify
from pipeline.translation.featurize import feature_info, source_tokens, subword_models
from pipeline.translation.protection import load_protection


@dataclass
class TranslationResult:
    """A translated sentence: `text` (detokenised), its output tokens, the source tokens the model read,
    the alignment (output tokens x source tokens + `<end>`), the log-probability and what was cut; a sentence
    left untranslated has an empty text and its `skipped_reason`."""

    text: str
    tokens: list[str]
    source_tokens: list[str]
    attention: np.ndarray
    log_prob: float
    truncated: bool
    skipped_reason: str = ""  # why nothing was translated: "empty text", "missing text", "only unknown words"
    chars_cut: bool = False  # the source was first cut to data.max_chars characters
    unknown_tokens: int = 0  # `<unk>` among the output tokens
    replacements: dict[int, str] = field(default_factory=dict)  # output position -> the source word put there
    placeholders: dict[str, str] = field(default_factory=dict)  # placeholder -> the source text it stood for

    @property
    def text_without_replacement(self) -> str:
        """The text with every `<unk>` left out (what it would be with replace_unknown=False)."""
        return restore(output_text(self.tokens, {}), self.placeholders) if self.replacements else self.text


def unknown_replacements(
    tokens: list[str], attention: np.ndarray, source_words: list[str], transformer: bool
) -> dict[int, str]:
    """For each `<unk>` output position, the source word with the highest attention weight at that step
    (never the source's `<end>`). `attention`: (steps, source + 1), or (steps, layers, heads, source + 1) for a
    Transformer, whose last layer is averaged over its heads."""
    positions = [index for index, token in enumerate(tokens) if token == UNK]
    if not positions or not source_words or attention.size == 0:
        return {}
    weights = attention[:, -1].mean(axis=1) if transformer else attention
    return {
        index: source_words[int(np.argmax(weights[index][: len(source_words)]))]
        for index in positions
        if index < len(weights)
    }


def output_text(tokens: list[str], replacements: dict[int, str]) -> str:
    """The detokenised text of output tokens: replaced `<unk>` become their source word, others are left out."""
    return detokenize(
        [
            replacements.get(index, token)
            for index, token in enumerate(tokens)
            if token != UNK or index in replacements
        ]
    )


class Translator:
    """Loads the vocabularies and model.keras (safe_mode) of a finished translation run."""

    def __init__(self, run: RunDir):
        if run.manifest["stages"].get("train", {}).get("status") != "done":
            raise PipelineError(f"{run.path} has no trained model yet; run `python -m pipeline train` first")
        self.run = run
        self.info = feature_info(run)
        features = run.path / "features"
        self.source_vocab = Vocabulary.load(features / "source_vocab.json")
        self.target_vocab = Vocabulary.load(features / "target_vocab.json")
        self.subwords = subword_models(run)  # None: a word-level run
        self.protection = load_protection(run, self.info)  # None: a run without placeholders
        self.lowercase = bool(self.source_vocab.settings.get("lowercase", True))
        self.max_length = int(self.info["sequence_length"])
        self.max_chars = int(run.config["data"]["max_chars"])
        self.model = load_model(run.path / "model.keras")
        self.transformer = any(isinstance(layer, TransformerCrossDecoder) for layer in self.model.layers)
        self._steppers: dict[bool, Seq2SeqStepper | TransformerTranslatorStepper] = {}

    def stepper(self, use_cache: bool = True) -> Seq2SeqStepper | TransformerTranslatorStepper:
        """The step-by-step decoder (built once per cache setting; recurrent models always carry states)."""
        use_cache = use_cache or not self.transformer
        if use_cache not in self._steppers:
            self._steppers[use_cache] = (
                TransformerTranslatorStepper(self.model, use_cache=use_cache)
                if self.transformer
                else Seq2SeqStepper(self.model)
            )
        return self._steppers[use_cache]

    def cased_words(self, sentence: str, tokens: list[str]) -> list[str]:
        """The source tokens as written (the encoder may read them lower-cased), for unk replacement."""
        cased = source_tokens(normalize_sentence(sentence), False)[: len(tokens)]
        same = len(cased) == len(tokens) and all(
            a.lower() == b.lower() for a, b in zip(cased, tokens, strict=True)
        )
        return cased if same else tokens

    @property
    def has_attention(self) -> bool:
        """Whether the model attends over the source (a Transformer, or a recurrent model with attention)."""
        return self.transformer or self.stepper().attention is not None

    def protect(self, sentence: str) -> Protected:
        """The normalised sentence, with placeholders where the run uses them."""
        text = normalize_sentence(sentence)
        return self.protection.protect(text) if self.protection is not None else Protected(text)

    def encode(self, sentence: str) -> tuple[list[str], list[int], bool]:
        """(source tokens or pieces, ids + `<end>` cut to the model's length, whether it was cut)."""
        if self.subwords is not None:
            ids = self.subwords["source"].encode(normalize_sentence(sentence))
            tokens, ids = self.subwords["source"].to_pieces(ids), [*ids, END_ID]
        else:
            tokens = source_tokens(normalize_sentence(sentence), self.lowercase)
            ids = [*self.source_vocab.encode(tokens), END_ID]
        truncated = len(ids) > self.max_length
        if truncated:
            tokens, ids = tokens[: self.max_length - 1], [*ids[: self.max_length - 1], END_ID]
        return tokens, ids, truncated

    def translate(
        self,
        sentences: list[str],
        beam: int = 1,
        alpha: float = 0.6,
        batch_size: int = 64,
        progress: bool = False,
        warn: bool = True,
        use_cache: bool = True,
        strict: bool = False,
        replace_unknown: bool = True,
    ) -> list[TranslationResult]:
        """Translate sentences (batched, shortest first): one result per sentence, in order.

        A source longer than data.max_chars characters is cut to it (`chars_cut`); one longer than the model's
        `features.sequence_length` tokens is cut to that, with a warning (`truncated`). An empty or missing
        sentence, or one made only of words the model does not know, gets an empty translation and its
        `skipped_reason`; `strict=True` refuses a sentence of only unknown words instead (an empty one still
        gives an empty translation). `use_cache=False` makes a Transformer rerun its decoder on the whole
        prefix at every step (same output, slower; recurrent models ignore it). `replace_unknown`: an output
        `<unk>` becomes the source word attended to most at that step (see the module's docstring).
        """
        reasons = [classify(sentence) for sentence in sentences]
        chars_cut = [
            not reason and len(sentence) > self.max_chars
            for sentence, reason in zip(sentences, reasons, strict=True)
        ]
        protected = [
            self.protect(sentence[: self.max_chars]) if not reason else Protected("")
            for sentence, reason in zip(sentences, reasons, strict=True)
        ]
        encoded = [
            self.encode(sentence.text) if not reason else ([], [END_ID], False)
            for sentence, reason in zip(protected, reasons, strict=True)
        ]
        for index, (tokens, ids, _) in enumerate(encoded):
            if tokens and all(i == UNK_ID for i in ids[:-1]):
                if strict:
                    raise PipelineError(
                        f"sentence {index + 1} has only words unknown to this model's vocabulary: "
                        f"{' '.join(tokens[:8])}"
                    )
                reasons[index] = UNKNOWN_WORDS
            elif not tokens and not reasons[index]:
                reasons[index] = EMPTY  # only punctuation the tokenizer drops, or similar
        cut = sum(truncated for (*_, truncated), reason in zip(encoded, reasons, strict=True) if not reason)
        if cut and warn:
            print(
                f"warning: {cut} sentence(s) longer than the model's {self.max_length - 1} source tokens were cut",
                file=sys.stderr,
            )
        results: list[TranslationResult | None] = [None] * len(sentences)
        todo = [i for i, reason in enumerate(reasons) if not reason]
        for i, reason in enumerate(reasons):
            if reason:
                results[i] = TranslationResult(
                    "", [], [], np.zeros((0, 0), "float32"), 0.0, False, skipped_reason=reason
                )
        todo.sort(key=lambda i: len(encoded[i][1]))
        replace = replace_unknown and self.has_attention and self.subwords is None
        batches = range(0, len(todo), batch_size)
        for start in progress_bar(batches, desc="translating", unit="batch", disable=not progress):
            rows = todo[start : start + batch_size]
            # Widths rounded up to a multiple of 8: few distinct shapes, so few traces of the compiled steps.
            width = max(len(encoded[i][1]) for i in rows)
            width = max(width, min(self.max_length, -(-width // 8) * 8))
            source = pad_ids([encoded[i][1] for i in rows], width)
            for i, translation in zip(
                rows,
                translate_ids(self.stepper(use_cache), source, self.max_length, beam, alpha),
                strict=True,
            ):
                tokens = self.target_vocab.decode(translation.ids, skip_reserved=False)
                replacements = (
                    unknown_replacements(
                        tokens,
                        translation.attention,
                        self.cased_words(protected[i].text, encoded[i][0]),
                        self.transformer,
                    )
                    if replace
                    else {}
                )
                text = (
                    self.subwords["target"].decode(translation.ids)
                    if self.subwords is not None
                    else output_text(tokens, replacements)
                )
                if self.protection is not None:
                    text = restore(text, protected[i].originals)
                results[i] = TranslationResult(
                    text=text,
                    tokens=tokens,
                    source_tokens=[*encoded[i][0], "<end>"],
                    attention=translation.attention,
                    log_prob=translation.log_prob,
                    truncated=encoded[i][2] or chars_cut[i],
                    chars_cut=chars_cut[i],
                    unknown_tokens=tokens.count(UNK),
                    replacements=replacements,
                    placeholders=protected[i].originals,
                )
        return results  # type: ignore[return-value]

    def plot_attention(
        self,
        result: TranslationResult,
        path,
        layer: int | None = None,
        head: int | None = None,
        merge_pieces: bool = False,
    ) -> None:
        """The alignment of one translation as a heatmap PNG (output tokens x source tokens). For a
        Transformer: a grid of layers x heads of the cross-attention, or the one `layer`/`head` picks. A
        SentencePiece run labels the axes with pieces; `merge_pieces` sums each word's pieces into one row
        and column, labelled with the word."""
        from pipeline.plots import plot_attention, plot_attention_grid  # noqa: PLC0415 - matplotlib

        if merge_pieces and self.subwords is None:
            raise PipelineError("--merge-pieces needs a SentencePiece run; this one reads words")
        if merge_pieces:
            weights = result.attention
            if weights.ndim == 4:  # (steps, layers, heads, source) -> (layers, heads, steps, source)
                weights = weights.transpose(1, 2, 0, 3)
            merged, source_words, output_words = _merge(weights, result.source_tokens, result.tokens)
            if merged.ndim == 4:
                merged = merged.transpose(2, 0, 1, 3)
            result = dataclasses.replace(
                result, attention=merged, source_tokens=source_words, tokens=output_words
            )

        if not self.transformer and self.stepper().attention is None:
            raise PipelineError(f"{self.run.path}: this model has no attention (model.attention = 'none')")
        if not self.transformer:
            if layer is not None or head is not None:
                raise PipelineError(
                    "--layer/--head pick a Transformer's cross-attention; this model has one map"
                )
            plot_attention(result.attention, result.source_tokens, result.tokens, path, title=result.text)
            return
        weights = result.attention  # (steps, layers, heads, source)
        layers, heads = weights.shape[1], weights.shape[2]
        for name, value, size in (("--layer", layer, layers), ("--head", head, heads)):
            if value is not None and not 0 <= value < size:
                raise PipelineError(f"{name} must be from 0 to {size - 1}, got {value}")
        picked_layers = range(layers) if layer is None else [layer]
        picked_heads = range(heads) if head is None else [head]
        grid = [[weights[:, i, j] for j in picked_heads] for i in picked_layers]
        titles = [[f"layer {i} head {j}" for j in picked_heads] for i in picked_layers]
        plot_attention_grid(grid, titles, result.source_tokens, result.tokens, path, title=result.text)
