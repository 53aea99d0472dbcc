"""Read flows for the pages that browse without a query: the home page, entity lists and
pages, and date pages. Counts, timelines and orders come from the search engine's
`Selection` (the database's when no index is there); only the rows shown are read from the
database, published ones only.
"""

import datetime as dt
from collections import Counter
from collections.abc import Sequence

from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.db.models import Q

from articles import search as engine
from articles.kinds import KINDS
from articles.models import Article
from articles.search.criteria import Criteria
from articles.search.database import DatabaseSelection
from articles.text import normalize_name

from . import timeline


class NoSuchPage(LookupError):
    """A page number past the end (or not a number); the message is for readers."""


EVERYTHING = Criteria()


def select(criteria: Criteria = EVERYTHING):
    """The engine's selection, or the database's while the index is unavailable."""
    try:
        return engine.get_backend().select(criteria)
    except engine.IndexUnavailable:
        return DatabaseSelection(criteria)


def published(pks: list[int]) -> list[Article]:
    """These articles in this order, published ones only (the index may trail a change)."""
    by_pk = Article.objects.published().filter(pk__in=pks).with_metadata().in_bulk()
    return [by_pk[pk] for pk in pks if pk in by_pk]


class Listing(Sequence):
    """A selection's articles as a sequence Django's paginator can slice."""

    def __init__(self, selection):
        self.selection = selection
        self._count = None

    def __len__(self) -> int:
        if self._count is None:
            self._count = self.selection.count()
        return self._count

    def __getitem__(self, index):
        if isinstance(index, slice):
            start, stop, _ = index.indices(len(self))
            return published(self.selection.pks(start, max(0, stop - start)))
        found = published(self.selection.pks(index, 1))
        if not found:
            raise IndexError(index)
        return found[0]


def paginate(items, number, per_page: int):
    """One page of `items` (any sequence); NoSuchPage names the pages there are."""
    paginator = Paginator(items, per_page)
    try:
        return paginator.page(number or 1)
    except (PageNotAnInteger, EmptyPage) as exc:
        raise NoSuchPage(f"There is no such page: pages run from 1 to {paginator.num_pages}.") from exc


def entity_names(kind, counts: Counter, limit: int) -> list:
    """The entities with most reports, as model objects with `n`, public ones only."""
    top = counts.most_common(limit)
    found = kind.model.objects.public_in(pk for pk, _ in top).in_bulk()
    rows = []
    for pk, n in top:
        if pk in found:
            found[pk].n = n
            rows.append(found[pk])
    return rows


def home(*, archive_link) -> dict:
    whole = select()
    whole.prefetch(KINDS, dates=True)
    span = whole.date_span()
    years = (span[1].year - span[0].year) if span[0] else 0
    counts = {kind: whole.counts(kind) for kind in KINDS}
    return {
        "total": whole.count(),
        "counts": {kind: len(counted) for kind, counted in counts.items()},
        "newest": published(whole.pks(0, 8)),
        "top": {
            name: {"kind": KINDS[name], "entities": entity_names(KINDS[name], counts[name], 8)}
            for name in ("city", "actor", "source", "country")
        },
        "timeline": timeline.from_selection(whole, unit="month" if years < 40 else "year", link=archive_link),
    }


ENTITY_SORTS = ("name", "count")


def entity_list(kind, *, typed: str, sort: str, number, per_page: int = 100):
    """The entities of a kind that published reports name, with their counts (`n`)."""
    counts = select().counts(kind.name)
    entities = kind.model.objects.all()
    if typed:
        key = normalize_name(typed)
        entities = entities.filter(Q(key__contains=key) | Q(aliases__key__contains=key)).distinct()
    # Every entity's pk and name, kept when a published report names it: cheaper than
    # sending thousands of counted pks back to the database as an IN list.
    rows = [row for row in entities.values_list("pk", "name") if row[0] in counts]
    if sort == "count":
        rows.sort(key=lambda row: (-counts[row[0]], row[1].casefold(), row[0]))
    else:
        rows.sort(key=lambda row: (row[1].casefold(), row[0]))
    page = paginate(rows, number, per_page)
    shown = kind.model.objects.prefetch_related("aliases").in_bulk([pk for pk, _ in page.object_list])
    page.object_list = [shown[pk] for pk, _ in page.object_list if pk in shown]
    for entity in page.object_list:
        entity.n = counts[entity.pk]
    if kind.name == "city":
        attach_countries(page.object_list)
    return page


def attach_countries(cities) -> None:
    """Each city's `countries`: those of its published reports (a name may stand for places
    in several countries, or for one place whose country changed)."""
    tallies = select().co_counts("city", [city.pk for city in cities], "country")
    if tallies is None:
        tallies = {
            city.pk: select(Criteria(entities=(("city", (city.pk,)),))).counts("country", own_filter=True)
            for city in cities
        }
    wanted = set().union(*tallies.values())
    countries = KINDS["country"].model.objects.filter(pk__in=wanted)
    names = dict(countries.values_list("pk", "name")) if wanted else {}
    for city in cities:
        city.countries = sorted((names[pk] for pk in tallies[city.pk] if pk in names), key=str.casefold)


def entity(kind, item, *, number, search_url: str) -> dict:
    """An entity page's reports, timeline and the entities most often reported with it."""
    selection = select(Criteria(entities=((kind.name, (item.pk,)),)))
    # The count, the other kinds' counts and the timeline, together where the engine can.
    selection.prefetch([other for other in KINDS if other != kind.name], dates=True)
    if kind.name == "city":
        attach_countries([item])
    co_reported = []
    for other in KINDS.values():
        counts = selection.counts(other.name, own_filter=True)
        if other is kind:
            counts.pop(item.pk, None)
        rows = entity_names(other, counts, 8)
        if rows:
            co_reported.append(
                {
                    "kind": other.name,
                    "label": other.plural,
                    "items": [{"name": e.name, "url": e.get_absolute_url(), "count": e.n} for e in rows],
                }
            )
    return {
        "articles": paginate(Listing(selection), number, 20),
        "timeline": timeline.from_selection(
            selection, link=lambda start, end: f"{search_url}&date_from={start}&date_to={end}"
        ),
        "co_reported": co_reported,
    }


def period(start: dt.date, end: dt.date, unit: str) -> tuple[object, Counter]:
    """A date page's selection (its reports newest first) and its counts per `unit`."""
    selection = select(Criteria(date_from=start, date_to=end))
    return selection, selection.dates(unit)


def years_with_reports() -> list[tuple[int, int]]:
    return sorted((day.year, n) for day, n in select().dates("year").items())
