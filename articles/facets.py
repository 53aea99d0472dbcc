"""Facets as data: for each of source, city, actor and year, the values with their counts
among the articles matching every *other* active filter (so choosing one city still shows
the others to add), selected values always kept visible.

Counting runs in the database. When a text query matches many articles, its hits are not
sent to the database as one huge `IN (...)` list (SQLite allows 32,766 variables): the
(article, value) pairs of the filtered set are read instead and counted against the hits.
"""

from collections import Counter

from django.db.models import Count, Q

from .kinds import KINDS
from .models import Actor, City, Country, Source
from .text import normalize_name

FACET_LIMIT = 50
#: Up to this many text hits are passed to the database as a list; more are counted here.
SMALL_MATCH = 900

ENTITY_FACETS = {
    "source": (Source, None),
    "city": (City, "city"),
    "actor": (Actor, "actor"),
    "country": (Country, "country"),
}


def _entity_counts(name: str, qs, matched: set[int] | None) -> Counter:
    model, through_field = ENTITY_FACETS[name]
    qs = qs.order_by()  # a default ordering would join the GROUP BY
    small = matched is not None and len(matched) <= SMALL_MATCH
    if small:
        qs = qs.filter(pk__in=matched)
    if through_field is None:
        if matched is None or small:
            rows = qs.exclude(source=None).values_list("source").annotate(n=Count("pk"))
            return Counter(dict(rows))
        pairs = qs.exclude(source=None).values_list("pk", "source_id")
    else:
        through = KINDS[name].through
        linked = through.objects.filter(article__in=qs.values("pk"))
        if matched is None or small:
            rows = linked.values_list(f"{through_field}_id").annotate(n=Count("pk")).order_by()
            return Counter(dict(rows))
        pairs = linked.values_list("article_id", f"{through_field}_id")
    return Counter(value for article_id, value in pairs.iterator(5000) if article_id in matched)


def _year_counts(qs, matched: set[int] | None) -> Counter:
    qs = qs.order_by()
    small = matched is not None and len(matched) <= SMALL_MATCH
    if small:
        qs = qs.filter(pk__in=matched)
    qs = qs.exclude(published=None)
    if matched is None or small:
        rows = qs.with_year().values_list("year").annotate(n=Count("pk")).order_by()
        return Counter(dict(rows))
    return Counter(
        published.year
        for pk, published in qs.values_list("pk", "published").iterator(5000)
        if pk in matched
    )


LANGUAGE_NAMES = {"en": "English", "ru": "Russian", "kk": "Kazakh", "ky": "Kyrgyz", "uz": "Uzbek",
                  "tg": "Tajik", "tk": "Turkmen", "de": "German", "fr": "French", "es": "Spanish",
                  "uk": "Ukrainian", "zh": "Chinese", "ar": "Arabic", "tr": "Turkish"}


def _language_counts(qs, matched: set[int] | None) -> Counter:
    qs = qs.order_by()
    small = matched is not None and len(matched) <= SMALL_MATCH
    if small:
        qs = qs.filter(pk__in=matched)
    if matched is None or small:
        return Counter(dict(qs.values_list("language").annotate(n=Count("pk"))))
    return Counter(lang for pk, lang in qs.values_list("pk", "language").iterator(5000) if pk in matched)


def facet(name: str, qs, matched: set[int] | None, selected: list, toggle_url,
          contains: str = "") -> list[dict]:
    """One facet as a list of {value, label, count, selected, url}, most frequent first.

    `selected` holds the active values (entities, or years as ints); `toggle_url(name,
    value)` gives the URL that adds or removes one value.
    """
    if name == "language":
        counts = _language_counts(qs, matched)
        for code in selected:
            counts.setdefault(code, 0)
        return sorted(
            ({"value": code, "label": LANGUAGE_NAMES.get(code, code), "count": n,
              "selected": code in selected, "url": toggle_url(name, code)}
             for code, n in counts.items()),
            key=lambda r: (-r["count"], r["label"]),
        )
    if name == "year":
        counts = _year_counts(qs, matched)
        selected_keys = set(selected)
        for year in selected_keys:
            counts.setdefault(year, 0)
        # Years read best in order; the timeline does the same.
        ordered = sorted(counts.items(), key=lambda kv: -kv[0])
        return [
            {"value": str(year), "label": str(year), "count": n,
             "selected": year in selected_keys, "url": toggle_url(name, str(year))}
            for year, n in ordered
        ]
    model = ENTITY_FACETS[name][0]
    all_counts = counts = _entity_counts(name, qs, matched)
    if contains:
        # The facet's filter box: names and aliases containing the typed text.
        key = normalize_name(contains)
        wanted = set(model.objects.filter(Q(key__contains=key) | Q(aliases__key__contains=key))
                     .values_list("pk", flat=True))
        counts = Counter({pk: n for pk, n in counts.items() if pk in wanted})
    selected_ids = {e.pk for e in selected}
    top = sorted(counts.items(), key=lambda kv: -kv[1])[:FACET_LIMIT]
    ids = {pk for pk, _ in top} | selected_ids
    entities = {e.pk: e for e in model.objects.filter(pk__in=ids).only("pk", "name", "slug")}
    items = dict(top)
    for pk in selected_ids:  # always shown, with their real count, whatever the filter box holds
        items.setdefault(pk, all_counts.get(pk, 0))
    rows = [
        {"value": entities[pk].slug, "label": entities[pk].name, "count": n,
         "selected": pk in selected_ids, "url": toggle_url(name, entities[pk].slug)}
        for pk, n in items.items() if pk in entities
    ]
    # Selected values first, so they stay in view above "show more".
    rows.sort(key=lambda r: (not r["selected"], -r["count"], r["label"].casefold()))
    return rows
