"""The index follows every committed change, never a rolled-back one, across processes."""

import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction

from articles import search
from articles.models import Article, IndexQueue

from . import factories as f
from .conftest import ROOT, manage, subprocess_env

pytestmark = pytest.mark.usefixtures("index")
#: Tests of the Whoosh engine's own files and processes.
whoosh_only = pytest.mark.skipif(
    settings.ARCHIVE_SEARCH_ENGINE != "whoosh",
    reason="Whoosh's index files and writer processes: run on the Whoosh engine",
)


def found(q):
    return search.match(q).pks


def test_saved_article_is_searchable_at_once():
    a = f.article(title="Hunger strike in Zhanaozen", body="Oil workers went on strike.")
    assert found("zhanaozen") == [a.pk]
    assert not IndexQueue.objects.exists()


def test_drafts_are_never_indexed_and_unpublishing_removes():
    draft = f.article(title="Secret draft xylophone", status="draft", published=None)
    assert found("xylophone") == []
    live = f.article(title="Public xylophone rally")
    assert found("xylophone") == [live.pk]
    live.status = "draft"
    live.save()
    assert found("xylophone") == []
    draft.published = live.published
    draft.status = "published"
    draft.save()
    assert found("xylophone") == [draft.pk]


def test_deleted_article_leaves_the_index():
    a = f.article(title="Teachers march")
    a.delete()
    assert found("teachers") == []


def test_city_linked_later_is_found_by_every_name():
    astana = f.city("Astana", aliases=["Nur-Sultan"])
    a = f.article(title="Rally in the capital", body="Hundreds gathered.")
    assert found("nur-sultan") == []
    a.cities.add(astana)
    assert found("nur-sultan") == [a.pk]
    assert found("city:astana") == [a.pk]
    a.cities.remove(astana)
    assert found("nur-sultan") == []


def test_reverse_side_link_changes_are_followed():
    almaty = f.city("Almaty", aliases=["Alma-Ata"])
    a = f.article(title="Pickets", body="Small pickets.")
    almaty.articles.add(a)
    assert found("alma-ata") == [a.pk]
    almaty.articles.clear()
    assert found("alma-ata") == []


def test_alias_added_renamed_and_removed():
    tokayev = f.actor("Kassym-Jomart Tokayev")
    a = f.article(title="President speaks", body="The president addressed the nation.", actors=[tokayev])
    assert found("toqaev") == []
    new = tokayev.aliases.create(name="Toqaev")
    assert found("toqaev") == [a.pk]
    new.name = "Tokaev"
    new.save()
    assert found("toqaev") == []
    assert found("tokaev") == [a.pk]
    new.delete()
    assert found("tokaev") == []


def test_entity_rename_is_followed():
    src = f.source("Radio Azattyq")
    a = f.article(title="Detentions", body="Police detained people.", source=src)
    src.name = "RFE/RL Kazakh Service"
    src.save()
    assert found("source:azattyq") == []
    assert found("source:rfe") == [a.pk]


def test_rolled_back_transaction_leaves_no_trace():
    a = f.article(title="Original title", body="Original body.")
    with pytest.raises(RuntimeError), transaction.atomic():
        a.title = "Phantom headline"
        a.save()
        f.article(title="Phantom article", body="Never committed.")
        raise RuntimeError("roll back")
    assert found("phantom") == []
    assert found("original") == [a.pk]
    assert not IndexQueue.objects.exists()
    assert search.check().clean


def test_changes_inside_a_transaction_are_indexed_after_commit():
    with transaction.atomic():
        a = f.article(title="Committed later", body="Text.")
        assert found("committed") == []  # not before commit
    assert found("committed") == [a.pk]


