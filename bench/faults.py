"""Fault suite, the long part: hostile queries, generated requests, concurrent writers and
imports, kill -9 of imports and rebuilds, a minute of mixed load, and two web servers sharing
one archive, on throw-away archives.

    .venv/bin/python bench/faults.py [--postgres URL] [--only NAME ...] [--corpus PATH]
        [--limit N] [--duration S] [--kill-trials N] [--fuzz-profile long|ci] [--seed N] [--keep]

Run it from the project with the project's virtualenv. It uses the standard library, the
archive's own commands (`manage.py`) and gunicorn as `make run` starts it. SQLite files in a
temporary directory by default; `--postgres postgres://postgres@127.0.0.1:5432/postgres`
creates (and drops) temporary databases on that server instead. The temporary directory (the
servers' and commands' logs are in its `logs/`) is removed at the end, unless a trial failed
or `--keep` is given. Exit status 1 when any trial fails.

`--only` runs some trials (`--only queries load`). `--limit N` serves only the first N corpus
records and `--duration`, `--kill-trials` and `--fuzz-profile ci` shorten the others, for quick
runs while developing; the standing figures are those of a run without them.

One archive with the whole corpus (imported with `import_articles --status published`, served
by `gunicorn ... --workers 2`) is shared by `queries`, `writers` and `load`, and imported once.
`fuzz` runs pytest, which makes its own test database; `imports` and `kill` need fresh archives
of their own (cloned from one migrated template).

Each trial prints its details, then one line of figures; a table sums them up at the end. The
machine may be shared: every time is wall-clock and noisy; compare runs made side by side.

queries  Hostile queries (a fallback, huge and tiny fuzzy terms, several fuzzy terms, one-letter
         prefixes, the 156 most frequent words of the corpus bodies, and the first 64 of them,
         the most words a query may have) and `protest`, `police` for reference, each on
         `/api/search/` once to warm up and then 5 times: the statuses, the median and maximum
         answer time in ms (a fresh HTTP connection each), the match count or, for a 400, the
         archive's message. Passes when every answer is a 200 or a 400 with
         an error message and every median is under 300 ms (judged on the median because the
         machine is shared; `over` marks a maximum above it). `burst`: the three slowest
         hostile queries sent at once, then 20 ms later a plain `q=police`, three times: the
         plain one's answer times must all be under 1 s.
fuzz     `pytest tests/test_fuzz.py` with `HYPOTHESIS_PROFILE=long`: test cases Hypothesis ran
         (valid + invalid; failing), the time, and pytest's verdict.
writers  3 processes save 50 published articles each through the ORM (one commit each:
         creates and, every other save, a retitle of an existing article), each with a unique
         token in its title, while 3 HTTP clients search continuously. saves/s over the 150
         saves; searches run and their non-2xx answers (must be 0); then every token is
         searched for: `lost` counts saves that `/api/search/?q=TOKEN` does not find (must be 0).
imports  The corpus's first 5,000 records in two files (first and second half), imported by two
         `import_articles --batch-size 100` processes at once into a fresh archive and one after
         the other into another. Times of both, failed records (must be 0), `check_index` on
         both, and whether the two exports (lines sorted by id and title) and the two sets of
         possible-duplicate links (not exported; read from the database) are identical (they
         must be, but for the spelling of a name both files use: "Bogota" or "bogota" is that
         of the batch that first wrote it, the race's to decide; names must be equal as the
         archive compares them, case and accents folded). When they differ otherwise: which
         fields of which records, and whether the concurrent result is that of the other
         order (second half first; a third import).
kill     A clean import of the first 3,000 records gives the reference. Then, 10 times: a fresh
         archive, `import_articles --batch-size 100` killed with SIGKILL a random time after its
         first articles exist, then the import again: `check_index` must exit 0, the article
         count must equal the reference's (and the export and the possible-duplicate links
         too). Then 10 times: `rebuild_index`
         killed part-way, mended by `rebuild_index` (odd trials) or `check_index --repair`
         (even), then `check_index` must exit 0 and a search must find what the reference
         finds. Per trial: when it was killed (articles or seconds), check_index right after
         the kill (drift is allowed there), the outcome, the index's size on disk; the figures
         count clean outcomes.
load     8 HTTP clients for 60 s over a seeded mix of request classes (LOAD_MIX: API text
         searches with and without city/year filters, the search page, browsing by city and by
         year, `/cities/`, a city, an article, `/`, `/api/search/` without text), while a
         curator process (Django set up once) retitles an article every 0.5 s with a fresh
         token, one transaction per save, and reports each save at its commit (from an
         on_commit hook that runs before the save's own index update); from then on, a poller
         thread searches `/api/search/?q=TOKEN` every 50 ms until an answer holds it.
         Requests, throughput, non-2xx answers (must be 0, the poller's included), latency
         p50/p95/p99 in ms overall and per class (nearest rank over every request).
         Save-to-searchable: from the save's commit to the answer that found its token (so it
         includes one search's answer time under the load), p50/p95/max, how many took more
         than 1 s (must be none) and how many were never found within 30 s (must be none);
         beside it, from the commit to the end of the saving process's own index work (its
         update and any merge of small segments after it), and how many saves the first search
         already found.
shared   Two web servers, one archive (needs `--postgres`; skipped without it): a fresh archive
         with the PostgreSQL search engine (`ARCHIVE_SEARCH_ENGINE=postgres`) and the served
         corpus, served by two gunicorn instances (`--workers 2` each), each started in a
         working directory of its own with an index directory of its own (nothing on disk is
         shared: the database is the only meeting point). 8 HTTP clients over LOAD_MIX for
         `--duration` seconds, client i on server i mod 2, while a curator logged in to the
         first server's admin (login form, session and CSRF cookies, as a browser) saves an
         article's change form with a new title holding a fresh token every second, and the
         second server is searched (`/api/search/?q=TOKEN`, every 50 ms) from the moment the
         form is sent until it finds the token. Per server: requests, non-2xx, latency per
         class; the admin saves' answer times; save-to-found through the other server,
         counted from the save itself (its history row's time, written in the save's
         transaction, as `load` counts from the commit), p50/p95/max, how many took more than
         1 s (must be none), never found (must be none), and beside it the same from the
         form's sending and from the save's answer, and how many the first search found.
         `tests/test_shared_archive.py` runs a short version in CI (PostgreSQL engine only).
"""

import argparse
import contextlib
import http.client
import http.cookiejar
import json
import math
import os
import random
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import unicodedata
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode, urljoin

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpora" / "mass-mobilization.jsonl"
PYTHON = sys.executable
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
TRIALS = ("queries", "fuzz", "writers", "imports", "kill", "load", "shared")
BUDGET_MS = 300
BURST_LIMIT_MS = 1000
SEARCHABLE_LIMIT_S = 1.0
CHILDREN: list[subprocess.Popen] = []

