"""`/api/search/` and `/api/articles/<slug>/`: shapes, filters, facets, sorting, paging and
bad input, on the real database and index."""

import datetime as dt

import pytest

from . import factories as f


@pytest.fixture
def corpus(index):
    rfe = f.source("RFE/RL", aliases=["Radio Free Europe/Radio Liberty"])
    tass = f.source("TASS")
    almaty = f.city("Almaty", aliases=["Alma-Ata"])
    astana = f.city("Astana", aliases=["Nur-Sultan"])
    tokayev = f.actor("Kassym-Jomart Tokayev", aliases=["Toqaev", "Tokaev"])
    dvk = f.actor("Democratic Choice of Kazakhstan", aliases=["DVK"], kind="organisation")
    kz, kg = f.country("Kazakhstan"), f.country("Kyrgyzstan")
    a1 = f.article(
        "Police detain protesters in Almaty",
        "Police detained dozens of protesters.",
        published=dt.date(2019, 6, 10),
        source=rfe,
        cities=[almaty],
        actors=[tokayev],
        original_url="https://example.org/a1",
        record_id="r-1",
        countries=[kz],
    )
    a2 = f.article(
        "Rally in the capital",
        "Supporters of the DVK rallied against Toqaev.",
        published=dt.date(2020, 2, 22),
        source=rfe,
        cities=[astana, almaty],
        actors=[tokayev, dvk],
        countries=[kz],
    )
    a3 = f.article(
        "Court bans opposition movement",
        "The court banned the movement.",
        published=dt.date(2018, 3, 13),
        source=tass,
        cities=[astana],
        actors=[dvk],
        countries=[kz, kg],
    )
    draft = f.article(
        "Unreleased zeppelin report",
        "A draft about protesters and a zeppelin.",
        status="draft",
        published=dt.date(2020, 3, 1),
        source=tass,
        cities=[almaty],
        actors=[tokayev],
    )
    return {"a1": a1, "a2": a2, "a3": a3, "draft": draft}


def get(client, params="", status=200):
    response = client.get("/api/search/" + params)
    assert response.status_code == status, response.content
    return response.json()


def titles(data):
    return [r["title"] for r in data["results"]]


def test_result_shape(client, corpus):
    data = get(client, "?q=toqaev")
    assert data["count"] == 2 and data["page"] == 1 and data["pages"] == 1
    assert data["query"] == {"q": "toqaev", "corrected": None}
    first = next(r for r in data["results"] if r["slug"] == corpus["a1"].slug)
    assert first == {
        "slug": corpus["a1"].slug,
        "record_id": "r-1",
        "title": "Police detain protesters in Almaty",
        "published": "2019-06-10",
        "source": {"slug": "rfe-rl", "name": "RFE/RL"},
        "cities": [{"slug": "almaty", "name": "Almaty"}],
        "actors": [{"slug": "kassym-jomart-tokayev", "name": "Kassym-Jomart Tokayev"}],
        "country": "Kazakhstan",
        "snippet": "Police detained dozens of protesters.",
        "url": f"/articles/{corpus['a1'].slug}/",
        "original_url": "https://example.org/a1",
    }
    assert data["facets"] == {
        "source": [{"value": "rfe-rl", "label": "RFE/RL", "count": 2, "selected": False}],
        "city": [
            {"value": "almaty", "label": "Almaty", "count": 2, "selected": False},
            {"value": "astana", "label": "Astana", "count": 1, "selected": False},
        ],
        "actor": [
            {
                "value": "kassym-jomart-tokayev",
                "label": "Kassym-Jomart Tokayev",
                "count": 2,
                "selected": False,
            },
            {
                "value": "democratic-choice-of-kazakhstan",
                "label": "Democratic Choice of Kazakhstan",
                "count": 1,
                "selected": False,
            },
        ],
        "country": [{"value": "kazakhstan", "label": "Kazakhstan", "count": 2, "selected": False}],
        "year": [
            {"value": "2020", "label": "2020", "count": 1, "selected": False},
            {"value": "2019", "label": "2019", "count": 1, "selected": False},
        ],
    }


