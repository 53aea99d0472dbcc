"""Selections answer what the database would: counts, facets, orders and pages of random
searches over real records equal a naive computation from the database; and the page of a
large search is ranked without scoring every match."""

import datetime as dt
import json
import random
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
from django.conf import settings
from whoosh import scoring

from articles import search
from articles.browse import overview
from articles.ingest import Importer
from articles.kinds import KINDS
from articles.models import Article, City
from articles.search.criteria import Criteria
from articles.search.whoosh import WhooshBackend
from articles.search.whoosh import backend as whoosh_backend

from .conftest import SHARED

CORPUS = SHARED / "corpora" / "mass-mobilization.jsonl"
WORDS = [
    "protest",
    "police",
    "students",
    "strike",
    "government",
    "workers",
    "election",
    "arrested",
    "capital",
    "march",
    "teachers",
    "opposition",
    "demonstrators",
    "tax",
]


@pytest.fixture
def corpus(index, tmp_path):
    with open(CORPUS, encoding="utf-8") as fh:
        lines = [next(fh) for _ in range(1500)]
    path = tmp_path / "mm.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    Importer().run([str(path)])
    return Article.objects.published().with_metadata()


def naive(articles, matched, *, q, chosen, years, date_from, date_to):
    """(count, facets) for a search, from Python over the database's rows."""

    def keep(article, leave_out=None):
        if q and article.pk not in matched:
            return False
        for kind_name, ids in chosen.items():
            if kind_name != leave_out and not {e.pk for e in KINDS[kind_name].entities_of(article)} & ids:
                return False
        if years and leave_out != "year" and (not article.published or article.published.year not in years):
            return False
        if date_from and (not article.published or article.published < date_from):
            return False
        return not (date_to and (not article.published or article.published > date_to))

    facets = {}
    for kind in KINDS.values():
        facets[kind.name] = Counter(e.pk for a in articles if keep(a, kind.name) for e in kind.entities_of(a))
    facets["year"] = Counter(a.published.year for a in articles if keep(a, "year") and a.published)
    return sum(1 for a in articles if keep(a)), facets


@pytest.mark.skipif(not CORPUS.exists(), reason="the shared corpus is not here")
def test_random_searches_count_and_facet_as_the_database_does(corpus, client):
    articles = list(corpus)
    rng = random.Random(7)
    entity_ids = {
        kind.name: sorted({e.pk for a in articles for e in kind.entities_of(a)}) for kind in KINDS.values()
    }
    slugs = {kind.name: dict(kind.model.objects.values_list("pk", "slug")) for kind in KINDS.values()}
    for _ in range(25):
        q = rng.choice(["", *WORDS])
        chosen = {
            kind: set(rng.sample(ids, rng.choice([1, 2])))
            for kind, ids in entity_ids.items()
            if rng.random() < 0.3
        }
        years = set(rng.sample(range(1990, 1996), rng.choice([0, 1, 2])))
        date_from = dt.date(1990, rng.randint(1, 12), 1) if rng.random() < 0.3 else None
        date_to = dt.date(1994, rng.randint(1, 12), 28) if rng.random() < 0.3 else None
        params = [("q", q)] if q else []
        params += [(kind, slugs[kind][pk]) for kind, ids in chosen.items() for pk in ids]
        params += [("year", str(y)) for y in years]
        params += [(k, v.isoformat()) for k, v in (("date_from", date_from), ("date_to", date_to)) if v]
        params.append(("per_page", "100"))
        data = client.get("/api/search/", params).json()
        matched = set(search.match(q).pks) if q else set()
        count, facets = naive(
            articles, matched, q=q, chosen=chosen, years=years, date_from=date_from, date_to=date_to
        )
        assert data["count"] == count, params
        for name in (*KINDS, "year"):
            label_of = str if name == "year" else slugs[name].get
            expected = {label_of(v): n for v, n in facets[name].items() if n}
            got = {item["value"]: item["count"] for item in data["facets"][name]}
            assert all(n == expected.get(value, 0) for value, n in got.items()), (params, name)
            limit = len(expected) if name == "year" else 50
            extra = sum(1 for pk in chosen.get(name, ()) if label_of(pk) in got)  # always shown
            assert (
                min(limit, len(expected))
                <= sum(1 for n in got.values() if n)
                <= min(limit, len(expected)) + extra
            ), (params, name)
        # Every result listed satisfies every filter, in the search's order.
        by_pk = {a.slug: a for a in articles}
        for result in data["results"]:
            article = by_pk[result["slug"]]
            for kind, ids in chosen.items():
                assert {e.pk for e in KINDS[kind].entities_of(article)} & ids, (params, result["slug"])
        if not q:
            dates = [r["published"] or "" for r in data["results"]]
            assert dates == sorted(dates, reverse=True) or "" in dates


