"""The search package's public verbs. Nothing outside this package touches an engine.

Reading: `get_backend().select(criteria)` (a `Selection`: count, order, facets), `match`,
`snippets`, `related`, `is_ready`. Keeping the index in step with the database (`sync.py`):
`enqueue` inside the writing transaction, `drain` after commit, `rebuild` and `check` for
the management commands.

The engine is chosen by the `ARCHIVE_SEARCH_ENGINE` setting: each is a sub-package holding a
`SearchBackend` (`whoosh/`, `postgres/`); the query language (`query.py`), the criteria (`criteria.py`)
and the document (`schema.py`) are the same for all.
"""

import importlib
import threading

from django.conf import settings

from . import names
from .base import IndexUnavailable, QueryError, SearchBackend, Selection, TextMatches
from .sync import Drift, check, drain, enqueue, rebuild

__all__ = [
    "Drift",
    "IndexUnavailable",
    "QueryError",
    "SearchBackend",
    "Selection",
    "TextMatches",
    "check",
    "drain",
    "enqueue",
    "get_backend",
    "is_ready",
    "match",
    "names",
    "rebuild",
    "related",
    "reset_backend",
    "snippets",
]

#: ARCHIVE_SEARCH_ENGINE -> the module holding its `Backend` (a new engine is one entry).
ENGINES = {"whoosh": "articles.search.whoosh", "postgres": "articles.search.postgres.backend"}
_backend: SearchBackend | None = None
_backend_lock = threading.Lock()


def _configured() -> tuple:
    return settings.ARCHIVE_SEARCH_ENGINE, settings.ARCHIVE_INDEX_DIR


def get_backend() -> SearchBackend:
    """The process's search engine, as the settings choose it."""
    global _backend
    with _backend_lock:
        if _backend is None or _backend.configured != _configured():
            engine = importlib.import_module(ENGINES[settings.ARCHIVE_SEARCH_ENGINE])
            _backend = engine.Backend.from_settings(settings)
            _backend.configured = _configured()
        return _backend


def reset_backend() -> None:
    """Forget the process's backend (tests use a fresh index directory each)."""
    global _backend
    with _backend_lock:
        if _backend is not None:
            _backend.close()
        _backend = None


# ------------------------------------------------------------------------ reading


def is_ready() -> bool:
    return get_backend().exists()


def match(q: str) -> TextMatches:
    """Every indexed (published) article matching `q`, best first, with curated names
    expanded to all their spellings. Raises QueryError."""
    return get_backend().match(q, names=names.table())


def snippets(q: str, texts: dict[int, str], *, length: int = 300) -> dict[int, str]:
    """pk -> safe HTML snippet with matches marked; texts without a match are left out."""
    if not q:
        return {}
    try:
        return get_backend().highlight(q, texts, length=length, names=names.table())
    except (QueryError, IndexUnavailable):
        return {}


def related(article, *, limit: int = 5) -> list[int]:
    """pks of the published articles most like `article`, itself excluded."""
    try:
        return get_backend().more_like_this(article.pk, limit=limit, text=article.body)
    except IndexUnavailable:
        return []
