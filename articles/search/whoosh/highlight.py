"""Snippets (`articles/search/passages.py`) with the words matched as the index analyses them.

Each word of the text is analysed as the index analyses it (a cached word -> term map), so
"protesters" is marked for a search for "protest". Whoosh's own highlighter re-analyses whole
texts through its token pipeline, several times slower for a page of twenty long reports.
"""

import functools

from .. import passages as neutral
from .analysis import analyzer

_ANALYZER = analyzer()


@functools.lru_cache(maxsize=200_000)
def term_of(word: str) -> str | None:
    """The index term of one word, or None for a stop word."""
    return next((t.text for t in _ANALYZER(word, mode="query")), None)


def snippet(text: str, terms: set[str], *, length: int = 300) -> str | None:
    """The best window of about `length` characters, matches marked; None without a match."""
    return neutral.snippet(text, lambda word: term_of(word) in terms, length=length)


def snippets(texts: dict[int, str], terms: set[str], *, length: int) -> dict[int, str]:
    """pk -> snippet for each text holding one of the (analysed) `terms`."""
    return neutral.snippets(texts, lambda word: term_of(word) in terms, length=length)
