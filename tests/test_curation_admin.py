"""Curation a professional can trust: history that restores links, merges that undo to the
same record, and ordinary mistakes answered with messages, never a server error."""

import datetime as dt
import json
from io import StringIO

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command

from articles import curation, search
from articles.models import Actor, AliasCandidate, Article, City, IndexQueue, Merge

from . import factories as f

pytestmark = pytest.mark.usefixtures("index")
PASSWORD = "correct-horse-battery-staple-42"


@pytest.fixture
def curator(client):
    user = User.objects.create_user("cora", "cora@example.org", PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name="Curators"))
    client.force_login(user)
    return user


def form_data(article, **changes):
    data = {
        "title": article.title,
        "slug": article.slug,
        "status": article.status,
        "published": article.published.isoformat() if article.published else "",
        "source": article.source_id or "",
        "language": article.language,
        "cities": [c.pk for c in article.cities.all()],
        "actors": [a.pk for a in article.actors.all()],
        "countries": [c.pk for c in article.countries.all()],
        "body": article.body,
        "original_url": article.original_url,
        "possible_duplicates": [],
    }
    data.update(changes)
    return data


def bulk(client, action, articles, name=None):
    data = {"action": action, "_selected_action": [a.pk for a in articles]}
    if name:
        data.update(confirm="1", name=name)
    return client.post("/admin/articles/article/", data)


def test_revert_restores_links_and_is_itself_a_version(client, curator):
    almaty = f.city("Almaty")
    article = f.article("Rally", "Workers rallied.", actors=[f.actor("workers")])
    bulk(client, "add_city", [article], "Almaty")
    bulk(client, "remove_city", [article], "Almaty")
    assert not article.cities.exists()
    reasons = list(article.history.values_list("history_change_reason", flat=True))
    assert reasons[:2] == ["bulk: remove city Almaty", "bulk: add city Almaty"]
    with_city = next(v for v in article.history.all() if v.cities.filter(city=almaty).exists())
    url = f"/admin/articles/article/{article.pk}/history/{with_city.history_id}/"
    page = client.get(url).content.decode()
    assert f'<option value="{almaty.pk}" selected>Almaty</option>' in page
    response = client.post(url, form_data(article, cities=[almaty.pk]))
    assert response.status_code == 302
    assert list(article.cities.all()) == [almaty]
    assert article.history.first().history_change_reason == f"revert to version {with_city.history_id}"
    assert search.match("city:almaty").pks == [article.pk]


