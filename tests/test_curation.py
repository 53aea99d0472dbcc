"""Spelling families, merges and their undo, with the index following each step."""

import pytest
from django.core.management import call_command

from articles import curation, search
from articles.models import Actor, AliasCandidate, Article, City, Merge

from . import factories as f

pytestmark = pytest.mark.usefixtures("index")


def found(q):
    return set(search.match(q).pks)


@pytest.fixture
def families():
    tokayev = f.actor("Kassym-Jomart Tokayev", aliases=["Tokayev"])
    toqaev = f.actor("Qasym-Zhomart Toqaev")
    other = f.actor("Nursultan Nazarbayev")
    nazarbaev = f.actor("Nursultan Nazarbaev")
    a1 = f.article("Report one", "The president spoke.", actors=[tokayev])
    a2 = f.article("Report two", "The president was criticised.", actors=[toqaev, other])
    a3 = f.article("Report three", "A speech.", actors=[tokayev, toqaev])
    return {
        "tokayev": tokayev,
        "toqaev": toqaev,
        "other": other,
        "nazarbaev": nazarbaev,
        "a1": a1,
        "a2": a2,
        "a3": a3,
    }


def test_candidates_are_proposed_not_merged(families, capsys):
    call_command("find_alias_candidates")
    out = capsys.readouterr().out
    assert "Actor: Kassym-Jomart Tokayev / Qasym-Zhomart Toqaev" in out
    assert "Actor: Nursultan Nazarbayev / Nursultan Nazarbaev" in out
    assert "2 new proposal(s); 2 awaiting a curator's decision." in out
    assert Actor.objects.count() == 4  # nothing merged
    call_command("find_alias_candidates")
    assert "0 new proposal(s); 2 awaiting" in capsys.readouterr().out


def test_rejected_candidates_are_not_proposed_again(families):
    curation.find_candidates()
    candidate = AliasCandidate.objects.get(second_name="Nursultan Nazarbaev")
    curation.decide(candidate, accept=False)
    assert curation.find_candidates() == []
    assert AliasCandidate.objects.get(pk=candidate.pk).decision == "rejected"


def test_accepting_merges_and_the_index_follows(families):
    curation.find_candidates()
    candidate = AliasCandidate.objects.get(second_name="Qasym-Zhomart Toqaev")
    record = curation.decide(candidate, accept=True)
    tokayev = families["tokayev"]
    assert not Actor.objects.filter(name="Qasym-Zhomart Toqaev").exists()
    assert sorted(tokayev.aliases.values_list("name", flat=True)) == ["Qasym-Zhomart Toqaev", "Tokayev"]
    assert set(tokayev.articles.values_list("pk", flat=True)) == {
        families["a1"].pk,
        families["a2"].pk,
        families["a3"].pk,
    }
    # The old name still finds the reports, through the actor field and expansion.
    assert found('actor:"Qasym-Zhomart Toqaev"') == {families[k].pk for k in ("a1", "a2", "a3")}
    assert search.check().clean
    assert record.merged_name == "Qasym-Zhomart Toqaev"


def test_merge_then_undo_restores_everything(families, client):
    tokayev, toqaev = families["tokayev"], families["toqaev"]
    record = curation.merge(target=tokayev, merged=toqaev)
    data = client.get("/api/search/", {"q": "president"}).json()
    assert [f["label"] for f in data["facets"]["actor"]] == ["Kassym-Jomart Tokayev", "Nursultan Nazarbayev"]
    restored = curation.undo_merge(Merge.objects.get(pk=record.pk))
    assert restored.name == "Qasym-Zhomart Toqaev" and restored.slug == toqaev.slug
    assert set(restored.articles.values_list("pk", flat=True)) == {families["a2"].pk, families["a3"].pk}
    # a3 was linked to both before the merge: it keeps both.
    assert set(tokayev.articles.values_list("pk", flat=True)) == {families["a1"].pk, families["a3"].pk}
    assert list(tokayev.aliases.values_list("name", flat=True)) == ["Tokayev"]
    assert found('actor:"Qasym-Zhomart Toqaev"') == {families["a2"].pk, families["a3"].pk}
    assert search.check().clean
    with pytest.raises(curation.MergeError):
        curation.undo_merge(Merge.objects.get(pk=record.pk))


def test_merging_cities_and_sources(index):
    astana = f.city("Astana")
    nur = f.city("Nur-Sultan", aliases=["Nursultan city"])
    tass = f.source("TASS")
    itar = f.source("ITAR-TASS")
    a = f.article("In the capital", "Rally.", cities=[nur], source=itar)
    curation.merge(target=astana, merged=nur)
    curation.merge(target=tass, merged=itar)
    a.refresh_from_db()
    assert list(a.cities.all()) == [astana] and a.source == tass
    assert sorted(astana.aliases.values_list("name", flat=True)) == ["Nur-Sultan", "Nursultan city"]
    assert City.resolve("nur-sultan") == astana
    assert found("source:itar") == {a.pk}
    with pytest.raises(curation.MergeError):
        curation.merge(target=astana, merged=astana)
    assert Article.objects.count() == 1
