"""Facets as data: for each kind of entity, and for year and language, the values with their
counts among the articles matching every *other* active filter (so choosing one city still
shows the others to add), the selected values always kept and listed first.

Each facet is a class; `FACETS` registers them in the order pages show them. Adding a facet
is one class (or one kind in `kinds.py`) and one entry here.
"""

from collections import Counter
from dataclasses import dataclass

from django.conf.locale import LANG_INFO
from django.db.models import Q

from articles.kinds import KINDS, Kind
from articles.text import normalize_name

FACET_LIMIT = 50


def language_name(code: str) -> str:
    return LANG_INFO.get(code, {}).get("name", code)


@dataclass
class Facet:
    name: str
    label: str
    #: whether the facet offers a box to find a value among many
    filter_box: bool = False

    def values(self, search) -> list[dict]:
        raise NotImplementedError

    def item(self, search, value: str, label: str, count: int, selected: bool) -> dict:
        return {
            "value": value,
            "label": label,
            "count": count,
            "selected": selected,
            "url": search.state.toggled(self.name, value),
        }

    def shown(self, search) -> bool:
        return True


class EntityFacet(Facet):
    def __init__(self, kind: Kind):
        super().__init__(kind.name, kind.label, filter_box=True)
        self.kind = kind

    def values(self, search) -> list[dict]:
        all_counts = counts = search.selection.counts(self.name)
        selected = {e.pk: e for e in search.cleaned.get(self.name) or ()}
        typed = search.facet_filters.get(self.name, "")
        if typed:
            # The facet's filter box: names and aliases containing the typed text.
            key = normalize_name(typed)
            wanted = set(
                self.kind.model.objects.filter(
                    Q(key__contains=key) | Q(aliases__key__contains=key)
                ).values_list("pk", flat=True)
            )
            counts = Counter({pk: n for pk, n in counts.items() if pk in wanted})
        top = dict(counts.most_common(FACET_LIMIT))
        for pk in selected:  # always shown, with their real count, whatever the box holds
            top.setdefault(pk, all_counts.get(pk, 0))
        # Names from the database, public ones only (the index may trail a change by a moment).
        entities = {e.pk: e for e in self.kind.model.objects.public_in(top).only("pk", "name", "slug")}
        entities.update(selected)
        rows = [
            self.item(search, entities[pk].slug, entities[pk].name, n, pk in selected)
            for pk, n in top.items()
            if pk in entities
        ]
        # Selected values first, so they stay in view above "show more".
        rows.sort(key=lambda r: (not r["selected"], -r["count"], r["label"].casefold()))
        return rows


class YearFacet(Facet):
    def values(self, search) -> list[dict]:
        counts = search.selection.counts("year")
        selected = set(search.cleaned.get("year") or ())
        for year in selected:
            counts.setdefault(year, 0)
        # Years read best in order; the timeline does the same.
        return [
            self.item(search, str(year), str(year), n, year in selected)
            for year, n in sorted(counts.items(), reverse=True)
        ]


class LanguageFacet(Facet):
    def shown(self, search) -> bool:
        # One language in the whole archive: nothing to choose.
        return bool(search.cleaned.get("language")) or len(search.archive_languages()) > 1

    def values(self, search) -> list[dict]:
        counts = search.selection.counts("language")
        selected = set(search.cleaned.get("language") or ())
        for code in selected:
            counts.setdefault(code, 0)
        rows = [
            self.item(search, code, language_name(code), n, code in selected) for code, n in counts.items()
        ]
        return sorted(rows, key=lambda r: (-r["count"], r["label"]))


FACETS: list[Facet] = [
    *(EntityFacet(kind) for kind in KINDS.values()),
    YearFacet("year", "Year"),
    LanguageFacet("language", "Language"),
]