# Small programs run as separate processes with the archive's environment (argv[1] is ROOT).
DJANGO_PRELUDE = """
import os, sys, time
sys.path.insert(0, sys.argv[1])
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "archive.settings")
import django
django.setup()
from django.db import transaction
from articles.models import Article
"""
SAVER = (
    DJANGO_PRELUDE
    + """
run, worker, count = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
mine = list(Article.objects.filter(status="published").order_by("pk")
            .values_list("pk", flat=True)[worker * count:(worker + 1) * count])
for i in range(count):
    token = f"fz{run}w{worker}n{i}"
    if i % 2 and i < len(mine):
        article = Article.objects.get(pk=mine[i])
        article.title = f"{article.title[:400]} {token}"
        article.save()
    else:
        Article.objects.create(title=f"Fault suite save {token}", status="published",
                               body="A curator's save while readers search.")
    print(token, flush=True)
"""
)
CURATOR = (
    DJANGO_PRELUDE
    + """
run, interval, seconds = sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
published = Article.objects.filter(status="published").order_by("pk").values("pk", "title")
pool = list(published[200:300]) or list(published[:100])
start, n = time.time(), 0
while time.time() - start < seconds:
    token, entry = f"ld{run}n{n}", pool[n % len(pool)]
    article = Article.objects.get(pk=entry["pk"])
    with transaction.atomic():
        # Registered before the save's own index update, so it runs right at the commit: the
        # poller looks for the token from then on, not once this process's index work is done.
        transaction.on_commit(lambda: print(token, time.time(), flush=True))
        article.title = f"{entry['title'][:400]} {token}"
        article.save()
    print(token, "indexed", time.time(), flush=True)
    n += 1
    time.sleep(max(0.0, start + n * interval - time.time()))
"""
)
SEARCH_COUNT = (
    DJANGO_PRELUDE
    + """
from articles import search
print(len(search.match(sys.argv[2]).pks))
"""
)
MAKE_CURATOR = (
    DJANGO_PRELUDE
    + """
from django.contrib.auth.models import User
User.objects.create_superuser(sys.argv[2], f"{sys.argv[2]}@example.org", sys.argv[3])
pool = Article.objects.filter(status="published").order_by("pk").values_list("pk", "title")[100:200]
for pk, title in pool:
    print(pk, title.replace("\\n", " "))
"""
)
PYTEST_RUNNER = """
import sys
from hypothesis.configuration import set_hypothesis_home_dir
set_hypothesis_home_dir(sys.argv[1])  # keeps .hypothesis/ out of the project
import pytest
sys.exit(pytest.main(sys.argv[2:]))
"""


# ----------------------------------------------------------------------------- plumbing


@dataclass
class Result:
    name: str
    ok: bool
    seconds: float = 0.0
    figures: str = ""


@dataclass
class Archive:
    """One throw-away archive: its environment, and where its database and index live."""

    name: str
    env: dict
    index: Path
    sqlite: Path | None = None
    database: str | None = None


def say(text: str = "") -> None:
    print(text, flush=True)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_env(database_url: str, index: Path) -> dict:
    env = dict(
        os.environ,
        DATABASE_URL=database_url,
        ARCHIVE_INDEX_DIR=str(index),
        SECRET_KEY="faults-" + secrets.token_hex(16),
        DEBUG="0",
        HTTPS="0",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        PYTHONUNBUFFERED="1",
    )
    env.pop("TRUSTED_PROXIES", None)
    return env


def manage(archive: Archive, *args, timeout: float = 7200) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=archive.env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start(cmd: list[str], env: dict, log: Path, cwd: Path = ROOT, **kwargs) -> subprocess.Popen:
    """A child process whose output goes to `log` (pipes could fill up and stall it)."""
    out = open(log, "w", encoding="utf-8")  # closed by finish() or stop()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, **kwargs)
    proc.log = out
    CHILDREN.append(proc)
    return proc


def finish(proc: subprocess.Popen, timeout: float | None = None) -> int:
    code = proc.wait(timeout=timeout)
    proc.log.close()
    return code


def stop(proc: subprocess.Popen, sig=signal.SIGTERM, grace: float = 20) -> None:
    """Stop a child we started, by its process id."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if getattr(proc, "log", None):
        proc.log.close()


def start_manage(archive: Archive, log: Path, *args) -> subprocess.Popen:
    return start([PYTHON, str(ROOT / "manage.py"), *args], archive.env, log)


def run_script(archive: Archive, script: str, *args, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "-c", script, str(ROOT), *args],
        cwd=ROOT,
        env=archive.env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def summary_line(output: str) -> str:
    """The import summary (`created N, updated N, ...`) from import_articles' output."""
    lines = [line for line in output.splitlines() if line.startswith("created ")]
    return lines[-1] if lines else "(no summary)"


def failed_count(output: str) -> int | None:
    found = re.search(r"failed (\d+)", summary_line(output))
    return int(found.group(1)) if found else None


def tail(text: str, lines: int = 15) -> str:
    return "\n".join("    | " + line for line in text.strip().splitlines()[-lines:])


def dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6 if path.exists() else 0.0


# ----------------------------------------------------------------------------- archives


class Databases:
    """Throw-away archives: SQLite files in the work directory, or databases on a PostgreSQL
    server, each cloned from one migrated template. Drops every database it made."""

    def __init__(self, work: Path, postgres: str | None):
        self.work, self.postgres = work, postgres
        self.made: list[str] = []
        self.template: Archive | None = None

    def _sql(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.postgres, autocommit=True) as conn:
            conn.execute(statement)

    def _archive(self, name: str) -> Archive:
        index = self.work / "indexes" / name
        if self.postgres:
            database = f"archive_faults_{os.getpid()}_{name.replace('-', '_')}"
            url = self.postgres.rsplit("/", 1)[0] + "/" + database
            return Archive(name, base_env(url, index), index, database=database)
        path = self.work / "db" / f"{name}.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        return Archive(name, base_env(f"sqlite:///{path}", index), index, sqlite=path)

    def empty(self, name: str) -> Archive:
        """An archive whose database exists (PostgreSQL) but is not migrated."""
        archive = self._archive(name)
        if archive.database:
            self._sql(f'CREATE DATABASE "{archive.database}"')
            self.made.append(archive.database)
        return archive

    def new(self, name: str) -> Archive:
        """A fresh, migrated, empty archive without an index."""
        if self.template is None:
            self.template = self.empty("template")
            migrated = manage(self.template, "migrate", "--noinput")
            if migrated.returncode:
                raise RuntimeError("migrate failed:\n" + migrated.stdout + migrated.stderr)
        archive = self._archive(name)
        if archive.database:
            self._sql(f'CREATE DATABASE "{archive.database}" TEMPLATE "{self.template.database}"')
            self.made.append(archive.database)
        else:
            with (
                contextlib.closing(sqlite3.connect(self.template.sqlite)) as src,
                contextlib.closing(sqlite3.connect(archive.sqlite)) as dst,
            ):
                src.backup(dst)
        return archive

    def drop(self, archive: Archive) -> None:
        if archive.database:
            self._sql(f'DROP DATABASE IF EXISTS "{archive.database}" WITH (FORCE)')
            self.made.remove(archive.database)
        elif archive.sqlite:
            for suffix in ("", "-wal", "-shm"):
                Path(str(archive.sqlite) + suffix).unlink(missing_ok=True)
        shutil.rmtree(archive.index, ignore_errors=True)

    def drop_all(self) -> None:
        for database in list(self.made):
            with contextlib.suppress(Exception):
                self._sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
                self._sql(f'DROP DATABASE IF EXISTS "test_{database}" WITH (FORCE)')
        self.made.clear()


def query(archive: Archive, statement: str) -> list[tuple]:
    """Rows read directly from the archive's database (the harness never imports Django)."""
    if archive.database:
        import psycopg

        with psycopg.connect(archive.env["DATABASE_URL"]) as conn:
            return conn.execute(statement).fetchall()
    with contextlib.closing(sqlite3.connect(archive.sqlite, timeout=30)) as conn:
        return conn.execute(statement).fetchall()


def count_articles(archive: Archive) -> int:
    return query(archive, "SELECT count(*) FROM articles_article")[0][0]


def duplicate_links(archive: Archive) -> set[tuple]:
    """The possible-duplicate links (not exported) as pairs of record ids."""
    return set(
        query(
            archive,
            "SELECT a.record_id, b.record_id FROM articles_article_possible_duplicates d "
            "JOIN articles_article a ON a.id = d.from_article_id "
            "JOIN articles_article b ON b.id = d.to_article_id",
        )
    )


def exported(archive: Archive) -> list[str]:
    """The export's lines, sorted by id and title (slugs are not exported)."""
    result = manage(archive, "export_articles")
    if result.returncode:
        raise RuntimeError("export_articles failed:\n" + result.stderr)
    records = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    records.sort(key=lambda r: (r.get("id") or "", r.get("title") or ""))
    return [json.dumps(r, sort_keys=True, ensure_ascii=False) for r in records]