FACET_NAMES = (*KINDS, "year", "language")


def answers(selection) -> dict:
    return {
        "count": selection.count(),
        **{name: selection.counts(name) for name in FACET_NAMES},
        "span": selection.date_span(),
        **{unit: selection.dates(unit) for unit in ("year", "month", "day")},
    }


@pytest.mark.skipif(not CORPUS.exists(), reason="the shared corpus is not here")
def test_answers_asked_together_equal_answers_asked_one_by_one(corpus, settings):
    """`prefetch` (a results page's count, facets and timeline asked at once) changes no
    answer; on the PostgreSQL engine it is one statement, and the answers need no other."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    articles = list(corpus)
    backend = search.get_backend()
    rng = random.Random(11)
    ids = {
        kind.name: sorted({e.pk for a in articles for e in kind.entities_of(a)}) for kind in KINDS.values()
    }
    tried = 0
    for q in ["", "protest", "police OR students", '"riot police"', "strike -teachers", "zzzqqq"]:
        for _ in range(3):
            # Filters an article of the archive satisfies, so that most searches select some.
            article = rng.choice(articles)
            kinds = [k for k in KINDS.values() if k.entities_of(article)]
            chosen = ()
            if kinds and rng.random() < 0.6:
                kind = rng.choice(kinds)
                mine = [e.pk for e in kind.entities_of(article)]
                chosen = (
                    (
                        kind.name,
                        tuple({*rng.sample(mine, 1), *rng.sample(ids[kind.name], rng.choice([0, 1]))}),
                    ),
                )
            year = article.published.year if article.published else 1990
            criteria = Criteria(
                q=q,
                entities=chosen,
                years=(year,) if rng.random() < 0.3 else (),
                date_from=dt.date(year - 1, rng.randint(1, 12), 1) if rng.random() < 0.3 else None,
                exclude=(article.pk,) if rng.random() < 0.2 else (),
            )
            alone = answers(backend.select(criteria))
            # What an entity page asks too: counts within the selection, its own filter kept
            # (for a facet without a filter of its own, the same as the prefetched counts).
            filtered = {kind for kind, _ in chosen} | ({"year"} if criteria.years else set())
            unfiltered = [name for name in FACET_NAMES if name not in filtered]
            within = {name: backend.select(criteria).counts(name, own_filter=True) for name in unfiltered}
            together = backend.select(criteria)
            with CaptureQueriesContext(connection) as prefetching:
                together.prefetch(FACET_NAMES, dates=True)
            with CaptureQueriesContext(connection) as answering:
                assert answers(together) == alone, criteria
                assert {name: together.counts(name, own_filter=True) for name in unfiltered} == within, (
                    criteria
                )
            if settings.ARCHIVE_SEARCH_ENGINE == "postgres":
                statements = [
                    x["sql"] for x in prefetching.captured_queries if x["sql"].startswith(("SELECT", "WITH"))
                ]
                assert len(statements) == 1 and not answering.captured_queries, criteria
            tried += bool(alone["count"])
            print(q, alone["count"], criteria.years, criteria.date_from, len(criteria.entities))
    assert tried >= 12  # all but a few select something


def test_cities_countries_asked_together_equal_those_asked_city_by_city(corpus):
    """A page of cities with each one's countries (`co_counts`): when the engine answers them
    together, the answers are those of one narrowed selection per city; the page's countries
    are those of the city's published reports in the database, drafts' nowhere."""
    articles = list(corpus)
    draft = Article.objects.published().filter(cities__isnull=False, countries__isnull=False).first()
    draft.status = "draft"
    draft.save()  # a curator takes it back: it leaves the index
    backend = search.get_backend()
    cities = sorted({c.pk for a in articles for c in a.cities.all()})[:150] + [draft.cities.first().pk]
    year = Counter(a.published.year for a in articles if a.published).most_common(1)[0][0]
    for criteria in (Criteria(), Criteria(q="protest"), Criteria(years=(year,))):
        together = backend.select(criteria).co_counts("city", cities, "country")
        if together is None:
            continue  # the engine asks per value (the Whoosh engine counts in memory)
        one_by_one = {}
        for pk in cities:
            narrowed = backend.select(replace(criteria, entities=(("city", (pk,)),)))
            one_by_one[pk] = narrowed.counts("country", own_filter=True)
        assert together == one_by_one, criteria
        assert sum(map(len, together.values())) > 20, criteria

    shown = list(City.objects.filter(pk__in=cities))
    overview.attach_countries(shown)
    naive = {pk: set() for pk in cities}
    for article in Article.objects.published().prefetch_related("cities", "countries"):
        for city in article.cities.all():
            if city.pk in naive:
                naive[city.pk].update(c.name for c in article.countries.all())
    assert {city.pk: set(city.countries) for city in shown} == naive
    assert sum(map(len, naive.values())) > 100


def test_the_first_page_of_a_large_search_does_not_score_every_match(tmp_path, monkeypatch):
    """10,020 documents match "strike": the page of 20 comes from scoring far fewer, while the
    count is exact."""
    # One segment, whatever the machine's cores: a rebuild writes one segment per process,
    # and a segment is scored on its own (a segment whose documents all tie with the page's
    # last one is read whole), which is not what this test is about.
    monkeypatch.setattr(whoosh_backend, "PROCS", 1)
    backend = WhooshBackend(tmp_path / "index")

    def doc(pk, body):
        return {
            "pk": pk,
            "title": f"Report {pk}",
            "body": body,
            "language": "en",
            "date": pk,
            "stamp": str(pk),
        }

    strong = [doc(pk, "strike strike strike strike strike") for pk in range(1, 21)]
    weak = [
        doc(pk, "a long report on many things, among them one strike, and more words " * 3)
        for pk in range(21, 10_021)
    ]
    backend.rebuild(strong + weak + [doc(20_000, "nothing to see")])
    scored = []
    original = scoring.BM25F.scorer

    def counting_scorer(self, searcher, fieldname, text, qf=1):
        scorer = original(self, searcher, fieldname, text, qf=qf)
        real = scorer.score

        def score(matcher):
            scored.append(1)
            return real(matcher)

        scorer.score = score
        return scorer

    monkeypatch.setattr(scoring.BM25F, "scorer", counting_scorer)
    selection = backend.select(Criteria(q="strike", sort="relevance"))
    assert selection.count() == 10_020
    assert sorted(selection.pks(0, 20)) == list(range(1, 21))
    # Whoosh's per-document scorer is for the page's candidates only; a query of plain words
    # is scored as arrays over its posting lists (ranking.py) and needs it for none.
    assert len(scored) < 10_020 / 4, f"{len(scored)} documents scored for a page of 20"
    backend.close()


def test_array_scores_equal_whooshs_own_scores(tmp_path):
    """A query of plain words is scored as arrays over its posting lists (ranking.py); each
    live document's score must be the one Whoosh's own collector gives it, across segments,
    with deletions, long posting lists (several blocks) and the names fields."""
    from articles.search import query as q
    from articles.search.whoosh.ranking import word_leaves, word_scores

    rng = random.Random(7)
    words = "police detained protesters rally almaty strike workers court election capital".split()

    def doc(pk):
        body = " ".join(rng.choice(words) for _ in range(rng.randint(5, 120)))
        city = "Almaty ; Alma-Ata" if pk % 5 == 0 else ""
        return {
            "pk": pk,
            "title": f"Report {pk} {rng.choice(words)}",
            "body": body,
            "city": city,
            "language": "en",
            "stamp": str(pk),
        }

    backend = WhooshBackend(tmp_path / "index")
    backend.rebuild(doc(pk) for pk in range(1, 700))
    backend.write(upsert=[doc(pk) for pk in (3, 500, 900)], delete=[10, 11])
    searcher = backend._open_searcher()
    columns = backend._columns
    assert searcher.reader().has_deletions() and len(list(searcher.leaf_searchers())) > 1
    for text in ("police detained protesters in almaty", "strike", "court election capital workers"):
        built, _minimum = backend.translator(searcher).build(q.parse(text))
        leaves = word_leaves(built)
        assert leaves, text
        scores = word_scores(searcher, columns, leaves)
        whoosh = {hit.docnum: hit.score for hit in searcher.search(built, limit=None)}
        live = np.flatnonzero(columns.live & (scores > 0))
        assert set(live.tolist()) == set(whoosh), text
        assert len(whoosh) > 128  # posting lists of several blocks
        for docnum, score in whoosh.items():
            assert scores[docnum] == pytest.approx(score, rel=1e-9), (text, docnum)
    backend.close()


def test_searches_with_not_rank_as_whooshs_collector_does(tmp_path):
    """A NOT that every match passes through (the query's, or one of an AND's parts) only
    excludes: Whoosh adds the same constant to every document it keeps, so the page is
    ranked by the other parts' scores as arrays (it went through Whoosh's collector, 1.6 s
    for `"police" NOT "tear gas"` at 100,000 reports). A NOT under an OR is scored branch by
    branch (tree_scores) as Whoosh's matchers score it, and its page is the full ranking's
    first (Whoosh's top-k collector dropped the NOT's branch from it)."""
    from articles.search import query as q
    from articles.search.whoosh.ranking import tree_scores, word_leaves, word_scores

    rng = random.Random(8)
    words = "police detained protesters rally almaty strike workers court election capital".split()
    backend = WhooshBackend(tmp_path / "index")
    docs = [
        {
            "pk": pk,
            "title": f"Report {pk} {rng.choice(words)}",
            "body": " ".join(rng.choice(words) for _ in range(rng.randint(3, 60))),
            "language": "en",
            "stamp": str(pk),
        }
        for pk in range(1, 900)
    ]
    backend.rebuild(docs)
    backend.write(upsert=docs[5:9], delete=[20, 21])
    searcher = backend._open_searcher()
    scored = 0
    for text in (
        "police NOT strike",
        "police detained NOT (court OR election)",
        '"strike workers" NOT almaty NOT rally',
        "(police OR court) AND NOT capital",
        "court OR (election NOT police)",
        '"strike workers" OR (rally NOT almaty) OR capital',
        "(court OR (police NOT (strike OR rally))) AND election",
    ):
        built, _minimum = backend.translator(searcher).build(q.parse(text))
        leaves = word_leaves(built)
        whoosh = {hit.docnum: hit.score for hit in searcher.search(built, limit=None)}
        selection = backend.select(Criteria(q=text, sort="relevance"))
        assert 0 < selection.count() == len(whoosh) < searcher.doc_count(), text
        best = sorted(whoosh, key=lambda d: (-whoosh[d], d))[:20]
        assert selection.pks(0, 20) == [int(searcher.stored_fields(d)["pk"]) for d in best], text
        tree = tree_scores(searcher, backend._columns, built)
        for docnum, score in whoosh.items():  # every branch as Whoosh's matchers score it
            assert tree[docnum] == pytest.approx(score, rel=1e-9), (text, docnum)
        if leaves is None:  # a NOT under an OR
            continue
        scores = word_scores(searcher, backend._columns, leaves)
        offsets = {round(score - scores[docnum], 9) for docnum, score in whoosh.items()}
        assert len(offsets) == 1, text  # the same constant for every document kept
        scored += 1
    assert scored == 4
    backend.close()


@pytest.mark.parametrize("position_arrays", [True, False], ids=["position-arrays", "whoosh-blocks"])
def test_phrases_match_and_score_as_whooshs_own_span_matching(tmp_path, monkeypatch, position_arrays):
    """Phrases are matched over their words' positions as sorted arrays (columns.phrase) and
    scored as arrays (ranking.py), never span by span through Whoosh's matchers. Documents
    and scores must be those of Whoosh's own SpanNear2 and collector: adjacent words, words
    across stop words, a word twice, three words, a phrase in a title, slops of 1-3 words,
    across segments, with deletions; positions read from a segment's arrays or, where it
    has none, from Whoosh's blocks."""
    from whoosh import query as wq
    from whoosh.query.spans import SpanNear2

    from articles.search import query as q
    from articles.search.whoosh import arrays
    from articles.search.whoosh import columns as columns_module
    from articles.search.whoosh.columns import _positions_of
    from articles.search.whoosh.ranking import word_leaves, word_scores

    monkeypatch.setattr(arrays, "MIN_SEGMENT_DOCS", 100 if position_arrays else 10**9)
    monkeypatch.setattr(arrays, "MIN_DOCS", 5)
    monkeypatch.setattr(columns_module, "POSITIONS_KEPT", 50)  # some lists decoded each time
    rng = random.Random(11)
    words = "police fired tear gas at the protesters in almaty police strike workers court".split()

    def doc(pk):
        body = " ".join(rng.choice(words) for _ in range(rng.randint(5, 300)))
        return {
            "pk": pk,
            "title": " ".join(rng.choice(words) for _ in range(rng.randint(2, 6))),
            "body": body,
            "city": "Almaty ; Alma-Ata" if pk % 4 == 0 else "",
            "language": "en",
            "stamp": str(pk),
        }

    backend = WhooshBackend(tmp_path / "index")
    backend.rebuild(doc(pk) for pk in range(1, 600))
    backend._open_searcher()
    for (segment, _offset), reader in zip(backend._columns.segments, backend._columns.readers, strict=True):
        assert (segment.arrays is not None) == position_arrays
        if segment.arrays is not None:  # the arrays hold Whoosh's positions exactly
            for field, term in (("body", "polic"), ("body", "fire"), ("title", "strike"), ("city", "alma")):
                held = segment.arrays.get_positions(field, term)
                decoded = _positions_of(reader.postings(field, term))
                assert [a.tolist() for a in held] == [a.tolist() for a in decoded]
    backend.write(upsert=[doc(pk) for pk in (3, 500, 900, 901)], delete=[10, 11, 12])
    searcher = backend._open_searcher()
    columns = backend._columns
    assert searcher.reader().has_deletions() and len(columns.segments) > 1
    spans = []
    real = SpanNear2.SpanNear2Matcher._get_spans
    monkeypatch.setattr(SpanNear2.SpanNear2Matcher, "_get_spans", lambda m: spans.append(1) or real(m))

    for field, terms, slop in [
        ("body", ["polic", "fire"], 1),
        ("body", ["polic", "polic"], 1),
        ("body", ["tear", "gas", "protest"], 1),
        ("body", ["fire", "protest"], 2),
        ("body", ["strike", "court"], 3),
        ("title", ["polic", "strike"], 1),
        ("city", ["alma", "ata"], 1),
    ]:
        phrase = wq.Phrase(field, terms, slop=slop)
        whoosh = set(searcher.docs_for_query(phrase))
        assert whoosh and len(whoosh) < columns.n, (terms, slop)
        spans.clear()
        found = columns.phrase(field, terms, slop)  # deleted documents included, as postings
        assert set(found[columns.live[found]].tolist()) == whoosh, (field, terms, slop)
        assert not spans

    for text in (
        '"police fired"',
        '"fired at the protesters"',  # "at the": stop words, not in the index
        '"police police" strike',
        '"tear gas" OR "workers court"',
        'title:"police strike"',
        '"tear gas protesters" almaty',
    ):
        built, _minimum = backend.translator(searcher).build(q.parse(text))
        leaves = word_leaves(built)
        assert leaves and any(len(leaf) == 4 for leaf in leaves), text
        spans.clear()
        scores = word_scores(searcher, columns, leaves)
        assert not spans
        whoosh = {hit.docnum: hit.score for hit in searcher.search(built, limit=None)}
        assert whoosh, text
        for docnum, score in whoosh.items():
            assert scores[docnum] == pytest.approx(score, rel=1e-9), (text, docnum)
        spans.clear()
        selection = backend.select(Criteria(q=text, sort="relevance"))
        assert set(np.flatnonzero(selection.mask).tolist()) == set(whoosh), text
        best = sorted(whoosh, key=lambda d: (-whoosh[d], d))[:20]
        assert selection.pks(0, 20) == [int(searcher.stored_fields(d)["pk"]) for d in best], text
        assert not spans, text
    backend.close()


