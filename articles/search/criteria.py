"""What a search asks for, in engine-neutral terms: the text query and the filters.

The browse layer turns a URL's parameters into `Criteria` (entities as ids, dates as dates);
engines turn `Criteria` into a `Selection` (base.py) that counts, orders and facets what it
selects. Facet counts follow every filter but their own, so `without(facet)` gives the
criteria a facet counts over.
"""

import datetime as dt
from dataclasses import dataclass, field, replace

SORTS = ("relevance", "newest", "oldest")


@dataclass(frozen=True)
class Criteria:
    q: str = ""
    #: (kind name, entity ids) pairs: ids of one kind are ORed, kinds ANDed
    entities: tuple[tuple[str, tuple[int, ...]], ...] = ()
    years: tuple[int, ...] = ()
    languages: tuple[str, ...] = ()
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    sort: str = "newest"
    #: pks to leave out (an article's own page asking for its related reports)
    exclude: tuple[int, ...] = field(default=())

    def ids(self, kind: str) -> tuple[int, ...]:
        return dict(self.entities).get(kind, ())

    def without(self, facet: str) -> "Criteria":
        """These criteria without the facet's own filter (its counts follow the others)."""
        if facet == "year":
            return replace(self, years=())
        if facet == "language":
            return replace(self, languages=())
        return replace(self, entities=tuple((k, v) for k, v in self.entities if k != facet))

    @property
    def filtered(self) -> bool:
        return bool(self.entities or self.years or self.languages or self.date_from or self.date_to)

    def date_bounds(self) -> list[tuple[dt.date | None, dt.date | None]]:
        """The publication-date ranges a report must fall in: one per year (ORed), each
        intersected with date_from/date_to; [(None, None)] when dates are free."""
        spans = [(dt.date(y, 1, 1), dt.date(y, 12, 31)) for y in self.years] or [(None, None)]
        out = []
        for start, end in spans:
            if self.date_from and (start is None or self.date_from > start):
                start = self.date_from
            if self.date_to and (end is None or self.date_to < end):
                end = self.date_to
            out.append((start, end))
        return out

    @property
    def date_limited(self) -> bool:
        return bool(self.years or self.date_from or self.date_to)
