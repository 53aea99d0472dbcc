"""The one place that owns the index's shape: its version and the article -> document mapping.

Bump SCHEMA_VERSION whenever `article_document` or a backend's field definitions change: an
index built under another version is treated as stale and rebuilt (`rebuild_index --if-stale`,
run by `make run`).
"""

import datetime as dt
import hashlib
import json

SCHEMA_VERSION = 7

#: Fields a user may name in the query syntax (`city:almaty`), with their weights when a
#: phrase, prefix, wildcard or fuzzy term searches all of them. A match in a curated name
#: counts double.
QUERY_FIELDS = {"title": 1.0, "body": 1.0, "source": 1.5, "city": 2.0, "actor": 2.0, "country": 2.0}
#: Curated-name fields, which also score plain words (with their QUERY_FIELDS weights).
NAME_FIELDS = ("source", "city", "actor", "country")
#: Plain words are scored on one field holding the title TITLE_REPEAT times and then the
#: body, as Anserini's flat index does: one length and one term frequency per document, so
#: BM25's saturation is not applied to title and body apart (SciFact train split, README:
#: 0.653 nDCG@10 over separate fields before, 0.706 with this field and the settings below).
TEXT_FIELD = "text"
TITLE_REPEAT = 2
#: The same words cut to their first PREFIX_LENGTH letters, scored at PREFIX_BOOST beside
#: the whole word, so that forms the stemmer keeps apart (mitochondria / mitochondrial)
#: still count a little. They only rank: a prefix alone never makes a document match.
PREFIX_FIELD = "prefix"
PREFIX_LENGTH = 4
PREFIX_BOOST = 0.75
#: BM25 parameters (Robertson's and Lucene's defaults; measured in the README's table).
BM25_B = 0.75
BM25_K1 = 1.2

NAME_SEPARATOR = " ; "
#: Publication dates are stored as days since this day; an undated report has NO_DATE.
EPOCH = dt.date(1970, 1, 1)
NO_DATE = -(2**31) + 1


def day_number(date: dt.date | None) -> int:
    return (date - EPOCH).days if date else NO_DATE


def from_day_number(days: int) -> dt.date | None:
    return None if days == NO_DATE else EPOCH + dt.timedelta(days=int(days))


def id_field(kind_name: str) -> str:
    """The document field holding the ids of a kind's entities: "city_ids"."""
    return f"{kind_name}_ids"


def _names(entity) -> list[str]:
    return [entity.name, *(alias.name for alias in entity.aliases.all())]


def article_document(article) -> dict:
    """The index document of one published article.

    The article must come from `documents_queryset()` (names and aliases prefetched).
    Names of the source, cities and actors include every alias, so any curated spelling
    finds the article; their ids, the date (as a day number) and the language are what
    engines filter and count facets by. `stamp` changes whenever anything in the document
    changes; the index stores it so `check_index` can find drift.
    """
    from articles.kinds import KINDS

    doc = {
        "pk": article.pk,
        "title": article.title,
        "body": article.body,
        "source": NAME_SEPARATOR.join(_names(article.source)) if article.source else "",
        "city": NAME_SEPARATOR.join(n for c in article.cities.all() for n in _names(c)),
        "actor": NAME_SEPARATOR.join(n for a in article.actors.all() for n in _names(a)),
        "country": NAME_SEPARATOR.join(n for c in article.countries.all() for n in _names(c)),
        "language": article.language,
        "published": article.published.isoformat() if article.published else "",
        "date": day_number(article.published),
    }
    for kind in KINDS.values():
        doc[id_field(kind.name)] = sorted(e.pk for e in kind.entities_of(article))
    doc["spell"] = " ".join(
        [doc["title"], doc["body"], doc["source"], doc["city"], doc["actor"], doc["country"]]
    )
    doc["stamp"] = hashlib.sha1(json.dumps([SCHEMA_VERSION, doc], sort_keys=True).encode()).hexdigest()
    return doc


def documents_queryset():
    """The articles that belong in the index (published only), ready for `article_document`."""
    from articles.models import Article

    return (
        Article.objects.published()
        .select_related("source")
        .prefetch_related("source__aliases", "cities__aliases", "actors__aliases", "countries__aliases")
    )
