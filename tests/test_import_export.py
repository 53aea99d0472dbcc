"""import_articles / export_articles on the real database and index."""

import json
import signal
import subprocess
import sys
import time
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from articles import search
from articles.models import Actor, Article, City, Source

from . import factories as f
from .conftest import ROOT, SHARED, subprocess_env

pytestmark = pytest.mark.usefixtures("index")


def run_import(*args):
    out, err = StringIO(), StringIO()
    code = 0
    try:
        call_command("import_articles", *map(str, args), stdout=out, stderr=err)
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


def export(fmt="jsonl"):
    out = StringIO()
    call_command("export_articles", "--format", fmt, stdout=out)
    return out.getvalue()


def record(n, **kw):
    base = {
        "id": f"r-{n}",
        "title": f"Rally number {n}",
        "body": f"Workers rallied, report {n}.",
        "published": "2020-06-10",
        "source": "RFE/RL",
        "cities": ["Almaty"],
        "actors": ["workers"],
        "country": "Kazakhstan",
        "url": None,
        "language": "en",
    }
    base.update(kw)
    return base


def write_jsonl(path, records):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


def test_jsonl_import_resolves_names_through_aliases(tmp_path):
    astana = f.city("Astana", aliases=["Nur-Sultan"])
    tokayev = f.actor("Kassym-Jomart Tokayev", aliases=["Toqaev"])
    rfe = f.source("RFE/RL", aliases=["Radio Free Europe/Radio Liberty"])
    path = write_jsonl(
        tmp_path / "a.jsonl",
        [
            record(
                1,
                cities=["NUR-SULTAN", "Almaty"],
                actors=["toqáev"],
                source="radio free europe/radio liberty",
            ),
        ],
    )
    code, out, err = run_import(path)
    assert (code, err) == (0, "")
    assert out.strip().endswith("created 1, updated 0, unchanged 0, merged 0, failed 0")
    article = Article.objects.get(record_id="r-1")
    assert article.source == rfe
    assert set(article.cities.all()) == {astana, City.objects.get(name="Almaty")}
    assert list(article.actors.all()) == [tokayev]
    assert [c.name for c in article.countries.all()] == ["Kazakhstan"]
    assert article.status == "published"
    # Searchable at once, by any spelling.
    assert search.match("nur-sultan").pks == [article.pk]


def test_reimport_is_idempotent_and_updates_what_changed(tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [record(1), record(2), record(3)])
    assert run_import(path)[0] == 0
    code, out, _ = run_import(path)
    assert "created 0, updated 0, unchanged 3, merged 0, failed 0" in out
    assert "Nothing changed." in out
    write_jsonl(
        path, [record(1), record(2, title="Rally number two, corrected", cities=["Shymkent"]), record(3)]
    )
    code, out, _ = run_import(path)
    assert "created 0, updated 1, unchanged 2, merged 0, failed 0" in out
    changed = Article.objects.get(record_id="r-2")
    assert changed.title == "Rally number two, corrected"
    assert [c.name for c in changed.cities.all()] == ["Shymkent"]
    assert search.match("corrected").pks == [changed.pk]
    assert Article.objects.count() == 3
    assert search.check().clean


def test_records_without_id_match_by_url(tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [record(1, id=None, url="https://example.org/1")])
    run_import(path)
    write_jsonl(path, [record(1, id=None, url="https://example.org/1", title="New title")])
    _, out, _ = run_import(path)
    assert "updated 1" in out
    assert Article.objects.get().title == "New title"


BAD_LINES = [
    ('{"id": "bad-json", "title": "x"', "invalid JSON"),
    (json.dumps(record(10, title=None)), "title is missing"),
    (json.dumps(record(11, body="   ")), "body is empty"),
    (json.dumps(record(12, published="2020-02-30")), "published '2020-02-30' is not a real date"),
    (json.dumps(record(13, published="10/06/2020")), "is not a YYYY-MM-DD date"),
    (json.dumps(record(14, cities="Almaty")), None),  # a single name as text is accepted
    (json.dumps(record(15, cities=[1, 2])), "cities must hold names (text), found int"),
    (json.dumps(record(16, actors={"a": 1})), "actors must be a list of names, not dict"),
    (json.dumps(record(17, title=5)), "title must be text, not int"),
    (json.dumps(record(18, title="x" * 501)), "title is too long (501 characters, at most 500)"),
    (json.dumps(record(19, url="javascript:alert(1)")), "is not an http(s) URL"),
    (json.dumps(record(20, language="english")), "language 'english' is not an ISO 639-1 code"),
    ("[1, 2, 3]", "a record is a JSON object, not list"),
    (json.dumps(record(21, published=20200610)), "published must be a YYYY-MM-DD date, not int"),
    (json.dumps(record(22, id=["x"])), "id must be text or a number, not list"),
]


