"""The table of curated spellings that query expansion uses: every name and alias of every
source, city and actor that has aliases, keyed by its word sequence.

Built from the database once per process and rebuilt when `NamesVersion` (bumped by every
change to a name or alias) moves on, so all web workers see a new alias on their next
search. Backend-neutral: it deals in plain words, not engine queries.
"""

import re
import threading
from dataclasses import dataclass

from articles.text import normalize_name

_WORD = re.compile(r"\w+")
_lock = threading.Lock()
_cache: dict = {"version": None, "table": None}


def words(text: str) -> tuple[str, ...]:
    """The comparable words of a name or query: case- and accent-folded."""
    return tuple(_WORD.findall(normalize_name(text)))


@dataclass(frozen=True)
class NameTable:
    #: word sequence -> every spelling of the entities known by it (itself included)
    spellings: dict[tuple[str, ...], frozenset[str]]
    longest: int

    def find(self, query_words: list[str]) -> list[tuple[int, int, frozenset[str]]]:
        """Non-overlapping (start, end, spellings) spans of `query_words` that are curated
        names, longest match first from left to right."""
        spans, i = [], 0
        while i < len(query_words):
            for size in range(min(self.longest, len(query_words) - i), 0, -1):
                key = tuple(query_words[i : i + size])
                if key in self.spellings:
                    spans.append((i, i + size, self.spellings[key]))
                    i += size
                    break
            else:
                i += 1
        return spans


def _build() -> NameTable:
    from articles.models import Actor, City, Source

    spellings: dict[tuple[str, ...], set[str]] = {}
    for model in (Source, City, Actor):
        entities = model.objects.filter(aliases__isnull=False).distinct().prefetch_related("aliases")
        for entity in entities:
            names = [entity.name, *(a.name for a in entity.aliases.all())]
            for name in names:
                key = words(name)
                if key:
                    spellings.setdefault(key, set()).update(names)
    frozen = {key: frozenset(value) for key, value in spellings.items()}
    return NameTable(frozen, max((len(k) for k in frozen), default=0))


def table() -> NameTable:
    from articles.models import NamesVersion

    version = NamesVersion.current()
    with _lock:
        if _cache["version"] != version or _cache["table"] is None:
            _cache["table"] = _build()
            _cache["version"] = version
        return _cache["table"]
