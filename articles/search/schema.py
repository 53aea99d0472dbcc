"""The one place that owns the index's shape: its version and the article -> document mapping.

Bump SCHEMA_VERSION whenever `article_document` or a backend's field definitions change: an
index built under another version is treated as stale and rebuilt (`rebuild_index --if-stale`,
run by `make run`).
"""

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator

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

    entities = {kind.name: kind.entities_of(article) for kind in KINDS.values()}
    return _document(
        article.pk,
        article.title,
        article.body,
        article.language,
        article.published,
        {name: [_names(e) for e in found] for name, found in entities.items()},
        {name: sorted(e.pk for e in found) for name, found in entities.items()},
    )


def _document(pk, title, body, language, published, names: dict, ids: dict) -> dict:
    """The document of `article_document`, of the article's fields, each kind's entities'
    names (each entity's name and aliases, the entities in the order of their names) and
    each kind's entity ids."""
    from articles.kinds import KINDS

    doc = {
        "pk": pk,
        "title": title,
        "body": body,
        "source": NAME_SEPARATOR.join(n for each in names["source"] for n in each),
        "city": NAME_SEPARATOR.join(n for each in names["city"] for n in each),
        "actor": NAME_SEPARATOR.join(n for each in names["actor"] for n in each),
        "country": NAME_SEPARATOR.join(n for each in names["country"] for n in each),
        "language": language,
        "published": published.isoformat() if published else "",
        "date": day_number(published),
    }
    for kind in KINDS.values():
        doc[id_field(kind.name)] = ids[kind.name]
    doc["spell"] = " ".join(
        [doc["title"], doc["body"], doc["source"], doc["city"], doc["actor"], doc["country"]]
    )
    doc["stamp"] = hashlib.sha1(json.dumps([SCHEMA_VERSION, doc], sort_keys=True).encode()).hexdigest()
    return doc


def documents(pks: Iterable[int] | None = None, *, chunk: int = 1000) -> Iterator[dict]:
    """`article_document` of every published article (or of those of `pks`), in the order
    of their pks, read from the database a chunk at a time: the articles' columns, the
    links of each kind by a range of article ids, and every entity's names and aliases once.

    For the writes of many documents (a rebuild, an import's drain, `check_index`): Django's
    prefetching built a related manager and cloned a query for each article and relation,
    about a millisecond a report, a third of a rebuild's CPU at 100,000 reports. A few
    documents are cheaper through `documents_queryset()` (this reads every entity's names).
    tests/test_index_sync.py holds the two to the same documents.
    """
    from articles.kinds import KINDS, LINKED
    from articles.models import Article

    entities = {}  # kind -> {entity pk: (its rank by name, [name, *aliases])}
    for kind in KINDS.values():
        rows = kind.model.objects.order_by("name", "pk").values_list("pk", "name")
        found = {pk: (rank, [name]) for rank, (pk, name) in enumerate(rows.iterator(5000))}
        aliases = kind.alias_model.objects.order_by("name", "pk").values_list("entity_id", "name")
        for entity_id, name in aliases.iterator(5000):
            found[entity_id][1].append(name)
        entities[kind.name] = found
    articles = Article.objects.published().order_by("pk")
    if pks is not None:
        articles = articles.filter(pk__in=sorted(set(pks)))
    rows = articles.values_list("pk", "title", "body", "language", "published", "source_id")
    batch = []
    for row in rows.iterator(chunk):
        batch.append(row)
        if len(batch) >= chunk:
            yield from _chunk_documents(batch, entities, LINKED)
            batch = []
    if batch:
        yield from _chunk_documents(batch, entities, LINKED)


def _chunk_documents(rows: list, entities: dict, linked) -> Iterator[dict]:
    first, last = rows[0][0], rows[-1][0]
    if last - first < 2 * len(rows):  # the links of a range of articles, most of them these
        ranges = [{"article_id__gte": first, "article_id__lte": last}]
    else:  # scattered articles (a drain's): theirs alone, within SQLite's limit of variables
        pks = [row[0] for row in rows]
        ranges = [{"article_id__in": pks[i : i + 500]} for i in range(0, len(pks), 500)]
    links = {}  # kind -> {article pk: [entity pk, ...]}
    for kind in linked:
        found = links[kind.name] = {}
        for where in ranges:
            pairs = kind.through.objects.filter(**where).values_list("article_id", kind.through_column)
            for article_id, entity_id in pairs.iterator(5000):
                found.setdefault(article_id, []).append(entity_id)
    for pk, title, body, language, published, source_id in rows:
        ids = {"source": [source_id] if source_id is not None else []}
        ids.update({kind.name: sorted(links[kind.name].get(pk, ())) for kind in linked})
        names = {}
        for kind, found in ids.items():
            known = entities[kind]
            names[kind] = [known[e][1] for e in sorted(found, key=lambda e, known=known: known[e][0])]
        yield _document(pk, title, body, language, published, names, ids)


def documents_queryset():
    """The articles that belong in the index (published only), ready for `article_document`."""
    from articles.models import Article

    return (
        Article.objects.published()
        .select_related("source")
        .prefetch_related("source__aliases", "cities__aliases", "actors__aliases", "countries__aliases")
    )
