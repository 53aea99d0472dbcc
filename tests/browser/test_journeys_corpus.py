"""Readers' journeys in Chromium with JavaScript off, on a corpus of 300 generated reports
(2015-2020, 40 cities, 20 actors, 6 sources) imported through the Importer, so names,
aliases and the index are built the real way.

The corpus is imported once for the module and served by its own live server (see
`archive_site` in conftest.py); every journey only reads.
"""

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from .conftest import archive_site
from .corpus import load_corpus

# The django_db mark only makes pytest-django create the test database when these run alone.
pytestmark = [pytest.mark.browser, pytest.mark.django_db]

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(scope="module")
def site(django_db_setup, django_db_blocker, tmp_path_factory):
    index_dir = tmp_path_factory.mktemp("journeys") / "index"
    with archive_site(django_db_blocker, index_dir, load_corpus) as site:
        yield site


@pytest.fixture(autouse=True)
def fresh_index(site):
    """The module's archive and index serve every test (overrides tests/conftest.py's)."""
    return site.index_dir


@pytest.fixture
def page(site, shared_browser):
    context = shared_browser.new_context(base_url=site.url, java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def result_count(page) -> int:
    """The number of results the search page announces ("117 reports, showing 1-20")."""
    return int(re.match(r"(\d+) reports?", page.locator("#results-heading").inner_text()).group(1))


def chips(page) -> list[str]:
    """The active filters as read aloud, without the "×" and "(remove this filter)"."""
    return [
        " ".join(t.replace("×", "").replace("(remove this filter)", "").split())
        for t in page.locator(".chip").all_inner_texts()
    ]


def facet(page, name: str):
    return page.locator(".facet").filter(has=page.get_by_role("heading", name=name, exact=True))


def facet_values(page, name: str) -> dict[str, int]:
    """Visible values of a facet and their counts."""
    values = {}
    for item in facet(page, name).locator("li").all():
        if item.is_visible():
            label = " ".join(item.locator("a").inner_text().replace("✓", "").replace("Selected:", "").split())
            values[label] = int(item.locator(".count").inner_text())
    return values


def query(page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def test_search_narrow_by_a_facet_then_a_second_value_then_remove_with_a_chip(page):
    page.goto("/")
    page.get_by_label("Search the full text").fill("protest")
    page.get_by_label("Search the full text").press("Enter")
    page.wait_for_url(re.compile(r"/search/\?q=protest"))
    everything = result_count(page)
    assert 20 < everything < 300
    assert page.locator(".result").count() == 20  # first page of several

    cities = facet_values(page, "City")
    first, second = list(cities)[:2]
    facet(page, "City").get_by_role("link", name=first, exact=True).click()
    one_city = result_count(page)
    assert one_city == cities[first]  # the facet's count is what the click gives
    assert chips(page) == ["Text: protest", f"City: {first}"]
    selected = facet(page, "City").locator("a.selected")
    assert selected.count() == 1 and selected.get_attribute("aria-current") == "true"
    assert " ".join(selected.inner_text().split()) == f"✓ Selected: {first}"

    # A second city from the same facet widens the results (values of one facet are ORed).
    facet(page, "City").get_by_role("link", name=second, exact=True).click()
    two_cities = result_count(page)
    assert max(cities[first], cities[second]) <= two_cities <= cities[first] + cities[second]
    assert two_cities > one_city
    assert chips(page) == ["Text: protest", f"City: {first}", f"City: {second}"]
    assert len(query(page)["city"]) == 2
    # Every listed report names one of the two cities.
    for meta in page.locator(".result .meta:not(.actors)").all_inner_texts():
        assert first in meta or second in meta, meta

    # Remove the first city with its chip: the second one alone remains.
    page.get_by_role("link", name=re.compile(f"City: {first}")).click()
    assert chips(page) == ["Text: protest", f"City: {second}"]
    assert result_count(page) == cities[second]
    page.get_by_role("link", name=re.compile(f"City: {second}")).click()
    assert result_count(page) == everything


def test_show_more_in_a_long_facet_and_the_facet_filter_box(page):
    page.goto("/search/")
    total = result_count(page)
    assert total == 300
    city = facet(page, "City")
    more = city.locator("details.more")
    summary = more.locator("summary")
    assert re.fullmatch(r"Show \d+ more", summary.inner_text())
    hidden = more.locator("li a").first
    assert not hidden.is_visible()

    summary.click()  # <details> opens without JavaScript
    assert hidden.is_visible()
    name = hidden.inner_text()
    count = int(more.locator("li .count").first.inner_text())
    hidden.click()
    assert result_count(page) == count
    assert chips(page) == [f"City: {name}"]

    # The filter box narrows the facet's list, not the results; selected values stay listed.
    page.get_by_role("searchbox", name="Find a city in this list").fill("bish")
    facet(page, "City").get_by_role("button", name="Find").click()
    assert query(page)["facet_city"] == ["bish"]
    assert result_count(page) == count
    listed = facet_values(page, "City")
    assert "Bishkek" in listed
    assert all("bish" in label.lower() or label == name for label in listed), listed
    assert not facet(page, "City").locator("details.more").count()
    assert page.get_by_role("searchbox", name="Find a city in this list").input_value() == "bish"


def test_a_timeline_bar_narrows_to_its_period(page):
    page.goto("/search/?q=protest")
    everything = result_count(page)
    caption = page.locator("#results-timeline-caption").inner_text()
    assert "from 2015 to 2020, counted by year" in caption

    bar = page.locator(".timeline-chart a").first  # an SVG link: the first year with reports
    label = bar.get_attribute("aria-label")
    year, count = re.fullmatch(r"(\d{4}): (\d+) reports?", label).groups()
    bar.click()
    assert result_count(page) == int(count) < everything
    assert chips(page) == ["Text: protest", f"From: 1 Jan {year}", f"To: 31 Dec {year}"]
    dates = page.locator(".result time").evaluate_all("els => els.map(e => e.dateTime)")
    assert dates and all(d.startswith(year) for d in dates)


def test_open_a_report_follow_its_city_then_browse_by_date(page):
    page.goto("/search/?q=strike")
    first = page.locator(".result-title a").first
    title = first.inner_text()
    first.click()
    assert page.locator("h1").inner_text() == title
    published = page.locator(".article-meta time").get_attribute("datetime")
    city = page.locator(".article-meta dt:text-is('Places') + dd a").first
    city_name = city.inner_text()
    city.click()
    assert page.locator("h1").inner_text() == city_name
    assert page.get_by_role("heading", name="Reports, newest first").is_visible()

    # Back to the report, then to its month and year.
    page.go_back()
    year, month = published[:4], published[5:7]
    page.get_by_role("link", name=re.compile(r"^more from ")).click()
    assert urlsplit(page.url).path == f"/archive/{year}/{month}/"
    assert page.get_by_role("link", name=title).count() == 1
    page.locator(".kicker").get_by_role("link", name=year).click()
    assert urlsplit(page.url).path == f"/archive/{year}/"
    assert page.locator("h1").inner_text() == f"Reports from {year}"

    # The neighbouring years, both ways.
    neighbours = page.get_by_role("navigation", name="Neighbouring years")
    neighbours.get_by_role("link", name=str(int(year) - 1)).click()
    assert page.locator("h1").inner_text() == f"Reports from {int(year) - 1}"
    page.get_by_role("navigation", name="Neighbouring years").get_by_role("link", name=year).click()
    assert page.locator("h1").inner_text() == f"Reports from {year}"
    # A month of the chart, then the month after it.
    page.get_by_role("link", name=re.compile(r"^March \d{4}: ")).click()
    assert urlsplit(page.url).path == f"/archive/{year}/03/"
    page.get_by_role("navigation", name="Neighbouring months").get_by_role(
        "link", name=f"April {year}"
    ).click()
    assert urlsplit(page.url).path == f"/archive/{year}/04/"


def test_feed_and_exports_hold_the_search_results(page, site):
    page.goto("/search/?q=protest&city=almaty&city=astana")
    count = result_count(page)
    assert 0 < count <= 20  # one page: every result is listed here
    titles = set(page.locator(".result-title a").all_inner_texts())
    assert len(titles) == count
    formats = page.get_by_role("region", name="This search as")

    with page.expect_download() as csv_download:
        formats.get_by_role("link", name="CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(csv_download.value.path()).read_text(encoding="utf-8-sig"))))
    assert len(rows) == count
    assert {row["title"] for row in rows} == titles
    assert all({"Almaty", "Astana"} & set(row["cities"].split(";")) for row in rows)
    assert {row["query"] for row in rows} == {"q=protest&city=almaty&city=astana"}

    with page.expect_download() as json_download:
        formats.get_by_role("link", name="JSON").click()
    data = json.loads(Path(json_download.value.path()).read_text(encoding="utf-8"))
    assert data["count"] == len(data["results"]) == count
    assert {r["title"] for r in data["results"]} == titles
    assert [r["id"] for r in data["results"]] == [row["id"] for row in rows]  # same order

    feed_href = formats.get_by_role("link", name="Atom feed").get_attribute("href")
    response = page.request.get(feed_href)
    assert response.ok and response.headers["content-type"].startswith("application/atom+xml")
    entries = ET.fromstring(response.body()).findall(f"{ATOM}entry")
    assert {e.findtext(f"{ATOM}title") for e in entries} == titles
    for entry in entries:
        assert entry.find(f"{ATOM}link").get("href").startswith(site.url + "/articles/")


def test_an_article_prints_without_navigation_and_with_its_permalink(page, site):
    page.goto("/search/?q=strike")
    page.locator(".result-title a").first.click()
    permalink = site.url + urlsplit(page.url).path
    page.emulate_media(media="print")
    for hidden in ("header", "footer", ".skip-link", ".related", ".period-link"):
        assert not page.locator(hidden).first.is_visible(), hidden
    assert page.locator("h1").is_visible()
    assert page.locator(".article-body").is_visible()
    assert page.locator(".cite .permalink").inner_text() == permalink
    assert page.locator(".cite .permalink").is_visible()
