"""Ranking quality of the archive's search, measured on judged queries.

Imports the documents (SciFact abstracts, or the Mass Mobilization reports for the news
set) into a throw-away archive (SQLite database and index under a temporary directory),
sends every query to the public JSON API (`/api/search/`) exactly as an outside client
would, maps the results back to document ids through `record_id`, and prints nDCG@10,
recall@100, the median time per query and the commit measured; then the time of a first
page of ten for each query of 18 words or more (claims), asked as a reader asks them. A query answered with an
error or with nothing scores 0 and is counted and listed, never dropped.

    .venv/bin/python bench/evaluate_ranking.py [--split train|claims|news]
        [--beir-queries queries.jsonl --qrels test.tsv | --queries PATH] [--docs PATH]
        [--verbose] [--keep DIR] [--database-url postgres://...]

`--split train` (the default) is SciFact's train split (../shared/corpora/scifact), the set
ranking is tuned on; `claims` our own 78 SciFact claims (a smoke test); `news` short
researcher queries on the Mass Mobilization corpus, judged by reading the results. Files
given with `--beir-queries`/`--qrels` (a held-out split) or `--queries` (our layout) replace
the split's queries; see bench/judgments.py for both layouts.

`--keep DIR` keeps the database and index in DIR and reuses them on the next run (the import
is skipped when every document is already there). `--database-url` imports into that (empty)
PostgreSQL database instead of SQLite; with `ARCHIVE_SEARCH_ENGINE=postgres` in the
environment the PostgreSQL engine answers. Exit status: 0 when the evaluation ran,
2 when the documents did not become searchable (no score is printed then).
"""

import argparse
import json
import logging
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from io import StringIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from judgments import SPLITS, load_beir, load_doc_ids, load_queries, merge_judgments  # noqa: E402

NDCG_K = 10
RECALL_K = 100
PER_PAGE = 100  # the API's maximum; one page covers recall@100
RECORD_NOTE = re.compile(r"^.+:\d+: ")


# ---------------------------------------------------------------------------- metrics


def dcg(gains) -> float:
    """Discounted cumulative gain: gain at rank r (1-based) divided by log2(r + 1)."""
    return sum(g / math.log2(rank + 1) for rank, g in enumerate(gains, start=1))


def ndcg_at_k(ranked, relevant: dict, k: int = NDCG_K) -> float:
    """nDCG@k of a ranked list of doc ids against graded judgments {doc id: grade}.

    Gain is the judged grade (0 when unjudged); the ideal ranking is built from the
    judgments. Duplicate ids after their first occurrence gain nothing. A query with no
    positive judgment scores 0.
    """
    seen = set()
    gains = []
    for doc in list(ranked)[:k]:
        gains.append(relevant.get(doc, 0) if doc not in seen else 0)
        seen.add(doc)
    ideal = dcg(sorted((g for g in relevant.values() if g > 0), reverse=True)[:k])
    return dcg(gains) / ideal if ideal > 0 else 0.0


def recall_at_k(ranked, relevant: dict, k: int = RECALL_K) -> float:
    """Share of the relevant (grade > 0) documents found in the first k results."""
    wanted = {doc for doc, grade in relevant.items() if grade > 0}
    if not wanted:
        return 0.0
    return len(wanted & set(list(ranked)[:k])) / len(wanted)


# ---------------------------------------------------------------------------- running


