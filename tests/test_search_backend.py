"""Contract tests of the search backend interface (articles.search.base.SearchBackend).

Written once against the interface: a second backend is added to BACKENDS and must pass
the same tests.
"""

import threading

import pytest

from articles.search.base import IndexUnavailable, QueryError
from articles.search.whoosh import WhooshBackend

BACKENDS = [WhooshBackend]


def doc(pk, title, body="", source="", city="", actor="", language="en", stamp=None):
    return {
        "pk": pk,
        "title": title,
        "body": body,
        "source": source,
        "city": city,
        "actor": actor,
        "language": language,
        "published": "2020-06-10",
        "stamp": stamp or f"s{pk}",
    }


@pytest.fixture(params=BACKENDS, ids=lambda cls: cls.__name__)
def backend(request, tmp_path):
    engine = request.param(tmp_path / "idx")
    engine.rebuild(
        [
            doc(
                1,
                "Police detain protesters in Almaty",
                "Dozens were detained at a rally.",
                city="Almaty ; Alma-Ata",
            ),
            doc(
                2,
                "Election day in the capital",
                "Voters queued; some protested the polls.",
                city="Astana ; Nur-Sultan",
                actor="Kassym-Jomart Tokayev ; Toqaev",
            ),
            doc(
                3,
                "Court bans movement",
                "A court banned the Democratic Choice movement.",
                actor="Democratic Choice of Kazakhstan ; DVK",
            ),
        ]
    )
    yield engine
    engine.close()


def test_missing_index_reports_unavailable(tmp_path):
    engine = WhooshBackend(tmp_path / "none")
    assert engine.exists() is False
    with pytest.raises(IndexUnavailable):
        engine.match("anything")


def test_match_stems_and_ranks(backend):
    assert backend.match("detained").pks == [1]
    # "protest" stems to match "protesters" and "protested".
    assert sorted(backend.match("protest").pks) == [1, 2]
    # Two matching words outrank one.
    assert backend.match("protest OR rally").pks[0] == 1


def test_names_and_aliases_are_searchable(backend):
    assert backend.match("toqaev").pks == [2]
    assert backend.match("Nur-Sultan").pks == [2]
    assert backend.match("dvk").pks == [3]
    assert backend.match("city:alma-ata").pks == [1]
    assert backend.match("actor:tokayev").pks == [2]


def test_query_syntax(backend):
    assert backend.match('"democratic choice"').pks == [3]
    assert sorted(backend.match("detained OR banned").pks) == [1, 3]
    assert backend.match("protest NOT almaty").pks == [2]
    assert backend.match("title:court").pks == [3]
    assert backend.match("body:voters AND city:astana").pks == [2]


def test_accents_and_case_are_folded(backend):
    assert backend.match("TOQÁEV").pks == [2]


def test_write_upserts_and_deletes(backend):
    backend.write(upsert=[doc(1, "Renamed report", "nothing here", stamp="new")], delete=[3])
    assert backend.match("renamed").pks == [1]
    assert backend.match("detained").pks == []
    assert backend.match("dvk").pks == []
    assert backend.stamps() == {1: "new", 2: "s2"}


def test_highlight_escapes_text_and_marks_matches(backend):
    html = backend.highlight("detained", {1: "<b>Dozens</b> were detained & fined."})
    assert html == {1: "&lt;b&gt;Dozens&lt;/b&gt; were <mark>detained</mark> &amp; fined."}
    assert backend.highlight("detained", {2: "no match at all"}) == {}


def test_more_like_this_excludes_the_document(backend):
    backend.write(upsert=[doc(4, "Rally detainees", "Dozens were detained at a rally in Almaty.")])
    related = backend.more_like_this(1, text="Dozens were detained at a rally.", limit=3)
    assert 1 not in related
    assert related[0] == 4


def test_rebuild_replaces_everything(backend):
    backend.rebuild([doc(9, "Only document")])
    assert backend.stamps() == {9: "s9"}
    assert backend.match("document").pks == [9]


def test_concurrent_writers_all_succeed(backend):
    errors = []

    def write(pk):
        try:
            backend.write(upsert=[doc(pk, f"threaded report {pk}")])
        except Exception as exc:  # pragma: no cover - the assertion shows it
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(pk,)) for pk in range(100, 106)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(backend.match("threaded").pks) == list(range(100, 106))