@pytest.mark.skipif(not CORPUS.exists(), reason="the shared corpus is not here")
@pytest.mark.skipif(settings.ARCHIVE_SEARCH_ENGINE != "whoosh", reason="Whoosh's own span matching")
def test_phrases_of_real_reports_find_what_whoosh_finds(corpus, monkeypatch):
    """On 1,500 Mass Mobilization reports, with positions read from the segments' arrays:
    50 phrases of two or three words cut from the reports' own sentences (stop words
    inside them included, at least two words left without them) find the count and first
    page that Whoosh's own span matching and collector give."""
    from articles.search import query as q
    from articles.search.whoosh import arrays
    from articles.search.whoosh.ranking import word_leaves

    monkeypatch.setattr(arrays, "MIN_SEGMENT_DOCS", 100)
    monkeypatch.setattr(arrays, "MIN_DOCS", 5)
    backend = search.get_backend()
    with backend.writer_lock():
        backend._write_arrays()
    backend.close()
    backend = search.get_backend()
    searcher = backend._open_searcher()
    assert any(c.arrays is not None and c.arrays.positions.size for c, _ in backend._columns.segments)
    rng = random.Random(11)
    bodies = [a.body for a in corpus if len(a.body.split()) > 8]
    seen, checked = set(), 0
    while checked < 50 and len(seen) < 1000:
        words = rng.choice(bodies).split()
        n = rng.choice((2, 3))
        i = rng.randrange(len(words) - n)
        phrase = " ".join(w.strip(".,;:()\"'") for w in words[i : i + n])
        text = f'"{phrase}"'
        if text in seen or not all(w.isalpha() for w in phrase.split()):
            continue
        seen.add(text)
        try:
            built, _ = backend.translator(searcher).build(q.parse(text))
        except search.QueryError:
            continue  # only stop words
        leaves = word_leaves(built)
        if not leaves or not any(len(leaf) == 4 for leaf in leaves):
            continue  # one word left once the stop words are out: not a phrase
        whoosh = {hit.docnum: hit.score for hit in searcher.search(built, limit=None)}
        selection = backend.select(Criteria(q=text, sort="relevance"))
        assert selection.count() == len(whoosh), text
        best = sorted(whoosh, key=lambda d: (-whoosh[d], d))[:10]
        assert selection.pks(0, 10) == [int(searcher.stored_fields(d)["pk"]) for d in best], text
        checked += 1
    assert checked == 50


