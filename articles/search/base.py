"""The interface every search backend implements.

The rest of the archive never talks to a search engine directly: it calls the verbs in
`articles.search`, which delegate to one backend object. A second engine is a new module
implementing `SearchBackend`; `tests/test_search_backend.py` is written against this
interface and runs against every backend.
"""

import datetime as dt
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field


class QueryError(ValueError):
    """The query cannot be understood; the message is fit to show a user."""


class IndexUnavailable(RuntimeError):
    """The index is missing, stale or unreadable; `rebuild_index` repairs it."""


@dataclass
class TextMatches:
    """Every published article matching a text query, best first."""

    pks: list[int]
    scores: dict[int, float] = field(default_factory=dict)
    corrected: str | None = None
    #: the query as the engine understood it, for debugging and the page's "searched for"
    parsed: str = ""
    #: parts of the query that were capped or read differently, said to the reader
    notices: list[str] = field(default_factory=list)


class Selection(ABC):
    """The published articles one search selects (`Criteria`: text and filters).

    It counts them, orders them (by relevance with a text query, else by date, undated
    last), and counts facets: `counts(facet)` follows every filter but the facet's own, so a
    chosen city still shows the others beside it; `counts(facet, own_filter=True)` counts
    within the selection itself (what is reported together with an entity). Facets are the
    kinds of entity (keyed by entity id), "year" (keyed by year) and "language" (by code).
    """

    criteria: object
    #: a spelling suggestion for the text query, or None
    corrected: str | None = None
    #: parts of the query that were capped or read differently, said to the reader
    notices: list[str] = []

    @abstractmethod
    def count(self) -> int:
        """How many articles are selected."""

    @abstractmethod
    def pks(self, offset: int, limit: int) -> list[int]:
        """The selected articles' pks from `offset`, at most `limit`, in the search's order.
        Only this page is ranked: an engine need not score every match."""

    @abstractmethod
    def iter_pks(self, chunk: int = 500) -> Iterator[int]:
        """Every selected pk in order (feeds and exports), read `chunk` at a time."""

    @abstractmethod
    def counts(self, facet: str, *, own_filter: bool = False) -> Counter:
        """Facet value -> number of articles (see the class docstring)."""

    @abstractmethod
    def dates(self, unit: str) -> Counter:
        """First day of each year, month or day ("year", "month", "day") -> number of
        selected dated articles."""

    @abstractmethod
    def date_span(self) -> tuple[dt.date | None, dt.date | None]:
        """The first and last publication dates among the selected articles."""

    def prefetch(self, facets: Iterable[str] = (), *, dates: bool = False) -> None:
        """A hint that `count()`, `counts(facet)` for each of `facets` and, with `dates`,
        `date_span()` and `dates()` are about to be asked: an engine that answers them best
        together (one database round trip) does so now and keeps the answers. The default
        does nothing: engines that count in memory gain nothing from it."""
        return

    def co_counts(self, facet: str, values: Iterable[int], other: str) -> dict[int, Counter] | None:
        """For each of `values` of the entity kind `facet`, the counts of the entity kind
        `other` among the selected articles naming it (a list of cities with each one's
        countries), when the engine answers them best together; None when it does not, and the
        caller asks `counts(other, own_filter=True)` of a selection per value."""
        return None


class SearchBackend(ABC):
    #: the settings it was made from (`get_backend` makes a new one when they change)
    configured: tuple | None = None

    @classmethod
    @abstractmethod
    def from_settings(cls, settings) -> "SearchBackend":
        """The backend the Django settings describe."""

    @abstractmethod
    def exists(self) -> bool:
        """True when an index of the current schema version is present."""

    def readable(self) -> bool:
        """True when the index is present and this code can read it."""
        return self.exists()

    @abstractmethod
    def select(self, criteria, *, names=None) -> Selection:
        """The `Selection` for `criteria` (a `criteria.Criteria`). The text query is read as
        `match` reads it. Raises QueryError, or IndexUnavailable when the engine cannot
        answer (the caller may then select without text from the database)."""

    def match(self, q: str, *, names=None) -> TextMatches:
        """Every published article matching the text query `q`, best first (no filters).

        `q` with explicit syntax (operators, quoted phrases, field:value, word*, word~) is
        parsed as such; anything else is read as plain words (see `query.py`). Curated
        names in `q` found in `names` (a `names.NameTable`) match every spelling of the
        name. `corrected` suggests a query for words that match nothing. Raises QueryError
        when the query has nothing to search for.
        """
        from .criteria import Criteria

        selection = self.select(Criteria(q=q, sort="relevance"), names=names)
        return TextMatches(
            pks=list(selection.iter_pks()), corrected=selection.corrected, notices=list(selection.notices)
        )

    @abstractmethod
    def highlight(self, q: str, texts: dict[int, str], *, length: int = 300, names=None) -> dict[int, str]:
        """Safe HTML snippets of `texts` (pk -> plain text): escaped text with the
        passages matching `q` marked by `<mark>`. A text with no match is absent from
        the answer."""

    @abstractmethod
    def more_like_this(self, pk: int, *, text: str, limit: int = 5) -> list[int]:
        """The pks of documents most similar to document `pk` (whose text is `text`), best
        first, itself excluded."""

    @abstractmethod
    def write(self, *, upsert: Iterable[dict], delete: Iterable[int] = (), bulk: bool = False) -> None:
        """Add or replace the documents `upsert` and remove those with pks in `delete`, in
        one commit (`bulk`: many documents, worth writing in parallel). Concurrent writers
        (threads or processes) wait their turn."""

    @abstractmethod
    def rebuild(self, documents: Iterable[dict], *, progress: Callable[[int], None] | None = None) -> int:
        """Replace the whole index by `documents` atomically; return how many were written."""

    @abstractmethod
    def stamps(self) -> dict[int, str]:
        """pk -> stamp of every document in the index, for drift checks."""

    @abstractmethod
    def writer_lock(self):
        """A context manager held by whoever writes: serialises writers across processes."""
