"""Related reports: how good the list of an article page is, and how long it takes.

There are no judgments of which reports are related, but the Mass Mobilization corpus codes
each report's country, and a report about a protest is related, first of all, to reports
about protests in the same country. On an archive that holds the corpus (imported with
`import_articles`), this asks the configured engine for the related reports of a fixed
sample of reports with one country, as the article page does (`articles.search.related`),
and prints the share of the related reports that are about the same country (against the
share two reports picked at random would have), the share of reports given none, the time
of each list (p50 / p95 / max, in this process, nothing cached between them) and the commit.

    DATABASE_URL=postgres://... ARCHIVE_SEARCH_ENGINE=postgres \\
        .venv/bin/python bench/related.py [--sample 500] [--save lists.json] [--against old.json]

`--save` writes each report's list; `--against` a list saved by another run (another commit)
prints how many of the same related reports the two runs gave.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=500, help="reports asked (default 500)")
    parser.add_argument("--limit", type=int, default=5, help="related reports per report (as the page)")
    parser.add_argument("--save", type=Path, help="write each report's related reports here (JSON)")
    parser.add_argument("--against", type=Path, help="a --save of another run, to compare lists")
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "archive.settings")
    import django

    django.setup()
    from django.conf import settings

    from articles import search
    from articles.models import Article

    countries: dict[int, set[int]] = {}
    for article_id, country_id in Article.objects.published().values_list("pk", "countries"):
        if country_id is not None:
            countries.setdefault(article_id, set()).add(country_id)
    single = sorted(pk for pk, found in countries.items() if len(found) == 1)
    if not single:
        sys.exit("no published report with one country: import the Mass Mobilization corpus first")
    step = max(1, len(single) // args.sample)
    sample = single[::step][: args.sample]
    sizes = Counter(next(iter(found)) for found in countries.values() if len(found) == 1)
    chance = sum(n * n for n in sizes.values()) / len(single) ** 2

    search.related(Article.objects.get(pk=sample[0]), limit=args.limit)  # open the engine once
    lists, times, same, given, empty = {}, [], 0, 0, 0
    for pk in sample:
        article = Article.objects.get(pk=pk)
        started = time.perf_counter()
        related = search.related(article, limit=args.limit)
        times.append((time.perf_counter() - started) * 1000)
        lists[pk] = related
        empty += not related
        given += len(related)
        same += sum(bool(countries.get(r, set()) & countries[pk]) for r in related)

    times.sort()
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True, text=True
    ).stdout.strip()
    published = Article.objects.published().count()
    print(f"engine {settings.ARCHIVE_SEARCH_ENGINE}, {published:,} published reports, commit {commit}")
    print(f"{len(sample)} reports asked (one country each), {given} related given, {empty} given none")
    print(f"related reports about the same country: {same / max(given, 1):.3f} (at random: {chance:.3f})")
    print(
        f"time per list: p50 {statistics.median(times):.0f} ms, "
        f"p95 {times[int(0.95 * (len(times) - 1))]:.0f} ms, max {times[-1]:.0f} ms"
    )
    if args.save:
        args.save.write_text(json.dumps({str(k): v for k, v in lists.items()}))
    if args.against:
        other = {int(k): v for k, v in json.loads(args.against.read_text()).items()}
        shared = [pk for pk in sample if pk in other]
        kept = sum(len(set(lists[pk]) & set(other[pk])) for pk in shared)
        theirs = sum(len(other[pk]) for pk in shared)
        print(f"against {args.against}: {kept} of its {theirs} related reports given here too")


if __name__ == "__main__":
    main()
