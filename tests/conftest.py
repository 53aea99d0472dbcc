import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command

from articles import search

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@pytest.fixture(autouse=True)
def fresh_index(settings, tmp_path):
    """A fresh, empty index directory for every test, with the backend reopened on it."""
    settings.ARCHIVE_INDEX_DIR = tmp_path / "index"
    settings.ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
    search.reset_backend()
    yield settings.ARCHIVE_INDEX_DIR
    search.reset_backend()


def remove_index(path) -> None:
    """Delete the index, as an operator might (writes then build it anew): the Whoosh index
    directory, or the rows of the PostgreSQL engine's tables."""
    search.reset_backend()
    if django_settings.ARCHIVE_SEARCH_ENGINE == "postgres":
        from articles.search.postgres.models import Document, State, Term

        for model in (State, Document, Term):
            model.objects.all().delete()
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def index(transactional_db, fresh_index):
    """An empty, built index that follows every committed change."""
    search.rebuild()
    return fresh_index


@pytest.fixture
def seeded(transactional_db, fresh_index):
    """The curated seed archive, loaded as `make run` loads it, and indexed."""
    call_command("loaddata", "seed_articles", verbosity=0)
    search.rebuild()
    return fresh_index


def manage(*args, env=None, check=False, timeout=300):
    """Run manage.py in a separate process (for concurrency and crash tests)."""
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=check,
        timeout=timeout,
    )


@pytest.fixture
def chromium_path():
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail("REQUIRE_BROWSER is set but /usr/bin/chromium is missing")
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    return path


def subprocess_env(index_dir) -> dict:
    """Environment for a child process that uses this test's database and index."""
    from django.db import connection

    db = connection.settings_dict
    env = dict(os.environ, ARCHIVE_INDEX_DIR=str(index_dir))
    if db["ENGINE"].endswith("sqlite3"):
        env["DATABASE_URL"] = "sqlite:////" + str(Path(db["NAME"]).resolve()).lstrip("/")
    else:
        user = db.get("USER") or ""
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        host = db.get("HOST") or "127.0.0.1"
        port = db.get("PORT") or 5432
        env["DATABASE_URL"] = f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"
    return env


@pytest.fixture(scope="session")
def faults():
    """bench/faults.py as a module: its gunicorn server, HTTP client and admin session."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("faults", ROOT / "bench" / "faults.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["faults"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    for proc in module.CHILDREN:
        if proc.poll() is None:
            proc.kill()
    sys.modules.pop("faults", None)
