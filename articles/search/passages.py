"""Snippets, the same for every engine: the passage of a text that best matches a query,
escaped, with only `<mark>` added.

An engine says which words of the text match (`is_match`, given each lower-cased word, so
that "protesters" is marked for a search for "protest" by the engine's own analysis); the
window of the text holding the most matches is shown.
"""

import re
from collections.abc import Callable

from django.utils.html import escape

#: Words as the engines cut them out of a text.
TOKEN = re.compile(r"\w+(?:\.?\w+)*")


def words_of(text: str) -> set[str]:
    """The distinct lower-cased words of `text`, as `snippet` asks about them."""
    return {m.group(0).lower() for m in TOKEN.finditer(text)}


def snippet(text: str, is_match: Callable[[str], bool], *, length: int = 300) -> str | None:
    """The best window of about `length` characters, matches marked; None without a match."""
    tokens = [(m.start(), m.end()) for m in TOKEN.finditer(text)]
    hits = [i for i, (start, end) in enumerate(tokens) if is_match(text[start:end].lower())]
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


def snippets(texts: dict[int, str], is_match: Callable[[str], bool], *, length: int) -> dict[int, str]:
    """pk -> snippet for each text holding a matching word."""
    out = {}
    for pk, text in texts.items():
        found = snippet(text, is_match, length=length)
        if found:
            out[pk] = found
    return out
