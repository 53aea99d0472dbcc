"""The HTML pages, read the way a reader sees them."""

import datetime as dt

import pytest

from . import factories as f
from .html import read


@pytest.fixture
def corpus(index):
    rfe = f.source("RFE/RL")
    almaty = f.city("Almaty", aliases=["Alma-Ata"])
    tokayev = f.actor("Kassym-Jomart Tokayev", aliases=["Toqaev"])
    a1 = f.article(
        "Police detain protesters in Almaty",
        "Police detained dozens of protesters.\n\nA second paragraph.",
        published=dt.date(2019, 6, 10),
        source=rfe,
        cities=[almaty],
        actors=[tokayev],
        original_url="https://example.org/report",
    )
    others = [
        f.article(f"Picket number {i}", "Pickets again.", published=dt.date(2020, 1, i + 1))
        for i in range(25)
    ]
    draft = f.article("Hidden zeppelin draft", "zeppelin", status="draft", published=None)
    return {"a1": a1, "others": others, "draft": draft, "almaty": almaty}


def test_search_page_lists_results_facets_and_chips(client, corpus):
    page = read(client.get("/search/?q=toqaev&city=almaty"))
    assert [h for h in page.headings if h[0] == "h1"] == [("h1", "Reports matching “toqaev”")]
    assert "1 report, showing 1–1" in page.visible
    assert ("Police detain protesters in Almaty", f"/articles/{corpus['a1'].slug}/") in page.links
    assert "10 June 2019" in page.visible
    chips = [text for text, href in page.links if "(remove this filter)" in text]
    assert chips == ["Text: toqaev × (remove this filter)", "City: Almaty × (remove this filter)"]
    remove_city = next(href for text, href in page.links if text.startswith("City: Almaty"))
    assert remove_city == "?q=toqaev"
    facet_headings = [
        h[1] for h in page.headings if h[0] == "h3" and h[1] in ("Source", "City", "Actor", "Year")
    ]
    assert facet_headings == ["Source", "City", "Actor", "Year"]


def test_search_page_paginates_with_numbered_links(client, corpus):
    page = read(client.get("/search/"))
    assert "26 reports, showing 1–20" in page.visible
    assert ("2", "?page=2") in page.links
    assert ("Next", "?page=2") in page.links
    assert 'rel="next"' in client.get("/search/").content.decode()
    page2 = read(client.get("/search/?page=2"))
    assert "showing 21–26" in page2.visible
    response = client.get("/search/?page=3")
    assert response.status_code == 404
    assert "There are only 2 page(s) of results." in read(response).visible


def test_bad_parameters_show_a_message_and_keep_the_rest(client, corpus):
    response = client.get("/search/?q=detained&date_from=2019-02-31&city=atlantis&colour=red")
    assert response.status_code == 200
    page = read(response)
    assert "date_from: Enter a real date as YYYY-MM-DD." in page.visible
    assert "city: There is no city “atlantis”." in page.visible
    assert "colour: Unknown parameter: it was ignored." in page.visible
    # The valid part of the search still applies.
    assert "1 report" in page.visible
    assert "Police detain protesters in Almaty" in page.visible


@pytest.mark.parametrize(
    "params",
    [
        "?q=%00",
        "?q=" + "x" * 10000,
        "?q=NOT+|+NOT+NOT+|",
        "?page=0",
        "?per_page=abc",
        "?year=%00",
        "?actor=%00",
        "?date_to=%00",
        "?sort=%00",
    ],
)
def test_hostile_parameters_never_break_the_page(client, corpus, params):
    response = client.get("/search/" + params)
    assert response.status_code == 200
    assert "Some of the search could not be used" in read(response).visible


@pytest.mark.parametrize("q", ["title:", '"unclosed', "((", "city:", "*", "a~", "-", ":"])
def test_odd_but_parseable_queries_answer_normally(client, corpus, q):
    response = client.get("/search/", {"q": q})
    assert response.status_code == 200
    assert "report" in read(response).visible


def test_no_results_state(client, corpus):
    page = read(client.get("/search/?q=nonexistentword"))
    assert "0 reports" in page.visible
    assert "No published report matches this search." in page.visible


