"""Keeping the index in step with the database: the only owner of index work.

Every write path, single or bulk, reports the articles it changed to `enqueue` inside its
transaction (model signals do it for ordinary saves; bulk code calls it with the primary
keys). The queue rows commit with the change; after commit `drain` brings the index up to
date and deletes exactly the rows whose work reached the index. `rebuild` and `check` serve
the management commands.
"""

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db import transaction

from .base import IndexUnavailable
from .schema import article_document, documents, documents_queryset

logger = logging.getLogger("articles.search")
DRAIN_CHUNK = 20_000
#: From this many queued articles, a drain writes with several processes.
BULK = 2_000


def _backend():
    from . import get_backend

    return get_backend()


def enqueue(article_ids: Iterable[int], *, drain_after_commit: bool = True) -> None:
    """Record, in the current transaction, that these articles' documents must be refreshed,
    and drain the queue once the transaction commits (nothing happens if it rolls back).

    Bulk writers (imports) pass `drain_after_commit=False` and call `drain()` once at the
    end, so that thousands of articles reach the index in a few large commits, not one per
    batch; a bulk writer that dies leaves its rows for the next drain."""
    from articles.models import IndexQueue

    ids = sorted({int(pk) for pk in article_ids if pk is not None})
    if not ids:
        return
    IndexQueue.objects.bulk_create([IndexQueue(article_id=pk) for pk in ids], batch_size=500)
    if drain_after_commit:
        transaction.on_commit(_drain_quietly)


def _drain_quietly():
    # The change is committed whatever happens here; a failure leaves the queue rows for
    # the next writer or `check_index --repair`, and must not turn a save into an error.
    try:
        drain()
    except Exception:
        logger.exception("index update failed; the queue keeps the pending articles")


def drain(*, chunk: int = DRAIN_CHUNK) -> int:
    """Bring the index up to date with every queued article; return how many were handled.

    An index that does not exist yet is built from the whole database first. Queued work is
    written `chunk` articles to a commit (in parallel when there are many); a queue row is
    deleted only once its work has reached the index: if writing fails, the rows stay.
    """
    from articles.models import Article, IndexQueue

    backend = _backend()
    handled = 0
    if not backend.readable():
        with backend.writer_lock():
            if not backend.readable():  # another writer may have built it meanwhile
                logger.info("the search index is missing or unreadable: building it from the database")
                handled = rebuild()
    if not IndexQueue.objects.exists():
        return handled
    with backend.writer_lock():
        while True:
            rows = list(IndexQueue.objects.order_by("pk").values_list("pk", "article_id")[:chunk])
            if not rows:
                break
            pks = sorted({article_id for _, article_id in rows})
            published = set(Article.objects.published().filter(pk__in=pks).values_list("pk", flat=True))
            bulk = len(pks) >= BULK
            if bulk:
                upsert = documents(pks)
            else:
                upsert = (
                    article_document(a)
                    for a in documents_queryset().filter(pk__in=pks).order_by("pk").iterator(1000)
                )
            backend.write(upsert=upsert, delete=set(pks) - published, bulk=bulk)
            row_pks = [row_pk for row_pk, _ in rows]
            for start in range(0, len(row_pks), 900):  # within SQLite's variable limit
                IndexQueue.objects.filter(pk__in=row_pks[start : start + 900]).delete()
            handled += len(pks)
    return handled


def rebuild(*, progress: Callable[[int], None] | None = None, batch: int = 1000) -> int:
    """Rebuild the whole index from the database (published articles only)."""
    from articles.models import IndexQueue

    backend = _backend()
    # Rows queued before this point are covered by the rebuild's read of the database.
    last = IndexQueue.objects.order_by("-pk").values_list("pk", flat=True).first()
    count = backend.rebuild(documents(chunk=batch), progress=progress)
    if last is not None:
        IndexQueue.objects.filter(pk__lte=last).delete()
    return count


@dataclass
class Drift:
    missing: list[int] = field(default_factory=list)  # published, not in the index
    stale: list[int] = field(default_factory=list)  # in the index with outdated content
    extra: list[int] = field(default_factory=list)  # in the index, not published
    queued: int = 0
    index_missing: bool = False

    @property
    def clean(self) -> bool:
        return not (self.missing or self.stale or self.extra or self.queued or self.index_missing)


def check(*, repair: bool = False) -> Drift:
    """Compare the index with the database; with `repair`, fix every difference found."""
    from articles.models import IndexQueue

    backend = _backend()
    drift = Drift(queued=IndexQueue.objects.count())
    try:
        indexed = backend.stamps() if backend.exists() else None
    except IndexUnavailable:
        indexed = None  # written by another version: as good as missing
    if indexed is None:
        drift.index_missing = True
        if repair:
            rebuild()
        return drift
    expected = {doc["pk"]: doc["stamp"] for doc in documents()}
    drift.missing = sorted(set(expected) - set(indexed))
    drift.extra = sorted(set(indexed) - set(expected))
    drift.stale = sorted(pk for pk in set(expected) & set(indexed) if expected[pk] != indexed[pk])
    if repair and not drift.clean:
        with transaction.atomic():
            enqueue([*drift.missing, *drift.extra, *drift.stale])
        drain()
    return drift
