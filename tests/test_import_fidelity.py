"""Nothing a record says is lost: real Mass Mobilization records, imported as a new user would.

The whole corpus (15,193 records) is checked by `bench/corpus_fidelity.py`; these tests run
the same checks on the first 2,000 records, on both databases.
"""

import importlib.util
import json
from io import StringIO

import pytest
from django.core.management import call_command

from articles import search
from articles.kinds import KINDS
from articles.models import Article, City, Origin

from .conftest import ROOT, SHARED, remove_index

CORPUS = SHARED / "corpora" / "mass-mobilization.jsonl"
_spec = importlib.util.spec_from_file_location("corpus_fidelity", ROOT / "bench" / "corpus_fidelity.py")
corpus_fidelity = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(corpus_fidelity)

pytestmark = pytest.mark.skipif(not CORPUS.exists(), reason="the shared corpus is not here")


def first_records(n: int) -> list[dict]:
    with open(CORPUS, encoding="utf-8") as fh:
        return [json.loads(next(fh)) for _ in range(n)]


def records_by_id(*ids) -> list[dict]:
    wanted, found = set(ids), {}
    with open(CORPUS, encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            if record["id"] in wanted:
                found[record["id"]] = record
    return [found[i] for i in ids]


def write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def command(name, *args) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command(name, *map(str, args), stdout=out, stderr=err)
    except SystemExit as exc:
        return exc.code, out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def test_one_news_article_told_for_three_events_is_one_article(index, tmp_path, admin_client):
    path = write(tmp_path / "mm.jsonl", records_by_id("mm-2201992003", "mm-2201992005", "mm-2201992006"))
    code, out, err = command("import_articles", path, "--status", "published")
    assert (code, err) == (0, "")
    assert "created 1, updated 0, unchanged 0, merged 2, failed 0" in out
    article = Article.objects.get()
    assert article.title == "French socialists look to rightist discontent"
    assert sorted(c.name for c in article.cities.all()) == ["Poitiers", "Rouen", "two unspecified airports"]
    assert [o.record_id for o in article.origins.all()] == ["mm-2201992003", "mm-2201992005", "mm-2201992006"]
    assert [c.name for c in article.countries.all()] == ["France"]
    assert Origin.objects.get(record_id="mm-2201992006").cities == ["Rouen"]  # as given
    assert search.match("poitiers").pks == [article.pk]
    # Curators see every record behind it, with what each gave.
    page = admin_client.get(f"/admin/articles/article/{article.pk}/change/").content.decode()
    assert all(f"<td>{i}</td>" in page for i in ("mm-2201992003", "mm-2201992005", "mm-2201992006"))
    assert "<td>Rouen</td>" in page
    # Any of its records, imported again, finds it and changes nothing.
    for record_id in ("mm-2201992005", "mm-2201992003"):
        one = write(tmp_path / f"{record_id}.jsonl", records_by_id(record_id))
        assert "created 0, updated 0, unchanged 1, merged 0, failed 0" in command("import_articles", one)[1]
    assert Article.objects.count() == 1
    exported = json.loads(command("export_articles")[1])
    assert exported["id"] == "mm-2201992003"
    assert exported["ids"] == ["mm-2201992003", "mm-2201992005", "mm-2201992006"]
    assert exported["country"] == "France"


def test_duplicates_merge_across_batches_too(index, tmp_path):
    path = write(tmp_path / "mm.jsonl", records_by_id("mm-2201992003", "mm-2201992005", "mm-2201992006"))
    code, out, err = command("import_articles", path, "--batch-size", "1")
    assert (code, err) == (0, "")
    assert "created 1, updated 0, unchanged 0, merged 2, failed 0" in out
    assert Article.objects.get().origins.count() == 3


def test_a_changed_record_changes_only_what_it_changed(index, tmp_path):
    a, b = records_by_id("mm-2201992005", "mm-2201992006")
    path = write(tmp_path / "mm.jsonl", [a, b])
    command("import_articles", path)
    article = Article.objects.get()
    # A curator adds a city; the record then drops Rouen and names Caen instead.
    curated = City.objects.create(name="Paris")
    article.cities.add(curated)
    write(path, [a, {**b, "cities": ["Caen"]}])
    code, out, _ = command("import_articles", path)
    assert "created 0, updated 1, unchanged 1, merged 0, failed 0" in out
    assert sorted(c.name for c in article.cities.all()) == ["Caen", "Paris", "Poitiers"]
    # A city that another record of the same article still names stays.
    write(path, [a, {**b, "cities": ["Poitiers"]}])
    command("import_articles", path)
    write(path, [a, {**b, "cities": []}])
    command("import_articles", path)
    assert sorted(c.name for c in article.cities.all()) == ["Paris", "Poitiers"]


def test_country_is_kept_as_given_per_report(index, tmp_path):
    # Warsaw was first named by a Polish report; a Soviet-era report keeps "USSR".
    records = records_by_id("mm-201990001", "mm-3641990012")
    write(tmp_path / "mm.jsonl", records)
    command("import_articles", tmp_path / "mm.jsonl")
    exported = {r["id"]: r for r in map(json.loads, command("export_articles")[1].splitlines())}
    assert exported["mm-201990001"]["country"] == "Canada"  # a report that names no city
    assert exported["mm-3641990012"]["country"] == "USSR"


def test_two_thousand_real_records_lose_nothing_and_round_trip(index, tmp_path):
    records = first_records(2000)
    path = write(tmp_path / "mm.jsonl", records)
    code, out, err = command("import_articles", path, "--status", "published")
    assert code == 0, err
    assert "created 1990, updated 0, unchanged 0, merged 10, failed 0" in out
    first = command("export_articles")[1]
    exported = [json.loads(line) for line in first.splitlines()]
    assert corpus_fidelity.fidelity_problems(records, exported, out) == []
    assert command("check_index")[0] == 0
    # Imported again: every record, merged ones included, is unchanged.
    assert "created 0, updated 0, unchanged 2000, merged 0, failed 0" in command("import_articles", path)[1]
    # Export -> empty archive -> export gives the same file.
    (tmp_path / "export.jsonl").write_text(first, encoding="utf-8")
    Article.objects.all().delete()
    for kind in KINDS.values():
        kind.model.objects.all().delete()
    assert command("import_articles", tmp_path / "export.jsonl")[0] == 0
    assert command("export_articles")[1] == first


def test_the_first_import_builds_the_index(transactional_db, fresh_index, tmp_path, client):
    """A fresh archive (migrated, no index yet): after the import, search works and the index
    agrees with the database."""
    remove_index(fresh_index)
    path = write(tmp_path / "mm.jsonl", first_records(2000))
    code, out, err = command("import_articles", path, "--status", "published")
    assert code == 0, err
    code, out, _ = command("check_index")
    assert (code, out.strip()) == (0, "Index and database agree.")
    data = client.get("/api/search/", {"q": "protest"}).json()
    assert data["count"] > 1000
    assert all("protest" in (r["title"] + r["snippet"]).lower() for r in data["results"])
