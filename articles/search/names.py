"""The table of curated spellings: every name and alias of every source, city, actor and
country, keyed by its word sequence. One cache serves query expansion (a query naming
"Toqaev" also matches "Tokayev") and link suggestions (a text naming "Alma-Ata" mentions the
city Almaty).

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
    """The comparable words of a name or query: case-, accent- and separator-folded."""
    return tuple(_WORD.findall(normalize_name(text)))


@dataclass(frozen=True)
class Entity:
    kind: str
    pk: int
    name: str
    spellings: frozenset[str]


def longest_matches(sequence: list[str], table: dict, longest: int) -> list[tuple[int, int, object]]:
    """Non-overlapping (start, end, value) spans of `sequence` whose words are keys of
    `table`, longest first from left to right."""
    spans, i = [], 0
    while i < len(sequence):
        for size in range(min(longest, len(sequence) - i), 0, -1):
            value = table.get(tuple(sequence[i : i + size]))
            if value:
                spans.append((i, i + size, value))
                i += size
                break
        else:
            i += 1
    return spans


@dataclass(frozen=True)
class NameTable:
    #: word sequence -> the curated entities known by it
    entities: dict[tuple[str, ...], frozenset[Entity]]
    longest: int

    def find(self, query_words: list[str]) -> list[tuple[int, int, frozenset[str]]]:
        """(start, end, spellings) spans of folded query words that spell an entity with
        other spellings: the spans query expansion widens. Names without aliases are left
        alone (a query's words stay words)."""
        spans = longest_matches(query_words, self._expandable, self.longest)
        return [(start, end, frozenset().union(*(e.spellings for e in found))) for start, end, found in spans]

    @property
    def _expandable(self) -> dict:
        found = self.__dict__.get("_expandable_cache")
        if found is None:
            found = {
                key: value for key, value in self.entities.items() if any(len(e.spellings) > 1 for e in value)
            }
            object.__setattr__(self, "_expandable_cache", found)
        return found

    def mentions(self, text_words: list[str], kinds: tuple[str, ...]) -> list[tuple[int, int, list[Entity]]]:
        """(start, end, entities of `kinds`) spans of a text's folded words naming them."""
        spans = longest_matches(text_words, self.entities, self.longest)
        out = []
        for start, end, found in spans:
            chosen = sorted((e for e in found if e.kind in kinds), key=lambda e: (e.kind, e.pk))
            if chosen:
                out.append((start, end, chosen))
        return out


def _build() -> NameTable:
    from articles.kinds import KINDS

    table: dict[tuple[str, ...], set[Entity]] = {}
    for kind in KINDS.values():
        spellings: dict[int, list[str]] = {}
        names = dict(kind.model.objects.values_list("pk", "name"))
        for pk, name in names.items():
            spellings[pk] = [name]
        for pk, alias in kind.alias_model.objects.values_list("entity_id", "name"):
            spellings.setdefault(pk, []).append(alias)
        for pk, spelled in spellings.items():
            entity = Entity(kind.name, pk, names.get(pk, spelled[0]), frozenset(spelled))
            for spelling in spelled:
                key = words(spelling)
                if key:
                    table.setdefault(key, set()).add(entity)
    frozen = {key: frozenset(value) for key, value in table.items()}
    return NameTable(frozen, max((len(k) for k in frozen), default=0))


def table() -> NameTable:
    from articles.models import NamesVersion

    version = NamesVersion.current()
    with _lock:
        if _cache["version"] != version or _cache["table"] is None:
            _cache["table"] = _build()
            _cache["version"] = version
        return _cache["table"]
