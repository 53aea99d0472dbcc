"""Check: nothing a record says is lost on import (the whole Mass Mobilization corpus).

Imports the corpus into an empty archive, exports it, and checks every record against the
export: an article carries its id (as `id` or in `ids`), its title and date, all its cities
and actors, its country and its source (or the import reported, by file and line, why the
source differs: an exact duplicate merged into an article with another source). Then it
imports the export into a second empty archive and checks that exporting that gives the
same file, and re-imports the corpus to check that every record is unchanged.

    .venv/bin/python bench/corpus_fidelity.py [--corpus PATH] [--limit N] [--postgres URL]

Exit status 0 when every check holds. SQLite by default; `--postgres URL` creates (and
drops) temporary databases on that server.
"""

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from articles.text import normalize_name  # noqa: E402  (the archive's own rule; no settings needed)

DEFAULT_CORPUS = ROOT.parent / "shared" / "corpora" / "mass-mobilization.jsonl"


def key(name: str) -> str:
    """Names compare as the archive compares them: case, accents and separators folded
    ("St. Petersburg" and "St Petersburg" are one city)."""
    return normalize_name(name)


def fidelity_problems(records: list[dict], exported: list[dict], notes: str = "") -> list[str]:
    """Every way the export fails to hold what the records said (empty when nothing is lost)."""
    by_id = {}
    for article in exported:
        for record_id in article.get("ids") or [article["id"]]:
            by_id[record_id] = article
    problems = []
    for record in records:
        rid = str(record["id"])
        article = by_id.get(rid)
        if article is None:
            problems.append(f"{rid}: on no article")
            continue
        if key(article["title"]) != key(record["title"]) or article["published"] != record["published"]:
            problems.append(f"{rid}: title or date differ")
        for field in ("cities", "actors"):
            lost = {key(n) for n in record[field]} - {key(n) for n in article[field]}
            if lost:
                problems.append(f"{rid}: {field} lost: {sorted(lost)}")
        countries = {key(c) for c in (article["country"] or "").split(";")}
        if record.get("country") and key(record["country"]) not in countries:
            problems.append(f"{rid}: country {record['country']!r} lost")
        if (
            key(record.get("source") or "") != key(article["source"] or "")
            and record.get("source")
            and f"source {record['source']!r} differs" not in notes
        ):
            problems.append(f"{rid}: source {record['source']!r} neither kept nor reported")
    return problems


def manage(*args, env, stdin=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        input=stdin,
    )


@contextlib.contextmanager
def archive(work: Path, name: str, postgres: str | None):
    """The environment of a new, empty, migrated archive."""
    env = dict(os.environ, ARCHIVE_INDEX_DIR=str(work / f"{name}-index"), SECRET_KEY="fidelity")
    database = None
    if postgres:
        import psycopg

        database = f"archive_fidelity_{os.getpid()}_{name}"
        with psycopg.connect(postgres, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        env["DATABASE_URL"] = postgres.rsplit("/", 1)[0] + "/" + database
    else:
        env["DATABASE_URL"] = f"sqlite:///{work}/{name}.sqlite3"
    try:
        result = manage("migrate", "--noinput", env=env)
        if result.returncode:
            raise SystemExit(result.stderr)
        yield env
    finally:
        if database:
            import psycopg

            with psycopg.connect(postgres, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--limit", type=int, help="only the first N records")
    parser.add_argument("--postgres", metavar="URL", help="server to create temporary databases on")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="archive-fidelity-"))
    lines = Path(args.corpus).read_text(encoding="utf-8").splitlines()[: args.limit]
    corpus = work / "corpus.jsonl"
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    records = [json.loads(line) for line in lines]
    failures = []
    with archive(work, "first", args.postgres) as env:
        started = time.monotonic()
        imported = manage("import_articles", str(corpus), "--status", "published", env=env)
        print(
            f"import of {len(records)} records: {time.monotonic() - started:.1f} s: "
            f"{imported.stdout.strip().splitlines()[-1]}"
        )
        check = manage("check_index", env=env)
        print(f"check_index: exit {check.returncode}: {check.stdout.strip()}")
        if check.returncode:
            failures.append("check_index found drift after the import")
        first = manage("export_articles", env=env).stdout
        exported = [json.loads(line) for line in io.StringIO(first)]
        problems = fidelity_problems(records, exported, imported.stdout)
        print(f"{len(exported)} articles; {len(problems)} record(s) with something lost")
        for problem in problems[:20]:
            print("  " + problem)
        failures += problems
        again = manage("import_articles", str(corpus), env=env).stdout.strip().splitlines()
        print(f"re-import: {again[-2] if again[-1] == 'Nothing changed.' else again[-1]}")
        if f"unchanged {len(records)}," not in "\n".join(again):
            failures.append("the re-import changed something")
    (work / "export.jsonl").write_text(first, encoding="utf-8")
    with archive(work, "second", args.postgres) as env:
        manage("import_articles", str(work / "export.jsonl"), env=env)
        second = manage("export_articles", env=env).stdout
        same = second == first
        print(f"export -> empty archive -> export: {'identical' if same else 'DIFFERENT'}")
        if not same:
            failures.append("the round trip changed the export")
    print("OK: nothing lost" if not failures else f"FAILED: {len(failures)} problem(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
