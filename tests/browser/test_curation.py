"""Curators' journeys through the admin in Debian's Chromium (the admin uses JavaScript)."""

import re
import xml.etree.ElementTree as ET

import pytest
from django.contrib.auth.models import Group, User

from articles.models import Article

from .. import factories as f

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("index")]
PASSWORD = "correct-horse-battery-staple-42"
UNIQUE = "Xylocarpa"  # in the title: what readers would search for
SECRET = "Zanthoxylum"  # only in the body: must never leak through any public answer


def make_user(name, group):
    user = User.objects.create_user(name, f"{name}@example.org", PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def admin_page(browser, live_server):
    context = browser.new_context(base_url=live_server.url)  # the admin needs JavaScript
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def log_in(page, name):
    page.context.clear_cookies()
    page.goto("/admin/login/")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/admin/$"))


def public_text(page, path):
    """What an anonymous reader gets at `path` (a fresh request context, no cookies)."""
    context = page.context.browser.new_context(base_url=page.url.split("/admin")[0])
    try:
        response = context.request.get(path)
        return response.status, response.text()
    finally:
        context.close()


def test_contributor_drafts_curator_reviews_publishes_merges_and_undoes(admin_page, live_server):
    page = admin_page
    make_user("connie", "Contributors")
    make_user("cora", "Curators")
    almaty = f.city("Almaty", aliases=["Alma-Ata"])
    tokayev = f.actor("Kassym-Jomart Tokayev", aliases=["Tokayev"])
    toqaev = f.actor("Qasym-Zhomart Toqaev")
    f.article("Earlier report", "President Toqaev spoke.", actors=[toqaev])

    # A contributor adds a draft: there is no way to publish it.
    log_in(page, "connie")
    page.goto("/admin/articles/article/add/")
    assert page.locator("select#id_status").count() == 0
    page.locator("#id_title").fill(f"{UNIQUE} march in Alma-Ata")
    page.locator("#id_body").fill(
        f"Supporters of {UNIQUE} marched in Alma-Ata with {SECRET} banners. Tokayev did not comment.")
    page.locator("#id_published").fill("2021-05-01")
    page.locator("input[name=_save]").click()
    page.wait_for_url(re.compile(r"/admin/articles/article/$"))
    draft = Article.objects.get(title__startswith=UNIQUE)
    assert draft.status == "draft"

    # The public sees the draft nowhere.
    for path in ["/", f"/search/?q={UNIQUE}", f"/api/search/?q={UNIQUE}", f"/search/feed/?q={UNIQUE}",
                 f"/search/export.csv?q={UNIQUE}", f"/search/export.json?q={UNIQUE}", "/sitemap.xml",
                 f"/articles/{draft.slug}/", f"/api/articles/{draft.slug}/", "/archive/2021/"]:
        status, text = public_text(page, path)
        assert status in (200, 404), path
        assert SECRET.lower() not in text.lower(), path
        assert "march in alma-ata" not in text.lower(), path

    # The curator accepts the suggested links and publishes.
    log_in(page, "cora")
    page.goto(f"/admin/articles/article/{draft.pk}/change/")
    suggestions = page.locator("#suggestions")
    assert "Almaty" in suggestions.inner_text() and "Kassym-Jomart Tokayev" in suggestions.inner_text()
    page.get_by_role("button", name="Accept city Almaty").click()
    page.get_by_role("button", name="Accept actor Kassym-Jomart Tokayev").click()
    page.locator("select#id_status").select_option("published")
    page.locator("input[name=_save]").click()
    page.wait_for_url(re.compile(r"/admin/articles/article/$"))
    draft.refresh_from_db()
    assert draft.status == "published"
    assert set(draft.cities.all()) == {almaty} and set(draft.actors.all()) == {tokayev}

    data = page.request.get(f"/api/search/?q={UNIQUE}").json()
    assert [r["slug"] for r in data["results"]] == [draft.slug]
    assert {"value": "almaty", "label": "Almaty", "count": 1, "selected": False} in data["facets"]["city"]
    feed = ET.fromstring(page.request.get(f"/search/feed/?q={UNIQUE}").text())
    titles = [e.findtext("{http://www.w3.org/2005/Atom}title")
              for e in feed.iter("{http://www.w3.org/2005/Atom}entry")]
    assert titles == [draft.title]

    # The curator merges the two spellings of one actor.
    page.goto("/admin/articles/actor/")
    for name in ("Kassym-Jomart Tokayev", "Qasym-Zhomart Toqaev"):
        page.locator("tr", has_text=name).locator("input.action-select").check()
    page.locator("select[name=action]").select_option("merge_selected")
    page.get_by_role("button", name="Go").click()
    page.get_by_role("radio", name=re.compile("Kassym-Jomart Tokayev")).check()
    page.get_by_role("button", name="Merge").click()
    facet = page.request.get("/api/search/").json()["facets"]["actor"]
    assert [item["label"] for item in facet] == ["Kassym-Jomart Tokayev"]
    assert facet[0]["count"] == 2
    old_name = page.request.get('/api/search/?q=actor:"Qasym-Zhomart Toqaev"').json()
    assert old_name["count"] == 2

    # ...and undoes it.
    page.goto("/admin/articles/merge/")
    page.locator("input.action-select").first.check()
    page.locator("select[name=action]").select_option("undo")
    page.get_by_role("button", name="Go").click()
    facet = page.request.get("/api/search/").json()["facets"]["actor"]
    assert sorted(item["label"] for item in facet) == ["Kassym-Jomart Tokayev", "Qasym-Zhomart Toqaev"]