def test_imported_articles_start_their_history_with_their_links(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(
        json.dumps(
            {
                "id": "r-1",
                "title": "Rally",
                "body": "Text.",
                "cities": ["Kiev", "La Paz"],
                "actors": ["miners"],
                "country": "Bolivia",
            }
        )
        + "\n"
    )
    call_command("import_articles", str(path), stdout=StringIO())
    first = Article.objects.get().history.earliest()
    assert first.history_change_reason == f"import {path}"
    assert sorted(row.city.name for row in first.cities.all()) == ["Kiev", "La Paz"]
    assert [row.actor.name for row in first.actors.all()] == ["miners"]


def test_undoing_a_merge_restores_the_same_record(client, curator):
    tokayev = f.actor("Kassym-Jomart Tokayev")
    toqaev = f.actor("Toqaev Kassym-Zhomart", aliases=["Toqaev"])
    original = (toqaev.pk, toqaev.slug, [a.pk for a in toqaev.aliases.all()])
    article = f.article("Speech", "The president spoke.", actors=[toqaev])
    versions_before = toqaev.history.count()
    record = curation.merge(target=tokayev, merged=toqaev, user=curator)
    restored = curation.undo_merge(Merge.objects.get(pk=record.pk), user=curator)
    assert (restored.pk, restored.slug, [a.pk for a in restored.aliases.all()]) == original
    assert list(article.actors.all()) == [restored]
    assert Actor.objects.get(pk=original[0]).history.count() > versions_before  # its own history
    assert client.get(f"/admin/articles/actor/{original[0]}/history/").status_code == 200
    # The curator has separated them: never proposed again.
    assert AliasCandidate.objects.get().decision == "separated"
    assert curation.find_candidates() == []


def test_renaming_to_another_entitys_name_is_a_message_naming_it(client, curator):
    almaty = f.city("Almaty")
    alma_ata = f.city("Alma Ata")
    response = client.post(
        f"/admin/articles/city/{alma_ata.pk}/change/",
        {"name": "Almaty", "slug": alma_ata.slug, "aliases-TOTAL_FORMS": "0", "aliases-INITIAL_FORMS": "0"},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "“Almaty” is already the name of the city" in page
    assert f'href="/admin/articles/city/{almaty.pk}/change/">Almaty</a>' in page
    # Adding a city that exists says which record it is, not "slug already exists".
    response = client.post(
        "/admin/articles/city/add/",
        {"name": "ALMATY", "slug": "almaty", "aliases-TOTAL_FORMS": "0", "aliases-INITIAL_FORMS": "0"},
    )
    assert response.status_code == 200
    assert "“ALMATY” is already the name of the city" in response.content.decode()
    assert City.objects.count() == 2


def test_the_same_alias_twice_in_one_save_is_a_message(client, curator):
    almaty = f.city("Almaty")
    response = client.post(
        f"/admin/articles/city/{almaty.pk}/change/",
        {
            "name": "Almaty",
            "slug": "almaty",
            "aliases-TOTAL_FORMS": "2",
            "aliases-INITIAL_FORMS": "0",
            "aliases-0-name": "Almaty City",
            "aliases-1-name": "almaty-city",
        },
    )
    assert response.status_code == 200
    assert "is the same spelling as the alias “Almaty City”" in response.content.decode()
    assert not almaty.aliases.exists()


@pytest.mark.parametrize(
    "url",
    [
        "/admin/articles/article/abc/history/",
        "/admin/articles/article/1/history/abc/",
        "/admin/articles/city/%00/history/",
        "/admin/articles/article/99999999999999999999/history/",
    ],
)
def test_malformed_history_addresses_are_404(client, curator, url):
    f.article("Rally")
    assert client.get(url).status_code == 404


def test_a_future_date_needs_confirming(client, curator):
    article = f.article("Rally", published=dt.date(2020, 1, 1))
    future = dt.date.today() + dt.timedelta(days=365 * 5)
    response = client.post(
        f"/admin/articles/article/{article.pk}/change/", form_data(article, published=future.isoformat())
    )
    assert response.status_code == 200
    assert "is in the future: tick" in response.content.decode()
    response = client.post(
        f"/admin/articles/article/{article.pk}/change/",
        form_data(article, published=future.isoformat(), confirm_future_date="on"),
    )
    assert response.status_code == 302
    article.refresh_from_db()
    assert article.published == future


def test_language_is_chosen_from_codes_with_names(client, curator):
    article = f.article("Rally")
    page = client.get(f"/admin/articles/article/{article.pk}/change/").content.decode()
    assert '<option value="kk">Kazakh</option>' in page
    assert '<option value="en" selected>English</option>' in page
    response = client.post(
        f"/admin/articles/article/{article.pk}/change/", form_data(article, language="English")
    )
    assert response.status_code == 200
    assert "Select a valid choice. English is not one of the available choices." in response.content.decode()


def test_an_overlong_text_keeps_the_form_and_says_why(client, curator):
    article = f.article("Rally")
    huge = "protest " * 400_000  # 3.2 million characters, over Django's default 2.5 MB request
    response = client.post(
        f"/admin/articles/article/{article.pk}/change/", form_data(article, title="Edited title", body=huge)
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "The text has 3,199,999 characters; a report holds at most 1,000,000." in page
    assert 'value="Edited title"' in page  # the curator's edit is still in the form


def test_names_differing_by_hyphens_or_spaces_are_one_on_import(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(
        "".join(
            json.dumps({"id": f"r-{i}", "title": f"Rally {i}", "body": "Text.", "cities": [name]}) + "\n"
            for i, name in enumerate(["Alma Ata", "Alma-Ata", "alma  ata", "ALMA.ATA"])
        )
    )
    call_command("import_articles", str(path), stdout=StringIO())
    assert list(City.objects.values_list("name", flat=True)) == ["Alma Ata"]
    assert City.objects.get().articles.count() == 4


def test_alias_candidates_follow_name_changes_and_a_button(client, curator):
    tokayev = f.actor("Kassym-Jomart Tokayev")
    other = f.actor("Someone Else")
    response = client.post(
        f"/admin/articles/actor/{other.pk}/change/",
        {
            "name": "Qasym-Zhomart Toqaev",
            "slug": other.slug,
            "kind": "person",
            "aliases-TOTAL_FORMS": "0",
            "aliases-INITIAL_FORMS": "0",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert AliasCandidate.objects.filter(kind="actor").count() == 1
    AliasCandidate.objects.all().delete()
    assert client.post("/admin/articles/aliascandidate/refresh/").status_code == 302
    assert set(AliasCandidate.objects.values_list("first_id", "second_id").get()) == {tokayev.pk, other.pk}


def test_the_index_queue_is_for_superusers_only(client, curator):
    IndexQueue.objects.create(article_id=1)
    assert "Index queues" not in client.get("/admin/").content.decode()
    assert client.get("/admin/articles/indexqueue/").status_code == 403
    client.force_login(User.objects.create_superuser("root", "root@example.org", PASSWORD))
    assert "Index queues" in client.get("/admin/").content.decode()


def test_ready_for_review_is_listed_for_curators(client, curator):
    f.article("Waiting one", status="review")
    f.article("A draft", status="draft")
    index = client.get("/admin/").content.decode()
    assert "1 report awaiting review" in index
    listing = client.get("/admin/articles/article/?status__exact=review").content.decode()
    assert "Waiting one" in listing and "A draft" not in listing
    assert client.get("/api/search/", {"q": "waiting"}).json()["count"] == 0
