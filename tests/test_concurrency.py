"""Concurrent writers never corrupt data: imports side by side, and curators saving while
readers search. Real processes, the real database and index.

The longer runs (more processes, more saves, kill -9 trials) are `bench/faults.py`.
"""

import json
import subprocess
import sys
import threading
from io import StringIO

import pytest
from django.core.management import call_command

from articles import search
from articles.kinds import KINDS
from articles.models import Article
from articles.text import normalize_name

from . import factories as f
from .conftest import ROOT, SHARED, subprocess_env

CORPUS = SHARED / "corpora" / "mass-mobilization.jsonl"


def export() -> list[dict]:
    out = StringIO()
    call_command("export_articles", stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def start_import(env, path, *args):
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "import_articles", str(path), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wipe():
    Article.objects.all().delete()
    for kind in KINDS.values():
        kind.model.objects.all().delete()


@pytest.mark.skipif(not CORPUS.exists(), reason="the shared corpus is not here")
def test_two_imports_at_once_equal_one_after_the_other(index, tmp_path):
    with open(CORPUS, encoding="utf-8") as fh:
        lines = [next(fh) for _ in range(1600)]
    # Interleaved halves: both name the same sources, cities and actors all the time.
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_text("".join(lines[0::2]), encoding="utf-8")
    second.write_text("".join(lines[1::2]), encoding="utf-8")
    env = subprocess_env(index)
    runs = [
        start_import(env, path, "--batch-size", "50", "--status", "published") for path in (first, second)
    ]
    outputs = [run.communicate(timeout=600) for run in runs]
    for run, (out, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, err
        assert "failed 0" in out
    concurrent = export()
    search.reset_backend()
    assert search.check().clean

    wipe()
    for path in (first, second):
        out, err = start_import(env, path, "--status", "published").communicate(timeout=600)
        assert "failed 0" in out, err
    sequential = export()
    assert len(concurrent) == len(sequential) > 1500
    got, expected = sorted(map(same_article, concurrent)), sorted(map(same_article, sequential))
    assert set(got) ^ set(expected) == set(), sorted(set(got) ^ set(expected))[:4]


def same_article(record: dict) -> str:
    """A record as the archive holds it, whichever of its merged records came first, with
    names compared as the archive compares them: batches take turns, so which import first
    writes a name both use ("Bogota" or "bogota") is the race's to decide, not the result."""
    ids = sorted(record.pop("ids", None) or [record["id"]])
    record.pop("id")
    for field in ("cities", "actors"):
        record[field] = sorted(normalize_name(name) for name in record[field])
    for field in ("source", "country"):
        record[field] = normalize_name(record[field] or "")
    return json.dumps({**record, "ids": ids}, sort_keys=True)


SAVER = """
import os, sys, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "archive.settings")
sys.path.insert(0, {root!r})
django.setup()
from articles.models import Article
from articles.text import normalize_name
worker, saves = int(sys.argv[1]), int(sys.argv[2])
for i in range(saves):
    Article.objects.create(title=f"Saved zqw{{worker}}x{{i}} report", body="A curator's save.",
                           status="published")
print("done")
"""


def test_concurrent_writers_while_readers_search(index, tmp_path):
    """Three processes save 20 reports each while three readers search: every save is
    findable afterwards and no reader ever meets an error."""
    f.article("Police detain protesters", "Police detained dozens.")
    script = tmp_path / "saver.py"
    script.write_text(SAVER.format(root=str(ROOT)))
    env = subprocess_env(index)
    stop, errors, answers = threading.Event(), [], []

    def read():
        from django.db import connection

        try:
            while not stop.is_set():
                answers.append(len(search.match("police OR saved").pks))
        except Exception as exc:  # the assertion below shows it
            errors.append(repr(exc))
        finally:
            connection.close()

    readers = [threading.Thread(target=read) for _ in range(3)]
    for reader in readers:
        reader.start()
    savers = [
        subprocess.Popen(
            [sys.executable, str(script), str(n), "20"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    try:
        results = [s.communicate(timeout=600) for s in savers]
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    assert all(s.returncode == 0 for s in savers), [err for _, err in results]
    assert errors == []
    assert answers and min(answers) >= 1
    search.reset_backend()
    for worker in range(3):
        for i in range(20):
            assert len(search.match(f"zqw{worker}x{i}").pks) == 1, (worker, i)
    assert search.check().clean
