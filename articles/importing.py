"""Bulk import of report records (JSON Lines, CSV, plain text) and the cleaning of plain text.

Records stream through in batches: each batch is one database transaction that also queues
its articles for indexing, and the index is brought up to date once per batch. A batch that
was committed is never redone; a process killed part-way leaves a consistent database whose
queued index work the next run (or `check_index --repair`) completes, and re-running the
import skips what is already there. Bad records are reported with file and line and skipped.
"""

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from . import search
from .models import Actor, Article, City, NamesVersion, Source
from .text import fingerprint, hamming, make_slug, normalize_name, simhash

FORMATS = ("jsonl", "csv", "text")
LIST_SEPARATOR = ";"
MAX = {"id": 200, "title": 500, "body": 1_000_000, "name": 400, "url": 2000, "country": 100}
BATCH_SIZE = 1000
HISTORY_REASON = "import_articles"
NEAR_DUPLICATE_BITS = 3
NEAR_DUPLICATE_LINKS = 5
RECORD_FIELDS = ("id", "title", "body", "published", "source", "cities", "actors", "country",
                 "url", "language", "status")


class RecordError(ValueError):
    """A record that cannot be imported; the message says why."""


@dataclass
class Record:
    """One validated record, ready to be written."""

    where: str
    record_id: str | None
    title: str
    body: str
    published: dt.date | None
    source: str
    cities: list[str]
    actors: list[str]
    country: str
    url: str
    language: str
    status: str | None


@dataclass
class Report:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    failed: int = 0
    near_duplicates: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def seen(self) -> int:
        return self.created + self.updated + self.unchanged + self.duplicates + self.failed

    def summary(self) -> str:
        return (f"created {self.created}, updated {self.updated}, unchanged {self.unchanged}, "
                f"duplicates {self.duplicates}, failed {self.failed}")


# --------------------------------------------------------------------------- reading


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv",):
        return "csv"
    return "text"


