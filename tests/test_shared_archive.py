"""Two web servers, one archive: with the PostgreSQL search engine, two gunicorn instances,
each in its own working directory with an index directory of its own, serve one database.
An edit saved through one server's admin is found through the other by the first search
after the save, and readers spread over both see no error.

The timed version (8 clients for a minute over the Mass Mobilization corpus, saves found
within 1 s) is the fault suite's `shared` trial:
`bench/faults.py --postgres postgres://... --only shared`.
"""

import pytest
from django.conf import settings
from django.contrib.auth.models import User

from articles.ingest import Importer
from articles.models import Article

from .conftest import SHARED, subprocess_env

CORPUS = SHARED / "corpora" / "mass-mobilization.jsonl"

pytestmark = [
    pytest.mark.skipif(
        settings.ARCHIVE_SEARCH_ENGINE != "postgres",
        reason="servers share one archive through the PostgreSQL engine (ARCHIVE_SEARCH_ENGINE=postgres)",
    ),
    pytest.mark.skipif(not CORPUS.exists(), reason="the shared corpus is not here"),
]


def test_two_servers_share_one_archive(index, tmp_path, faults):
    with open(CORPUS, encoding="utf-8") as fh:
        lines = [next(fh) for _ in range(400)]
    path = tmp_path / "mm.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    Importer().run([str(path)])
    assert Article.objects.published().count() > 300
    User.objects.create_superuser("cora", "cora@example.org", "a long pass phrase")
    pool = list(Article.objects.published().order_by("pk").values_list("pk", "title")[:20])

    env = subprocess_env(index)
    database = env["DATABASE_URL"].rsplit("/", 1)[1]
    archive = faults.Archive("test", faults.base_env(env["DATABASE_URL"], index), index, database=database)
    archive.env["ARCHIVE_SEARCH_ENGINE"] = "postgres"
    logs = tmp_path / "logs"
    logs.mkdir()
    servers = [faults.Server(archive, logs, workers=1, workdir=tmp_path / name) for name in ("a", "b")]
    try:
        assert servers[0].cwd != servers[1].cwd
        result, counts = faults.shared_load(
            archive,
            servers,
            username="cora",
            password="a long pass phrase",
            pool=pool,
            duration=8,
            interval=0.5,
        )
    finally:
        for server in servers:
            server.stop()
    print(result.figures)
    assert all(n > 10 for n in counts["requests"]), counts  # both servers answered readers
    assert counts["errors"] == 0 and not counts["refused"], (counts, servers[0].errors_logged())
    assert counts["saves"] >= 5 and counts["found"] == counts["saves"] and not counts["lost"], counts
    # No lag between servers: the first search through the other server after a save's answer
    # finds it (the save committed, and the index with it, before the answer).
    assert counts["found_first"] == counts["found"], counts
    # Each server wrote its index nowhere but in the database: no index files in either directory.
    for server in servers:
        assert not any((server.cwd / "index").glob("*")), f"{server.cwd}: an index was written on disk"
    assert Article.objects.filter(title__contains=" shn").count() >= 5