def fail(message: str) -> None:
    bar = "!" * 78
    print(f"\n{bar}\nNO SCORE: {message}\n{bar}", file=sys.stderr)
    sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--split",
        choices=sorted(SPLITS),
        default="train",
        help="judged queries and their documents (default: SciFact train)",
    )
    parser.add_argument("--queries", metavar="PATH", help="our JSONL queries")
    parser.add_argument("--docs", metavar="PATH", help="documents (JSONL with id, title, body)")
    parser.add_argument("--beir-queries", metavar="PATH", help="BEIR queries.jsonl (_id, text)")
    parser.add_argument("--qrels", metavar="PATH", help="BEIR qrels TSV (query-id corpus-id score)")
    parser.add_argument("--verbose", action="store_true", help="one line per query")
    parser.add_argument("--keep", metavar="DIR", help="keep (and reuse) the database and index here")
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="an empty postgres://... database instead of SQLite in the work directory (with "
        "ARCHIVE_SEARCH_ENGINE=postgres in the environment: the PostgreSQL engine)",
    )
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)

    if bool(args.beir_queries) != bool(args.qrels):
        parser.error("--beir-queries and --qrels go together")
    if args.beir_queries and args.queries:
        parser.error("give either --queries or --beir-queries, not both")
    split = SPLITS[args.split]
    beir = (
        (args.beir_queries, args.qrels) if args.beir_queries else None if args.queries else split.get("beir")
    )
    if beir:
        queries = load_beir(*beir)
        source = f"{beir[0]} + {beir[1]}"
    else:
        source = args.queries or split["queries"]
        queries = load_queries(source)
    if not queries:
        parser.error("no queries with relevance judgments")
    args.docs = args.docs or str(split["docs"])
    doc_ids = load_doc_ids(args.docs)

    work = Path(args.keep).resolve() if args.keep else Path(tempfile.mkdtemp(prefix="archive-eval-"))
    work.mkdir(parents=True, exist_ok=True)
    # All of this must be in place before Django reads its settings.
    os.environ["DATABASE_URL"] = args.database_url or f"sqlite:///{work}/eval.sqlite3"
    os.environ["ARCHIVE_INDEX_DIR"] = str(work / "index")
    os.environ["DJANGO_SETTINGS_MODULE"] = "archive.settings"
    os.environ.setdefault("SECRET_KEY", "evaluate-ranking-throw-away-key")
    sys.path.insert(0, str(ROOT))

    print(f"commit: {commit()}")
    print(f"queries: {source} ({len(queries)} with judgments)")
    print(f"documents: {args.docs} ({len(doc_ids)})")
    print(f"work directory: {work}{' (kept)' if args.keep else ' (temporary, removed at the end)'}")
    try:
        prepare(args.docs, doc_ids, queries, reuse=bool(args.keep))
        evaluate(queries, verbose=args.verbose)
    finally:
        if not args.keep:
            try:
                from django.db import connections

                connections.close_all()
            except Exception:  # Django never got set up; nothing to close
                pass
            shutil.rmtree(work, ignore_errors=True)


def commit() -> str:
    """The commit measured, marked dirty when the working tree differs from it."""

    def git(*cmd):
        return subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True).stdout

    head = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "articles", "bench")
    return f"{head}{' + uncommitted changes' if dirty.strip() else ''}"


def prepare(docs_path, doc_ids, queries, *, reuse: bool) -> None:
    import django

    django.setup()
    from django.core.management import call_command

    from articles.models import Article, Origin

    call_command("migrate", verbosity=0)
    wanted = set(doc_ids)
    have = Origin.objects.filter(record_id__in=wanted).count() if reuse else 0
    if reuse and have == len(wanted):
        out = StringIO()
        call_command("rebuild_index", "--if-stale", stdout=out)
        print(
            f"import: skipped, all {have} documents already in {os.environ['DATABASE_URL']} "
            f"({out.getvalue().strip()})"
        )
    else:
        call_command("rebuild_index", stdout=StringIO())
        out, err = StringIO(), StringIO()
        start = time.perf_counter()
        status = 0
        try:
            call_command("import_articles", str(docs_path), "--status", "published", stdout=out, stderr=err)
        except SystemExit as exc:  # import_articles exits 1 when a record failed
            status = exc.code or 0
        elapsed = time.perf_counter() - start
        lines = [line for line in out.getvalue().splitlines() if line.strip()]
        notes = [line for line in lines if RECORD_NOTE.match(line)]  # "file:line: message"
        summary = [line for line in lines if not RECORD_NOTE.match(line)]
        print(f"import time (index included): {elapsed:.1f} s = {len(doc_ids) / elapsed:.0f} records/s")
        for line in summary:
            print(f"import: {line}")
        if notes:
            print(f"import: {len(notes)} per-record note(s), e.g. {notes[0]!r}")
        problems = [line for line in err.getvalue().splitlines() if line.strip()]
        if problems or status:
            print(f"import: exit status {status}, {len(problems)} problem(s) reported:")
            for line in problems[:10]:
                print(f"  {line}")

    # Are the documents there and searchable? Each record id finds its article through its
    # origin; an article merged from duplicates answers with one of its records' ids.
    rows = Origin.objects.filter(record_id__in=wanted).values_list(
        "record_id", "article__record_id", "article__status"
    )
    status_of = {rid: st for rid, _, st in rows}
    folded = merge_judgments(queries, {rid: answer for rid, answer, _ in rows if answer})
    published = {rid for rid, st in status_of.items() if st == Article.Status.PUBLISHED}
    drafts = len(status_of) - len(published)
    print(
        f"documents in the archive: {len(status_of)} of {len(wanted)}; "
        f"published {len(published)}, other status {drafts}; "
        f"{len(status_of) - len({a for _, a, _ in rows})} merged into another article"
    )
    if folded:
        print(f"judgments: {folded} judged ids answer as the article they were merged into")
    if not published:
        fail(
            f"none of the {len(wanted)} documents is published ({drafts} stored with "
            "another status, e.g. draft: the records carry no publication date). Drafts are "
            "invisible to search, so every query would score 0."
        )
    wanted = {answer for _, answer, _ in rows if answer} | (wanted - set(status_of))
    published = {answer for _, answer, st in rows if answer and st == Article.Status.PUBLISHED}
    judged = {doc for q in queries for doc, g in q["relevant"].items() if g > 0}
    unknown = judged - wanted
    if unknown:
        print(
            f"WARNING: {len(unknown)} judged ids are not in the documents file: "
            f"{', '.join(sorted(unknown)[:10])}",
            file=sys.stderr,
        )
    unsearchable = (judged & wanted) - published
    if unsearchable:
        fail(
            f"{len(unsearchable)} judged documents are missing or not published "
            f"(e.g. {', '.join(sorted(unsearchable)[:5])}); the score would be meaningless."
        )
    if len(published) < len(wanted):
        print(
            f"WARNING: {len(wanted) - len(published)} documents are not searchable "
            "(missing or not published)",
            file=sys.stderr,
        )

    from articles import search

    drift = search.check()
    if not drift.clean:
        fail(
            f"the index is out of step with the database: {len(drift.missing)} missing, "
            f"{len(drift.stale)} stale, {len(drift.extra)} extra, {drift.queued} queued, "
            f"index missing: {drift.index_missing}"
        )


