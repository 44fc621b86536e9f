"""Sentence text for translation: a normalisation that keeps what the references contain, and a reversible
word tokenisation, so that model outputs detokenise into real text that BLEU can score against raw references.

- `normalize_sentence` keeps accents, case, `¿ ¡ « »` and the no-break spaces French puts around `; : ! ? « »`
  (U+00A0, U+202F, U+2009): NFC (not NFKC, which would turn no-break spaces into spaces), invisible characters
  dropped, other whitespace runs made one space. A no-break space that touches no punctuation becomes a
  space; one beside ordinary spaces absorbs them.
- `tokenize_sentence` splits words (`\\w+`) and punctuation marks, each mark with the no-break spaces that touch
  it. A token written without a space before it is marked with the joiner `■` on the side of the punctuation
  (OpenNMT's convention): `"¿Qué es eso?"` -> `["¿■", "Qué", "es", "eso", "■?"]`, `"don't"` -> `["don",
  "■'■", "t"]`. Words therefore keep one form whatever punctuation surrounds them. A placeholder such as
  `｟1｠` (`features.placeholders`) is one word.
- `detokenize` undoes it exactly: `detokenize(tokenize_sentence(s)) == s` for every normalised `s`.
"""

from __future__ import annotations

import re
import unicodedata

JOINER = "■"  # U+25A0; a JOINER in the input text is replaced by _JOINER_STANDIN first
_JOINER_STANDIN = "▪"
NO_BREAK_SPACES = "\u00a0\u202f\u2009"
_NB = f"[{NO_BREAK_SPACES}]"
_INVISIBLE_RE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_SPACE_RUN_RE = re.compile(rf"[^\S{NO_BREAK_SPACES}]+")  # whitespace other than the no-break spaces
_SPACES_AROUND_NB_RE = re.compile(rf" *({_NB})[ {NO_BREAK_SPACES}]*")
_NB_BETWEEN_WORDS_RE = re.compile(rf"(?<=[\w\s]){_NB}(?=[\w\s]|$)|^{_NB}")
_TOKEN_RE = re.compile(rf"\uff5f[0-9]+\uff60|{_NB}?[^\w\s]{_NB}?|\w+")  # a placeholder is one word


def normalize_sentence(text: str, lowercase: bool = False) -> str:
    """One sentence cleaned for translation (see the module docstring); `lowercase` for a source side."""
    text = unicodedata.normalize("NFC", text).replace(JOINER, _JOINER_STANDIN)
    text = _INVISIBLE_RE.sub("", text)
    text = _SPACE_RUN_RE.sub(" ", text)
    text = _SPACES_AROUND_NB_RE.sub(r"\1", text)
    text = _NB_BETWEEN_WORDS_RE.sub(" ", text).strip(" " + NO_BREAK_SPACES)
    text = re.sub(" +", " ", text)
    return text.lower() if lowercase else text


def _is_word(token: str) -> bool:
    return token[0].isalnum() or token[0] in "_\uff5f"  # a placeholder (features.placeholders) is a word


def tokenize_sentence(text: str) -> list[str]:
    """Words and punctuation of a normalised sentence, with joiners where there was no space."""
    tokens: list[str] = []
    previous_end = None
    for match in _TOKEN_RE.finditer(text):
        token = match.group()
        if previous_end is not None and match.start() == previous_end:
            if not _is_word(token):
                token = JOINER + token
            elif not _is_word(tokens[-1].strip(JOINER)):
                tokens[-1] = tokens[-1] + JOINER
            else:  # two word tokens cannot touch (\w+ is greedy); kept for safety
                token = JOINER + token
        tokens.append(token)
        previous_end = match.end()
    return tokens


def detokenize(tokens: list[str]) -> str:
    """The text of a token list: joined where a joiner says so, else separated by one space."""
    pieces: list[str] = []
    attach_next = True
    for token in tokens:
        if not token or token == JOINER:
            continue
        attach = attach_next or token.startswith(JOINER)
        word = token.strip(JOINER)
        if pieces and not attach:
            pieces.append(" ")
        pieces.append(word)
        attach_next = token.endswith(JOINER)
    return "".join(pieces)


_FINAL_MARKS_RE = re.compile(rf"[\s{NO_BREAK_SPACES}]*[.!?…]+$")


def casual_sentence(text: str) -> str:
    """A sentence as people type it into a translator: lower-cased, without its final `.`, `!`, `?` or `…`."""
    return _FINAL_MARKS_RE.sub("", text).lower()
