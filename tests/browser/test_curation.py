"""Curators' journeys through the admin in Debian's Chromium (the admin uses JavaScript)."""

import re

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


def public_json(page, path):
    return page.request.get(path).json()


def test_contributor_review_publish_bulk_edit_revert_merge_undo(admin_page, live_server):
    page = admin_page
    make_user("connie", "Contributors")
    make_user("cora", "Curators")
    almaty = f.city("Almaty", aliases=["Alma-Ata"])
    taraz = f.city("Taraz")
    tokayev = f.actor("Kassym-Jomart Tokayev", aliases=["Tokayev"])
    toqaev = f.actor("Qasym-Zhomart Toqaev")
    f.article("Earlier report", "President Toqaev spoke.", actors=[toqaev])

    # A contributor adds a draft and sends it for review: publishing is not among the choices.
    log_in(page, "connie")
    page.goto("/admin/articles/article/add/")
    options = page.locator("select#id_status option").all_inner_texts()
    assert options == ["Draft", "Ready for review"]
    page.locator("#id_title").fill(f"{UNIQUE} march in Alma-Ata")
    page.locator("#id_body").fill(
        f"Supporters of {UNIQUE} marched in Alma-Ata with {SECRET} banners. Tokayev did not comment."
    )
    page.locator("#id_published").fill("2021-05-01")
    page.locator("select#id_status").select_option("review")
    page.locator("input[name=_save]").click()
    page.wait_for_url(re.compile(r"/admin/articles/article/$"))
    draft = Article.objects.get(title__startswith=UNIQUE)
    assert draft.status == "review"

    # The public sees it nowhere while it waits.
    for path in [
        "/",
        f"/search/?q={UNIQUE}",
        f"/api/search/?q={UNIQUE}",
        f"/search/feed/?q={UNIQUE}",
        f"/search/export.csv?q={UNIQUE}",
        f"/search/export.json?q={UNIQUE}",
        "/sitemap.xml",
        f"/articles/{draft.slug}/",
        f"/api/articles/{draft.slug}/",
        "/archive/2021/",
    ]:
        status, text = public_text(page, path)
        assert status in (200, 404), path
        assert SECRET.lower() not in text.lower(), path
        assert "march in alma-ata" not in text.lower(), path

    # The curator finds it in the review list, links the suggestions in the form and publishes.
    log_in(page, "cora")
    page.get_by_role("link", name="1 report awaiting review").click()
    page.get_by_role("link", name=f"{UNIQUE} march in Alma-Ata").click()
    accept = page.locator(".field-accept_suggestions")
    assert "City: Almaty" in accept.inner_text() and "Kassym-Jomart Tokayev" in accept.inner_text()
    accept.get_by_label(re.compile("City: Almaty")).check()
    accept.get_by_label(re.compile("Actor: Kassym-Jomart Tokayev")).check()
    page.locator("select#id_status").select_option("published")
    page.locator("input[name=_save]").click()
    # Back to the review list it came from (admin keeps the list's filters).
    page.wait_for_url(re.compile(r"/admin/articles/article/\?"))
    draft.refresh_from_db()
    assert draft.status == "published"
    assert set(draft.cities.all()) == {almaty} and set(draft.actors.all()) == {tokayev}
    data = public_json(page, f"/api/search/?q={UNIQUE}")
    assert [r["slug"] for r in data["results"]] == [draft.slug]
    assert {"value": "almaty", "label": "Almaty", "count": 1, "selected": False} in data["facets"]["city"]
    assert "Almaty" in public_text(page, f"/articles/{draft.slug}/")[1]

    # A bulk edit adds Taraz; the public page and search follow.
    page.goto("/admin/articles/article/")
    page.locator("tr", has_text=UNIQUE).locator("input.action-select").check()
    page.locator("select[name=action]").select_option("add_city")
    page.get_by_role("button", name="Go").click()
    page.get_by_label("Name or other spelling").fill("Taraz")
    page.get_by_role("button", name="Add").click()
    assert set(draft.cities.all()) == {almaty, taraz}
    assert public_json(page, f"/api/search/?q={UNIQUE}&city=taraz")["count"] == 1
    assert "Taraz" in public_text(page, f"/articles/{draft.slug}/")[1]

    # Reverting to the version before the bulk edit takes Taraz away again, as a new version.
    page.goto(f"/admin/articles/article/{draft.pk}/history/")
    bulk_edit = draft.history.get(history_change_reason="bulk: add city Taraz")
    before = draft.history.filter(history_id__lt=bulk_edit.history_id).first()
    page.locator(f'a[href$="/history/{before.history_id}/"]').click()
    with page.expect_navigation():
        page.locator("input[name=_save]").click()
    assert set(draft.cities.all()) == {almaty}
    assert draft.history.first().history_change_reason == f"revert to version {before.history_id}"
    # No published report names Taraz any more: it is not a city the public knows.
    assert public_json(page, f"/api/search/?q={UNIQUE}&city=taraz") == {
        "errors": {"city": "There is no city “taraz”."}
    }
    assert "Taraz" not in public_text(page, f"/articles/{draft.slug}/")[1]

    # The curator merges the two spellings of one actor...
    page.goto("/admin/articles/actor/")
    for name in ("Kassym-Jomart Tokayev", "Qasym-Zhomart Toqaev"):
        page.locator("tr", has_text=name).locator("input.action-select").check()
    page.locator("select[name=action]").select_option("merge_selected")
    page.get_by_role("button", name="Go").click()
    page.get_by_role("radio", name=re.compile("Kassym-Jomart Tokayev")).check()
    page.get_by_role("button", name="Merge").click()
    facet = public_json(page, "/api/search/")["facets"]["actor"]
    assert [item["label"] for item in facet] == ["Kassym-Jomart Tokayev"] and facet[0]["count"] == 2
    assert public_json(page, '/api/search/?q=actor:"Qasym-Zhomart Toqaev"')["count"] == 2
    assert public_text(page, f"/actors/{toqaev.slug}/")[0] == 404

    # ...and undoes it: the same record comes back, with its page and its report.
    page.goto("/admin/articles/merge/")
    page.locator("input.action-select").first.check()
    page.locator("select[name=action]").select_option("undo")
    page.get_by_role("button", name="Go").click()
    facet = public_json(page, "/api/search/")["facets"]["actor"]
    assert sorted(item["label"] for item in facet) == ["Kassym-Jomart Tokayev", "Qasym-Zhomart Toqaev"]
    status, text = public_text(page, f"/actors/{toqaev.slug}/")
    assert status == 200 and "Earlier report" in text
    assert Article.objects.get(title="Earlier report").actors.get().pk == toqaev.pk