def test_article_page(client, corpus):
    a1 = corpus["a1"]
    response = client.get(f"/articles/{a1.slug}/")
    page = read(response)
    assert page.headings[0] == ("h1", "Police detain protesters in Almaty")
    assert ("RFE/RL", "/sources/rfe-rl/") in page.links
    assert ("Almaty", "/cities/almaty/") in page.links
    assert ("Kassym-Jomart Tokayev", "/actors/kassym-jomart-tokayev/") in page.links
    assert ("https://example.org/report", "https://example.org/report") in page.links
    html = response.content.decode()
    assert "<p>Police detained dozens of protesters.</p>" in html
    assert "<p>A second paragraph.</p>" in html
    assert f"http://testserver/articles/{a1.slug}/ (accessed" in page.visible


def test_drafts_are_404_for_the_public_and_visible_to_staff(client, corpus, django_user_model):
    url = f"/articles/{corpus['draft'].slug}/"
    assert client.get(url).status_code == 404
    results = read(client.get("/search/?q=zeppelin"))
    assert "0 reports" in results.visible
    assert "Hidden zeppelin draft" not in results.visible
    staff = django_user_model.objects.create_user("staff", password="pw-long-enough-1", is_staff=True)
    client.force_login(staff)
    page = read(client.get(url))
    assert "Draft: only staff can see this report." in page.visible


def test_entity_pages(client, corpus):
    page = read(client.get("/cities/"))
    assert ("Almaty", "/cities/almaty/") in page.links
    page = read(client.get("/cities/almaty/"))
    assert page.headings[0] == ("h1", "Almaty")
    assert "Also written Alma-Ata" in page.visible
    assert ("Search within the reports on Almaty", "/search/?city=almaty") in page.links
    assert client.get("/cities/atlantis/").status_code == 404
    assert client.get("/cities/?page=99").status_code == 404


def test_home_page(client, corpus):
    page = read(client.get("/"))
    assert "26 published reports" in page.visible
    assert ("Almaty", "/cities/almaty/") in page.links
    assert "Hidden zeppelin draft" not in page.visible


def test_markup_in_data_is_escaped(client, index):
    payload = '<img src=x onerror=alert(1)>"><script>alert(2)</script>'
    c = f.city(f"City {payload}")
    a = f.article(f"Title {payload}", f"Body {payload} protest", cities=[c])
    for url in [
        "/",
        "/search/?q=protest",
        f"/articles/{a.slug}/",
        "/cities/",
        c.get_absolute_url(),
        f"/search/?q={payload}",
    ]:
        html = client.get(url).content.decode()
        assert "<script>alert" not in html, url
        assert "<img src=x" not in html, url


def test_404_pages_explain_in_readers_words(client, corpus):
    page = read(client.get("/cities/atlantis/"))
    assert "No City matches" not in page.visible  # Django's own wording stays hidden
    assert "There is no city at this address." in page.visible
    page = read(client.get("/cities/?page=99"))
    assert "There is no such page: pages run from 1 to 1." in page.visible
    page = read(client.get(f"/articles/{corpus['draft'].slug}/"))
    assert "No published article has this address." in page.visible


def test_countries_have_pages_and_cities_show_theirs(client, index):
    moscow = f.city("Moscow")
    ussr, russia = f.country("USSR"), f.country("Russia")
    f.article(
        "Miners march on the Kremlin", published=dt.date(1991, 3, 28), cities=[moscow], countries=[ussr]
    )
    f.article("Pensioners rally", published=dt.date(2005, 1, 15), cities=[moscow], countries=[russia])
    f.article("Secret draft", status="draft", cities=[moscow], countries=[f.country("Atlantis")])
    page = read(client.get("/countries/"))
    assert [
        text for text, href in page.links if href.startswith("/countries/") and href != "/countries/"
    ] == ["Russia", "USSR"]
    page = read(client.get("/countries/ussr/"))
    assert ("h1", "USSR") in page.headings
    assert ("Miners march on the Kremlin", "/articles/miners-march-on-the-kremlin/") in page.links
    assert "Pensioners rally" not in page.visible
    assert ("Moscow", "/cities/moscow/") in page.links  # most often reported with it
    cities = read(client.get("/cities/"))
    assert "Russia, USSR" in cities.visible  # the countries of its reports
    assert "Russia, USSR" in read(client.get("/cities/moscow/")).visible
    assert client.get("/countries/atlantis/").status_code == 404
    data = client.get("/api/search/", {"country": "russia"}).json()
    assert [r["title"] for r in data["results"]] == ["Pensioners rally"]
    assert "Country: Russia" in read(client.get("/search/?country=russia")).visible