def test_bad_records_are_reported_by_line_and_good_ones_kept(tmp_path):
    lines = [json.dumps(record(1))]
    for line, _ in BAD_LINES:
        lines.append(line)
    lines.append(json.dumps(record(2)))
    path = write_jsonl(tmp_path / "mixed.jsonl", lines)
    code, out, err = run_import(path)
    assert code == 1
    failures = [m for _, m in BAD_LINES if m]
    assert f"created 3, updated 0, unchanged 0, merged 0, failed {len(failures)}" in out
    reported = err.strip().splitlines()
    assert len(reported) == len(failures)
    expected_lines = [n for n, (_, m) in enumerate(BAD_LINES, start=2) if m]
    for line_no, message, text in zip(expected_lines, failures, reported, strict=True):
        assert text.startswith(f"{path}:{line_no}: "), text
        assert message in text, (message, text)
    assert set(Article.objects.values_list("record_id", flat=True)) == {"r-1", "r-2", "r-14"}


def test_dry_run_reports_the_same_and_writes_nothing(tmp_path):
    lines = [json.dumps(record(1)), "{oops", json.dumps(record(2, cities=["Taraz"]))]
    path = write_jsonl(tmp_path / "mixed.jsonl", lines)
    code, out, err = run_import("--dry-run", path)
    assert code == 1
    assert "dry run, nothing written: created 2, updated 0, unchanged 0, merged 0, failed 1" in out
    assert err.strip() == (
        f"{path}:2: invalid JSON: Expecting property name enclosed in double quotes (column 2)"
    )
    assert not Article.objects.exists() and not City.objects.exists() and not Source.objects.exists()
    code, out2, err2 = run_import(path)
    assert "created 2, updated 0, unchanged 0, merged 0, failed 1" in out2
    assert err2 == err


