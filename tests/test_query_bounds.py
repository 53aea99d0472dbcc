"""No query can stall a worker: the query language's limits, on the real index.

Speed is measured by `bench/faults.py`, not here; these tests check the bounds themselves:
the fallback runs once, fuzzy distances are capped, expansions are counted, the time
budget stops a search, deep brackets and long queries are refused with a message.
"""

import pytest
from django.conf import settings

from articles import search
from articles.search import query as q
from articles.search.whoosh.translate import Translator

from . import factories as f

pytestmark = pytest.mark.usefixtures("index")
#: The Whoosh engine's own translator (the PostgreSQL engine's: tests/test_postgres_engine.py).
whoosh_only = pytest.mark.skipif(
    settings.ARCHIVE_SEARCH_ENGINE != "whoosh",
    reason="the Whoosh engine's translator: run on the Whoosh engine",
)


def api(client, **params):
    return client.get("/api/search/", params)


def test_syntax_with_no_match_falls_back_once_and_answers(client):
    f.article("Police detain protesters", "Police detained dozens again.")
    # A typo in a query with operators used to be re-read about 1,000 times.
    response = api(client, q="police AND zzzq again")
    assert response.status_code == 200, response.content
    assert response.json()["count"] == 0
    # Four words or more: read once more as plain words, where 2 of 4 must match.
    assert api(client, q="police AND zzzq detained dozens").json()["count"] == 1
    plan = q.parse("police AND zzzq detained dozens")
    assert plan.kind == "syntax" and plan.fallback.kind == "plain"
    assert plan.fallback.fallback is None
    assert [u.label for u in plan.fallback.units] == ["police", "zzzq", "detained", "dozens"]


def test_fuzzy_distance_is_capped_and_said():
    plan = q.parse("police~99999999")
    assert plan.tree == q.Fuzzy("police", q.MAX_FUZZY_DISTANCE)
    assert plan.notices == ["“police~99999999”: fuzzy terms allow at most 2 edits; searched as police~2."]
    assert q.parse("a~99").tree == q.Fuzzy("a", 2)
    assert q.parse("police~").tree == q.Fuzzy("police", 1)


def test_fuzzy_notice_reaches_the_reader(client):
    f.article("Police detain protesters", "Police detained dozens.")
    response = api(client, q="polise~99")
    assert response.status_code == 400
    assert "at most 2 edits" in response.json()["errors"]["q"]
    page = client.get("/search/", {"q": "polise~99"}).content.decode()
    assert "at most 2 edits" in page and "Police detain protesters" in page


@whoosh_only
def test_expansions_are_capped_per_term_and_per_query():
    # More distinct words starting with "pa" than one term may expand to.
    words = [f"pa{chr(97 + i // 26)}{chr(97 + i % 26)}x" for i in range(q.MAX_EXPANSIONS + 30)]
    f.article("Many words", " ".join(words))
    backend = search.get_backend()
    with backend._lock:
        reader = backend._open_searcher().reader()
        translator = Translator(backend.schema, reader)
        built = translator.node(q.parse("pa*").tree)
        assert len(list(built.leaves())) == q.MAX_EXPANSIONS  # only the body holds them
        for _ in range(10):
            translator.node(q.parse("pa*").tree)
        assert translator.expanded == q.MAX_TOTAL_EXPANSIONS
        assert translator.notices


@whoosh_only
def test_a_fuzzy_term_stands_for_its_closest_words_and_shares_the_budget():
    # "polic" (police stemmed) is 1 edit from polict, polica and polik, 2 from the others:
    # common far words must not crowd out rare close ones.
    far = ["pelik", "palik", "pulik", "pelix", "palicx"]
    f.article("Words", " ".join(far * 5 + ["polict", "polica", "polik", "police"]))
    backend = search.get_backend()
    with backend._lock:
        reader = backend._open_searcher().reader()
        translator = Translator(backend.schema, reader)
        built = translator.node(q.parse("police~2").tree)
        words = {leaf.text for leaf in built.leaves()}
        assert len(words) == q.MAX_FUZZY_EXPANSIONS
        assert {"polic", "polict", "polica", "polik"} <= words
        # Every fuzzy term of a query gets its words: the first does not take the budget.
        built = translator.node(q.parse("police~2 pelik~1 palicx~1").tree)
        assert {leaf.text for leaf in built.leaves()} >= {"polic", "pelik", "palicx"}


def test_one_letter_wildcards_are_read_as_words(client):
    f.article("Picket", "A picket in the park.")
    plan = q.parse("p* q* r* s*")
    assert all(isinstance(leaf, q.Term) for leaf in q.leaves(plan.tree))
    assert "give at least 2 letters" in plan.notices[0]
    assert api(client, q="p* q* r* s*").status_code == 400  # said, not silently changed


def test_the_time_budget_stops_a_search(client, monkeypatch):
    f.article("Police detain protesters", "Police detained dozens.")
    monkeypatch.setattr(q, "TIME_BUDGET", 0.0)
    response = api(client, q="police OR detained")
    assert response.status_code == 400
    assert "takes more than" in response.json()["errors"]["q"]


def test_deep_brackets_and_long_queries(client):
    f.article("Police detain protesters", "Police detained dozens.")
    deep = "(" * 400 + "police" + ")" * 400
    response = api(client, q=deep)
    assert response.status_code == 200 and response.json()["count"] == 1
    chained = "NOT " * 300 + "police"
    assert api(client, q=chained).status_code in (200, 400)
    many = " ".join(["police"] * (q.MAX_WORDS + 1))
    response = api(client, q=many)
    assert response.status_code == 400
    assert response.json()["errors"]["q"] == f"The query has {q.MAX_WORDS + 1} words; give at most 64."


@pytest.mark.parametrize("text", ["NOT | NOT NOT |", "AND OR NOT", "((( ))) )(", '"'])
def test_malformed_syntax_is_explained(client, text):
    response = api(client, q=text)
    assert response.status_code == 400
    assert response.json()["errors"]["q"] == "The query has no words to search for."
    assert "only excludes words" in api(client, q="NOT police").json()["errors"]["q"]


def test_one_letter_prefixes_say_why_nothing_is_left(client):
    response = api(client, q="p* q* r*")
    assert response.status_code == 400
    assert response.json()["errors"]["q"] == (
        "“p*”: give at least 2 letters before * or ?; it was searched as a word. "
        "The query has no words to search for."
    )