def fold(value):
    """A name as the archive compares names: case and accents folded (lists and `;` lists too)."""
    if isinstance(value, list):
        return [fold(v) for v in value]
    if not isinstance(value, str):
        return value
    text = unicodedata.normalize("NFKD", value)
    return " ".join("".join(c for c in text if not unicodedata.combining(c)).casefold().split())


def names_folded(lines: list[str]) -> list[str]:
    """Export lines with every name (source, cities, actors, country) folded."""
    records = [json.loads(line) for line in lines]
    for record in records:
        for name in ("source", "cities", "actors", "country"):
            record[name] = fold(record.get(name))
    return [json.dumps(r, sort_keys=True, ensure_ascii=False) for r in records]


def describe_difference(a: list[str], b: list[str], labels=("first", "second"), shown: int = 8) -> str:
    """Which records differ, and in which fields (records paired by id and title)."""

    def keyed(lines):
        return {(r.get("id"), r.get("title")): r for r in map(json.loads, lines)}

    left, right = keyed(a), keyed(b)
    changed = [k for k in left.keys() & right.keys() if left[k] != right[k]]
    only_left, only_right = left.keys() - right.keys(), right.keys() - left.keys()
    lines = [
        f"{len(a)} vs {len(b)} records; {len(changed)} differ, {len(only_left)} only in "
        f"{labels[0]}, {len(only_right)} only in {labels[1]}"
    ]
    for k in sorted(changed, key=str)[:shown]:
        fields = sorted(f for f in left[k].keys() | right[k].keys() if left[k].get(f) != right[k].get(f))
        lines += [
            f"    {k[0]} {f}: {left[k].get(f)!r} ({labels[0]}) vs {right[k].get(f)!r} ({labels[1]})"
            for f in fields
        ]
    lines += [f"    only in {labels[0]}: {k}" for k in sorted(only_left, key=str)[:shown]]
    lines += [f"    only in {labels[1]}: {k}" for k in sorted(only_right, key=str)[:shown]]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- HTTP


def fetch(port: int, path: str, params=None, timeout: float = 60) -> tuple[int, float, bytes]:
    """GET on a fresh connection: (status, milliseconds, body); status 0 when it failed."""
    url = path + ("?" + urlencode(params, doseq=True) if params else "")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    started = time.perf_counter()
    try:
        conn.request("GET", url)
        response = conn.getresponse()
        status, body = response.status, response.read()
    except (OSError, http.client.HTTPException) as exc:
        status, body = 0, repr(exc).encode()
    finally:
        conn.close()
    return status, (time.perf_counter() - started) * 1000, body


def api(port: int, **params) -> tuple[int, float, dict]:
    status, ms, body = fetch(port, "/api/search/", params)
    try:
        data = json.loads(body)
    except ValueError:
        data = {"raw": body[:300].decode(errors="replace")}
    return status, ms, data


class Server:
    """gunicorn serving one archive, started as `make run` starts it."""

    def __init__(self, archive: Archive, logs: Path, workers: int = 2, workdir: Path | None = None):
        """With `workdir`, the server runs there, with an index directory of its own inside it:
        nothing on disk is shared with another server of the same archive."""
        name = f"{archive.name}-{workdir.name}" if workdir else archive.name
        self.archive, self.log = archive, logs / f"gunicorn-{name}.log"
        self.port = free_port()
        env, cwd = archive.env, ROOT
        if workdir:
            workdir.mkdir(parents=True, exist_ok=True)
            env = dict(env, ARCHIVE_INDEX_DIR=str(workdir / "index"), PYTHONPATH=str(ROOT))
            cwd = workdir
        self.cwd = cwd
        gunicorn = str(GUNICORN if GUNICORN.exists() else Path(PYTHON).parent / "gunicorn")
        self.proc = start(
            [
                gunicorn,
                "archive.wsgi:application",
                "-c",
                str(ROOT / "archive" / "gunicorn.conf.py"),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
            ],
            env,
            self.log,
            cwd=cwd,
        )
        deadline = time.monotonic() + 120
        while fetch(self.port, "/", timeout=30)[0] != 200:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not come up; see {self.log}")
            time.sleep(0.5)

    def errors_logged(self) -> str:
        """Tracebacks and error lines gunicorn and Django wrote (not the access log)."""
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return "\n".join(
            line
            for line in text.splitlines()
            if not re.match(r"^127\.0\.0\.1 - - \[", line) and not re.search(r"\[INFO\]", line)
        )

    def stop(self):
        stop(self.proc)


class Load:
    """Counts and times HTTP requests from several threads, per class."""

    def __init__(self):
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = defaultdict(list)
        self.bad: Counter = Counter()
        self.examples: list[str] = []

    def record(self, kind: str, path: str, params, status: int, ms: float, body: bytes) -> None:
        with self.lock:
            self.times[kind].append(ms)
            if not 200 <= status < 300:
                self.bad[kind] += 1
                if len(self.examples) < 5:
                    self.examples.append(
                        f"{status} {path}?{urlencode(params or {}, doseq=True)[:200]}: "
                        f"{body[:200].decode(errors='replace')}"
                    )

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.times.values())

    @property
    def errors(self) -> int:
        return sum(self.bad.values())

    def all_times(self) -> list[float]:
        return [ms for values in self.times.values() for ms in values]


# ----------------------------------------------------------------------------- the suite


class Suite:
    def __init__(self, args):
        self.args = args
        self.work = Path(tempfile.mkdtemp(prefix="archive-faults-"))
        self.logs = self.work / "logs"
        self.logs.mkdir()
        self.dbs = Databases(self.work, args.postgres)
        self.rng = random.Random(args.seed)
        self.run_id = secrets.token_hex(3)
        self.corpus_lines = Path(args.corpus).read_text(encoding="utf-8").splitlines()
        self._served: tuple[Archive, Server] | None = None

    def corpus_file(self, name: str, lines: list[str]) -> Path:
        path = self.work / f"{name}.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def served(self) -> tuple[Archive, Server]:
        """The archive with the whole corpus, served (made on first use, then shared)."""
        if self._served is None:
            lines = self.corpus_lines[: self.args.limit]
            archive = self.dbs.new("served")
            started = time.monotonic()
            result = manage(
                archive, "import_articles", str(self.corpus_file("served", lines)), "--status", "published"
            )
            took = time.monotonic() - started
            say(
                f"  setup: import of {len(lines)} records: {took:.1f} s "
                f"({len(lines) / took:.0f} records/s): {summary_line(result.stdout)}"
            )
            if result.returncode:
                raise RuntimeError("the import of the served archive failed:\n" + tail(result.stderr))
            check = manage(archive, "check_index")
            say(f"  setup: check_index exit {check.returncode}: {check.stdout.strip()}")
            server = Server(archive, self.logs)
            say(f"  setup: gunicorn --workers 2 on 127.0.0.1:{server.port} (log {server.log})")
            self._served = (archive, server)
        return self._served

    def close(self) -> None:
        if self._served:
            self._served[1].stop()
        for proc in CHILDREN:
            if proc.poll() is None:
                stop(proc, signal.SIGKILL, grace=5)
        self.dbs.drop_all()


# ----------------------------------------------------------------------------- 1. queries