def test_admin_edit_adding_a_city_and_an_alias(client):
    client.force_login(User.objects.create_superuser("curator", "c@example.org", "a-long-pass-phrase-42"))
    almaty = f.city("Almaty")
    actor = f.actor("Mukhtar Ablyazov")
    a = f.article(title="Opposition rally", body="Supporters of the movement gathered.", actors=[actor])
    response = client.post(
        f"/admin/articles/article/{a.pk}/change/",
        {
            "title": a.title,
            "slug": a.slug,
            "status": "published",
            "published": "2020-06-10",
            "source": "",
            "language": "en",
            "cities": [almaty.pk],
            "actors": [actor.pk],
            "body": a.body,
            "original_url": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert found("almaty") == [a.pk]

    prefix = "aliases"
    response = client.post(
        f"/admin/articles/actor/{actor.pk}/change/",
        {
            "name": actor.name,
            "slug": actor.slug,
            "kind": "person",
            f"{prefix}-TOTAL_FORMS": "1",
            f"{prefix}-INITIAL_FORMS": "0",
            f"{prefix}-MIN_NUM_FORMS": "0",
            f"{prefix}-MAX_NUM_FORMS": "1000",
            f"{prefix}-0-name": "Abliazov",
            f"{prefix}-0-id": "",
            f"{prefix}-0-entity": actor.pk,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert found("abliazov") == [a.pk]


def test_queue_left_by_a_dead_process_is_detected_and_repaired():
    a = f.article(title="Survivor report", body="Text.")
    # A process that committed its change but died before updating the index leaves
    # only the queue row behind: simulate exactly that state.
    with transaction.atomic():
        Article.objects.filter(pk=a.pk).update(title="Renamed survivor")
        IndexQueue.objects.create(article_id=a.pk)  # its queue row, but no drain after commit
    assert found("renamed") == []
    drift = search.check()
    assert drift.queued == 1 and drift.stale == [a.pk]
    result = manage("check_index", env=subprocess_env(settings.ARCHIVE_INDEX_DIR))
    assert result.returncode == 1
    assert "1 article(s) outdated in the index" in result.stdout
    result = manage("check_index", "--repair", env=subprocess_env(settings.ARCHIVE_INDEX_DIR))
    assert result.returncode == 0, result.stderr
    assert found("renamed") == [a.pk]
    assert search.check().clean


def test_two_processes_writing_at_once_both_succeed(index):
    env = subprocess_env(index)
    code = (
        "import sys, django; django.setup();"
        "from tests import factories as f;"
        "[f.article(title=f'{sys.argv[1]} parallel {i}', body='x') for i in range(8)]"
    )
    import subprocess
    import sys

    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, word],
            env=dict(env, DJANGO_SETTINGS_MODULE="archive.settings"),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for word in ("alpha", "bravo")
    ]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    assert len(found("alpha")) == 8
    assert len(found("bravo")) == 8
    assert search.check().clean


@whoosh_only
def test_an_index_written_by_another_version_is_replaced(index, client):
    """An index whose stored schema names classes this code no longer has (written before
    an upgrade) is reported as missing, not as a crash, and rebuilt on the next check."""
    article = f.article("Miners strike", "Miners walked out.")
    toc = next(index.glob("_articles_v*.toc"))
    blob = toc.read_bytes()
    toc.write_bytes(blob.replace(b"articles.search.whoosh.analysis", b"articles.search.whoosh.analysiX"))
    search.reset_backend()
    assert client.get("/api/search/", {"q": "miners"}).status_code == 400  # unavailable, said
    drift = search.check()
    assert drift.index_missing
    assert manage("rebuild_index", "--if-stale", env=subprocess_env(index)).returncode == 0
    search.reset_backend()
    assert search.match("miners").pks == [article.pk]
    assert search.check().clean
    # A write that finds it unreadable rebuilds it too, its own change included.
    toc = next(index.glob("_articles_v*.toc"))
    toc.write_bytes(
        toc.read_bytes().replace(b"articles.search.whoosh.analysis", b"articles.search.whoosh.analysiX")
    )
    search.reset_backend()
    article.title = "Miners strike renewed"
    article.save()
    search.reset_backend()
    assert search.match("renewed").pks == [article.pk]
    assert search.check().clean


PARALLEL_WRITER = """
import sys, time
import django
django.setup()
from articles.search.whoosh import backend as engine

engine.PROCS = 2  # the writer of rebuilds and large drains, as on a machine with 2 cores
backend = engine.WhooshBackend(sys.argv[1])
doc = {"pk": 0, "stamp": "x", "language": "en", "title": "Sit-in", "body": "Sit-in outside."}
with backend.writer_lock():
    writer = backend._writer(backend._open_index(), bulk=True)
    for pk in range(1, 251):  # a task starts for each 100 documents, up to PROCS
        writer.add_document(**{**doc, "pk": pk})  # analysed in the writing processes
    print(" ".join(str(task.pid) for task in writer.tasks), flush=True)
    if sys.argv[2] == "cancel":
        sys.stdin.readline()
        writer.cancel()
        print("cancelled", flush=True)
    else:
        time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


@whoosh_only
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")
@pytest.mark.parametrize("end", ["kill", "cancel"])
def test_the_parallel_writers_processes_end_with_it(index, end, monkeypatch):
    """Whoosh's multi-process writer forks analysing processes that held the archive's writer
    lock for ever when their parent was killed (kill -9 of a rebuild or a large import), and
    that kept waiting when it cancelled. Now they exit with it, and the index is writable."""
    proc = subprocess.Popen(
        [sys.executable, "-c", PARALLEL_WRITER, str(index), end],
        cwd=ROOT,
        env=subprocess_env(index),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    children = [int(pid) for pid in proc.stdout.readline().split()]
    try:
        assert len(children) == 2, proc.stderr.read()
        assert all(_alive(pid) for pid in children)
        if end == "kill":
            proc.send_signal(signal.SIGKILL)
        else:
            proc.stdin.write("cancel\n")
            proc.stdin.flush()
            assert proc.stdout.readline().strip() == "cancelled"
        proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        while any(map(_alive, children)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(map(_alive, children))
    finally:
        for pid in [proc.pid, *children]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    monkeypatch.setattr("articles.search.whoosh.backend.LOCK_TIMEOUT", 5.0)
    article = f.article("Hunger strike", "A hunger strike began.")  # a write takes the lock
    assert search.match("hunger").pks == [article.pk]
    assert search.check().clean


def test_documents_read_in_bulk_are_the_documents_of_each_article_alone():
    """schema.documents (a rebuild's, a large drain's, check_index's: the database read by
    chunks, every entity's names once) gives what article_document gives for each article
    through Django's prefetching: the same names in the same order, ids, dates, stamps."""
    from articles.search.schema import article_document, documents, documents_queryset

    zhanaozen = f.city("Zhanaozen", aliases=["Janaozen"])  # made first: pks not in the names' order
    astana = f.city("Astana", aliases=["Nur-Sultan", "Akmola", "Tselinograd"])
    almaty = f.city("Almaty", aliases=["Алматы", "Alma-Ata"])
    aktau = f.city("aktau")  # lower case: where it sorts depends on the database's collation
    tokayev = f.actor("Kassym-Jomart Tokayev", aliases=["Toqaev", "Tokaev"])
    dvk = f.actor("DVK", aliases=["Democratic Choice of Kazakhstan"], kind="organisation")
    outlet = f.source("RFE/RL", aliases=["Radio Azattyq", "Azattyq"])
    kz = f.country("Kazakhstan", aliases=["Qazaqstan"])
    made = []
    for i in range(23):
        made.append(
            f.article(
                title=f"Report {i} on the square",
                body=f"Protesters gathered, day {i}. Митинг.",
                published=None if i % 7 == 3 else dt.date(2019, 1 + i % 12, 1 + i),
                status="draft" if i % 5 == 2 else "published",
                source=outlet if i % 3 else None,
                cities=[almaty, astana, zhanaozen, aktau][: i % 5],
                actors=[tokayev, dvk][i % 2 :],
                countries=[kz] if i % 4 == 0 else [],
                language="ru" if i % 6 == 0 else "en",
            )
        )
    expected = [article_document(a) for a in documents_queryset().order_by("pk")]
    assert len(expected) == sum(a.status == "published" for a in made) > 15
    assert any(len(d["city_ids"]) == 4 for d in expected) and any(not d["source"] for d in expected)
    assert any(d["published"] == "" for d in expected)
    assert any("Astana ; Akmola ; Nur-Sultan ; Tselinograd" in d["city"] for d in expected)
    for chunk in (1, 4, 1000):
        assert list(documents(chunk=chunk)) == expected
    # Some articles, scattered (a drain's), unpublished ones among them (left out).
    some = [a.pk for a in made[::3]]
    assert list(documents(some, chunk=2)) == [d for d in expected if d["pk"] in some]
    assert list(documents([])) == []
