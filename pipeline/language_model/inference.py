"""The trained model of a language-model run: prompt -> generated text (the Python API behind `generate`)."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator

from features.vocabulary import END, END_ID, RESERVED, UNK_ID, Vocabulary
from models.decoding import iter_generate
from models.language_models import make_stepper
from models.saving import load_model
from pipeline.errors import PipelineError
from pipeline.language_model.featurize import feature_info, tokenize
from pipeline.rundir import RunDir

_NO_SPACE_BEFORE = re.compile(r" ([.,!?;:%)\]}'’]|n't\b|'s\b|'re\b|'ve\b|'ll\b|'d\b|'m\b)")
_NO_SPACE_AFTER = re.compile(r"([(\[{$]) ")


def check_generation_options(length: int, temperature: float) -> None:
    """Refuse a length below 1 and a temperature of 0 or below (greedy is the way to ask for argmax)."""
    if not isinstance(length, int) or length < 1:
        raise PipelineError(f"--length must be at least 1, got {length}")
    if temperature <= 0:
        raise PipelineError(
            f"--temperature must be above 0 (use --greedy for the most likely token), got {temperature}"
        )


class LanguageModel:
    """Loads vocab.json and model.keras (safe_mode) of a finished language-model run."""

    def __init__(self, run: RunDir):
        if run.manifest["stages"].get("train", {}).get("status") != "done":
            raise PipelineError(f"{run.path} has no trained model yet; run `python -m pipeline train` first")
        self.run = run
        self.info = feature_info(run)
        self.vocab = Vocabulary.load(run.path / "features" / "vocab.json")
        self.model = load_model(run.path / "model.keras")
        self.char_level = self.info["tokenizer"] == "char"
        self._stepper = None

    def encode_prompt(self, prompt: str) -> list[int]:
        """Prompt ids (unknown tokens -> <unk>, with a warning); an empty prompt starts a new document."""
        tokens = tokenize(prompt, self.info["tokenizer"], self.vocab.settings.get("lowercase", True))
        ids = self.vocab.encode(tokens)
        unknown = [token for token, i in zip(tokens, ids, strict=True) if i == UNK_ID and token != "<unk>"]
        if tokens and len(unknown) == len(tokens):
            raise PipelineError(
                f"the prompt has only words unknown to this model's vocabulary ({', '.join(unknown[:5])})"
            )
        if unknown:
            print(
                f"warning: {len(unknown)} prompt token(s) unknown, read as <unk>: {', '.join(unknown[:10])}",
                file=sys.stderr,
            )
        return [END_ID, *ids]  # every document of the training stream follows an <end>

    def decode(self, ids: list[int]) -> str:
        """Generated ids -> text (words joined with spaces, punctuation attached)."""
        tokens = [self.vocab.tokens[i] for i in ids]
        if self.char_level:
            return "".join("\n" if t == END else t for t in tokens if t not in RESERVED or t == END)
        text = " ".join("\n" if t == END else t for t in tokens)
        text = _NO_SPACE_AFTER.sub(r"\1", _NO_SPACE_BEFORE.sub(r"\1", text))
        return text.replace(" \n ", "\n").strip(" ")

    def generate(self, prompt: str, length: int = 100, **options) -> str:
        """The prompt followed by `length` generated tokens (words or characters): `"".join(stream(...))`,
        with `stream`'s options (temperature, top_k, top_p, greedy, seed, use_cache, stop_at_end)."""
        return "".join(self.stream(prompt, length, **options))

    def stream(
        self,
        prompt: str,
        length: int = 100,
        *,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        greedy: bool = False,
        seed: int | None = None,
        use_cache: bool = True,
        stop_at_end: bool = False,
    ) -> Iterator[str]:
        """`generate`, token by token: one string per generated token, the text it adds (the first one starts
        with the prompt; spaces that a later token may remove wait for it), so that the pieces joined are
        exactly what `generate` returns. Bad options raise PipelineError at the call."""
        check_generation_options(length, temperature)
        ids = self.encode_prompt(prompt)
        if use_cache and self._stepper is None:
            self._stepper = make_stepper(self.model)
        try:
            tokens = iter_generate(
                self._stepper if use_cache else self.model,
                ids,
                length,
                temperature=temperature,
                top_k=top_k,
                top_p=top_p,
                greedy=greedy,
                seed=seed,
                use_cache=use_cache,
                stop_id=END_ID if stop_at_end else None,
            )
        except ValueError as error:
            raise PipelineError(str(error)) from None
        return self._pieces(prompt, tokens)

    def _text(self, prompt: str, new_ids: list[int]) -> str:
        """The prompt joined to the decoded continuation (a space between words, none before punctuation)."""
        continuation = self.decode(new_ids)
        if self.char_level:
            return prompt + continuation
        joiner = "" if not prompt or continuation[:1] in ".,!?;:'\n" else " "
        return prompt + joiner + continuation

    def _pieces(self, prompt: str, tokens: Iterator[int]) -> Iterator[str]:
        """One piece of text per token: what the text made so far adds to what was already given out. Word
        text holds back trailing spaces and newlines (the next token may attach to them); the last piece
        completes the whole text. A token is given out once the next one is drawn (or generation ended)."""
        new_ids: list[int] = []
        given = ""
        pending = next(tokens, None)
        while pending is not None:
            new_ids.append(pending)
            pending = next(tokens, None)
            text = self._text(prompt, new_ids)
            stable = text if self.char_level or pending is None else text.rstrip(" \n")
            if not stable.startswith(given):  # never expected: the decoding only changes trailing spaces
                raise PipelineError("internal error: streamed text diverged from the generated text")
            yield stable[len(given) :]
            given = stable
        if not new_ids:
            yield prompt  # nothing generated (<end> first with stop_at_end): the text is the prompt alone