@pytest.mark.parametrize("q", ["NOT | NOT NOT |", "title:", '"unclosed', "(((", "a AND", "*"])
def test_malformed_queries_never_crash(backend, q):
    try:
        backend.match(q)
    except QueryError:
        pass


def test_searches_during_commits_never_fail(backend):
    reader = type(backend)(backend.path)  # another process's view of the same index
    stop = threading.Event()
    failures, answers = [], []

    def search_forever():
        while not stop.is_set():
            try:
                answers.append(len(reader.match("churn OR detained").pks))
            except Exception as exc:  # pragma: no cover - the assertion shows it
                failures.append(repr(exc))

    thread = threading.Thread(target=search_forever)
    thread.start()
    try:
        for i in range(20):
            backend.write(upsert=[doc(1000 + i, f"churn {i}")])
            if i % 10 == 9:
                backend.rebuild(
                    [
                        doc(1, "Police detain protesters", "detained"),
                        *(doc(1000 + j, f"churn {j}") for j in range(i + 1)),
                    ]
                )
    finally:
        stop.set()
        thread.join()
    reader.close()
    assert failures == []
    assert len(answers) > 10
    assert backend.match("churn").pks and len(backend.match("churn").pks) == 20


def test_suggestions_come_only_from_live_documents(tmp_path):
    """A deleted document's words stay in a large segment's vocabulary until it is merged;
    "did you mean" must never offer them (they may be an unpublished report's)."""
    engine = WhooshBackend(tmp_path / "big")
    engine.rebuild(
        [
            *(doc(n, f"report {n}", "students rallied in the square") for n in range(1, 3000)),
            doc(5000, "zanthoxylum report", "a zanthoxylum of officials"),
            doc(5001, "zanthoxylun report", "a zanthoxylun of officials"),
        ]
    )
    assert engine.match("zanthoxylux").corrected in {"zanthoxylum", "zanthoxylun"}
    engine.write(upsert=[], delete=[5000])
    assert engine.match("zanthoxylux").corrected == "zanthoxylun"
    engine.write(upsert=[], delete=[5001])
    assert engine.match("zanthoxylux").corrected is None
    engine.close()


def test_suggestions_prefer_the_closest_word_then_the_most_frequent(tmp_path):
    """ "strikr" is one edit from "strike" and two from "strife", which more reports hold:
    the closer word wins (Whoosh's own corrector ranks by frequency alone); between words
    at the same distance, the more frequent one."""
    engine = WhooshBackend(tmp_path / "idx")
    engine.rebuild(
        [
            doc(1, "Dock strike", "workers on strike at the port"),
            *(doc(n, f"Strife {n}", "strife in the coalition") for n in range(2, 8)),
            doc(10, "Ballot count", "the ballots were counted"),
            *(doc(n, f"Ballet {n}", "the ballet opened") for n in range(11, 14)),
        ]
    )
    assert engine.match("strikr").corrected == "strike"
    # "ballat" is one edit from both "ballot" (one report) and "ballet" (three).
    assert engine.match("ballat").corrected == "ballet"
    engine.close()


@pytest.mark.parametrize("backend_class", BACKENDS)
def test_an_empty_index_answers_suggestions_and_fuzzy_terms(tmp_path, backend_class):
    """No segment at all: a word that matches nothing and a fuzzy term find nothing, with
    no suggestion and no error."""
    engine = backend_class(tmp_path / "idx")
    engine.rebuild([])
    found = engine.match("zebra")
    assert (found.pks, found.corrected) == ([], None)
    assert engine.match("zebra~").pks == []
    assert engine.match("zebr*").pks == []
    engine.close()


def test_expansions_that_match_no_word_find_nothing_without_an_error(backend):
    # Not "too common to search for": the words are fine, the index has none like them.
    for q in ("xqzvw~", "xqzv*", "xq?zv", "title:xqzv*", "xqzvw~ OR qwxz*"):
        assert backend.match(q).pks == [], q
    assert backend.match("xqzv* OR detained").pks == backend.match("detained").pks
