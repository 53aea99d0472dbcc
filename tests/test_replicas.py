"""Read replicas (`DATABASE_REPLICA_URLS`, archive/routers.py), end to end on PostgreSQL.

The archive is served by gunicorn with, as its replica, a copy of its database taken at one
moment: a replica that stopped replicating, which shows what is read where. Anonymous
readers' pages and searches come from the copy; a request with a session cookie (a
curator), the admin and every write go to the primary.
"""

import http.client
import json
import time
import warnings

import psycopg
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connections

from articles.models import Article

from . import factories as f
from .conftest import subprocess_env

pytestmark = pytest.mark.skipif(
    not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
    reason="read replicas are PostgreSQL's (DATABASE_URL=postgres://...)",
)


def get(port: int, path: str, cookie: str | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def close_other_sessions(conn, name: str, wait: float = 10.0) -> None:
    """End the sessions still open on the test database, so that it can be copied.

    This process's own are closed above; what is left belongs to earlier tests of the
    session (a live server's request thread, a server process still shutting down). They
    get `wait` seconds to leave, then are ended: Django's health checks reconnect them.
    """
    others = "SELECT pid, application_name, state FROM pg_stat_activity WHERE datname = %s"
    deadline = time.monotonic() + wait
    while (left := conn.execute(others, [name]).fetchall()) and time.monotonic() < deadline:
        time.sleep(0.2)
    if left:
        warnings.warn(f"ended {len(left)} session(s) left on {name} by earlier tests: {left}", stacklevel=1)
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name])
        deadline = time.monotonic() + 5
        while conn.execute(others, [name]).fetchall() and time.monotonic() < deadline:
            time.sleep(0.1)


@pytest.fixture
def replica(index):
    """A copy of the test database (the 'replica'), dropped after the test."""
    primary = subprocess_env(index)["DATABASE_URL"]
    name = primary.rsplit("/", 1)[1]
    copy = f"{name}_replica"
    server = primary.rsplit("/", 1)[0] + "/postgres"
    connections.close_all()  # a database with sessions cannot be copied
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{copy}"')
        close_other_sessions(conn, name)
        conn.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{name}"')
    yield primary.rsplit("/", 1)[0] + "/" + copy
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')


def test_readers_read_the_replica_and_curators_the_primary(index, tmp_path, faults, request):
    before = f.article("Strike before the copy", "Teachers struck over their wages.")
    replica = request.getfixturevalue("replica")
    after = f.article("Rally after the copy", "Nurses rallied outside the ministry.")
    User.objects.create_superuser("cora", "cora@example.org", "a long pass phrase")

    env = faults.base_env(subprocess_env(index)["DATABASE_URL"], index)
    env["DATABASE_REPLICA_URLS"] = replica
    archive = faults.Archive("replica-test", env, index)
    logs = tmp_path / "logs"
    logs.mkdir()
    server = faults.Server(archive, logs, workers=1)
    try:
        port = server.port
        # An anonymous reader: the replica, which holds the first report and not the second.
        assert get(port, f"/articles/{before.slug}/")[0] == 200
        assert get(port, f"/articles/{after.slug}/")[0] == 404
        found = json.loads(get(port, "/api/search/?q=nurses")[1])
        assert after.slug not in {r["slug"] for r in found["results"]}
        if settings.ARCHIVE_SEARCH_ENGINE == "postgres":
            assert found["count"] == 0  # the replica's index too
        assert before.slug in {
            r["slug"] for r in json.loads(get(port, "/api/search/?q=teachers")[1])["results"]
        }
        # A request with a session cookie (a curator's browser): the primary.
        assert get(port, f"/articles/{after.slug}/", cookie=f"{settings.SESSION_COOKIE_NAME}=x")[0] == 200
        # The admin: logs in with an account only the primary has, and saves there.
        curator = faults.AdminSession(port, "cora", "a long pass phrase")
        curator.retitle(after.pk, "Rally after the copy, retitled")
        assert Article.objects.get(pk=after.pk).title == "Rally after the copy, retitled"
        with psycopg.connect(replica) as conn:
            titles = [t for (t,) in conn.execute("SELECT title FROM articles_article ORDER BY id")]
        assert titles == ["Strike before the copy"]  # nothing was written to the replica
    finally:
        server.stop()
    assert "Traceback" not in server.errors_logged(), server.errors_logged()
