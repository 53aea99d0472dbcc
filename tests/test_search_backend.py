"""Contract tests of the search backend interface (articles.search.base.SearchBackend).

Written once against the interface: a second backend is added to BACKENDS and must pass
the same tests. A backend is made by its `make(place)`: Whoosh keeps an index in the
directory `place`; PostgreSQL keeps it in the test database (one place per test: the
database is emptied after each), and is skipped on any other database.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.db import connection, connections

from articles.search.base import IndexUnavailable, QueryError
from articles.search.whoosh import WhooshBackend


@dataclass(frozen=True)
class Engine:
    name: str
    #: (an index directory, unused by engines that keep their index in the database) -> backend
    make: Callable
    in_database: bool = False


def _postgres(_path):
    from articles.search.postgres.backend import PostgresBackend

    return PostgresBackend()


BACKENDS = [Engine("whoosh", WhooshBackend), Engine("postgres", _postgres, in_database=True)]


def _param(engine: Engine):
    # An engine in the database writes and commits as the site does (threads included).
    marks = [pytest.mark.django_db(transaction=True)] if engine.in_database else []
    return pytest.param(engine, id=engine.name, marks=marks)


@pytest.fixture(params=[_param(engine) for engine in BACKENDS])
def make_backend(request, tmp_path):
    """A function that opens the engine's index at a place (`make_backend("idx")`); opening the
    same place twice gives two views of one index, as two processes have."""
    engine = request.param
    if engine.in_database:
        if connection.vendor != "postgresql":
            pytest.skip(f"the {engine.name} engine needs a PostgreSQL database (DATABASE_URL=postgres://...)")
    opened = []

    def make(place: str):
        opened.append(engine.make(tmp_path / place))
        return opened[-1]

    yield make
    for backend in opened:
        backend.close()


def _thread_done():
    """A thread's database connection is its own: close it before the test database goes."""
    connections.close_all()


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


@pytest.fixture
def backend(make_backend):
    engine = make_backend("idx")
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
    return engine


def test_missing_index_reports_unavailable(make_backend):
    engine = make_backend("none")
    assert engine.exists() is False
    with pytest.raises(IndexUnavailable):
        engine.match("anything")


def test_match_stems_and_ranks(backend):
    assert backend.match("detained").pks == [1]
    # "protest" stems to match "protesters" and "protested".
    assert sorted(backend.match("protest").pks) == [1, 2]
    # Two matching words outrank one.
    assert backend.match("protest OR rally").pks[0] == 1


def test_a_rare_word_weighs_more_than_a_common_one(make_backend):
    # "strike" is in all reports but one, "Zhanaozen" in two: the reports naming the town once
    # outrank the one naming the strike three times (a word's weight follows how few reports
    # hold it, as BM25's idf), whichever way round the query names them.
    engine = make_backend("idf")
    engine.rebuild(
        [
            doc(1, "Oil workers", "The strike went on; the strike spread; a strike of oil workers."),
            doc(2, "Oil workers", "The strike reached Zhanaozen, where oil workers camped."),
            doc(3, "Teachers", "Teachers met in Zhanaozen about pay."),
            *(doc(pk, f"Report {pk}", f"A strike of workers number {pk}.") for pk in range(4, 30)),
        ]
    )
    for text in ("strike OR zhanaozen", "zhanaozen OR strike"):
        pks = engine.match(text).pks
        assert sorted(pks[:2]) == [2, 3], text
        assert pks[2] == 1, text


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


def test_highlight_marks_every_place_of_a_word_in_any_case(backend):
    """Every place of a matched word is marked, in every case, beside words that
    lower-casing lengthens ("İ" becomes two characters)."""
    text = "Detained: dozens were DETAINED, then detained again; none detained? {}Dozens fined."
    plain = backend.highlight("detained", {1: text.format("")})
    longer = backend.highlight("detained", {1: text.format("İstanbul. ")})
    for html in (plain[1], longer[1]):
        assert html.count("<mark>") == 4
        assert "<mark>DETAINED</mark>" in html and "<mark>Detained</mark>" in html
    assert longer[1].replace("İstanbul. ", "") == plain[1]


def test_more_like_this_excludes_the_document(backend):
    backend.write(upsert=[doc(4, "Rally detainees", "Dozens were detained at a rally in Almaty.")])
    related = backend.more_like_this(1, text="Dozens were detained at a rally.", limit=3)
    assert 1 not in related
    assert related[0] == 4


def test_related_reports_share_the_most_and_the_rarest_of_the_reports_words_first(backend):
    """A report sharing several of a report's words comes before one sharing fewer, and one
    sharing a rare word before one repeating a word every report holds."""
    common = [doc(pk, f"Strike {pk}", "Workers went on strike over wages. " * 2) for pk in range(10, 30)]
    backend.write(
        upsert=[
            *common,
            doc(4, "Oil workers", "Zhanaozen oil workers held a strike over wages in the square."),
            doc(5, "Square", "Zhanaozen residents gathered in the square."),
            doc(6, "Strike again", "Workers on strike, strike, strike over wages and strike pay."),
            doc(7, "Zhanaozen", text := "Oil workers of Zhanaozen on strike over wages filled the square."),
        ]
    )
    related = backend.more_like_this(7, text=text, limit=5)
    assert related[:2] == [4, 5]
    assert 7 not in backend.more_like_this(7, text=text, limit=30)


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
        finally:
            _thread_done()

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


def test_searches_during_commits_never_fail(backend, make_backend):
    reader = make_backend("idx")  # another process's view of the same index
    stop = threading.Event()
    failures, answers = [], []

    def search_forever():
        while not stop.is_set():
            try:
                answers.append(len(reader.match("churn OR detained").pks))
            except Exception as exc:  # pragma: no cover - the assertion shows it
                failures.append(repr(exc))
        _thread_done()

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
            # The reader answers between the writes, however fast an engine writes and
            # however busy the machine (PostgreSQL writes in milliseconds: without this the
            # writer could finish before the reader's thread had its turns).
            deadline = time.monotonic() + 10
            while len(answers) + len(failures) <= i and time.monotonic() < deadline:
                time.sleep(0.001)
    finally:
        stop.set()
        thread.join()
    reader.close()
    assert failures == []
    assert len(answers) > 10
    assert backend.match("churn").pks and len(backend.match("churn").pks) == 20


def test_suggestions_come_only_from_live_documents(make_backend):
    """A deleted document's words stay in a large segment's vocabulary until it is merged;
    "did you mean" must never offer them (they may be an unpublished report's)."""
    engine = make_backend("big")
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


def test_suggestions_prefer_the_closest_word_then_the_most_frequent(make_backend):
    """ "strikr" is one edit from "strike" and two from "strife", which more reports hold:
    the closer word wins (Whoosh's own corrector ranks by frequency alone); between words
    at the same distance, the more frequent one."""
    engine = make_backend("idx")
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


def test_an_empty_index_answers_suggestions_and_fuzzy_terms(make_backend):
    """No segment at all: a word that matches nothing and a fuzzy term find nothing, with
    no suggestion and no error."""
    engine = make_backend("idx")
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
