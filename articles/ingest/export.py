"""Export in the import format: importing an export into an empty archive gives the same
archive (drafts and every record id behind an article included)."""

import csv
import io
import json
from collections.abc import Iterable

from django.db.models import F, Prefetch

from articles.models import Article, Origin
from articles.text import normalize_name

from .records import LIST_SEPARATOR, RECORD_FIELDS, spreadsheet_safe


def export_record(article: Article, *, with_ids: bool = True) -> dict:
    """One article as a record. `ids` appears only for an article that several records made
    (and only `with_ids`: the articles must come from `export_queryset`)."""
    cities = sorted((c.name for c in article.cities.all()), key=normalize_name)
    record = {
        "id": article.record_id,
        "title": article.title,
        "body": article.body,
        "published": article.published.isoformat() if article.published else None,
        "source": article.source.name if article.source else None,
        "cities": cities,
        "actors": sorted((a.name for a in article.actors.all()), key=normalize_name),
        "country": article.country_names,
        "url": article.original_url or None,
        "language": article.language,
        "status": article.status,
    }
    ids = [o.record_id for o in article.origins.all()] if with_ids else []
    if len(ids) > 1:
        primary = article.record_id
        record["ids"] = [primary, *(i for i in ids if i != primary)] if primary in ids else ids
    return record


def export_queryset():
    return (
        Article.objects.with_metadata()
        .prefetch_related(Prefetch("origins", Origin.objects.only("article_id", "record_id")))
        .order_by(F("published").asc(nulls_first=True), F("record_id").asc(nulls_first=True), "title", "pk")
    )


def write_jsonl(records: Iterable[dict], out: io.TextIOBase):
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False, sort_keys=False) + "\n")


def csv_cell(value) -> str:
    """A value as a CSV cell: lists joined with `;`, formulas neutralised (OWASP)."""
    if value is None:
        return ""
    if isinstance(value, list):
        return LIST_SEPARATOR.join(spreadsheet_safe(v) for v in value)
    return spreadsheet_safe(str(value))


def write_csv(records: Iterable[dict], out: io.TextIOBase):
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(RECORD_FIELDS)
    for record in records:
        writer.writerow([csv_cell(record.get(k)) for k in RECORD_FIELDS])
