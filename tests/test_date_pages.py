"""`/archive/<yyyy>/` and `/archive/<yyyy>/<mm>/`, read the way a reader sees them."""

import datetime as dt
from html.parser import HTMLParser

import pytest

from articles.models import Article

from . import factories as f
from .html import read


@pytest.fixture
def corpus(index):
    almaty = f.city("Almaty")
    a = {
        "june10a": f.article("Rally on the square", published=dt.date(2020, 6, 10), cities=[almaty]),
        "june10b": f.article("Second rally that day", published=dt.date(2020, 6, 10)),
        "june20": f.article("Strike at the plant", published=dt.date(2020, 6, 20)),
        "feb": f.article("Winter picket", published=dt.date(2020, 2, 1)),
        "dec19": f.article("December march", published=dt.date(2019, 12, 31)),
        "draft": f.article(
            "Unreleased zeppelin report", "zeppelin", status="draft", published=dt.date(2020, 6, 10)
        ),
    }
    return a


class _Tables(HTMLParser):
    """Each table's caption and rows (cell texts, with the row header first)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables, self._cell, self._caption = [], None, None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append({"caption": "", "rows": [], "scopes": []})
        elif tag == "caption":
            self._caption = ""
        elif tag == "tr":
            self.tables[-1]["rows"].append([])
        elif tag in ("th", "td"):
            self._cell = ""
            if tag == "th":
                self.tables[-1]["scopes"].append(dict(attrs).get("scope"))

    def handle_endtag(self, tag):
        if tag in ("th", "td") and self._cell is not None:
            self.tables[-1]["rows"][-1].append(" ".join(self._cell.split()))
            self._cell = None
        elif tag == "caption":
            self.tables[-1]["caption"] = " ".join(self._caption.split())
            self._caption = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data
        if self._caption is not None:
            self._caption += data


def tables(response):
    parser = _Tables()
    parser.feed(response.content.decode())
    return parser.tables


def result_titles(page):
    return [text for tag, text in page.headings if tag == "h3"]


def h1s(page):
    return [text for tag, text in page.headings if tag == "h1"]


MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def test_year_page(client, corpus):
    response = client.get("/archive/2020/")
    assert response.status_code == 200
    page = read(response)
    assert h1s(page) == ["Reports from 2020"]
    assert "4 published reports from 2020." in page.visible
    assert result_titles(page) == [
        "Strike at the plant",
        "Second rally that day",
        "Rally on the square",
        "Winter picket",
    ]
    [table] = tables(response)
    assert table["caption"] == "Reports per month in 2020"
    counts = {"February": "1", "June": "3"}
    assert table["rows"] == (
        [["Month", "Reports"]] + [[f"{m} 2020", counts.get(m, "0")] for m in MONTHS] + [["Total", "4"]]
    )
    assert set(table["scopes"]) == {"col", "row"}
    # Every month in the table and the chart links to its month page, empty ones included.
    for number, month in enumerate(MONTHS, 1):
        assert (f"{month} 2020", f"/archive/2020/{number:02d}/") in page.links
    chart = [text for text, href in page.links if href == "/archive/2020/06/"]
    assert "3 Jun June 2020: 3 reports" in chart
    assert "Jul July 2020: no reports" in [t for t, h in page.links if h == "/archive/2020/07/"]
    assert (
        "Search within the reports from 2020",
        "/search/?date_from=2020-01-01&date_to=2020-12-31",
    ) in page.links
    assert ("← 2019", "/archive/2019/") in page.links
    assert ("2021 →", "/archive/2021/") in page.links
    assert "← 2019 (1 report)" in page.visible
    assert "2021 → (no reports)" in page.visible
    assert ("2019", "/archive/2019/") in page.links  # years with reports
    assert ("Atom feed", "/search/feed/?date_from=2020-01-01&date_to=2020-12-31") in page.links
    assert ("CSV", "/search/export.csv?date_from=2020-01-01&date_to=2020-12-31") in page.links


def test_month_page(client, corpus):
    response = client.get("/archive/2020/06/")
    assert response.status_code == 200
    page = read(response)
    assert h1s(page) == ["Reports from June 2020"]
    assert "3 published reports from June 2020." in page.visible
    assert result_titles(page) == ["Strike at the plant", "Second rally that day", "Rally on the square"]
    [table] = tables(response)
    assert table["caption"] == "Reports per day in June 2020"
    counts = {10: "2", 20: "1"}
    assert table["rows"] == (
        [["Day", "Reports"]]
        + [[f"{d} June 2020", counts.get(d, "0")] for d in range(1, 31)]
        + [["Total", "3"]]
    )
    # A day with reports links to a search of that day; the search finds exactly them.
    day = "/search/?date_from=2020-06-10&date_to=2020-06-10"
    assert ("10 June 2020", day) in page.links
    assert "2 10 10 June 2020: 2 reports" in [text for text, href in page.links if href == day]
    api = client.get("/api/search/?date_from=2020-06-10&date_to=2020-06-10").json()
    assert [r["title"] for r in api["results"]] == ["Second rally that day", "Rally on the square"]
    assert not [href for text, href in page.links if "2020-06-11" in (href or "")]
    assert (
        "Search within the reports from June 2020",
        "/search/?date_from=2020-06-01&date_to=2020-06-30",
    ) in page.links
    assert ("← May 2020", "/archive/2020/05/") in page.links
    assert ("July 2020 →", "/archive/2020/07/") in page.links
    assert "← May 2020 (no reports)" in page.visible
    assert ("2020", "/archive/2020/") in page.links


def test_neighbours_cross_year_boundaries(client, corpus):
    page = read(client.get("/archive/2020/01/"))
    assert ("← December 2019", "/archive/2019/12/") in page.links
    assert "← December 2019 (1 report)" in page.visible
    assert "February 2020 → (1 report)" in page.visible
    page = read(client.get("/archive/2019/12/"))
    assert ("January 2020 →", "/archive/2020/01/") in page.links
    assert "December march" in result_titles(page)


def test_calendar_edges(client, index):
    page = read(client.get("/archive/0001/"))
    assert h1s(page) == ["Reports from 1"]
    assert not [href for text, href in page.links if text.startswith("←")]
    page = read(client.get("/archive/9999/12/"))
    assert not [href for text, href in page.links if text.endswith("→")]
    assert ("← November 9999", "/archive/9999/11/") in page.links
    assert len(tables(client.get("/archive/2024/02/"))) == 0  # empty: no table
    f.article("Leap day rally", published=dt.date(2024, 2, 29))
    [table] = tables(client.get("/archive/2024/02/"))
    assert table["rows"][-2:] == [["29 February 2024", "1"], ["Total", "1"]]


def test_empty_year(client, corpus):
    response = client.get("/archive/1990/")
    assert response.status_code == 200
    page = read(response)
    assert h1s(page) == ["Reports from 1990"]
    assert "There are no published reports from 1990." in page.visible
    assert "← 1989 (no reports)" in page.visible
    assert "1991 → (no reports)" in page.visible
    assert tables(response) == []
    assert result_titles(page) == []
    assert ("2020", "/archive/2020/") in page.links  # a way on to years that have reports


def test_drafts_are_invisible(client, corpus):
    for url in ["/archive/2020/", "/archive/2020/06/"]:
        page = read(client.get(url))
        assert "zeppelin" not in page.visible, url
        assert corpus["draft"].slug not in str(page.links), url
    page = read(client.get("/archive/2020/03/"))  # its only report is the draft
    assert "There are no published reports from March 2020." in page.visible
    for article in Article.objects.filter(status="published"):
        article.status = "draft"
        article.save()
    page = read(client.get("/archive/2020/06/"))
    assert "There are no published reports from June 2020." in page.visible
    assert "2019 (" not in page.visible  # no years with published reports left


def test_pagination(client, index):
    for day in range(1, 26):
        f.article(f"March report {day:02d}", published=dt.date(2021, 3, day))
    response = client.get("/archive/2021/03/")
    page = read(response)
    assert result_titles(page) == [f"March report {d:02d}" for d in range(25, 5, -1)]
    assert "Reports, newest first (1–20 of 25)" in page.visible
    assert ("Next", "?page=2") in page.links
    assert '<link rel="next" href="?page=2">' in response.content.decode()
    page2 = read(client.get("/archive/2021/03/?page=2"))
    assert result_titles(page2) == [f"March report {d:02d}" for d in range(5, 0, -1)]
    assert ("Previous", "?page=1") in page2.links
    page = read(client.get("/archive/2021/?page=2"))
    assert result_titles(page) == [f"March report {d:02d}" for d in range(5, 0, -1)]


@pytest.mark.parametrize(
    "url, message",
    [
        ("/archive/0000/", "There is no archive page for the year 0: years run from 1 to 9999."),
        ("/archive/99999/", "There is no archive page for the year 99999: years run from 1 to 9999."),
        ("/archive/0/01/", "There is no archive page for the year 0: years run from 1 to 9999."),
        ("/archive/2020/13/", "There is no month 13: months run from 01 (January) to 12 (December)."),
        ("/archive/2020/00/", "There is no month 0: months run from 01 (January) to 12 (December)."),
        (
            "/archive/2020/06/?page=2",
            "There is no page 2 of the reports from June 2020: there is only 1 page.",
        ),
        ("/archive/1990/?page=2", "There is no page 2 of the reports from 1990: there is only 1 page."),
        ("/archive/2020/?page=0", "“0” is not a page number: pages are numbered from 1."),
        ("/archive/2020/?page=abc", "“abc” is not a page number: pages are numbered from 1."),
        ("/archive/2020/?page=-1", "“-1” is not a page number: pages are numbered from 1."),
        ("/archive/2020/?page=%C2%B2", "“²” is not a page number: pages are numbered from 1."),
        ("/archive/2020/?page=" + "9" * 5000, "is not a page number: pages are numbered from 1."),
        ("/archive/2020/06/?page=%00", "is not a page number: pages are numbered from 1."),
    ],
)
def test_bad_addresses_are_404_with_a_message(client, corpus, url, message):
    response = client.get(url)
    assert response.status_code == 404
    page = read(response)
    assert h1s(page) == ["Not found"]
    assert message in page.visible


@pytest.mark.parametrize(
    "url",
    ["/archive/abcd/", "/archive/2020/june/", "/archive/-1/", "/archive/2020/06/01/", "/archive/2020.5/"],
)
def test_paths_that_are_not_dates_are_404(client, index, url):
    assert client.get(url).status_code == 404


def test_non_canonical_paths_redirect(client, index):
    response = client.get("/archive/2020/6/?page=1")
    assert response.status_code == 301
    assert response["Location"] == "/archive/2020/06/?page=1"
    assert client.get("/archive/02020/")["Location"] == "/archive/2020/"
    assert client.get("/archive/999/")["Location"] == "/archive/0999/"


def test_markup_in_data_is_escaped(client, index):
    payload = '<img src=x onerror=alert(1)>"><script>alert(2)</script>'
    c = f.city(f"City {payload}")
    f.article(f"Title {payload}", f"Body {payload}", cities=[c], published=dt.date(2020, 6, 1))
    for url in ["/archive/2020/", "/archive/2020/06/"]:
        html = client.get(url).content.decode()
        assert "<script>alert" not in html and "<img src=x" not in html, url