def test_a_selection_of_the_whole_archive_and_its_facets(index):
    from . import factories as f

    almaty, taraz = f.city("Almaty"), f.city("Taraz")
    kz = f.country("Kazakhstan")
    f.article("One", published=dt.date(2020, 1, 5), cities=[almaty], countries=[kz])
    f.article("Two", published=dt.date(2021, 3, 5), cities=[almaty, taraz], countries=[kz])
    f.article("Undated", published=None, cities=[taraz])
    f.article("Draft", status="draft", cities=[taraz])
    whole = search.get_backend().select(Criteria())
    assert whole.count() == 3
    assert [Article.objects.get(pk=pk).title for pk in whole.pks(0, 10)] == ["Two", "One", "Undated"]
    assert whole.counts("city") == Counter({almaty.pk: 2, taraz.pk: 2})
    assert whole.counts("year") == Counter({2020: 1, 2021: 1})
    assert whole.dates("month") == Counter({dt.date(2020, 1, 1): 1, dt.date(2021, 3, 1): 1})
    assert whole.date_span() == (dt.date(2020, 1, 5), dt.date(2021, 3, 5))
    only = search.get_backend().select(Criteria(entities=(("city", (taraz.pk,)),), sort="oldest"))
    assert [Article.objects.get(pk=pk).title for pk in only.pks(0, 10)] == ["Two", "Undated"]
    assert only.counts("city") == Counter({almaty.pk: 2, taraz.pk: 2})  # the others to add
    assert only.counts("city", own_filter=True) == Counter({almaty.pk: 1, taraz.pk: 2})
    assert json.dumps(sorted(only.counts("country", own_filter=True).items())) == f"[[{kz.pk}, 1]]"


