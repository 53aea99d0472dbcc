"""Readers' journeys in Debian's Chromium, with JavaScript off, on the seed archive."""

import re

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("seeded")]


def test_search_narrow_open_and_follow(page):
    page.goto("/")
    page.get_by_label("Search the full text").fill("Toqaev")
    page.get_by_label("Search the full text").press("Enter")
    page.wait_for_url(re.compile(r"/search/\?q=Toqaev"))
    assert page.locator("h1").inner_text() == "Reports matching “Toqaev”"
    assert page.locator("#results-heading").inner_text().startswith("4 reports")
    # Every spelling is marked in the snippets, escaped text around it.
    marked = set(page.locator(".snippet mark").all_inner_texts())
    assert marked and marked <= {"Toqaev", "Tokayev", "Qasym", "Zhomart", "Kassym", "Jomart"}

    # Narrow by a facet, then remove the filter with its chip.
    page.locator(".facets a", has_text="TASS").click()
    assert page.locator("#results-heading").inner_text().startswith("1 report")
    page.get_by_role("link", name=re.compile("Source: TASS")).click()
    assert page.locator("#results-heading").inner_text().startswith("4 reports")

    # Open a report and follow one of its cities.
    page.locator(".result-title a").first.click()
    assert page.locator(".article-meta").is_visible()
    page.locator(".article-meta a", has_text="Almaty").click()
    assert page.locator("h1").inner_text() == "Almaty"
    assert "Alma-Ata" in page.locator(".aliases").inner_text()


def test_bad_input_is_explained_in_the_page(page):
    page.goto("/search/?q=protest&date_from=2020-02-31")
    alert = page.get_by_role("alert")
    assert "date_from: Enter a real date as YYYY-MM-DD." in alert.inner_text()
    assert re.match(r"\d+ reports?", page.locator("#results-heading").inner_text())


def test_keyboard_reaches_main_content_through_the_skip_link(page):
    page.goto("/search/")
    page.keyboard.press("Tab")
    skip = page.locator(".skip-link")
    assert skip.evaluate("el => el === document.activeElement")
    assert skip.is_visible()  # shown when focused
    page.keyboard.press("Enter")
    assert page.url.endswith("#main")