def common_words(lines: list[str], n: int = 156) -> list[str]:
    """The n most frequent words (2 letters or more) of the corpus bodies."""
    counts = Counter()
    for line in lines:
        counts.update(re.findall(r"[a-z]{2,}", json.loads(line)["body"].lower()))
    return [word for word, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def hostile_queries(words: list[str]) -> list[tuple[str, str, bool]]:
    """(label, q, reference) for every query timed."""
    return [
        ("police AND zzzq again", "police AND zzzq again", False),
        ("police~99999999", "police~99999999", False),
        ("a~99", "a~99", False),
        ("protest~2 police~2 government~2", "protest~2 police~2 government~2", False),
        ("p* q* r* s* t* u* v* w*", "p* q* r* s* t* u* v* w*", False),
        (f"<{len(words)} common words>", " ".join(words), False),
        ("<the 64 most common words>", " ".join(words[:64]), False),
        ("protest (reference)", "protest", True),
        ("police (reference)", "police", True),
    ]


def time_query(port: int, q: str, repeat: int = 5) -> dict:
    api(port, q=q)  # warm-up
    runs = [api(port, q=q) for _ in range(repeat)]
    times = [ms for _, ms, _ in runs]
    data = runs[-1][2]
    message = " ".join(str(v) for v in (data.get("errors") or {}).values())
    return {
        "statuses": sorted({s for s, _, _ in runs}),
        "median": statistics.median(times),
        "max": max(times),
        "count": data.get("count"),
        "message": message,
    }


def query_ok(figures: dict) -> bool:
    statuses = figures["statuses"]
    answered = statuses == [200] or (statuses == [400] and bool(figures["message"]))
    return answered and figures["median"] < BUDGET_MS


def burst(port: int, queries: list[str]) -> tuple[float, list[float]]:
    """The queries sent at once, then a plain q=police: its time, and theirs."""
    barrier, times = threading.Barrier(len(queries) + 1), [0.0] * len(queries)

    def send(i, q):
        barrier.wait()
        times[i] = api(port, q=q)[1]

    threads = [threading.Thread(target=send, args=(i, q)) for i, q in enumerate(queries)]
    for thread in threads:
        thread.start()
    barrier.wait()
    time.sleep(0.02)  # the hostile ones reach the workers first
    status, plain, _ = api(port, q="police")
    for thread in threads:
        thread.join()
    return (plain if status == 200 else math.inf), times


def trial_queries(suite: Suite) -> Result:
    _, server = suite.served()
    words = common_words(suite.corpus_lines[: suite.args.limit])
    say(f"  the {len(words)} most frequent words of the bodies: {' '.join(words[:12])} ... {words[-1]}")
    ok, measured = True, []
    for label, q, reference in hostile_queries(words):
        figures = time_query(server.port, q)
        good = query_ok(figures)
        ok &= good
        answer = (
            f"count {figures['count']}"
            if figures["statuses"] == [200]
            else f"message {figures['message'][:90]!r}"
        )
        over = "  over" if figures["max"] >= BUDGET_MS else ""
        say(
            f"  {'ok  ' if good else 'FAIL'} q={label:34} status {figures['statuses']}  median "
            f"{figures['median']:6.0f} ms  max {figures['max']:6.0f} ms{over}  {answer}"
        )
        if not reference:
            measured.append((figures["median"], label, q))
    worst = sorted(measured, reverse=True)[:3]
    plains = []
    for _ in range(3):
        plain, times = burst(server.port, [q for _, _, q in worst])
        plains.append(plain)
        sent = ", ".join(f"{label} {ms:.0f} ms" for (_, label, _), ms in zip(worst, times, strict=True))
        say(f"  burst: {sent}; then q=police {plain:.0f} ms")
    ok &= max(plains) < BURST_LIMIT_MS
    slowest = max(measured)
    figures = (
        f"slowest hostile median {slowest[0]:.0f} ms ({slowest[1]}); q=police behind a burst: "
        f"max {max(plains):.0f} ms of 3 (limit {BURST_LIMIT_MS})"
    )
    return Result("queries", ok, figures=figures)


# ----------------------------------------------------------------------------- 2. fuzz


def trial_fuzz(suite: Suite) -> Result:
    if suite.args.postgres:
        archive = suite.dbs.empty("fuzz")
    else:
        archive = Archive(
            "fuzz",
            base_env(f"sqlite:///{suite.work}/db/fuzz.sqlite3", suite.work / "indexes" / "fuzz"),
            suite.work / "indexes" / "fuzz",
        )
    env = dict(archive.env, HYPOTHESIS_PROFILE=suite.args.fuzz_profile)
    log = suite.logs / "fuzz.log"
    started = time.monotonic()
    proc = start(
        [
            PYTHON,
            "-c",
            PYTEST_RUNNER,
            str(suite.work / "hypothesis"),
            "tests/test_fuzz.py",
            "-q",
            "-p",
            "no:cacheprovider",
            "-W",
            "ignore::pytest.PytestAssertRewriteWarning",
            "--hypothesis-show-statistics",
        ],
        env,
        log,
    )
    code = finish(proc)
    took = time.monotonic() - started
    output = log.read_text(encoding="utf-8", errors="replace")
    cases = re.findall(r"- (\d+) passing, (\d+) failing, and (\d+) invalid test cases", output)
    passing, failing, invalid = (sum(int(c[i]) for c in cases) for i in range(3))
    verdict = (output.strip().splitlines() or ["(no output)"])[-1].strip("= ")
    if code:
        failures = [line for line in output.splitlines() if line.startswith(("E   ", "FAILED"))]
        shown = failures[:30] + failures[-3:] if len(failures) > 33 else failures
        say(tail("\n".join(shown) or output, 40) + f"\n    (whole output: {log})")
    figures = (
        f"profile {suite.args.fuzz_profile}: {passing + invalid} test cases ({passing} valid, "
        f"{invalid} invalid, {failing} failing) in {took:.0f} s; pytest: {verdict}"
    )
    return Result("fuzz", code == 0 and failing == 0, figures=figures)


# ----------------------------------------------------------------------------- 3. writers

WRITER_SEARCHES = [
    {"q": "police"},
    {"q": "protest government"},
    {"q": '"police fired"'},
    {"q": "police OR students"},
    {"q": "election", "sort": "newest"},
    {"q": "workers strike", "per_page": "50"},
    {"sort": "newest"},
    {"q": "fault suite save"},
    {"q": "title:protest"},
]


def search_until(port: int, stop_event: threading.Event, load: Load, rng: random.Random) -> None:
    while not stop_event.is_set():
        params = rng.choice(WRITER_SEARCHES)
        status, ms, body = fetch(port, "/api/search/", params)
        load.record("search", "/api/search/", params, status, ms, body)


def findable(port: int, token: str) -> bool:
    status, _, data = api(port, q=token)
    return status == 200 and any(token in r["title"] for r in data.get("results", []))


def trial_writers(suite: Suite, processes: int = 3, saves: int = 50) -> Result:
    archive, server = suite.served()
    script = suite.work / "saver.py"
    script.write_text(SAVER, encoding="utf-8")
    load, stop_event = Load(), threading.Event()
    readers = [
        threading.Thread(
            target=search_until, args=(server.port, stop_event, load, random.Random(suite.args.seed + i))
        )
        for i in range(3)
    ]
    for reader in readers:
        reader.start()
    started = time.monotonic()
    savers = [
        start(
            [PYTHON, str(script), str(ROOT), suite.run_id, str(w), str(saves)],
            archive.env,
            suite.logs / f"saver-{w}.log",
        )
        for w in range(processes)
    ]
    codes = [finish(saver, timeout=1800) for saver in savers]
    took = time.monotonic() - started
    stop_event.set()
    for reader in readers:
        reader.join()
    tokens = [f"fz{suite.run_id}w{w}n{i}" for w in range(processes) for i in range(saves)]
    missing = [t for t in tokens if not findable(server.port, t)]
    if missing:
        time.sleep(2)
    late = [t for t in missing if findable(server.port, t)]
    lost = [t for t in missing if t not in late]
    for w, code in enumerate(codes):
        if code:
            say(f"  saver {w} exit {code}:\n" + tail((suite.logs / f"saver-{w}.log").read_text()))
    report_errors(load, server)
    if missing:
        say(f"  not found right after the saves: {missing[:10]}; found a moment later: {late[:10]}")
    ok = not any(codes) and load.errors == 0 and not lost
    figures = (
        f"{len(tokens)} saves by {processes} processes in {took:.1f} s = {len(tokens) / took:.1f} "
        f"saves/s; {load.total} searches, {load.errors} non-2xx; lost {len(lost)}, "
        f"found only after a retry {len(late)}"
    )
    return Result("writers", ok, figures=figures)


def report_errors(load: Load, server: Server) -> None:
    for example in load.examples:
        say(f"  non-2xx: {example}")
    if load.errors:
        say(f"  gunicorn/Django error lines ({server.log}):\n" + tail(server.errors_logged(), 40))


# ----------------------------------------------------------------------------- 4. imports


def import_run(archive: Archive, suite: Suite, paths: list[Path], label: str) -> subprocess.Popen:
    return start_manage(
        archive,
        suite.logs / f"import-{label}.log",
        "import_articles",
        *map(str, paths),
        "--status",
        "published",
        "--batch-size",
        "100",
    )


def import_in_turn(suite: Suite, files: list[Path], label: str) -> tuple[Archive, list, list, float]:
    """A fresh archive with the files imported one after the other: (it, exits, outputs, time)."""
    archive, codes, outputs = suite.dbs.new(f"imports-{label}"), [], []
    started = time.monotonic()
    for i, path in enumerate(files):
        codes.append(finish(import_run(archive, suite, [path], f"{label}-{i}")))
        outputs.append((suite.logs / f"import-{label}-{i}.log").read_text())
    return archive, codes, outputs, time.monotonic() - started


def reverse_order_diagnosis(suite: Suite, files: list[Path], together: list[str]) -> None:
    """When the exports differ: is the concurrent result the one of the other order?"""
    archive, _, _, _ = import_in_turn(suite, files[::-1], "reversed")
    again = exported(archive)
    suite.dbs.drop(archive)
    labels = ("at once", "reversed")
    verdict = "identical" if again == together else describe_difference(together, again, labels)
    say(f"  diagnosis: at once vs second half then first: {verdict}")


def trial_imports(suite: Suite, records: int = 5000) -> Result:
    lines = suite.corpus_lines[:records]
    half = len(lines) // 2
    files = [suite.corpus_file("first-half", lines[:half]), suite.corpus_file("second-half", lines[half:])]
    together = suite.dbs.new("imports-together")
    started = time.monotonic()
    runs = [import_run(together, suite, [path], f"together-{i}") for i, path in enumerate(files)]
    codes = [finish(run) for run in runs]
    concurrent_s = time.monotonic() - started
    outputs = [(suite.logs / f"import-together-{i}.log").read_text() for i in range(2)]
    apart, more_codes, more_outputs, sequential_s = import_in_turn(suite, files, "apart")
    codes, outputs = codes + more_codes, outputs + more_outputs
    for label, output in zip(["at once 1", "at once 2", "in turn 1", "in turn 2"], outputs, strict=True):
        say(f"  {label}: {summary_line(output)}")
    failed = [failed_count(output) for output in outputs]
    checks = [manage(archive, "check_index").returncode for archive in (together, apart)]
    a, b = exported(together), exported(apart)
    links = [duplicate_links(together), duplicate_links(apart)]
    for archive in (together, apart):
        suite.dbs.drop(archive)
    if links[0] != links[1]:
        say(
            f"  possible-duplicate links differ: {len(links[0]) // 2} at once, {len(links[1]) // 2} in turn; "
            f"only at once {sorted(links[0] - links[1])[:4]}, only in turn {sorted(links[1] - links[0])[:4]}"
        )
    # Batches take turns, so the concurrent run is a sequential one in some interleaving of
    # the two files' batches; which batch first writes a shared name (Bogota or bogota) is the
    # race's to decide, and the archive folds case and accents when it compares names.
    folded = a == b or names_folded(a) == names_folded(b)
    if a != b:
        say("  exports differ: " + describe_difference(a, b, ("at once", "in turn")))
        say(
            f"  with names compared as the archive compares them (case, accents folded): "
            f"{'identical' if folded else 'still different'}"
        )
        if not folded:
            reverse_order_diagnosis(suite, files, a)
    ok = (
        folded
        and links[0] == links[1]
        and failed == [0, 0, 0, 0]
        and codes == [0, 0, 0, 0]
        and checks == [0, 0]
    )
    exports = (
        "identical"
        if a == b
        else ("identical but for the spelling of shared names" if folded else "DIFFERENT")
    )
    figures = (
        f"{len(lines)} records in 2 halves: at once {concurrent_s:.1f} s, one after the other "
        f"{sequential_s:.1f} s; failed {failed}; exit {codes}; check_index {checks}; "
        f"{len(a)} articles; exports {exports}; possible-duplicate "
        f"links {'identical' if links[0] == links[1] else 'DIFFERENT'}"
    )
    return Result("imports", ok, figures=figures)


# ----------------------------------------------------------------------------- 5. kill


@dataclass
class Reference:
    corpus: Path
    archive: Archive
    articles: int
    export: list[str]
    import_s: float
    rebuild_s: float
    police: str
    links: set


def kill_reference(suite: Suite, records: int) -> Reference:
    corpus = suite.corpus_file("kill", suite.corpus_lines[:records])
    archive = suite.dbs.new("kill-reference")
    started = time.monotonic()
    result = manage(archive, "import_articles", str(corpus), "--status", "published", "--batch-size", "100")
    import_s = time.monotonic() - started
    if result.returncode:
        raise RuntimeError("the reference import failed:\n" + tail(result.stderr))
    started = time.monotonic()
    manage(archive, "rebuild_index")
    rebuild_s = time.monotonic() - started
    police = run_script(archive, SEARCH_COUNT, "police").stdout.strip()
    ref = Reference(
        corpus,
        archive,
        count_articles(archive),
        exported(archive),
        import_s,
        rebuild_s,
        police,
        duplicate_links(archive),
    )
    say(
        f"  reference: {records} records -> {ref.articles} articles, {len(ref.links) // 2} "
        f"possible-duplicate links; import {import_s:.1f} s, rebuild_index {rebuild_s:.1f} s; "
        f"q=police finds {police}"
    )
    return ref


def kill_after(proc: subprocess.Popen, delay: float, ready=lambda: True) -> bool:
    """SIGKILL `proc` `delay` seconds after `ready()` first holds; False if it ended first."""
    while not ready():
        if proc.poll() is not None:
            return False
        time.sleep(0.05)
    deadline = time.monotonic() + delay
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        time.sleep(0.01)
    if proc.poll() is not None:
        return False
    proc.send_signal(signal.SIGKILL)
    finish(proc)
    return True


def killed_import(suite: Suite, ref: Reference, n: int, delay: float) -> Archive | None:
    """A fresh archive whose import was killed `delay` s after its first articles; None when the
    import finished first."""
    archive = suite.dbs.new(f"kill-import-{n}")
    proc = start_manage(
        archive,
        suite.logs / f"kill-import-{n}.log",
        "import_articles",
        str(ref.corpus),
        "--status",
        "published",
        "--batch-size",
        "100",
    )
    if kill_after(proc, delay, ready=lambda: count_articles(archive) > 0):
        return archive
    finish(proc)
    suite.dbs.drop(archive)
    return None


def kill_import_trial(suite: Suite, ref: Reference, n: int) -> bool:
    delay = suite.rng.uniform(0, 0.8 * ref.import_s)
    archive = killed_import(suite, ref, n, delay)
    while archive is None:  # it finished before the kill: again, sooner
        delay /= 2
        archive = killed_import(suite, ref, n, delay)
    at_kill = count_articles(archive)
    after_kill = manage(archive, "check_index").returncode
    rerun = manage(
        archive, "import_articles", str(ref.corpus), "--status", "published", "--batch-size", "100"
    )
    check = manage(archive, "check_index")
    articles, links, export = count_articles(archive), duplicate_links(archive), exported(archive)
    clean = check.returncode == 0 and articles == ref.articles and rerun.returncode == 0
    whole = clean and export == ref.export and links == ref.links
    say(
        f"  import {n:2}: killed {delay:4.1f} s after the first articles, {at_kill:4} articles in; "
        f"check_index then {after_kill}; rerun: {summary_line(rerun.stdout).split(';')[0]}; check_index "
        f"{check.returncode}; {articles} articles; export {'same' if export == ref.export else 'DIFFERENT'}; "
        f"duplicate links {'same' if links == ref.links else 'DIFFERENT'} -> {'clean' if whole else 'FAIL'}"
    )
    if not clean:
        say(tail(check.stdout + check.stderr + rerun.stderr))
    if export != ref.export:
        say("    " + describe_difference(export, ref.export, ("rerun", "reference")))
    if links != ref.links:
        say(
            f"    links only after the kill: {sorted(links - ref.links)[:4]}; only in the reference: "
            f"{sorted(ref.links - links)[:4]} ({len(links) // 2} vs {len(ref.links) // 2} links)"
        )
    suite.dbs.drop(archive)
    return whole


def kill_rebuild_trial(suite: Suite, ref: Reference, n: int) -> bool:
    archive, delay = ref.archive, suite.rng.uniform(0.1, 0.9 * ref.rebuild_s)
    for _ in range(4):
        proc = start_manage(archive, suite.logs / f"kill-rebuild-{n}.log", "rebuild_index")
        if kill_after(proc, delay):
            break
        finish(proc)
        delay /= 2
    after_kill = manage(archive, "check_index").returncode
    mend = ("rebuild_index",) if n % 2 else ("check_index", "--repair")
    mended = manage(archive, *mend)
    check = manage(archive, "check_index")
    police = run_script(archive, SEARCH_COUNT, "police")
    clean = check.returncode == 0 and police.returncode == 0 and police.stdout.strip() == ref.police
    say(
        f"  rebuild {n:2}: killed after {delay:4.1f} s; check_index then {after_kill}; "
        f"{' '.join(mend)} exit {mended.returncode}; check_index {check.returncode}; q=police finds "
        f"{police.stdout.strip() or '?'}; index {dir_mb(archive.index):.1f} MB -> "
        f"{'clean' if clean else 'FAIL'}"
    )
    if not clean:
        say(tail(mended.stdout + mended.stderr + check.stdout + police.stderr))
    return clean


def trial_kill(suite: Suite, records: int = 3000) -> Result:
    ref = kill_reference(suite, records)
    trials = suite.args.kill_trials
    imports = sum(kill_import_trial(suite, ref, n) for n in range(1, trials + 1))
    rebuilds = sum(kill_rebuild_trial(suite, ref, n) for n in range(1, trials + 1))
    suite.dbs.drop(ref.archive)
    figures = (
        f"clean outcomes: import killed {imports}/{trials}, rebuild killed {rebuilds}/{trials} "
        f"({records} records, {ref.articles} articles)"
    )
    return Result("kill", imports == trials and rebuilds == trials, figures=figures)


# ----------------------------------------------------------------------------- 6. load

LOAD_WORDS = [
    "police",
    "protest",
    "government",
    "students",
    "election",
    "workers",
    "strike",
    "march",
    "opposition",
    "farmers",
    "teachers",
    "president",
    "capital",
    "demonstrators",
    "rally",
    "corruption",
    "wages",
    "tear gas",
    "pension",
    "parliament",
]
LOAD_MIX = [
    ("text", 20),
    ("text+filters", 15),
    ("search-page", 5),
    ("browse-city", 10),
    ("browse-year", 10),
    ("cities", 5),
    ("city", 10),
    ("article", 15),
    ("home", 5),
    ("api-browse", 5),
]


@dataclass
class Targets:
    cities: list[str]
    years: list[str]
    articles: list[str]


def load_targets(port: int) -> Targets:
    """Slugs and years from the API's own results and facets."""
    cities, years, articles = set(), set(), set()
    for params in ({"per_page": 100}, {"q": "police", "per_page": 100}, {"q": "protest", "per_page": 100}):
        _, _, data = api(port, **params)
        articles.update(r["slug"] for r in data.get("results", []))
        cities.update(r["slug"] for result in data.get("results", []) for r in result["cities"])
        cities.update(item["value"] for item in data.get("facets", {}).get("city", []))
        years.update(item["value"] for item in data.get("facets", {}).get("year", []))
    return Targets(sorted(cities), sorted(years), sorted(articles))


def load_request(kind: str, rng: random.Random, t: Targets) -> tuple[str, dict | None]:
    text = " ".join(rng.sample(LOAD_WORDS, rng.choice([1, 1, 2])))
    filters = rng.choice(
        [
            {"city": rng.choice(t.cities)},
            {"year": rng.choice(t.years)},
            {"city": rng.choice(t.cities), "year": rng.choice(t.years)},
        ]
    )
    return {
        "text": ("/api/search/", {"q": text}),
        "text+filters": ("/api/search/", {"q": text, **filters}),
        "search-page": ("/search/", {"q": text}),
        "browse-city": ("/search/", {"city": rng.choice(t.cities)}),
        "browse-year": ("/search/", {"year": rng.choice(t.years)}),
        "cities": ("/cities/", None),
        "city": (f"/cities/{rng.choice(t.cities)}/", None),
        "article": (f"/articles/{rng.choice(t.articles)}/", None),
        "home": ("/", None),
        "api-browse": ("/api/search/", {"sort": rng.choice(["newest", "oldest"])}),
    }[kind]


def client(port: int, deadline: float, load: Load, rng: random.Random, targets: Targets) -> None:
    kinds, weights = zip(*LOAD_MIX, strict=True)
    while time.monotonic() < deadline:
        kind = rng.choices(kinds, weights)[0]
        path, params = load_request(kind, rng, targets)
        status, ms, body = fetch(port, path, params)
        load.record(kind, path, params, status, ms, body)


class Poller:
    """Follows the curator's saves: for each, a thread searches `q=TOKEN` from the moment the save
    is committed until an answer holds it (or `give_up` seconds after its commit)."""

    def __init__(self, port: int, load: Load, give_up: float = 30):
        self.port, self.load, self.give_up = port, load, give_up
        self.found: list[tuple[str, float, int]] = []  # token, commit to the answer, tries
        self.committed: dict[str, float] = {}
        self.indexed: dict[str, float] = {}  # when the saving process's index work was done
        self.lost: list[str] = []
        self.threads: list[threading.Thread] = []
        self.lock = threading.Lock()

    def read(self, stream) -> None:
        for line in stream:
            parts = line.split()
            if len(parts) == 2 and parts[0].startswith("ld"):
                self.follow(parts[0], float(parts[1]))
            elif len(parts) == 3 and parts[1] == "indexed":
                self.indexed[parts[0]] = float(parts[2])

    def follow(self, token: str, committed: float) -> None:
        """Search for `token` from now on (`committed`: when the save was made, time.time())."""
        self.committed[token] = committed
        thread = threading.Thread(target=self.chase, args=(token, committed))
        thread.start()
        self.threads.append(thread)

    def chase(self, token: str, committed: float) -> None:
        tries = 0
        while time.time() - committed < self.give_up:
            tries += 1
            status, ms, body = fetch(self.port, "/api/search/", {"q": token})
            answered = time.time()
            self.load.record("poll", "/api/search/", {"q": token}, status, ms, body)
            results = json.loads(body).get("results", []) if status == 200 else []
            if any(token in r["title"] for r in results):
                with self.lock:
                    self.found.append((token, answered - committed, tries))
                return
            time.sleep(0.05)
        with self.lock:
            self.lost.append(token)

    def index_work(self) -> list[float]:
        """Per save, from its commit to the end of the saving process's own index update."""
        return [self.indexed[t] - c for t, c in self.committed.items() if t in self.indexed]

    def join(self) -> None:
        for thread in self.threads:
            thread.join()


def trial_load(suite: Suite, clients: int = 8, interval: float = 0.5) -> Result:
    archive, server = suite.served()
    targets = load_targets(server.port)
    say(
        f"  targets: {len(targets.cities)} cities, {len(targets.years)} years, "
        f"{len(targets.articles)} articles"
    )
    load, polls = Load(), Load()
    poller = Poller(server.port, polls)
    curator = subprocess.Popen(
        [PYTHON, "-c", CURATOR, str(ROOT), suite.run_id, str(interval), str(suite.args.duration)],
        cwd=ROOT,
        env=archive.env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=open(suite.logs / "curator.log", "w"),
    )
    CHILDREN.append(curator)
    reader = threading.Thread(target=poller.read, args=(curator.stdout,))
    deadline = time.monotonic() + suite.args.duration
    threads = [
        threading.Thread(
            target=client,
            args=(server.port, deadline, load, random.Random(suite.args.seed * 100 + i), targets),
        )
        for i in range(clients)
    ]
    for thread in [reader, *threads]:
        thread.start()
    for thread in threads:
        thread.join()
    curator_code = curator.wait(timeout=120)
    reader.join()
    poller.join()
    return load_result(suite, server, load, polls, poller, curator_code, clients)


def spread(values: list[float], fmt: str = ".0f", last: str = "p99") -> str:
    """`p50/p95/p99` (or `p50/p95/max`) of the values, formatted."""
    top = percentile(values, 99) if last == "p99" else max(values, default=0.0)
    return "/".join(format(v, fmt) for v in (percentile(values, 50), percentile(values, 95), top))


def print_classes(load: Load) -> None:
    say(f"  {'class':14} {'requests':>8} {'non-2xx':>7} {'p50':>6} {'p95':>6} {'p99':>6} ms")
    rows = [(kind, load.times[kind], load.bad[kind]) for kind in sorted(load.times)]
    for kind, times, bad in [*rows, ("all", load.all_times(), load.errors)]:
        say(
            f"  {kind:14} {len(times):8} {bad:7} {percentile(times, 50):6.0f} "
            f"{percentile(times, 95):6.0f} {percentile(times, 99):6.0f}"
        )


def load_result(suite, server, load, polls, poller, curator_code, clients) -> Result:
    duration = suite.args.duration
    print_classes(load)
    report_errors(load, server)
    report_errors(polls, server)
    answered = [f[1] for f in poller.found]
    slow = sum(d > SEARCHABLE_LIMIT_S for d in answered)
    retried = sum(f[2] > 1 for f in poller.found)
    say(
        f"  saves: {len(poller.found) + len(poller.lost)}; commit -> the save's own index update done "
        f"p50/p95/max {spread(poller.index_work(), '.2f', 'max')} s; commit -> the answer that "
        f"found it {spread(answered, '.2f', 'max')} s; found by the first search "
        f"{len(poller.found) - retried}, after retries {retried}"
    )
    if curator_code:
        say("  curator failed:\n" + tail((suite.logs / "curator.log").read_text()))
    if poller.lost:
        say(f"  never found: {sorted(poller.lost)[:10]}")
    ok = (
        load.errors == 0
        and polls.errors == 0
        and not poller.lost
        and slow == 0
        and curator_code == 0
        and poller.found
    )
    figures = (
        f"{load.total} requests by {clients} clients in {duration:.0f} s = "
        f"{load.total / duration:.1f}/s, {load.errors} non-2xx; p50/p95/p99 "
        f"{spread(load.all_times())} ms; {len(poller.found) + len(poller.lost)} saves, searchable "
        f"after p50/p95/max {spread(answered, '.2f', 'max')} s, {slow} over 1 s, "
        f"{len(poller.lost)} never found ({polls.total} searches for them, {polls.errors} non-2xx)"
    )
    return Result("load", bool(ok), figures=figures)


# ----------------------------------------------------------------------------- 7. shared


class FormFields(HTMLParser):
    """What a browser submits from the form `form_id` of a page: (name, value) pairs of its
    inputs (checked boxes only; no buttons), selected options (a single select with none
    selected gives its first) and textareas."""

    def __init__(self, form_id: str):
        super().__init__(convert_charrefs=True)
        self.form_id, self.inside, self.fields = form_id, False, []
        self._select: dict | None = None
        self._textarea: list | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind in ("submit", "button", "image", "reset", "file"):
                return
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.fields.append((name, a.get("value", "on")))
                return
            self.fields.append((name, a.get("value") or ""))
        elif tag == "select" and name:
            self._select = {"name": name, "multiple": "multiple" in a, "first": None, "chosen": 0}
        elif tag == "option" and self._select:
            value = a.get("value", "")
            if self._select["first"] is None:
                self._select["first"] = value
            if "selected" in a:
                self.fields.append((self._select["name"], value))
                self._select["chosen"] += 1
        elif tag == "textarea" and name:
            self._textarea = [name, ""]

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select" and self._select:
            chosen = self._select
            if not chosen["multiple"] and not chosen["chosen"] and chosen["first"] is not None:
                self.fields.append((chosen["name"], chosen["first"]))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.fields.append(tuple(self._textarea))
            self._textarea = None


def form_fields(html: str, form_id: str) -> list[tuple[str, str]]:
    reader = FormFields(form_id)
    reader.feed(html)
    return reader.fields


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # the redirect comes back as an HTTPError, with its Location


class AdminSession:
    """A curator in one server's admin, as a browser is: logged in through the login form,
    with its session and CSRF cookies, saving the change form the page gives."""

    def __init__(self, port: int, username: str, password: str, timeout: float = 60):
        self.base, self.timeout = f"http://127.0.0.1:{port}", timeout
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect()
        )
        page = self.get("/admin/login/?next=/admin/")
        fields = dict(form_fields(page, "login-form"))
        fields.update(username=username, password=password)
        url, _ = self.post("/admin/login/?next=/admin/", list(fields.items()))
        if "/login/" in url:
            raise RuntimeError(f"could not log in as {username} on {self.base}")

    def get(self, path: str) -> str:
        with self.opener.open(urljoin(self.base, path), timeout=self.timeout) as response:
            return response.read().decode()

    def post(self, path: str, fields: list[tuple[str, str]]) -> tuple[str, str]:
        """(where the answer sends the browser: its redirect, or the page's own URL; the page).
        The redirect is not followed: the save is done when its answer comes."""
        request = urllib.request.Request(urljoin(self.base, path), data=urlencode(fields).encode())
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                return response.geturl(), response.read().decode()
        except urllib.error.HTTPError as exc:
            if exc.code in (301, 302, 303):
                return urljoin(self.base, exc.headers["Location"]), ""
            raise

    def retitle(self, pk: int, title: str) -> float:
        """Save the article's change form with a new title and nothing else changed; return
        when the form was sent (time.time())."""
        path = f"/admin/articles/article/{pk}/change/"
        fields = [(k, title if k == "title" else v) for k, v in form_fields(self.get(path), "article_form")]
        sent = time.time()
        url, page = self.post(path, [*fields, ("_save", "Save")])
        if url.endswith("/change/"):  # the form came back: the save did not happen
            errors = re.findall(r'class="errorlist[^"]*"[^>]*>(.*?)</ul>', page, re.S)
            raise RuntimeError(f"the save of article {pk} was refused: {errors[:3]}")
        return sent


