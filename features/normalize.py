"""Text normalisation: HTML line breaks and tags, entities, unicode form, case, whitespace."""

from __future__ import annotations

import html
import re
import unicodedata

_BREAK_RE = re.compile(r"<\s*br\s*/?\s*>", re.IGNORECASE)
_TAG_RE = re.compile(r"</?[a-zA-Z][^<>]{0,200}>")
_SPACE_RE = re.compile(r"\s+")


def normalize_text(text: str, lowercase: bool = True) -> str:
    """Clean one raw text: `<br />` and other tags become spaces, entities are unescaped, NFKC, lower case."""
    text = _BREAK_RE.sub(" ", text)
    text = _TAG_RE.sub(" ", text)
    text = html.unescape(text)
    text = unicodedata.normalize("NFKC", text)
    if lowercase:
        text = text.lower()
    return _SPACE_RE.sub(" ", text).strip()
