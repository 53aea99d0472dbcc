"""The admin under the archive's Content-Security-Policy: nothing it needs is refused."""

import re

import pytest
from django.contrib.auth.models import User

from .. import factories as f

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("index")]
PASSWORD = "correct-horse-battery-staple-42"


def test_admin_pages_run_whole_under_the_policy(browser, live_server):
    User.objects.create_superuser("root", "root@example.org", PASSWORD)
    almaty = f.city("Almaty", aliases=["Alma-Ata"])
    article = f.article(
        "Rally in Almaty",
        "Workers rallied in Alma-Ata and Astana.",
        cities=[almaty],
        actors=[f.actor("Workers' union")],
    )
    f.city("Astana")
    context = browser.new_context(base_url=live_server.url)  # the admin needs JavaScript
    page = context.new_page()
    page.set_default_timeout(15000)
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    try:
        page.goto("/admin/login/")
        page.get_by_label("Username").fill("root")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(re.compile(r"/admin/$"))
        for path in (
            "/admin/",
            "/admin/articles/article/",
            f"/admin/articles/article/{article.pk}/change/",
            f"/admin/articles/article/{article.pk}/history/",
            "/admin/articles/city/",
            f"/admin/articles/city/{almaty.pk}/change/",
            "/admin/articles/article/add/",
        ):
            response = page.goto(path)
            assert response.status == 200, path
            assert refused == [], (path, refused)
        # The admin's own scripts run: the autocomplete widget opens and searches.
        page.goto(f"/admin/articles/article/{article.pk}/change/")
        page.locator(".field-cities .select2-selection").click()
        page.locator(".field-cities .select2-search__field").fill("Ast")
        option = page.locator(".select2-results__option", has_text="Astana")
        option.wait_for()  # the widget asks the admin's autocomplete view, then lists
        assert option.count() == 1
        assert refused == []
    finally:
        context.close()


def test_the_article_list_is_usable_on_a_phone(browser, live_server):
    """At 390 px the filters come before the 100 rows, not after them."""
    User.objects.create_superuser("root", "root@example.org", PASSWORD)
    for i in range(30):
        f.article(f"Report {i}", "Text.")
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 800})
    page = context.new_page()
    try:
        page.goto("/admin/login/")
        page.get_by_label("Username").fill("root")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.goto("/admin/articles/article/")
        filters = page.locator("#changelist-filter").bounding_box()
        rows = page.locator("#result_list").bounding_box()
        assert filters["y"] < rows["y"]
        page.get_by_role("link", name="Ready for review").click()  # a filter, within reach
        assert "status__exact=review" in page.url
    finally:
        context.close()
