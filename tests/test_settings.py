"""A bad setting stops start-up with one clear line, never a traceback."""

import os
import shutil
import stat
import subprocess
import sys

import pytest

from .conftest import ROOT, manage

#: Settings each test gives itself (a run of the suite may set them for the whole suite).
SET_BY_TESTS = ("DATABASE_URL", "DATABASE_REPLICA_URLS", "ARCHIVE_INDEX_DIR", "ARCHIVE_SEARCH_ENGINE")


def run_check(**env):
    base = {k: v for k, v in os.environ.items() if k not in SET_BY_TESTS}
    return manage("check", env={**base, **env})


def run_check_unprivileged(**env):
    """Without the privilege to write anywhere: root may, so as root every capability is
    dropped first (the process keeps uid 0, so it can still read a checkout kept in a
    private directory; running as `nobody` could not)."""
    base = {k: v for k, v in os.environ.items() if k not in SET_BY_TESTS}
    prefix = []
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv to drop capabilities")
        prefix = ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--"]
    return subprocess.run(
        [*prefix, sys.executable, str(ROOT / "manage.py"), "check"],
        cwd=ROOT,
        env={**base, "SECRET_KEY": "test-only", **env},
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize("url", ["mysql://root@localhost/x", "not a url", "sqlite://", "postgres://"])
def test_malformed_database_url(url):
    result = run_check(DATABASE_URL=url)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("archive settings: DATABASE_URL=")


def test_unwritable_index_dir(tmp_path):
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    result = run_check_unprivileged(
        ARCHIVE_INDEX_DIR=str(locked / "index"), DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3"
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"archive settings: ARCHIVE_INDEX_DIR={str(locked / 'index')!r} cannot be created: Permission denied"
    ]


def test_index_dir_that_is_a_file(tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    result = run_check(ARCHIVE_INDEX_DIR=str(path))
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "ARCHIVE_INDEX_DIR" in result.stderr


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_bad_debug_flag(value):
    result = run_check(DEBUG=value)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"archive settings: DEBUG={value!r} is not a boolean (use 1/0, true/false, yes/no, on/off)"
    )


def test_good_settings_pass(tmp_path):
    result = run_check(
        DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3", ARCHIVE_INDEX_DIR=str(tmp_path / "index"), DEBUG="0"
    )
    assert result.returncode == 0, result.stderr


def test_unknown_search_engine():
    result = run_check(ARCHIVE_SEARCH_ENGINE="solr")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "archive settings: ARCHIVE_SEARCH_ENGINE='solr': choose one of whoosh, postgres"
    )


def test_postgres_search_engine_needs_a_postgres_database(tmp_path):
    result = run_check(DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3", ARCHIVE_SEARCH_ENGINE="postgres")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "archive settings: ARCHIVE_SEARCH_ENGINE=postgres needs a PostgreSQL database: "
        "set DATABASE_URL=postgres://..."
    )


def test_postgres_search_engine_on_postgres_passes(tmp_path):
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        pytest.skip("needs DATABASE_URL=postgres://... (the PostgreSQL engine's own database)")
    result = run_check(DATABASE_URL=url, ARCHIVE_SEARCH_ENGINE="postgres", ARCHIVE_INDEX_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr


def test_replicas_need_a_postgres_primary(tmp_path):
    result = run_check(
        DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3",
        DATABASE_REPLICA_URLS="postgres://reader@replica.example.org/archive",
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "archive settings: DATABASE_REPLICA_URLS needs a PostgreSQL primary: "
        "set DATABASE_URL=postgres://... too"
    )