def test_snippet_marks_matches_and_is_escaped(client, corpus):
    f.article("Escaping check", "Protesters wrote <script>alert('x')</script> on walls.")
    data = get(client, "?q=walls")
    assert data["results"][0]["snippet"] == (
        "Protesters wrote &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; on <mark>walls</mark>."
    )


def test_browse_without_query_is_newest_first(client, corpus):
    data = get(client)
    assert titles(data) == [
        "Rally in the capital",
        "Police detain protesters in Almaty",
        "Court bans opposition movement",
    ]
    assert get(client, "?sort=oldest")["results"][0]["title"] == "Court bans opposition movement"


def test_drafts_are_invisible(client, corpus):
    assert get(client, "?q=zeppelin")["count"] == 0
    data = get(client, "?q=protesters")
    assert titles(data) == ["Police detain protesters in Almaty"]
    assert all(item["count"] <= 2 for items in data["facets"].values() for item in items)
    assert get(client, "?year=2020")["count"] == 1
    assert client.get(f"/api/articles/{corpus['draft'].slug}/").status_code == 404


def test_filters_or_within_and_across(client, corpus):
    assert get(client, "?city=almaty")["count"] == 2
    assert get(client, "?city=almaty&city=astana")["count"] == 3
    assert titles(get(client, "?city=almaty&source=rfe-rl&year=2020")) == ["Rally in the capital"]
    assert titles(get(client, "?year=2018&year=2019&sort=oldest")) == [
        "Court bans opposition movement",
        "Police detain protesters in Almaty",
    ]
    assert titles(get(client, "?date_from=2019-06-10&date_to=2019-06-10")) == [
        "Police detain protesters in Almaty"
    ]


def test_facets_follow_other_filters_and_keep_selection(client, corpus):
    data = get(client, "?city=astana")
    assert data["count"] == 2
    # The city facet ignores its own filter, so other cities can be added; selected first.
    assert data["facets"]["city"] == [
        {"value": "astana", "label": "Astana", "count": 2, "selected": True},
        {"value": "almaty", "label": "Almaty", "count": 2, "selected": False},
    ]
    # ...while the other facets follow it.
    assert data["facets"]["source"] == [
        {"value": "rfe-rl", "label": "RFE/RL", "count": 1, "selected": False},
        {"value": "tass", "label": "TASS", "count": 1, "selected": False},
    ]
    # A selected value with no match stays visible with a zero count.
    data = get(client, "?q=detained&source=tass")
    assert data["count"] == 0
    assert {"value": "tass", "label": "TASS", "count": 0, "selected": True} in data["facets"]["source"]


def test_relevance_and_sorting_with_query(client, corpus):
    assert get(client, "?q=toqaev&sort=oldest")["results"][0]["title"] == (
        "Police detain protesters in Almaty"
    )
    assert get(client, "?q=toqaev&sort=newest")["results"][0]["title"] == "Rally in the capital"


def test_pagination(client, corpus):
    data = get(client, "?per_page=2")
    assert (data["count"], data["pages"], len(data["results"])) == (3, 2, 2)
    data = get(client, "?per_page=2&page=2")
    assert titles(data) == ["Court bans opposition movement"]
    assert get(client, "?per_page=2&page=3", status=400) == {
        "errors": {"page": "There are only 2 page(s) of results."}
    }


