"""Browser tests: Debian's Chromium through Playwright (never a downloaded browser).

Two ways to get a server:
- `page` (function scope): pytest-django's session `live_server`, with a transactional
  database per test; for tests that load their own small data (test_journeys.py).
- `archive_site(...)`: one archive per module, loaded once (the seed fixtures or an imported
  corpus) and served by its own live server thread, so a module's many read-only checks
  share it. Its database is flushed when the module ends. A module that uses it overrides
  the autouse `fresh_index` fixture, since all its tests share the module's index.

Test-only tools (`make test` installs them into .venv/node): axe-core, and the Nu HTML
Checker (vnu.jar) run with the machine's java. When something is missing the tests that need
it are skipped, or fail when REQUIRE_BROWSER is set (CI sets it).
"""

import contextlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop

ROOT = Path(__file__).resolve().parent.parent.parent
NODE_MODULES = ROOT / ".venv" / "node" / "node_modules"
AXE_JS = NODE_MODULES / "axe-core" / "axe.min.js"
VNU_JAR = NODE_MODULES / "vnu-jar" / "build" / "dist" / "vnu.jar"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def unavailable(reason: str):
    """Skip, or fail when CI requires the browser tests to run."""
    if os.environ.get("REQUIRE_BROWSER"):
        pytest.fail(f"REQUIRE_BROWSER is set but {reason}", pytrace=False)
    pytest.skip(reason)


# ------------------------------------------------------------------ the browser


@pytest.fixture(scope="session")
def chromium_executable():
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        unavailable("Debian's chromium is not installed (.ci/run installs it)")
    return path


@pytest.fixture(scope="session")
def shared_browser(chromium_executable):
    """One Chromium for the whole session; every test gets its own context."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium_executable,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def browser(shared_browser):
    return shared_browser


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


# ------------------------------------------------------------ test-only tools


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core's script, to evaluate in pages."""
    if not AXE_JS.exists():
        unavailable(f"axe-core is not installed at {AXE_JS} (`make test` installs it with npm)")
    return AXE_JS.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def vnu():
    """Validate HTML files with the Nu HTML Checker: vnu(paths) -> {path: [error messages]}."""
    java = shutil.which("java")
    if not java:
        unavailable("java is not installed: the Nu HTML Checker (vnu.jar) needs it")
    if not VNU_JAR.exists():
        unavailable(f"the Nu HTML Checker is not installed at {VNU_JAR} (`make test` installs it with npm)")

    def check(paths: list[Path]) -> dict[Path, list[dict]]:
        done = subprocess.run(
            [java, "-jar", str(VNU_JAR), "--errors-only", "--format", "json", *map(str, paths)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        try:
            messages = json.loads(done.stderr or done.stdout or "{}").get("messages", [])
        except json.JSONDecodeError:
            pytest.fail(f"vnu.jar did not answer in JSON (exit {done.returncode}):\n{done.stderr}")
        found: dict[Path, list[dict]] = {Path(p).resolve(): [] for p in paths}
        for message in messages:
            url = message.get("url", "")
            path = Path(url.removeprefix("file:")).resolve() if url.startswith("file:") else None
            if message.get("type") == "non-document-error" or path not in found:
                pytest.fail(f"vnu.jar could not check the pages: {message}")
            found[path].append(message)
        return found

    return check


# ------------------------------------------------------ one archive per module


@dataclass
class Site:
    """A loaded archive served by its own live server thread."""

    url: str
    index_dir: Path
    paths: dict[str, str] = field(default_factory=dict)  # page name -> path, filled by loaders
    name: str = ""


@contextlib.contextmanager
def archive_site(django_db_blocker, index_dir: Path, load):
    """Load an archive with `load(site)` into the test database and serve it; flush it after.

    Runs outside pytest-django's per-test transactions, so it must only be used by tests that
    ask for no database fixture (they only talk to the server) and by a module that
    overrides `fresh_index` so the index stays the module's.
    """
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.core.management import call_command
    from django.db import connections
    from django.test import override_settings
    from django.test.testcases import LiveServerThread

    from articles import search

    index_dir.mkdir(parents=True, exist_ok=True)
    settings = override_settings(
        ARCHIVE_INDEX_DIR=index_dir, ALLOWED_HOSTS=["127.0.0.1", "localhost", "testserver"]
    )
    with django_db_blocker.unblock():
        settings.enable()
        search.reset_backend()
        server = None
        try:
            server = LiveServerThread("127.0.0.1", StaticFilesHandler)
            server.daemon = True
            server.start()
            server.is_ready.wait()
            if server.error:
                raise server.error
            site = Site(url=f"http://127.0.0.1:{server.port}", index_dir=index_dir)
            load(site)
            yield site
        finally:
            if server is not None:
                server.terminate()
            call_command("flush", verbosity=0, interactive=False)
            # Playwright's sync API runs this code in a greenlet with its own context, where
            # Django opened a connection of its own: close it, or SQLite leaves -wal/-shm files.
            connections.close_all()
            search.reset_backend()
            settings.disable()