def iter_paths(paths: Iterable[str]) -> Iterator[Path]:
    """Files named, and the files inside directories named, in a stable order."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        else:
            yield path


def read_records(path: Path, fmt: str) -> Iterator[tuple[str, dict | RecordError]]:
    """(where, raw record or the error that made it unreadable) for every record of a file."""
    if fmt == "jsonl":
        yield from _read_jsonl(path)
    elif fmt == "csv":
        yield from _read_csv(path)
    else:
        yield from _read_text(path)


def _read_jsonl(path: Path):
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            where = f"{path}:{number}"
            line = raw.strip()
            if number == 1 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]
            if not line:
                continue
            try:
                record = json.loads(line.decode("utf-8"))
            except UnicodeDecodeError as exc:
                yield where, RecordError(f"not UTF-8 ({exc.reason} at byte {exc.start})")
                continue
            except json.JSONDecodeError as exc:
                yield where, RecordError(f"invalid JSON: {exc.msg} (column {exc.colno})")
                continue
            if not isinstance(record, dict):
                yield where, RecordError(f"a record is a JSON object, not {type(record).__name__}")
                continue
            yield where, record


def _read_csv(path: Path):
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            return
        except (csv.Error, UnicodeDecodeError) as exc:
            yield f"{path}:1", RecordError(f"unreadable CSV header: {exc}")
            return
        header = [h.strip() for h in header]
        if "title" not in header or "body" not in header:
            yield f"{path}:1", RecordError("the header must name at least the title and body columns")
            return
        start = reader.line_num + 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except (csv.Error, UnicodeDecodeError) as exc:
                yield f"{path}:{start}", RecordError(f"unreadable CSV: {exc}")
                return
            where = f"{path}:{start}"
            start = reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                yield where, RecordError(f"expected {len(header)} columns, found {len(row)}")
                continue
            record = dict(zip(header, row, strict=True))
            for key in ("cities", "actors"):
                if key in record:
                    record[key] = [v.strip() for v in record[key].split(LIST_SEPARATOR) if v.strip()]
            for key in ("published", "url", "id", "source", "status"):
                if record.get(key) == "":
                    record[key] = None
            yield where, record


def _read_text(path: Path):
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        yield f"{path}:1", RecordError(f"not UTF-8 ({exc.reason} at byte {exc.start})")
        return
    title, body = clean_text(text)
    yield f"{path}:1", {"id": path.stem, "title": title, "body": body, "status": "draft"}


# Page chrome seen in saved news pages: whole lines that are never part of a report.
CHROME_LINES = re.compile(
    r"^(accessibility links|breaking news|skip to (main )?content|share|print|menu|search|"
    r"advertisement|related( stories| articles)?|read more|comments?|subscribe|"
    r"\d+x\d+ image|image|photo|video|xs|sm|md|lg|xl|to find out more, click here\.?)$",
    re.IGNORECASE,
)
# Outlet boilerplate: paragraphs about the outlet rather than the event.
BOILERPLATE = re.compile(
    r"(offers informed and accurate reporting|has been declared an? \"?undesirable organi[sz]ation|"
    r"if you are in russia or the russia-controlled|all rights reserved|cookies? (policy|settings)|"
    r"sign up for our newsletter|follow us on)",
    re.IGNORECASE,
)


def clean_text(text: str) -> tuple[str, str]:
    """Title and body of a saved news page, with page chrome removed.

    The cleaning step, in order:
    1. lines are stripped of whitespace and list bullets (•, *, -);
    2. lines that are page chrome are dropped: navigation words ("Accessibility links",
       "Breaking News", "Share", "Print"...), image and size labels ("16x9 Image", "XS",
       "SM", "MD", "LG"), "To find out more, click here.";
    3. paragraphs of outlet boilerplate are dropped ("... offers informed and accurate
       reporting ...", "declared an undesirable organization", newsletter and cookie notes),
       together with the outlet-name line just before them;
    4. a line printed twice in a row (a photo caption and its alternative text) is dropped
       altogether: captions describe the page's picture, not the event;
    5. the first remaining line is the title; a trailing line of at most five words without
       final punctuation (an outlet signature such as "Times of Central Asia") is dropped;
    6. paragraphs are separated by one blank line.
    """
    lines = [re.sub(r"^[•*\-–]\s+", "", line.strip()) for line in text.splitlines()]
    kept: list[str] = []
    for line in lines:
        if CHROME_LINES.match(line):
            continue
        if BOILERPLATE.search(line):
            # Drop the outlet's name printed above its blurb too.
            while kept and kept[-1] and len(kept[-1].split()) <= 5:
                kept.pop()
            continue
        if line and kept and line == _last_nonblank(kept):
            kept.pop()
            while kept and not kept[-1]:
                kept.pop()
            continue
        kept.append(line)
    paragraphs = [p for p in _paragraphs(kept)]
    if not paragraphs:
        return "", ""
    title = paragraphs.pop(0)
    if paragraphs and len(paragraphs[-1].split()) <= 5 and not re.search(r"[.!?\"”)]$", paragraphs[-1]):
        paragraphs.pop()
    return title, "\n\n".join(paragraphs)


def _last_nonblank(lines: list[str]) -> str:
    for line in reversed(lines):
        if line:
            return line
    return ""


def _paragraphs(lines: list[str]) -> Iterator[str]:
    for line in lines:
        if line:
            yield line


# --------------------------------------------------------------------------- validation

_URL = URLValidator(schemes=["http", "https"])
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")


def _text(record: dict, key: str, *, required=False, limit: int | None = None) -> str:
    value = record.get(key)
    if value is None:
        if required:
            raise RecordError(f"{key} is missing")
        return ""
    if not isinstance(value, str):
        raise RecordError(f"{key} must be text, not {type(value).__name__}")
    value = value.replace("\x00", "").strip()
    if required and not value:
        raise RecordError(f"{key} is empty")
    if limit and len(value) > limit:
        raise RecordError(f"{key} is too long ({len(value)} characters, at most {limit})")
    return value


def _names(record: dict, key: str) -> list[str]:
    value = record.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        value = [v for v in value.split(LIST_SEPARATOR)]
    if not isinstance(value, list):
        raise RecordError(f"{key} must be a list of names, not {type(value).__name__}")
    names, seen = [], set()
    for item in value:
        if not isinstance(item, str):
            raise RecordError(f"{key} must hold names (text), found {type(item).__name__}")
        name = " ".join(item.replace("\x00", "").split())
        if not name:
            continue
        if len(name) > MAX["name"]:
            raise RecordError(f"a name in {key} is too long ({len(name)} characters, at most {MAX['name']})")
        if normalize_name(name) not in seen:
            seen.add(normalize_name(name))
            names.append(name)
    return names


def validate(where: str, record: dict) -> Record:
    record_id = record.get("id")
    if record_id is not None and not isinstance(record_id, str | int) or isinstance(record_id, bool):
        raise RecordError(f"id must be text or a number, not {type(record_id).__name__}")
    record_id = str(record_id).strip() if record_id is not None else ""
    if len(record_id) > MAX["id"]:
        raise RecordError(f"id is too long ({len(record_id)} characters, at most {MAX['id']})")
    published_raw = record.get("published")
    published = None
    if published_raw not in (None, ""):
        if not isinstance(published_raw, str):
            raise RecordError(f"published must be a YYYY-MM-DD date, not {type(published_raw).__name__}")
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", published_raw.strip()):
            raise RecordError(f"published {published_raw[:40]!r} is not a YYYY-MM-DD date")
        try:
            published = dt.date.fromisoformat(published_raw.strip())
        except ValueError:
            raise RecordError(f"published {published_raw!r} is not a real date") from None
    url = _text(record, "url", limit=MAX["url"])
    if url:
        try:
            _URL(url)
        except ValidationError:
            raise RecordError(f"url {url[:80]!r} is not an http(s) URL") from None
    language = _text(record, "language", limit=8).lower() or "en"
    if not _LANGUAGE.match(language):
        raise RecordError(f"language {language!r} is not an ISO 639-1 code")
    status = _text(record, "status", limit=10).lower() or None
    if status not in (None, "draft", "published"):
        raise RecordError(f"status {status!r} is neither draft nor published")
    return Record(
        where=where,
        record_id=record_id or None,
        title=" ".join(_text(record, "title", required=True, limit=MAX["title"]).split()),
        body=_text(record, "body", required=True, limit=MAX["body"]),
        published=published,
        source=" ".join(_text(record, "source", limit=MAX["name"]).split()),
        cities=_names(record, "cities"),
        actors=_names(record, "actors"),
        country=_text(record, "country", limit=MAX["country"]),
        url=url,
        language=language,
        status=status,
    )


# --------------------------------------------------------------------------- writing


class _Entities:
    """name key -> entity pk for one kind, loaded once, creating unknown names in bulk."""

    def __init__(self, model):
        self.model = model
        self.by_key: dict[str, int] = dict(model.objects.values_list("key", "pk"))
        self.by_key.update(model.alias_model.objects.values_list("key", "entity_id"))
        self.slugs: set[str] = set(model.objects.values_list("slug", flat=True))

    def ensure(self, names: Iterable[tuple[str, str]], *, dry_run: bool) -> None:
        """Create the entities named (name, country) that no name or alias matches yet."""
        new = {}
        for name, country in names:
            key = normalize_name(name)
            if key and key not in self.by_key and key not in new:
                new[key] = (name, country)
        if not new:
            return
        if dry_run:
            self.by_key.update({key: -1 for key in new})
            return
        objs = []
        for key, (name, country) in new.items():
            slug, base, n = make_slug(name), make_slug(name), 1
            while slug in self.slugs:
                n += 1
                slug = f"{base}-{n}"
            self.slugs.add(slug)
            obj = self.model(name=name, key=key, slug=slug)
            if self.model is City:
                obj.country = country
            objs.append(obj)
        self.model.objects.bulk_create(objs)
        NamesVersion.bump()
        created = list(self.model.objects.filter(key__in=list(new)))
        # Bulk writes skip model signals: record the history explicitly.
        self.model.history.bulk_history_create(created, default_change_reason=HISTORY_REASON)
        self.by_key.update((e.key, e.pk) for e in created)

    def pk(self, name: str) -> int | None:
        return self.by_key.get(normalize_name(name))


class Importer:
    def __init__(self, *, status: str | None = None, dry_run: bool = False,
                 batch_size: int = BATCH_SIZE, progress=None):
        self.status = status
        self.dry_run = dry_run
        self.batch_size = batch_size
        self.progress = progress
        self.report = Report()
        self.sources = _Entities(Source)
        self.cities = _Entities(City)
        self.actors = _Entities(Actor)
        self.slugs: set[str] = set(Article.objects.values_list("slug", flat=True))
        # Near-duplicate candidates: SimHash bands (pigeonhole: 3 differing bits leave at
        # least one of four 16-bit bands equal).
        self.bands: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for pk, value in Article.objects.exclude(simhash=None).values_list("pk", "simhash"):
            self._add_band(pk, value)
        self.seen_fingerprints: dict[str, str] = {}

    def _add_band(self, pk: int, value: int):
        for band in range(4):
            self.bands.setdefault((band, (value >> (16 * band)) & 0xFFFF), []).append((pk, value))

    def _near(self, value: int | None, exclude: int | None = None) -> list[int]:
        if value is None:
            return []
        found = {}
        for band in range(4):
            for pk, other in self.bands.get((band, (value >> (16 * band)) & 0xFFFF), ()):
                if pk != exclude and pk not in found and hamming(value, other) <= NEAR_DUPLICATE_BITS:
                    found[pk] = hamming(value, other)
        return sorted(found, key=lambda pk: (found[pk], pk))[:NEAR_DUPLICATE_LINKS]

    # ---------------------------------------------------------------- driving

    def run(self, paths: Iterable[str], fmt: str = "auto") -> Report:
        # Finish index work a killed run may have left behind before adding more.
        if not self.dry_run:
            search.drain()
        batch: list[Record] = []
        for path in iter_paths(paths):
            if not path.exists():
                self._fail(str(path), "no such file")
                continue
            file_format = detect_format(path) if fmt == "auto" else fmt
            try:
                for where, raw in read_records(path, file_format):
                    if isinstance(raw, RecordError):
                        self._fail(where, str(raw))
                        continue
                    try:
                        batch.append(validate(where, raw))
                    except RecordError as exc:
                        self._fail(where, str(exc))
                        continue
                    if len(batch) >= self.batch_size:
                        self._write_batch(batch)
                        batch = []
            except OSError as exc:
                self._fail(str(path), f"cannot read: {exc.strerror or exc}")
        if batch:
            self._write_batch(batch)
        return self.report

    def _fail(self, where: str, message: str):
        self.report.failed += 1
        self.report.problems.append(f"{where}: {message}")
        self._tick()

    def _tick(self):
        if self.progress:
            self.progress(self.report.seen)

    def _write_batch(self, batch: list[Record]):
        try:
            with search.deferred(), transaction.atomic():
                self._apply(batch)
                if self.dry_run:
                    transaction.set_rollback(True)
        except IntegrityError:
            # A concurrent writer took a slug or an id: redo the batch record by record.
            for record in batch:
                try:
                    with search.deferred(), transaction.atomic():
                        self._apply([record])
                        if self.dry_run:
                            transaction.set_rollback(True)
                except IntegrityError as exc:
                    self._fail(record.where, f"could not be stored: {exc}")
        if not self.dry_run:
            search.drain(batch=max(self.batch_size, search.DRAIN_BATCH))
        self._tick()

    # ---------------------------------------------------------------- one batch

    def _apply(self, batch: list[Record]):
        self.sources.ensure(((r.source, "") for r in batch if r.source), dry_run=self.dry_run)
        self.cities.ensure(((c, r.country) for r in batch for c in r.cities), dry_run=self.dry_run)
        self.actors.ensure(((a, "") for r in batch for a in r.actors), dry_run=self.dry_run)

        ids = [r.record_id for r in batch if r.record_id]
        urls = [r.url for r in batch if not r.record_id and r.url]
        prints = [fingerprint(r.title, r.body, r.published) for r in batch]
        by_id = {a.record_id: a for a in Article.objects.filter(record_id__in=ids)} if ids else {}
        by_url = {}
        if urls:
            for a in Article.objects.filter(original_url__in=urls).order_by("pk"):
                by_url.setdefault(a.original_url, a)
        by_print = {}
        for pk, fp, rid in Article.objects.filter(fingerprint__in=prints).values_list(
                "pk", "fingerprint", "record_id"):
            by_print.setdefault(fp, (pk, rid))
        existing = [by_id.get(r.record_id) if r.record_id else by_url.get(r.url) for r in batch]
        links = {
            "cities": {a.pk: set() for a in existing if a},
            "actors": {a.pk: set() for a in existing if a},
        }
        known = [a.pk for a in existing if a]
        if known:
            for rel in ("cities", "actors"):
                through = getattr(Article, rel).through
                column = "city_id" if rel == "cities" else "actor_id"
                for article_id, other in through.objects.filter(article_id__in=known).values_list(
                        "article_id", column):
                    links[rel][article_id].add(other)

        to_create: list[tuple[Record, Article]] = []
        to_update: list[tuple[Record, Article]] = []
        in_batch: dict[str, str] = {}
        for record, article, fp in zip(batch, existing, prints, strict=True):
            source_id = self.sources.pk(record.source) if record.source else None
            city_ids = {self.cities.pk(c) for c in record.cities}
            actor_ids = {self.actors.pk(a) for a in record.actors}
            values = {
                "title": record.title, "body": record.body, "published": record.published,
                "source_id": source_id, "original_url": record.url, "language": record.language,
            }
            if article is None:
                twin = by_print.get(fp) or (None, self.seen_fingerprints.get(fp) or in_batch.get(fp))
                if twin[0] is not None and not record.record_id and not record.url:
                    # No id or URL to tell records apart: the same text is the same record.
                    self.report.unchanged += 1
                    continue
                if twin[0] is not None or twin[1]:
                    self.report.duplicates += 1
                    label = twin[1] or f"article {twin[0]}"
                    self.report.notes.append(
                        f"{record.where}: duplicate of {label} (same title, text and date); not stored")
                    continue
                in_batch[fp] = record.record_id or record.url or record.where
                status = self._status_for(record)
                article = Article(record_id=record.record_id, status=status, fingerprint=fp,
                                  **values)
                article._links = (city_ids, actor_ids)
                to_create.append((record, article))
                continue
            changed = [k for k, v in values.items() if getattr(article, k) != v]
            if not changed and links["cities"][article.pk] == city_ids \
                    and links["actors"][article.pk] == actor_ids:
                self.report.unchanged += 1
                continue
            for k, v in values.items():
                setattr(article, k, v)
            article._links = (city_ids, actor_ids)
            to_update.append((record, article))

        if self.dry_run:
            self.report.created += len(to_create)
            self.report.updated += len(to_update)
            return
        self._create(to_create)
        self._update(to_update)

    def _status_for(self, record: Record) -> str:
        return self.status or record.status or "published"

    def _create(self, items: list[tuple[Record, Article]]):
        if not items:
            return
        for record, article in items:
            base = slug = make_slug(record.title)
            n = 1
            while slug in self.slugs:
                n += 1
                slug = f"{base}-{n}"
            self.slugs.add(slug)
            article.slug = slug
            article.simhash = simhash(article.body)
        created = Article.objects.bulk_create([a for _, a in items])
        if any(a.pk is None for a in created):  # a backend that returns no ids
            by_slug = dict(Article.objects.filter(slug__in=[a.slug for a in created])
                           .values_list("slug", "pk"))
            for a in created:
                a.pk = by_slug[a.slug]
        Article.history.bulk_history_create(created, default_change_reason=HISTORY_REASON,
                                            batch_size=500)
        self._link(created, replace=False)
        near_pairs = []
        for article in created:
            for other in self._near(article.simhash, exclude=article.pk):
                near_pairs.append((article.pk, other))
            if article.simhash is not None:
                self._add_band(article.pk, article.simhash)
            self.seen_fingerprints[article.fingerprint] = article.record_id or article.slug
        if near_pairs:
            through = Article.possible_duplicates.through
            rows = {(a, b) for a, b in near_pairs} | {(b, a) for a, b in near_pairs}
            through.objects.bulk_create(
                [through(from_article_id=a, to_article_id=b) for a, b in rows],
                ignore_conflicts=True)
            self.report.near_duplicates += len(near_pairs)
        search.enqueue([a.pk for a in created])
        self.report.created += len(created)

    def _update(self, items: list[tuple[Record, Article]]):
        if not items:
            return
        articles = [a for _, a in items]
        for a in articles:
            a.fingerprint = fingerprint(a.title, a.body, a.published)
            a.simhash = simhash(a.body)
        now = timezone.now()
        for a in articles:
            a.updated = now
        Article.objects.bulk_update(articles, ["title", "body", "published", "source",
                                               "original_url", "language", "status",
                                               "fingerprint", "simhash", "updated"])
        Article.history.bulk_history_create(articles, update=True, batch_size=500,
                                            default_change_reason=HISTORY_REASON)
        self._link(articles, replace=True)
        search.enqueue([a.pk for a in articles])
        self.report.updated += len(articles)

    def _link(self, articles: list[Article], *, replace: bool):
        pks = [a.pk for a in articles]
        for index, rel, column in ((0, "cities", "city_id"), (1, "actors", "actor_id")):
            through = getattr(Article, rel).through
            if replace:
                through.objects.filter(article_id__in=pks).delete()
            rows = [through(article_id=a.pk, **{column: other})
                    for a in articles for other in a._links[index] if other]
            through.objects.bulk_create(rows, batch_size=1000)


# --------------------------------------------------------------------------- export


def export_record(article: Article) -> dict:
    cities = sorted(article.cities.all(), key=lambda c: normalize_name(c.name))
    return {
        "id": article.record_id,
        "title": article.title,
        "body": article.body,
        "published": article.published.isoformat() if article.published else None,
        "source": article.source.name if article.source else None,
        "cities": [c.name for c in cities],
        "actors": sorted((a.name for a in article.actors.all()), key=normalize_name),
        "country": next((c.country for c in cities if c.country), None),
        "url": article.original_url or None,
        "language": article.language,
        "status": article.status,
    }


def export_queryset():
    return (
        Article.objects.select_related("source").prefetch_related("cities", "actors")
        .order_by(F("published").asc(nulls_first=True), F("record_id").asc(nulls_first=True),
                  "title", "pk")
    )


def write_jsonl(records: Iterable[dict], out: io.TextIOBase):
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False, sort_keys=False) + "\n")


def write_csv(records: Iterable[dict], out: io.TextIOBase):
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(RECORD_FIELDS)
    for record in records:
        writer.writerow([
            LIST_SEPARATOR.join(record[k]) if isinstance(record[k], list)
            else ("" if record[k] is None else record[k])
            for k in RECORD_FIELDS
        ])