def test_related_reports_rank_as_whooshs_more_like_does(tmp_path):
    """Related reports are scored as arrays (backend.more_like_this); the list must be the one
    Whoosh's own more_like gives for the same key terms, deleted documents left out."""
    rng = random.Random(11)
    backend = WhooshBackend(tmp_path / "index")
    docs = [
        {
            "pk": pk,
            "title": " ".join(rng.sample(WORDS, 3)).capitalize(),
            "body": " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 60))) + ".",
            "language": "en",
            "date": pk,
            "stamp": str(pk),
        }
        for pk in range(1, 121)
    ]
    backend.rebuild(docs)
    backend.write(upsert=[], delete=range(5, 121, 9))  # deletions in the index's live mask
    deleted = set(range(5, 121, 9))
    checked = 0
    for d in docs[::7]:
        if d["pk"] in deleted:
            continue
        related = backend.more_like_this(d["pk"], text=d["body"], limit=5)
        with backend._lock:
            searcher = backend._open_searcher()
            docnum = searcher.document_number(pk=str(d["pk"]))
            hits = searcher.more_like(docnum, "body", text=d["body"], top=6, numterms=12)
            expected = [int(h["pk"]) for h in hits if int(h["pk"]) != d["pk"]][:5]
        assert related == expected
        assert not deleted & set(related)
        checked += 1
    assert checked >= 10
    backend.close()
