"""The curated seed archive, searched end to end through the public API."""

import pytest

from articles import search
from articles.models import Actor, Article, City, Source


def entity_cases():
    return [("source", Source), ("city", City), ("actor", Actor)]


def linked(kind, entity):
    field = {"source": "source", "city": "cities", "actor": "actors"}[kind]
    return set(Article.objects.published().filter(**{field: entity}).values_list("slug", flat=True))


@pytest.mark.usefixtures("seeded")
def test_seed_archive_is_loaded_and_indexed():
    assert Article.objects.published().count() == 5
    assert search.check().clean


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize("kind, model", entity_cases(), ids=[k for k, _ in entity_cases()])
def test_every_spelling_finds_every_report_naming_the_entity(client, kind, model):
    checked = 0
    for entity in model.objects.prefetch_related("aliases"):
        expected = linked(kind, entity)
        if not expected:
            continue
        for name in entity.all_names:
            for q in (name, f'{kind}:"{name}"'):
                data = client.get("/api/search/", {"q": q, "per_page": 100}).json()
                got = {r["slug"] for r in data["results"]}
                assert expected <= got, (q, expected - got)
                facet = [f for f in data["facets"][kind] if f["value"] == entity.slug]
                assert len(facet) == 1 and facet[0]["count"] >= len(expected), (q, facet)
                checked += 1
    assert checked > 20


@pytest.mark.usefixtures("seeded")
def test_facets_have_one_entry_per_entity(client):
    data = client.get("/api/search/", {"q": "Toqaev OR Tokayev OR Nazarbaev"}).json()
    for kind in ("source", "city", "actor"):
        values = [f["value"] for f in data["facets"][kind]]
        assert len(values) == len(set(values)), kind
    astana = next(f for f in data["facets"]["city"] if f["value"] == "astana")
    assert astana["label"] == "Astana"
    assert not any(f["label"] == "Nur-Sultan" for f in data["facets"]["city"])


@pytest.mark.usefixtures("seeded")
def test_seed_spellings_of_tokayev_reach_all_four_reports(client):
    expected = {a.slug for a in Article.objects.filter(actors__slug="kassym-jomart-tokayev")}
    assert len(expected) == 4
    for q in ("Tokayev", "Toqaev", "Qasym-Zhomart Toqaev", "actor:toqaev", "Kassym-Jomart"):
        data = client.get("/api/search/", {"q": q}).json()
        assert {r["slug"] for r in data["results"]} == expected, q
