"""Every admin address for every model, as a superuser, a curator and a contributor, with
good and malformed ids and parameters, and every action: no answer is a server error."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.urls import reverse

from articles import curation
from articles.models import AliasCandidate, GenericName, IndexQueue, LinkSuggestion

from . import factories as f

pytestmark = pytest.mark.usefixtures("index")
PASSWORD = "correct-horse-battery-staple-42"
BAD_IDS = ["abc", "0", "-1", "99999999999999999999", "%00", "1.5", "<x>"]
BAD_PARAMS = [
    "o=abc",
    "o=99",
    "p=abc",
    "p=-1",
    "q=%00",
    "status__exact=zzz",
    "year=0000",
    "year=abc",
    "duplicates=zzz",
    "missing=zzz",
    "countries=zzz",
    "e=1",
    "all=",
    "published__year=abc",
    "source__id__exact=abc",
    "kind=zzz",
    "decision=zzz",
]


@pytest.fixture
def archive():
    almaty = f.city("Almaty", aliases=["Alma-Ata"])
    tokayev, toqaev = f.actor("Kassym-Jomart Tokayev"), f.actor("Qasym-Zhomart Toqaev")
    source, country = f.source("RFE/RL", aliases=["Radio Liberty"]), f.country("Kazakhstan")
    article = f.article(
        "Rally in Almaty",
        "Supporters gathered in Alma-Ata.",
        cities=[almaty],
        actors=[tokayev, toqaev],
        source=source,
        countries=[country],
        record_id="r-1",
    )
    f.article("A draft", status="draft")
    f.article("Waiting", status="review")
    record = curation.merge(target=tokayev, merged=toqaev)
    curation.undo_merge(record)
    curation.find_candidates()
    AliasCandidate.objects.get_or_create(
        kind="city", first_id=almaty.pk, second_id=almaty.pk, first_name="Almaty", second_name="Almaty"
    )
    LinkSuggestion.objects.create(
        article=article,
        kind="city",
        entity_id=almaty.pk,
        entity_name="Almaty",
        matched="alma ata",
        evidence="x",
        decision="rejected",
    )
    GenericName.objects.get_or_create(name="people")
    IndexQueue.objects.create(article_id=article.pk)
    return article


def users():
    root = User.objects.create_superuser("root", "root@example.org", PASSWORD)
    people = [root]
    for name, group in (("cora", "Curators"), ("connie", "Contributors")):
        user = User.objects.create_user(name, f"{name}@example.org", PASSWORD, is_staff=True)
        user.groups.add(Group.objects.get(name=group))
        people.append(user)
    return people


def admin_urls():
    """(method, url, data) for every model's pages, with real and malformed ids."""
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in ("articles", "auth"):
            continue
        info = model._meta.app_label, model._meta.model_name
        changelist = reverse("admin:{}_{}_changelist".format(*info))
        yield "get", changelist, None
        yield "get", reverse("admin:{}_{}_add".format(*info)), None
        for params in BAD_PARAMS:
            yield "get", f"{changelist}?{params}", None
        ids = [str(pk) for pk in model._default_manager.values_list("pk", flat=True)[:2]]
        for object_id in ids + BAD_IDS:
            for view in ("change", "delete", "history"):
                base = reverse("admin:{}_{}_changelist".format(*info))
                yield "get", f"{base}{object_id}/{view}/", None
            history = getattr(model, "history", None)
            if history is not None and ids and object_id in ids:
                for version in [
                    *history.filter(id=object_id).values_list("history_id", flat=True)[:2],
                    *BAD_IDS,
                ]:
                    yield "get", f"{changelist}{object_id}/history/{version}/", None
        for action in model_admin.actions or ():
            name = action if isinstance(action, str) else action.__name__
            yield "post", changelist, {"action": name, "_selected_action": ids or ["1"]}
            yield (
                "post",
                changelist,
                {"action": name, "_selected_action": ids, "confirm": "1", "name": "Almaty", "target": "abc"},
            )
    # Adding what exists already, under another spelling.
    empty = {f"aliases-{k}": "0" for k in ("TOTAL_FORMS", "INITIAL_FORMS")}
    yield "post", "/admin/articles/genericname/add/", {"name": "PEOPLE"}
    yield "post", "/admin/articles/city/add/", {"name": "alma-ata", "slug": "alma-ata", **empty}
    yield "post", "/admin/articles/source/add/", {"name": "Radio  Liberty", "slug": "rl", **empty}
    yield (
        "post",
        "/admin/articles/article/add/",
        {"title": "x", "slug": "rally-in-almaty", "body": "y", "status": "draft", "language": "en"},
    )
    yield "post", "/admin/articles/aliascandidate/refresh/", {}
    yield "get", "/admin/articles/aliascandidate/refresh/", None


def test_no_admin_address_answers_a_server_error(client, archive):
    failures = []
    for user in users():
        client.force_login(user)
        for method, url, data in admin_urls():
            response = client.post(url, data) if method == "post" else client.get(url)
            if response.status_code >= 500:
                failures.append((user.username, method, url, data, response.status_code))
    assert failures == []
