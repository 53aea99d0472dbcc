"""Snippets: the passage of a text that best matches a query, escaped, with only `<mark>`
added.

Each word of the text is analysed as the index analyses it (a cached word -> term map), so
"protesters" is marked for a search for "protest"; the window of the text holding the most
matches is shown. Whoosh's own highlighter re-analyses whole texts through its token
pipeline, several times slower for a page of twenty long reports.
"""

import functools
import re

from django.utils.html import escape

from .analysis import TOKEN_PATTERN, analyzer

_TOKEN = re.compile(TOKEN_PATTERN)
_ANALYZER = analyzer()


@functools.lru_cache(maxsize=200_000)
def term_of(word: str) -> str | None:
    """The index term of one word, or None for a stop word."""
    return next((t.text for t in _ANALYZER(word, mode="query")), None)


def snippet(text: str, terms: set[str], *, length: int = 300) -> str | None:
    """The best window of about `length` characters, matches marked; None without a match."""
    tokens = [(m.start(), m.end()) for m in _TOKEN.finditer(text)]
    hits = [i for i, (start, end) in enumerate(tokens) if term_of(text[start:end].lower()) in terms]
    if not hits:
        return None
    if len(text) <= length:
        begin, finish = 0, len(text)
    else:
        # The window starting at a match that holds the most matches within `length`.
        best, best_count, j = hits[0], 0, 0
        for i, hit in enumerate(hits):
            while j < len(hits) and tokens[hits[j]][1] - tokens[hit][0] <= length:
                j += 1
            if j - i > best_count:
                best, best_count = hit, j - i
        begin = max(0, tokens[best][0] - length // 3)
        # Start and end on word boundaries.
        begin = next((s for s, _ in tokens if s >= begin), begin) if begin else 0
        finish = min(len(text), begin + length)
        finish = max((e for _, e in tokens if e <= finish), default=finish)
    marked = set(hits)
    html, cursor = [], begin
    for i, (start, end) in enumerate(tokens):
        if end <= begin or start >= finish:
            continue
        if i in marked:
            html.append(escape(text[cursor:start]))
            html.append(f"<mark>{escape(text[start:end])}</mark>")
            cursor = end
    html.append(escape(text[cursor:finish]))
    body = "".join(html)
    return ("… " if begin > 0 else "") + body + (" …" if finish < len(text.rstrip()) else "")


def snippets(texts: dict[int, str], terms: set[str], *, length: int) -> dict[int, str]:
    """pk -> snippet for each text holding one of the (analysed) `terms`."""
    out = {}
    for pk, text in texts.items():
        found = snippet(text, terms, length=length)
        if found:
            out[pk] = found
    return out
