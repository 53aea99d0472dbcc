"""The interface every search backend implements.

The rest of the archive never talks to a search engine directly: it calls the verbs in
`articles.search`, which delegate to one backend object. A second engine is a new module
implementing `SearchBackend`; `tests/test_search_backend.py` is written against this
interface and runs against every backend.
"""

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
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


class SearchBackend(ABC):
    @abstractmethod
    def exists(self) -> bool:
        """True when an index of the current schema version is present."""

    def readable(self) -> bool:
        """True when the index is present and this code can read it."""
        return self.exists()

    @abstractmethod
    def match(self, q: str, *, names=None) -> TextMatches:
        """All documents matching the query `q`, ranked by relevance.

        `q` with explicit syntax (operators, quoted phrases, field:value, word*, word~) is
        parsed as such; anything else is read as plain words: up to three must all match,
        longer queries need a minimum number of them (`minimum_should_match`). Curated
        names in `q` found in `names` (a `names.NameTable`) match every spelling of the
        name. `corrected` suggests a query for words that match nothing. Raises QueryError
        when the query has nothing to search for or cannot be understood at all.
        """

    @abstractmethod
    def highlight(self, q: str, texts: dict[int, str], *, length: int = 300,
                  names=None) -> dict[int, str]:
        """Safe HTML snippets of `texts` (pk -> plain text): escaped text with the
        passages matching `q` marked by `<mark>`. A text with no match is absent from
        the answer."""

    @abstractmethod
    def more_like_this(self, pk: int, *, text: str, limit: int = 5) -> list[int]:
        """The pks of documents most similar to document `pk` (whose text is `text`), best
        first, itself excluded."""

    @abstractmethod
    def write(self, *, upsert: Iterable[dict], delete: Iterable[int] = ()) -> None:
        """Add or replace the documents `upsert` and remove those with pks in `delete`, in
        one commit. Concurrent writers (threads or processes) wait their turn."""

    @abstractmethod
    def rebuild(
        self, documents: Iterable[dict], *, progress: Callable[[int], None] | None = None
    ) -> int:
        """Replace the whole index by `documents` atomically; return how many were written."""

    @abstractmethod
    def stamps(self) -> dict[int, str]:
        """pk -> stamp of every document in the index, for drift checks."""

    @abstractmethod
    def writer_lock(self):
        """A context manager held by whoever writes: serialises writers across processes."""