@pytest.mark.parametrize(
    "params, errors",
    [
        ("?city=nowhere", {"city": "There is no city “nowhere”."}),
        ("?source=bad%20slug!", {"source": "“bad slug!” is not a valid source slug."}),
        ("?date_from=2020-02-30", {"date_from": "Enter a real date as YYYY-MM-DD."}),
        ("?date_from=10/06/2020", {"date_from": "Enter a real date as YYYY-MM-DD."}),
        ("?date_from=2020-03-01&date_to=2020-01-01", {"date_to": "The end date is before the start date."}),
        ("?year=20", {"year": "“20” is not a year (use YYYY)."}),
        ("?year=0000", {"year": "There is no year 0000: years run from 0001 to 9999."}),
        ("?page=99999999999999999999", {"page": "Pages are numbered from 1 to 1000000."}),
        ("?page=0", {"page": "Pages are numbered from 1."}),
        ("?page=x", {"page": "The page is a whole number from 1."}),
        ("?per_page=101", {"per_page": "Give per_page as a number from 1 to 100."}),
        ("?sort=random", {"sort": "Sort by relevance, newest or oldest."}),
        ("?colour=red", {"colour": "Unknown parameter: it was ignored."}),
        ("?q=%00", {"q": "Null characters are not allowed."}),
        ("?city=%00", {"city": "Null characters are not allowed."}),
    ],
)
def test_bad_parameters_answer_400(client, corpus, params, errors):
    assert get(client, params, status=400) == {"errors": errors}


def test_overlong_query(client, corpus):
    data = get(client, "?q=" + "a" * 10000, status=400)
    assert data == {"errors": {"q": "The query is too long: at most 1000 characters (it has 10000)."}}


def test_unparseable_query_is_reported(client, corpus):
    data = get(client, "?q=NOT+|+NOT+NOT+|", status=400)
    assert set(data["errors"]) == {"q"}


def test_article_json(client, corpus):
    response = client.get(f"/api/articles/{corpus['a2'].slug}/")
    assert response.status_code == 200
    data = response.json()
    assert data["body"] == "Supporters of the DVK rallied against Toqaev."
    assert data["language"] == "en"
    assert "snippet" not in data
    assert [c["slug"] for c in data["cities"]] == ["almaty", "astana"]
    related = [r["title"] for r in data["related"]]
    assert "Rally in the capital" not in related
    assert "Unreleased zeppelin report" not in related
    assert all("snippet" not in r for r in data["related"])
    assert client.get("/api/articles/no-such-thing/").json() == {
        "errors": {"slug": "No published article has this slug."}
    }


def test_facet_filter_box_keeps_selected_values_with_their_counts(client, corpus):
    data = get(client, "?city=astana&facet_city=alm")
    assert data["facets"]["city"] == [
        {"value": "astana", "label": "Astana", "count": 2, "selected": True},
        {"value": "almaty", "label": "Almaty", "count": 2, "selected": False},
    ]
    data = get(client, "?facet_city=ALMA-ATA")  # aliases count too
    assert [item["value"] for item in data["facets"]["city"]] == ["almaty"]


def test_undated_reports_come_last_in_both_date_orders(client, corpus):
    undated = f.article("Undated rally report", "Workers rallied; toqaev.", published=None)
    for params in ("?sort=oldest", "?sort=newest", "?q=toqaev&sort=oldest", "?q=toqaev&sort=newest"):
        assert get(client, params)["results"][-1]["slug"] == undated.slug, params


def test_country_parameter_and_facet(client, corpus):
    data = get(client, "?country=kyrgyzstan")
    assert [r["title"] for r in data["results"]] == ["Court bans opposition movement"]
    assert data["results"][0]["country"] == "Kazakhstan; Kyrgyzstan"
    # Values of one parameter are ORed; the selected value stays in its facet with the others.
    data = get(client, "?country=kyrgyzstan&country=kazakhstan")
    assert data["count"] == 3
    assert data["facets"]["country"] == [
        {"value": "kazakhstan", "label": "Kazakhstan", "count": 3, "selected": True},
        {"value": "kyrgyzstan", "label": "Kyrgyzstan", "count": 1, "selected": True},
    ]
    # ANDed with the other parameters.
    assert get(client, "?country=kyrgyzstan&city=almaty")["count"] == 0
    assert get(client, "?country=atlantis", status=400) == {
        "errors": {"country": "There is no country “atlantis”."}
    }