def test_csv_with_bom_and_lists(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(
        "\ufeffid,title,body,published,source,cities,actors,country,url,language\n"
        'c-1,"Strike, day two","Miners struck; again.",2021-01-05,TASS,Zhanaozen;Aktau,'
        "oil workers;trade unions,Kazakhstan,https://example.org/c1,en\n"
        "c-2,Bad date,Text,2021-13-01,TASS,,,,,\n"
        "c-3,Short row\n".encode()
    )
    code, out, err = run_import(path)
    assert code == 1
    assert "created 1, updated 0, unchanged 0, merged 0, failed 2" in out
    assert err.strip().splitlines() == [
        f"{path}:3: published '2021-13-01' is not a real date",
        f"{path}:4: expected 10 columns, found 2",
    ]
    article = Article.objects.get(record_id="c-1")
    assert article.title == "Strike, day two"
    assert sorted(c.name for c in article.cities.all()) == ["Aktau", "Zhanaozen"]
    assert sorted(a.name for a in article.actors.all()) == ["oil workers", "trade unions"]


def test_plain_text_is_cleaned_and_lands_as_a_draft():
    seed = SHARED / "seeds" / "003_269cf614bf438ab0.txt"
    code, out, _ = run_import(seed)
    assert code == 0
    article = Article.objects.get(record_id="003_269cf614bf438ab0")
    assert article.status == "draft"
    assert article.title == (
        "Kazakh Prosecutor-General's Office Calls On Citizens Not To Take Part In DVK Rallies"
    )
    for chrome in (
        "Accessibility links",
        "Breaking News",
        "16x9 Image",
        "offers informed and accurate reporting",
        "Kazakh law enforcement officers detain",
    ):
        assert chrome not in article.body, chrome
    assert article.body.startswith("NUR-SULTAN -- The Kazakh Prosecutor-General's office")
    assert article.body.endswith(
        "since President Qasym-Zhomart Toqaev came to power in March 2019 "
        "following the resignation of Nursultan Nazarbaev, who ruled the "
        "country for nearly 30 years."
    )
    assert search.match("dembaev").pks == []  # drafts are not searchable


def test_plain_text_size_picker_and_signature_removed():
    code, _, _ = run_import(
        SHARED / "seeds" / "004_9877d8bd962516a7.txt", SHARED / "seeds" / "002_b2d47facf787a919.txt"
    )
    assert code == 0
    body = Article.objects.get(record_id="004_9877d8bd962516a7").body
    assert not any(line in {"XS", "SM", "MD", "LG"} for line in body.splitlines())
    assert "undesirable organization" not in body and "click here" not in body
    tca = Article.objects.get(record_id="002_b2d47facf787a919").body
    assert not tca.endswith("Times of Central Asia")
    assert tca.endswith("restricting access to social media.")


def test_exact_duplicates_merge_and_near_duplicates_are_linked(tmp_path):
    long_body = " ".join(f"word{i} rally police city" for i in range(30))
    path = write_jsonl(
        tmp_path / "a.jsonl",
        [
            record(1, body=long_body, source="Reuters"),
            # The same title, text and date: one report, described for another event.
            record(
                2,
                body=long_body,
                source="Reuters",
                title="Rally number 1",
                cities=["Taraz"],
                actors=["students"],
            ),
            record(3, body=long_body + " Updated at noon.", source="AFP", title="Rally number 1"),
            record(4, body="Entirely different text " * 20),
        ],
    )
    code, out, _ = run_import(path)
    assert code == 0
    assert "created 3, updated 0, unchanged 0, merged 1, failed 0" in out
    first, third = Article.objects.get(record_id="r-1"), Article.objects.get(record_id="r-3")
    assert sorted(c.name for c in first.cities.all()) == ["Almaty", "Taraz"]
    assert sorted(a.name for a in first.actors.all()) == ["students", "workers"]
    assert [o.record_id for o in first.origins.all()] == ["r-1", "r-2"]
    assert list(first.possible_duplicates.all()) == [third]
    assert list(third.possible_duplicates.all()) == [first]
    assert not Article.objects.get(record_id="r-4").possible_duplicates.exists()
    assert search.match("taraz").pks == [first.pk]
    # The same file again: every record, the merged one included, is unchanged.
    _, out, _ = run_import(path)
    assert "created 0, updated 0, unchanged 4, merged 0, failed 0" in out


def test_export_import_export_round_trip(tmp_path):
    f.city("Astana", aliases=["Nur-Sultan"])
    path = write_jsonl(
        tmp_path / "a.jsonl",
        [
            record(1, cities=["Nur-Sultan", "Almaty"], actors=["Tokayev", "DVK"]),
            record(2, id=None, url="https://example.org/2", published=None),
            record(3, body="Line one.\n\nLine two with “quotes” and кириллица.", language="ru"),
            record(4, status="draft", published="2019-01-01"),
        ],
    )
    assert run_import(path)[0] == 0
    first_jsonl, first_csv = export("jsonl"), export("csv")
    lines = [json.loads(line) for line in first_jsonl.splitlines()]
    assert [r["id"] for r in lines] == [None, "r-4", "r-1", "r-3"]
    assert lines[2]["cities"] == ["Almaty", "Astana"]
    assert lines[1]["status"] == "draft"
    (tmp_path / "export.jsonl").write_text(first_jsonl)
    (tmp_path / "export.csv").write_text(first_csv)

    for fmt in ("jsonl", "csv"):
        Article.objects.all().delete()
        City.objects.all().delete()
        Actor.objects.all().delete()
        Source.objects.all().delete()
        code, out, err = run_import(tmp_path / f"export.{fmt}")
        assert (code, err) == (0, ""), err
        assert export("jsonl") == first_jsonl, fmt
        assert export("csv") == first_csv, fmt
    assert search.check().clean


def test_large_match_counts_facets_without_huge_id_lists(tmp_path, client):
    path = write_jsonl(
        tmp_path / "big.jsonl",
        [
            record(
                n,
                body=f"Strike number {n}.",
                cities=["Almaty" if n % 3 else "Taraz"],
                published=f"{2000 + n % 20}-01-01",
            )
            for n in range(1200)
        ],
    )
    assert run_import(path)[0] == 0
    with CaptureQueriesContext(connection) as queries:
        data = client.get("/api/search/", {"q": "strike"}).json()
    assert data["count"] == 1200
    assert data["facets"]["city"] == [
        {"value": "almaty", "label": "Almaty", "count": 800, "selected": False},
        {"value": "taraz", "label": "Taraz", "count": 400, "selected": False},
    ]
    assert sum(item["count"] for item in data["facets"]["year"]) == 1200
    assert max(q["sql"].count("%s") + q["sql"].count("?") for q in queries.captured_queries) < 1000
    narrowed = client.get("/api/search/", {"q": "strike", "city": "taraz", "year": "2001"}).json()
    assert narrowed["count"] == len([n for n in range(1200) if n % 3 == 0 and n % 20 == 1])


def test_killed_import_leaves_consistent_state_and_rerun_completes(index, tmp_path):
    path = write_jsonl(tmp_path / "big.jsonl", [record(n, body=f"Sit-in {n}.") for n in range(4000)])
    env = subprocess_env(index)
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "import_articles", "--batch-size", "200", str(path)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while Article.objects.count() < 600 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stored = Article.objects.count()
    assert 0 < stored < 4000, "the import should have been killed part-way"
    assert stored % 200 == 0  # whole batches only: each is one transaction
    search.reset_backend()
    drift = search.check()
    assert drift.extra == [] and drift.stale == []  # the index never runs ahead of the database
    assert set(drift.missing) <= set(Article.objects.values_list("pk", flat=True))

    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "import_articles", "--batch-size", "200", str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert f"created {4000 - stored}, updated 0, unchanged {stored}" in result.stdout
    search.reset_backend()
    assert Article.objects.count() == 4000
    assert search.check().clean
    assert len(search.match("sit-in").pks) == 4000


@pytest.mark.parametrize(
    "args, message",
    [
        (["--format", "xml"], "invalid choice"),
        (["/no/such/file.jsonl"], "/no/such/file.jsonl: no such file"),
    ],
)
def test_command_line_errors(args, message, index):
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "import_articles", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=subprocess_env(index),
    )
    assert result.returncode != 0
    assert message in result.stderr


