"""Replay one request class of a scale run in one process, to time what the engine costs
without HTTP, gunicorn or other clients.

    .venv/bin/python bench/replay.py --workdir /tmp/scale100k [--class long] [--passes 2]
        [--limit 40] [--profile FILE [--profile-pass N]]

`bench/scale.py --keep` leaves an archive and `<workdir>/latencies.jsonl`; this reads the
paths of the class's requests from there (each distinct path once, in the order sent) and
asks them of the archive through Django's test client, with the work directory's
database, index and secret key, in a fresh process: the first pass finds every segment's
posting lists cold (as a new worker does), later passes find them in this process's caches.
It prints median, p95 and max per pass. `--profile FILE` writes cProfile statistics of
the first pass (cold caches), or of pass N with `--profile-pass N` (warm ones).
"""

import argparse
import cProfile
import json
import os
import statistics
import sys
import time
from pathlib import Path


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--class", dest="cls", default="long")
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--limit", type=int, default=40, help="distinct paths at most")
    parser.add_argument("--profile", help="cProfile output of one pass (--profile-pass)")
    parser.add_argument("--profile-pass", type=int, default=1, help="the pass to profile (default 1)")
    args = parser.parse_args()
    if args.passes < 1 or not 1 <= args.profile_pass <= args.passes:
        parser.error(f"--profile-pass must be between 1 and --passes ({args.passes})")

    workdir = Path(args.workdir).resolve()
    paths = []
    with open(workdir / "latencies.jsonl") as lines:
        for line in lines:
            row = json.loads(line)
            if row.get("class") == args.cls and row["path"] not in paths:
                paths.append(row["path"])
    paths = paths[: args.limit]
    if not paths:
        print(f"no request of class {args.cls!r} in {workdir / 'latencies.jsonl'}", file=sys.stderr)
        return 1

    project = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(project))
    os.environ.pop("DEBUG", None)
    os.environ.update(
        DATABASE_URL=f"sqlite:///{workdir / 'archive.sqlite3'}",
        ARCHIVE_INDEX_DIR=str(workdir / "index"),
        SECRET_KEY=(workdir / "secret_key").read_text().strip(),
        DJANGO_SETTINGS_MODULE="archive.settings",
    )
    import django

    django.setup()
    from django.test import Client

    client = Client(SERVER_NAME="localhost")
    for n in range(args.passes):
        profiler = cProfile.Profile() if args.profile and n == args.profile_pass - 1 else None
        times = []
        for path in paths:
            if profiler:
                profiler.enable()
            start = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - start) * 1000)
            if profiler:
                profiler.disable()
            if response.status_code != 200:
                print(f"{response.status_code} {path}", file=sys.stderr)
        if profiler:
            profiler.dump_stats(args.profile)
        print(
            f"pass {n + 1}: {len(paths)} {args.cls} requests, median {statistics.median(times):.0f} ms, "
            f"p95 {percentile(times, 95):.0f} ms, max {max(times):.0f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