def shared_load(
    archive: Archive,
    servers: list[Server],
    *,
    username: str,
    password: str,
    pool: list[tuple[int, str]],
    duration: float,
    clients: int = 8,
    interval: float = 1.0,
    seed: int = 1,
    run: str = "",
) -> tuple[Result, dict]:
    """Clients spread over the servers (client i on server i mod n) read for `duration`
    seconds while a curator logged in on the first server retitles an article of `pool`
    ((pk, title) pairs) every `interval` seconds with a fresh token; the last server is
    searched for each token until it finds it. Errors anywhere fail the result, and so does
    a save not found within SEARCHABLE_LIMIT_S of the save (its history row's time, written in
    the save's transaction; as the `load` trial counts from the commit). Returns the trial's
    result and its counts."""
    first, last = servers[0], servers[-1]
    targets = load_targets(first.port)
    loads, polls = [Load() for _ in servers], Load()
    poller = Poller(last.port, polls)
    curator = AdminSession(first.port, username, password)
    saves: list[float] = []
    answered: dict[str, float] = {}  # token -> when the save's answer came (time.time())
    refused: list[str] = []
    deadline = time.monotonic() + duration

    def curate():
        n = 0
        while time.monotonic() < deadline:
            token = f"sh{run}n{n}"
            pk, title = pool[n % len(pool)]
            try:
                sent = curator.retitle(pk, f"{title[:400]} {token}")
            except (OSError, RuntimeError) as exc:
                refused.append(f"{token}: {exc}")
            else:
                answered[token] = time.time()
                saves.append(answered[token] - sent)
                poller.follow(token, sent)
            n += 1
            time.sleep(max(0.0, n * interval - (time.monotonic() - (deadline - duration))))

    threads = [threading.Thread(target=curate)] + [
        threading.Thread(
            target=client,
            args=(
                servers[i % len(servers)].port,
                deadline,
                loads[i % len(servers)],
                random.Random(seed * 100 + i),
                targets,
            ),
        )
        for i in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    poller.join()
    for server, load in zip(servers, loads, strict=True):
        say(f"  server {server.port} ({server.log.name}):")
        print_classes(load)
        report_errors(load, server)
    report_errors(polls, last)
    found = [f[1] for f in poller.found]
    after_answer = [poller.committed[t] + d - answered[t] for t, d, _ in poller.found]
    # When each save was made: the article's history row, written by the save in its transaction.
    saved = {
        title.rsplit(" ", 1)[-1]: float(at)
        for title, at in query(
            archive,
            "SELECT title, extract(epoch FROM history_date) FROM articles_historicalarticle "
            f"WHERE title LIKE '% sh{run}n%'",
        )
    }
    after_save = [poller.committed[t] + d - saved[t] for t, d, _ in poller.found if t in saved]
    slow = sum(d > SEARCHABLE_LIMIT_S for d in after_save) + len(found) - len(after_save)
    retried = sum(f[2] > 1 for f in poller.found)
    for line in refused[:5]:
        say(f"  refused: {line}")
    if poller.lost:
        say(f"  never found: {sorted(poller.lost)[:10]}")
    errors = sum(load.errors for load in loads)
    total = sum(load.total for load in loads)
    ok = errors == 0 and polls.errors == 0 and not poller.lost and not refused and slow == 0 and poller.found
    figures = (
        f"{len(servers)} servers, {total} requests by {clients} clients in {duration:.0f} s = "
        f"{total / duration:.1f}/s, {errors} non-2xx ("
        + ", ".join(f"{load.total} on {server.port}" for server, load in zip(servers, loads, strict=True))
        + f"); {len(saves)} admin saves through {first.port} (p50/p95/max {spread(saves, '.2f', 'max')} s), "
        f"{len(refused)} refused; found through {last.port}, from the save p50/p95/max "
        f"{spread(after_save, '.2f', 'max')} s, {slow} over {SEARCHABLE_LIMIT_S:g} s (from the "
        f"form's sending {spread(found, '.2f', 'max')} s, from the save's answer "
        f"{spread(after_answer, '.2f', 'max')} s; {len(found) - retried} found by the first search), "
        f"{len(poller.lost)} never found ({polls.total} searches for them, {polls.errors} non-2xx)"
    )
    details = {
        "requests": [load.total for load in loads],
        "errors": errors + polls.errors,
        "refused": refused,
        "saves": len(saves),
        "found": len(found),
        "found_first": len(found) - retried,
        "lost": list(poller.lost),
        "slow": slow,
    }
    return Result("shared", bool(ok), figures=figures), details


def trial_shared(suite: Suite, clients: int = 8, interval: float = 1.0) -> Result:
    if not suite.args.postgres:
        return Result("shared", True, figures="skipped: needs --postgres (the PostgreSQL search engine)")
    archive = suite.dbs.new("shared")
    archive.env["ARCHIVE_SEARCH_ENGINE"] = "postgres"
    lines = suite.corpus_lines[: suite.args.limit]
    started = time.monotonic()
    result = manage(
        archive, "import_articles", str(suite.corpus_file("shared", lines)), "--status", "published"
    )
    say(
        f"  setup: import of {len(lines)} records with the PostgreSQL engine: "
        f"{time.monotonic() - started:.1f} s"
    )
    if result.returncode:
        raise RuntimeError("the import failed:\n" + tail(result.stderr))
    password = secrets.token_urlsafe(16)
    made = run_script(archive, MAKE_CURATOR, "curator", password)
    if made.returncode:
        raise RuntimeError("could not make the curator:\n" + tail(made.stderr))
    pool = [(int(pk), title) for pk, title in (line.split(" ", 1) for line in made.stdout.splitlines())]
    servers = [Server(archive, suite.logs, workdir=suite.work / f"server-{x}") for x in "ab"]
    say(
        "  setup: two gunicorn instances (--workers 2), each in its own working directory: "
        + ", ".join(f"127.0.0.1:{s.port} in {s.cwd}" for s in servers)
    )
    try:
        return shared_load(
            archive,
            servers,
            username="curator",
            password=password,
            pool=pool,
            duration=suite.args.duration,
            clients=clients,
            interval=interval,
            seed=suite.args.seed,
            run=suite.run_id,
        )[0]
    finally:
        for server in servers:
            server.stop()
        suite.dbs.drop(archive)


# ----------------------------------------------------------------------------- main

RUNNERS = {
    "queries": trial_queries,
    "fuzz": trial_fuzz,
    "writers": trial_writers,
    "imports": trial_imports,
    "kill": trial_kill,
    "load": trial_load,
    "shared": trial_shared,
}


def run_trial(suite: Suite, name: str) -> Result:
    say(f"== {name}")
    started = time.monotonic()
    try:
        result = RUNNERS[name](suite)
    except Exception as exc:  # a trial that breaks is a failed trial; the others still run
        traceback.print_exc()
        result = Result(name, False, figures=f"ERROR: {exc!r}"[:300])
    result.seconds = time.monotonic() - started
    say(f"{name}: {'PASS' if result.ok else 'FAIL'} ({result.seconds:.0f} s): {result.figures}")
    say()
    return result


def print_table(results: list[Result]) -> None:
    say(f"{'trial':8} {'result':6} {'time':>7}  figures")
    for r in results:
        say(f"{r.name:8} {'PASS' if r.ok else 'FAIL':6} {r.seconds:6.0f}s  {r.figures}")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", metavar="URL", help="server to create temporary databases on")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=TRIALS,
        metavar="NAME",
        help=f"run only these trials ({', '.join(TRIALS)})",
    )
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--limit", type=int, help="serve only the first N corpus records (quick runs)")
    parser.add_argument("--duration", type=float, default=60, help="seconds of load (default 60)")
    parser.add_argument("--kill-trials", type=int, default=10, help="kills of each kind (default 10)")
    parser.add_argument("--fuzz-profile", default="long", help="Hypothesis profile (default long)")
    parser.add_argument("--seed", type=int, default=1, help="seed of every random choice (default 1)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    suite = Suite(args)
    database = f"PostgreSQL ({args.postgres})" if args.postgres else "SQLite"
    say(
        f"fault suite on {database}; corpus {args.corpus} ({len(suite.corpus_lines)} records"
        f"{f', serving {args.limit}' if args.limit else ''}); work directory {suite.work}"
    )
    say()
    results = []
    try:
        for name in TRIALS:
            if not args.only or name in args.only:
                results.append(run_trial(suite, name))
    finally:
        suite.close()
    print_table(results)
    failed = not all(r.ok for r in results)
    if failed or args.keep:
        say(f"work directory kept: {suite.work} (logs in {suite.logs})")
    else:
        shutil.rmtree(suite.work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