def planner_row_estimate(table: str) -> int | None:
    """The row count the database's planner holds for `table` (None: never analysed)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = %s AND idx IS NOT NULL", [table])
            row = cursor.fetchone()
            return int(row[0].split()[0]) if row else None
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [table])
        estimate = cursor.fetchone()[0]
        return None if estimate < 0 else int(estimate)


def test_an_import_leaves_the_planner_statistics_of_what_it_wrote(tmp_path):
    """Without statistics SQLite reads a facet's names through every published article
    (seconds at 15k reports); the importer refreshes them at the end of each run."""
    path = write_jsonl(tmp_path / "a.jsonl", [record(n, source=f"Outlet {n % 7}") for n in range(60)])
    code, _, err = run_import(path, "--batch-size", "25")
    assert (code, err) == (0, "")
    assert planner_row_estimate("articles_article") == 60
    assert planner_row_estimate("articles_source") == 7


def test_an_import_of_one_headline_many_times_numbers_its_slugs_in_few_queries(tmp_path):
    """Slugs of a title already taken are numbered from one read of the taken numbers per
    title and batch (it was a query per record over every numbered sibling: an import of a
    generated 100k corpus slowed to 61 records/s)."""
    f.article("Police disperse rally")  # "police-disperse-rally" is taken
    f.article("Police disperse rally 3")  # and "police-disperse-rally-3"
    records = [
        record(n, title="Police disperse rally", body=f"Report {n} of the dispersal.") for n in range(60)
    ]
    with CaptureQueriesContext(connection) as queries:
        code, out, err = run_import(write_jsonl(tmp_path / "same.jsonl", records), "--batch-size", "30")
    assert code == 0, err
    slugs = sorted(
        Article.objects.filter(record_id__startswith="r-").values_list("slug", flat=True),
        key=lambda slug: int(slug.rsplit("-", 1)[1]),
    )
    expected = [f"police-disperse-rally-{n}" for n in range(2, 63) if n != 3]
    assert slugs == expected
    sibling_reads = [
        q
        for q in queries.captured_queries
        if "police-disperse-rally-" in q["sql"] and "INSERT" not in q["sql"]
    ]
    assert len(sibling_reads) == 2  # one per batch of 30


def _simhash_by_definition(text: str):
    """SimHash spelled out (Charikar 2002): each word 3-shingle's 8-byte BLAKE2b digest,
    read big-endian, votes for its set bits; a bit is set when more than half voted."""
    import hashlib
    import re

    words = re.findall(r"\w+", text.casefold())
    if len(words) < 40:
        return None
    shingles = [" ".join(words[i : i + 3]) for i in range(len(words) - 2)]
    digests = [int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "big") for s in shingles]
    value = sum(1 << bit for bit in range(64) if sum((d >> bit) & 1 for d in digests) > len(digests) // 2)
    return value - (1 << 64) if value >= 1 << 63 else value


def test_simhash_is_the_definitions_and_keeps_the_values_stored():
    """Stored SimHashes are compared with new ones: the fast count must give exactly the
    definition's value, on texts of every length around the minimum and in both scripts."""
    import random

    from articles.text import simhash

    rng = random.Random(7)
    vocabulary = "police detained protesters rally Almaty strike митинг Токаев Toqáev 2019 court".split()
    texts = [" ".join(rng.choices(vocabulary, k=n)) for n in (0, 1, 39, 40, 41, 42, 43, 100, 563, 2000)]
    texts += [" ".join(rng.choices(vocabulary, k=rng.randint(40, 300))) for _ in range(60)]
    values = [simhash(text) for text in texts]
    assert values == [_simhash_by_definition(text) for text in texts]
    assert values[:3] == [None, None, None] and all(v is not None for v in values[3:])
    # both halves of the signed range
    assert any(v < 0 for v in values[3:]) and any(v > 0 for v in values[3:])
    # A value the archive stored before this implementation (7454445's bit-sliced counter).
    stored = "Police detained forty protesters at a rally in Almaty on Saturday, witnesses said. " * 3
    assert simhash(stored + "Митинг в Алматы: Токаев") == 9126152059379487059
