"""What one batch of records does to the archive, decided before anything is written.

Each record ends in one of four ways:
- **created**: a new article (with an origin row for its record id);
- **merged**: an exact duplicate (same title, text and date) of an article already in the
  archive or earlier in the batch: the record becomes another origin of that article, whose
  cities, actors and countries become the union of both;
- **updated** / **unchanged**: a record id seen before (or, without an id, the same URL).
  What changed in the record since its last import is applied to the article, and only
  that: a curator's later edits to the article are kept unless the record changed the same
  field. A record without an id is authoritative for every field it carries.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from articles.kinds import LINKED
from articles.models import Article, Origin
from articles.text import normalize_name

from .entities import lookup
from .records import Record


def _keys(names) -> set[str]:
    return {k for k in (normalize_name(n) for n in names) if k}


@dataclass
class Change:
    """The planned state of one article touched by the batch."""

    article: Article
    new: bool
    links: dict[str, set[int]]
    before: dict[str, set[int]] = field(default_factory=dict)
    origins: list[Origin] = field(default_factory=list)  # new or changed origin rows
    fields_changed: bool = False
    #: the history's reason for the new version: "import FILE" of the last record applied
    reason: str = "import"

    @property
    def links_changed(self) -> bool:
        return self.links != self.before


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    notes: list[str] = field(default_factory=list)


class Planner:
    """Plans one batch against the database as it is inside the batch's transaction."""

    def __init__(self, batch: list[Record], names: dict[str, dict[str, int]], *, status: str | None):
        self.batch, self.names, self.status = batch, names, status
        self.plan = Plan()
        self.by_article: dict[int, Change] = {}
        self.new_by_print: dict[str, Change] = {}
        ids = {i for r in batch for i in r.ids}
        self.origins = {
            o.record_id: o for o in Origin.objects.filter(record_id__in=ids).select_related("article")
        }
        urls = [r.url for r in batch if not r.record_id and r.url]
        self.by_url: dict[str, Article] = {}
        for a in Article.objects.filter(original_url__in=urls).order_by("pk") if urls else ():
            self.by_url.setdefault(a.original_url, a)
        self.twins: dict[str, Article] = {}
        for a in Article.objects.filter(fingerprint__in={r.fingerprint for r in batch}).order_by("pk"):
            self.twins.setdefault(a.fingerprint, a)
        touched = (
            [o.article for o in self.origins.values()]
            + list(self.by_url.values())
            + list(self.twins.values())
        )
        self.links = self._load_links({a.pk for a in touched})
        self.other_origins = defaultdict(list)
        for o in Origin.objects.filter(article_id__in=[a.pk for a in touched]):
            self.other_origins[o.article_id].append(o)

    # ------------------------------------------------------------------ lookups

    @staticmethod
    def _load_links(pks: set[int]) -> dict[int, dict[str, set[int]]]:
        links = {pk: {kind.name: set() for kind in LINKED} for pk in pks}
        for kind in LINKED:
            rows = kind.through.objects.filter(article_id__in=pks).values_list(
                "article_id", kind.through_column
            )
            for article_id, other in rows.iterator(5000):
                links[article_id][kind.name].add(other)
        return links

    def _ids(self, kind_name: str, names) -> set[int]:
        table = self.names[kind_name]
        return {table[k] for k in _keys(names) if k in table}

    def _source_id(self, record: Record) -> int | None:
        return next(iter(self._ids("source", record.names("source"))), None)

    def _change(self, article: Article) -> Change:
        if article.pk not in self.by_article:
            before = self.links[article.pk]
            change = Change(
                article=article,
                new=False,
                before=before,
                links={name: set(ids) for name, ids in before.items()},
            )
            self.by_article[article.pk] = change
            self.plan.changes.append(change)
        return self.by_article[article.pk]

    def _origin(
        self, record: Record, record_id: str, article: Article, origin: Origin | None = None
    ) -> Origin:
        """The origin row for one of the record's ids, as the record gives it now."""
        origin = origin or Origin(record_id=record_id, article=article)
        origin.fingerprint = record.fingerprint
        origin.source = record.source
        origin.cities, origin.actors = record.cities, record.actors
        origin.countries = record.countries
        origin.url, origin.language, origin.where = record.url, record.language, record.where
        return origin

    # ------------------------------------------------------------------ planning

    def run(self) -> Plan:
        for record in self.batch:
            known = next((self.origins[i] for i in record.ids if i in self.origins), None)
            if known is not None:
                self._reimport(record, known)
            elif not record.record_id and record.url in self.by_url:
                self._replace(record, self.by_url[record.url])
            else:
                twin = self.new_by_print.get(record.fingerprint)
                if twin is None and record.fingerprint in self.twins:
                    twin = self._change(self.twins[record.fingerprint])
                if twin is not None:
                    self._merge(record, twin)
                else:
                    self._create(record)
        return self.plan

    def _create(self, record: Record):
        article = Article(
            record_id=record.record_id,
            title=record.title,
            body=record.body,
            published=record.published,
            source_id=self._source_id(record),
            original_url=record.url,
            language=record.language,
            status=self.status or record.status or Article.Status.PUBLISHED,
        )
        links = {kind.name: self._ids(kind.name, record.names(kind.record_field)) for kind in LINKED}
        change = Change(
            article=article,
            new=True,
            links=links,
            reason=record.reason,
            origins=[self._origin(record, i, article) for i in record.ids],
        )
        self.new_by_print[record.fingerprint] = change
        self.plan.changes.append(change)
        self.plan.counts["created"] += 1

    def _merge(self, record: Record, change: Change):
        """An exact duplicate: its names join the article's, its ids find the article."""
        article = change.article
        change.reason = record.reason
        before = {name: set(ids) for name, ids in change.links.items()}
        for kind in LINKED:
            change.links[kind.name] |= self._ids(kind.name, record.names(kind.record_field))
        label = article.record_id or article.title[:60]
        for attr, value, given in (
            ("source_id", self._source_id(record), record.source),
            ("original_url", record.url, record.url),
            ("language", record.language, record.language),
        ):
            current = getattr(article, attr)
            if value and not current:
                setattr(article, attr, value)
                change.fields_changed = True
            elif value and current != value:
                self.plan.notes.append(
                    f"{record.where}: merged into {label} (same title, text and date); its "
                    f"{attr.replace('_id', '').replace('original_', '')} {given!r} differs from "
                    f"the article's and is kept with the record's origin"
                )
        new_origins = [self._origin(record, i, article) for i in record.ids if i not in self.origins]
        change.origins += new_origins
        if new_origins or change.links != before:
            self.plan.counts["merged"] += 1
        else:
            self.plan.counts["unchanged"] += 1

    def _reimport(self, record: Record, origin: Origin):
        """A record imported before: apply what changed in it since then."""
        change = self._change(origin.article)
        article = change.article  # one instance per article, whichever lookup found it
        change.reason = record.reason
        changed = False
        if origin.fingerprint != record.fingerprint:
            for attr in ("title", "body", "published"):
                setattr(article, attr, getattr(record, attr))
            changed = True
        if normalize_name(origin.source) != normalize_name(record.source):
            article.source_id = self._source_id(record)
            changed = True
        if origin.url != record.url:
            article.original_url, changed = record.url, True
        if origin.language != record.language:
            article.language, changed = record.language, True
        change.fields_changed = change.fields_changed or changed
        others = [o for o in self.other_origins[article.pk] if o.record_id not in record.ids]
        for kind in LINKED:
            old = _keys(getattr(origin, kind.relation))
            new = _keys(record.names(kind.record_field))
            kept = set().union(*(_keys(getattr(o, kind.relation)) for o in others)) if others else set()
            table = self.names[kind.name]
            gone = (old - new) - kept
            table.update(lookup(kind, gone - set(table)))  # names the batch itself does not give
            change.links[kind.name] |= {table[k] for k in new - old if k in table}
            change.links[kind.name] -= {table[k] for k in gone if k in table}
            changed = changed or old != new
        new_ids = [i for i in record.ids if i not in self.origins]
        for record_id in new_ids:
            change.origins.append(self._origin(record, record_id, article))
        stale = self._origin(record, origin.record_id, article, origin) if changed else None
        if stale is not None and stale not in change.origins:
            change.origins.append(stale)
        if changed or new_ids:
            self.plan.counts["updated"] += 1
        else:
            self.plan.counts["unchanged"] += 1

    def _replace(self, record: Record, article: Article):
        """A record without an id, found by its URL: it is authoritative for its fields."""
        change = self._change(article)
        article = change.article
        change.reason = record.reason
        values = {
            "title": record.title,
            "body": record.body,
            "published": record.published,
            "source_id": self._source_id(record),
            "language": record.language,
        }
        links = {kind.name: self._ids(kind.name, record.names(kind.record_field)) for kind in LINKED}
        if all(getattr(article, k) == v for k, v in values.items()) and change.links == links:
            self.plan.counts["unchanged"] += 1
            return
        for k, v in values.items():
            setattr(article, k, v)
        change.links, change.fields_changed = links, True
        self.plan.counts["updated"] += 1