def evaluate(queries, *, verbose: bool) -> None:
    from django.test import Client

    # Django logs every 4xx answer as a warning; they are counted and listed below instead.
    logging.getLogger("django.request").setLevel(logging.ERROR)

    # raise_request_exception=False: a server error is seen as a 500 answer, as by any client.
    client = Client(HTTP_HOST="127.0.0.1", raise_request_exception=False)
    ndcgs, recalls, times = [], [], []
    zero, errors, corrected = [], [], 0
    for q in queries:
        start = time.perf_counter()
        response = client.get("/api/search/", {"q": q["query"], "per_page": PER_PAGE})
        times.append(time.perf_counter() - start)
        ranked, count, note = [], 0, ""
        if response.status_code == 200:
            data = response.json()
            count = data.get("count", 0)
            ranked = [r.get("record_id") for r in data.get("results", [])]
            if data.get("query", {}).get("corrected"):
                corrected += 1
                note = f"  (suggested: {data['query']['corrected']!r})"
            if not ranked:
                zero.append(q)
        else:
            try:
                detail = json.dumps(response.json().get("errors", response.json()))
            except ValueError:
                detail = response.content[:200].decode("utf-8", "replace")
            errors.append((q, response.status_code, detail))
            note = f"  HTTP {response.status_code} {detail}"
        nd = ndcg_at_k(ranked, q["relevant"])
        rc = recall_at_k(ranked, q["relevant"])
        ndcgs.append(nd)
        recalls.append(rc)
        if verbose:
            ranks = {doc: ranked.index(doc) + 1 for doc in q["relevant"] if doc in ranked}
            found = " ".join(f"{doc}@{ranks[doc]}" if doc in ranks else f"{doc}@-" for doc in q["relevant"])
            print(
                f"{q['qid']:>6}  nDCG@10 {nd:.3f}  R@100 {rc:.3f}  hits {count:>5}  "
                f"[{found}]  {q['query'][:70]}{note}"
            )

    n = len(queries)
    if errors:
        print(f"\n{len(errors)} queries answered with an error (scored 0):")
        for q, status, detail in errors:
            print(f"  {q['qid']}  HTTP {status}  {detail[:150]}  <- {q['query'][:80]!r}")
    if zero:
        print(f"\n{len(zero)} queries returned no results (scored 0):")
        for q in zero:
            print(f"  {q['qid']}  {q['query'][:100]!r}")
    times.sort()
    print(
        f"\nsearch time per query: median {times[len(times) // 2] * 1000:.0f} ms, "
        f"max {times[-1] * 1000:.0f} ms; spelling suggestions on {corrected} queries"
    )
    print(f"queries {n}  nDCG@10 {sum(ndcgs) / n:.3f}  recall@100 {sum(recalls) / n:.3f}")
    print(f"zero results {len(zero)}  errors (non-200) {len(errors)}")
    time_long_queries(client, queries)


LONG_WORDS = 18


def time_long_queries(client, queries) -> None:
    """The queries of LONG_WORDS words or more (claims, pasted sentences) asked again as a
    reader asks them, for a first page of ten (facets, timeline, snippets and suggestions
    included); each twice, the second answer timed."""
    long = [q for q in queries if len(re.findall(r"\w+", q["query"])) >= LONG_WORDS]
    if not long:
        return
    times = []
    for q in long:
        for _ in range(2):
            start = time.perf_counter()
            client.get("/api/search/", {"q": q["query"], "per_page": 10})
        times.append(time.perf_counter() - start)
    times.sort()
    words = sum(len(re.findall(r"\w+", q["query"])) for q in long) / len(long)
    print(
        f"long queries ({len(long)} of {LONG_WORDS}+ words, {words:.0f} on average), a page of 10: "
        f"median {times[len(times) // 2] * 1000:.0f} ms, p95 {times[int(len(times) * 0.95)] * 1000:.0f} ms, "
        f"max {times[-1] * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
