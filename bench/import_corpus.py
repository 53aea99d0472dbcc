"""Benchmark: import the Mass Mobilization corpus into an empty archive, then search it.

Prints records per second (index included), peak memory, and the time of a search with
facets for a word that matches most reports. Runs on a throw-away SQLite database by
default; `--postgres postgres://postgres@127.0.0.1:5432/postgres` uses a temporary database
on that server instead (created and dropped by the benchmark).

    .venv/bin/python bench/import_corpus.py [--corpus PATH] [--postgres URL] [--repeat N]
"""

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpora" / "mass-mobilization.jsonl"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--postgres", metavar="URL", help="server to create a temporary database on")
    parser.add_argument("--repeat", type=int, default=20, help="timed searches per query")
    parser.add_argument(
        "--query", action="append", default=None, help="query to time (repeatable; default: protest, police)"
    )
    args = parser.parse_args()
    queries = args.query or ["protest", "police"]

    work = Path(tempfile.mkdtemp(prefix="archive-bench-"))
    os.environ["ARCHIVE_INDEX_DIR"] = str(work / "index")
    temp_db = None
    if args.postgres:
        import psycopg

        temp_db = f"archive_bench_{os.getpid()}"
        with psycopg.connect(args.postgres, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{temp_db}"')
        os.environ["DATABASE_URL"] = args.postgres.rsplit("/", 1)[0] + "/" + temp_db
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{work}/bench.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "archive.settings")
    sys.path.insert(0, str(ROOT))
    try:
        run(args, queries, work)
    finally:
        if temp_db:
            from django.db import connections

            connections.close_all()
            import psycopg

            with psycopg.connect(args.postgres, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{temp_db}"')


def run(args, queries, work):
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.http import QueryDict

    from articles import search
    from articles.browse.search import Search
    from articles.ingest import Importer

    def article_search(*, params):
        return Search(params).page()

    call_command("migrate", verbosity=0)
    search.rebuild()
    records = sum(1 for line in open(args.corpus, "rb") if line.strip())

    start = time.perf_counter()
    report = Importer().run([args.corpus])
    elapsed = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"database: {connection.vendor}; corpus: {Path(args.corpus).name} ({records} records)")
    print(f"import: {report.summary()}; {report.near_duplicates} near-duplicate links")
    print(f"import time (index included): {elapsed:.1f} s = {records / elapsed:.0f} records/s")
    print(f"peak memory (RSS of the whole process): {peak_mb:.0f} MB")

    start = time.perf_counter()
    again = Importer().run([args.corpus])
    print(f"re-import: {again.summary()} in {time.perf_counter() - start:.1f} s")

    for q in queries:
        params = QueryDict(mutable=True)
        params["q"] = q
        article_search(params=params)  # warm the process's searcher
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            page = article_search(params=params)
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        p95 = times[max(0, int(len(times) * 0.95) - 1)]
        print(
            f"search q={q!r} with 4 facets: {page.count} of {records} match; "
            f"p50 {statistics.median(times):.0f} ms, p95 {p95:.0f} ms, max {times[-1]:.0f} ms"
        )

    browse = QueryDict("sort=newest")
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        article_search(params=browse)
        times.append((time.perf_counter() - t0) * 1000)
    print(f"browse everything newest first with 4 facets: p50 {statistics.median(times):.0f} ms")
    print(f"index check: {'clean' if search.check().clean else 'DRIFT'}")


if __name__ == "__main__":
    main()
