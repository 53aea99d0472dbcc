"""Bulk import of report records: read, validate, plan each batch (`plan.py`), write it.

Records stream through in batches. Each batch is one database transaction that also queues
its articles for the index; the index is brought up to date when the batch commits. A batch
that was committed is never redone; a process killed part-way leaves a consistent database
whose queued index work the next run (or `check_index --repair`) completes, and re-running
the import skips what is already there. Bad records are reported with file and line and
skipped. Nothing is cached from one transaction to the next except near-duplicate hashes of
committed batches, so imports may run side by side with each other and with curators: the
batches of concurrent imports take turns (`_take_turns`), a name or slug that a curator took
meanwhile makes the batch plan again, and the result is the one of importing one file after
the other.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from articles import dbstats, search
from articles.history import record_articles
from articles.kinds import KINDS, LINKED
from articles.models import Article, Origin
from articles.text import fingerprint, simhash

from .duplicates import NearDuplicates
from .entities import ImportConflict, free_slugs, resolve
from .plan import Change, Plan, Planner
from .readers import detect_format, iter_paths, read_records
from .records import Record, RecordError, validate

BATCH_SIZE = 1000
#: A batch that keeps colliding with a concurrent writer is tried this often, then record by record.
ATTEMPTS = 3
COUNTS = ("created", "updated", "unchanged", "merged", "failed")


@dataclass
class Report:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    merged: int = 0
    failed: int = 0
    near_duplicates: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def seen(self) -> int:
        return sum(getattr(self, name) for name in COUNTS)

    def summary(self) -> str:
        return ", ".join(f"{name} {getattr(self, name)}" for name in COUNTS)

    def add(self, plan: Plan):
        for name, n in plan.counts.items():
            setattr(self, name, getattr(self, name) + n)
        self.notes += plan.notes


class Importer:
    def __init__(
        self, *, status: str | None = None, dry_run: bool = False, batch_size: int = BATCH_SIZE, progress=None
    ):
        self.status = status
        self.dry_run = dry_run
        self.batch_size = batch_size
        self.progress = progress
        self.report = Report()
        self.near = NearDuplicates()

    # ---------------------------------------------------------------- driving

    def run(self, paths: Iterable[str], fmt: str = "auto") -> Report:
        if not self.dry_run:
            # Finish index work a killed run left behind (or build a missing index) first.
            search.drain()
        batch: list[Record] = []
        ids: set[str] = set()
        batches = 0
        for path in iter_paths(paths):
            for record in self._records(path, fmt):
                # One record id once per batch: a repeated id is a re-import of the first.
                if ids & set(record.ids) or len(batch) >= self.batch_size:
                    self._write_batch(batch)
                    batch, ids, batches = [], set(), batches + 1
                    if batches == 1 and not self.dry_run:
                        dbstats.refresh()  # an empty archive's first batch: plans for the rest
                batch.append(record)
                ids.update(record.ids)
        if batch:
            self._write_batch(batch)
        if not self.dry_run:
            dbstats.refresh()
            # Every batch queued its articles; they reach the index in a few large commits.
            search.drain()
        if not self.dry_run and (self.report.created or self.report.updated):
            from articles.curation import find_candidates

            find_candidates()  # new names may form spelling families with old ones
        return self.report

    def _records(self, path: Path, fmt: str):
        if not path.exists():
            self._fail(str(path), "no such file")
            return
        try:
            for where, raw in read_records(path, detect_format(path) if fmt == "auto" else fmt):
                if isinstance(raw, RecordError):
                    self._fail(where, str(raw))
                    continue
                try:
                    yield validate(where, raw)
                except RecordError as exc:
                    self._fail(where, str(exc))
        except OSError as exc:
            self._fail(str(path), f"cannot read: {exc.strerror or exc}")

    def _fail(self, where: str, message: str):
        self.report.failed += 1
        self.report.problems.append(f"{where}: {message}")
        self._tick()

    def _tick(self):
        if self.progress:
            self.progress(self.report.seen)

    def _write_batch(self, batch: list[Record]):
        error = None
        for _attempt in range(ATTEMPTS):
            try:
                self.report.add(self._transaction(batch))
                self._tick()
                return
            except (IntegrityError, ImportConflict) as exc:
                # A concurrent writer took a key, a slug or a record id: plan again.
                error = exc
            except OperationalError as exc:
                if not _transient(exc):
                    raise
                error = exc  # a deadlock or serialization failure: PostgreSQL rolled back
        if len(batch) == 1:
            self._fail(batch[0].where, f"could not be stored: {error}")
            return
        for record in batch:  # isolate what keeps failing
            self._write_batch([record])

    def _transaction(self, batch: list[Record]) -> Plan:
        try:
            with transaction.atomic():
                _take_turns()
                plan = self._apply(batch)
                if self.dry_run:
                    transaction.set_rollback(True)
        except BaseException:
            self.near.rollback()
            raise
        if self.dry_run:
            self.near.rollback()
        else:
            self.near.commit()
        return plan

    # ---------------------------------------------------------------- one batch

    def _apply(self, batch: list[Record]) -> Plan:
        names = {
            kind.name: resolve(
                kind,
                (n for r in batch for n in r.names(kind.record_field)),
                create=not self.dry_run,
                reason=batch[0].reason,
            )
            for kind in KINDS.values()
        }
        plan = Planner(batch, names, status=self.status).run()
        if self.dry_run:
            return plan
        created = [c for c in plan.changes if c.new]
        updated = [c for c in plan.changes if not c.new and (c.fields_changed or c.links_changed)]
        self._create(created)
        self._update([c for c in updated if c.fields_changed])
        self._link(created + updated)
        origins = [o for c in plan.changes for o in c.origins]
        # Split before inserting: bulk_create gives the new ones their pks.
        new_origins = [o for o in origins if o.pk is None]
        changed_origins = [o for o in origins if o.pk is not None]  # the plan lists changed ones only
        Origin.objects.bulk_create(new_origins)
        Origin.objects.bulk_update(
            changed_origins,
            [
                "fingerprint",
                "source",
                "cities",
                "actors",
                "countries",
                "url",
                "language",
                "where",
                "imported",
            ],
            batch_size=500,
        )
        for change in created + updated:
            change.article._change_reason = change.reason  # read by the history per article
        record_articles([c.article for c in created], reason="import", update=False)
        record_articles([c.article for c in updated], reason="import", update=True)
        self.report.near_duplicates += self.near.link([c.article for c in created])
        search.enqueue([c.article.pk for c in created + updated], drain_after_commit=False)
        return plan

    def _create(self, changes: list[Change]):
        if not changes:
            return
        slugs = free_slugs(Article, {str(i): c.article.title for i, c in enumerate(changes)})
        for i, change in enumerate(changes):
            article = change.article
            article.slug = slugs[str(i)]
            article.fingerprint = _fingerprint(article)
            article.simhash = simhash(article.body)
        # In slug order, so concurrent imports take unique slugs' locks in one order.
        Article.objects.bulk_create(
            sorted((c.article for c in changes), key=lambda a: a.slug), batch_size=500
        )

    def _update(self, changes: list[Change]):
        now = timezone.now()
        for change in changes:
            article = change.article
            article.fingerprint = _fingerprint(article)
            article.simhash = simhash(article.body)
            article.updated = now
        Article.objects.bulk_update(
            [c.article for c in changes],
            [
                "title",
                "body",
                "published",
                "source",
                "original_url",
                "language",
                "fingerprint",
                "simhash",
                "updated",
            ],
            batch_size=500,
        )

    def _link(self, changes: list[Change]):
        for kind in LINKED:
            through, column = kind.through, kind.through_column
            for change in changes:
                pk = change.article.pk
                before, after = change.before.get(kind.name, set()), change.links[kind.name]
                if before - after:
                    through.objects.filter(article_id=pk, **{f"{column}__in": before - after}).delete()
            through.objects.bulk_create(
                [
                    through(article_id=c.article.pk, **{column: other})
                    for c in changes
                    for other in c.links[kind.name] - c.before.get(kind.name, set())
                ],
                batch_size=1000,
                ignore_conflicts=True,
            )


#: Any constant: the PostgreSQL advisory lock the batches of concurrent imports take turns on.
IMPORT_LOCK = 0x41524348  # "ARCH"


def _take_turns():
    """Batches of imports running at once take turns, so that one batch sees the other's
    articles (an exact duplicate in the other file merges, as it would one after the other).
    SQLite's write transactions take turns already; PostgreSQL's need a lock for it."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [IMPORT_LOCK])


def _transient(exc: OperationalError) -> bool:
    """A PostgreSQL deadlock or serialization failure, or SQLite's "database is locked"."""
    code = getattr(exc.__cause__, "sqlstate", None)
    return code in ("40P01", "40001") or "database is locked" in str(exc)


def _fingerprint(article: Article) -> str:
    return fingerprint(article.title, article.body, article.published)
