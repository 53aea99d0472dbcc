"""Selections answered by the database alone (no text query): what every page falls back on
while an index is missing or being rebuilt, and the base the PostgreSQL engine builds on.

Counting runs in the database, one GROUP BY per facet over the articles that match every
other filter; lists of ids never grow with the number of matches.
"""

import datetime as dt
from collections import Counter
from collections.abc import Iterator

from django.db.models import Count, F, Max, Min, Q
from django.db.models.functions import ExtractYear, TruncDay, TruncMonth, TruncYear

from articles.kinds import KINDS
from articles.models import Article

from .base import QueryError, Selection
from .criteria import Criteria


def filtered(criteria: Criteria, queryset=None):
    """The published articles matching every filter of `criteria` (not the text)."""
    qs = Article.objects.published() if queryset is None else queryset
    for kind_name, ids in criteria.entities:
        kind = KINDS[kind_name]
        if kind.many:
            linked = kind.through.objects.filter(**{f"{kind.through_column}__in": ids})
            qs = qs.filter(pk__in=linked.values("article_id"))
        else:
            qs = qs.filter(**{f"{kind.through_column}__in": ids})
    if criteria.languages:
        qs = qs.filter(language__in=criteria.languages)
    if criteria.date_limited:
        spans = Q()
        for start, end in criteria.date_bounds():
            bounds = {}
            if start:
                bounds["published__gte"] = start
            if end:
                bounds["published__lte"] = end
            spans |= Q(**bounds)
        qs = qs.filter(spans)
    if criteria.exclude:
        qs = qs.exclude(pk__in=criteria.exclude)
    return qs.order_by()


def ordered(qs, sort: str):
    """Newest or oldest first; undated reports last either way; ties by pk."""
    if sort == "oldest":
        return qs.order_by(F("published").asc(nulls_last=True), "pk")
    return qs.order_by(F("published").desc(nulls_last=True), "-pk")


def counts_of(facet: str, qs) -> Counter:
    """Facet value -> articles among `qs`, grouped in the database."""
    qs = qs.order_by()
    if facet == "year":
        rows = qs.exclude(published=None).annotate(y=ExtractYear("published")).values_list("y")
    elif facet == "language":
        rows = qs.values_list("language")
    else:
        kind = KINDS[facet]
        if kind.many:
            rows = kind.through.objects.filter(article__in=qs.values("pk")).values_list(kind.through_column)
        else:
            rows = qs.exclude(**{kind.through_column: None}).values_list(kind.through_column)
    return Counter(dict(rows.annotate(n=Count("*")).order_by()))


class DatabaseSelection(Selection):
    def __init__(self, criteria: Criteria):
        if criteria.q:
            raise QueryError("Full-text search needs the search engine.")
        self.criteria = criteria
        self.corrected, self.notices = None, []
        self.qs = filtered(criteria)

    def count(self) -> int:
        return self.qs.count()

    def pks(self, offset: int, limit: int) -> list[int]:
        return list(
            ordered(self.qs, self.criteria.sort).values_list("pk", flat=True)[offset : offset + limit]
        )

    def iter_pks(self, chunk: int = 500) -> Iterator[int]:
        yield from ordered(self.qs, self.criteria.sort).values_list("pk", flat=True).iterator(chunk)

    def counts(self, facet: str, *, own_filter: bool = False) -> Counter:
        qs = self.qs if own_filter else filtered(self.criteria.without(facet))
        return counts_of(facet, qs)

    def dates(self, unit: str) -> Counter:
        trunc = {"year": TruncYear, "month": TruncMonth, "day": TruncDay}[unit]
        rows = (
            self.qs.exclude(published=None)
            .annotate(period=trunc("published"))
            .values_list("period")
            .annotate(n=Count("pk"))
            .order_by()
        )
        return Counter({_as_date(period): n for period, n in rows})

    def date_span(self) -> tuple[dt.date | None, dt.date | None]:
        span = self.qs.aggregate(first=Min("published"), last=Max("published"))
        return span["first"], span["last"]


def _as_date(value) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value
