"""Scale benchmark: the whole archive at 100,000 reports, served and searched as users do.

One command generates a corpus, sets up a fresh archive from it with the archive's own
commands, serves it with gunicorn as `make run` does, drives it with concurrent HTTP clients
and a curator who keeps saving, and measures an SQLite FTS5 peer on the same reports and
queries in the same run (the machine is shared and noisy: compare against the peer, not
against last week's figures).

    .venv/bin/python bench/scale.py [--reports 100000] [--seed 1]
        [--duration 60 | --requests N] [--clients 4] [--workers 2] [--timeout SECONDS]
        [--import-mode db-only|indexed] [--import-limit M] [--import-only] [--skip-setup]
        [--workdir DIR] [--database-url postgres://...] [--keep] [--project DIR]
        [--save-interval 1.0] [--searchable-timeout 60] [--peer-queries 200]
        [--engine whoosh|postgres|both]
    .venv/bin/python bench/scale.py --compare A/figures.json B/figures.json

For example, the whole benchmark at 100k, then the load again on the same archive with a
longer gunicorn timeout, then an indexed import timed on its first 15,000 records:

    .venv/bin/python bench/scale.py --keep
    .venv/bin/python bench/scale.py --skip-setup --timeout 600 --duration 300 --keep
    .venv/bin/python bench/scale.py --workdir bench/out/indexed --import-mode indexed \
        --import-limit 15000 --import-only --keep

Both search engines on one archive, side by side (a PostgreSQL database, empty; the
PostgreSQL engine's run first, then the Whoosh index is built on the same database and
served in turn, each run with its own FTS5 peer; figures in `figures-<engine>.json`):

    .venv/bin/python bench/scale.py --engine both --keep \
        --database-url postgres://postgres@127.0.0.1:5432/scale100k

`--engine postgres` alone serves the PostgreSQL engine; with `--skip-setup`, an engine whose
index the archive does not have yet gets it built (timed as the setup's rebuild), and one it
has is mended first (`check_index --repair`: the other engine's run saved titles it missed).

Run it from the project with the project's virtualenv; it uses only the standard library
itself and runs the project's `manage.py` and `gunicorn` from `<project>/.venv`.

What it does, in order:

1. Corpus. N reports in the import format (JSON Lines) at `<workdir>/corpus-N-seedS.jsonl`,
   built from `shared/corpora/mass-mobilization.jsonl` (MM): the 40 most cited MM outlets,
   the 500 most reported MM cities (each with its real country), 5,000 actors (the 3,500
   most frequent MM protester identities plus 1,000 generated people and 500 generated
   organisations), dates 2010-2025, bodies of 300-800 words made of real MM sentences (half
   from reports of the same country) with a dateline and a sentence or two naming the
   actors, titles from MM headlines or the body's first words. Sources, cities and actors
   are picked with Zipf-like popularity (rank r weighs 1/r), so facets have heads and tails.
   Same seed, same N: byte-identical file (its SHA-256 is reported).
2. Setup, each step a child process timed with its peak RSS (`os.wait4`), while a sampler
   watches the child's TMPDIR (`<workdir>/tmp`) and the index directory every second:
   `migrate`; with `--import-mode indexed` an empty index first (`rebuild_index` on the
   empty archive) so the import writes the index as it goes; `import_articles --status
   published`; `rebuild_index` (always: on some versions an import into an archive without
   an index indexes nothing). `--import-limit M` times the import on the first M records
   only (the rate and a linear extrapolation to N, marked EXTRAPOLATED), then imports the
   rest without an index (the index directory is emptied first) before the rebuild.
   `--import-only` stops after the timed import. `--skip-setup` reuses the work directory of
   an earlier run (its setup figures are carried over from `setup.json`).
3. Serving: `gunicorn archive.wsgi:application --workers W` on a free port with the work
   directory's environment; the first search after start is timed on its own. gunicorn
   kills a worker whose request runs past its timeout (30 s, as `make run` leaves it);
   `--timeout` raises it when the point is to measure slow requests rather than lose them.
4. Load: C client threads send a fixed, seeded mix of requests (one fresh connection per
   request) for `--duration` seconds or `--requests` requests; slugs come from the API's
   own results and facets. Meanwhile a helper process (this script, `_curator` mode, with
   Django set up once) retitles a published article every `--save-interval` seconds with a
   fresh token, one transaction per save, and a poller searches `/api/search/` for the
   pending tokens (several at once as `tokA OR tokB`) until each is found.
   `--save-interval 0` runs the load without the curator (each save changes the index,
   which readers then reopen: compare both to see what the saves cost the readers).
5. Peer: an SQLite FTS5 database (porter tokenizer; tables for sources, cities, actors,
   dates, with indexes) built from the same corpus, then the search requests of the load
   replayed engine-only, single-threaded, without HTTP (topped up with more of the same
   seeded mix to `--peer-queries` per class).

The figures (printed as one table and written to `<workdir>/figures.json`; per-request
latencies in `<workdir>/latencies.jsonl`, child outputs in `<workdir>/logs/`):

- per request class: count, errors (answers that are not 2xx, and failed connections),
  latency p50 / p95 / p99 in ms over every request sent (failed ones included: a reader
  waited for them too); nearest-rank percentiles, so few requests give rough figures.
  Classes: `text` (1-3 words), `phrase` ("2-3 words"), `long` (20 words of a sentence),
  each also `+filters` (a city, a date range, or both), all through `/api/search/`;
  `browse-city|actor|source|year|dates` (`/search/?...` without text); `article`
  (`/articles/<slug>/`, related reports included), `city-page`, `actor-page`, `home`.
- throughput: requests answered per second of wall time over all clients.
- peer p50 / p95 and archive/peer: the FTS5 peer on the same queries (match, count, GROUP BY
  counts for source, city, actor and year over the matches, the top 20 by bm25() with a
  snippet; without text: the filters, the same counts and the newest 20) and the ratio of
  the archive's figure to the peer's. The archive's figure includes HTTP, Django, rendering
  and C concurrent clients on W workers; the peer's is one engine call at a time, so the
  ratio is an upper bound of what the engine costs, not an engine-to-engine comparison.
  `long` on the peer ORs the query's words (FTS5 has no minimum-should-match), which
  matches more than the archive does. Peer extras: `text only` (count and top 20, no
  facets) and the build rate.
- import: reports per second and seconds (the mode says whether the index was written as
  the import went); rebuild: reports per second and seconds; peak RSS of each command
  (the process and the children it waited for); index size after the rebuild; peak size
  of the TMPDIR given to the command and of the index directory during the command (a
  Whoosh writer keeps its temporary segments in the index directory, not in TMPDIR).
- first search: seconds from sending the first `/api/search/?q=protest` after the server
  answered to receiving its answer (a cold worker: searcher, names table, caches; and the
  OS page cache, which this script cannot drop: on a busy machine the database may have
  been evicted since the setup, and a cold read of it can dominate).
- save to searchable: seconds from the start of a curator's save (`Article.save()` in a
  transaction, the index update after commit included, as in the admin) until a search
  answer that holds the new token was received; p50 / p95 / max, how many saves, how many
  were not found in time, and the save's own duration (what the curator waits for).
- worker RSS: VmRSS of each gunicorn worker (children of the master) after the load, and
  of it the worker's own memory (RssAnon) and the pages of mapped files (RssFile: the
  Whoosh index, shared by every worker through the page cache), with its PSS.
- commit: `git rev-parse --short HEAD` of the project, `+dirty` when tracked files differ.

Without `--keep` the bulky data (corpus, database, index, peer, temp files) is deleted at
the end; the figures, latencies and logs stay. The work directory defaults to
`<project>/bench/out/scale-N/` (git-ignored): never commit what is generated there.
"""

import argparse
import bisect
import datetime as dt
import hashlib
import http.client
import itertools
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
import subprocess
import sys
import threading
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
DEFAULT_PROJECT = HERE.parent
DEFAULT_MM = DEFAULT_PROJECT.parent / "shared" / "corpora" / "mass-mobilization.jsonl"
GENERATOR_VERSION = 1

N_SOURCES, N_CITIES, N_MM_ACTORS, N_PEOPLE, N_ORGS = 40, 500, 3500, 1000, 500
FIRST_DAY, LAST_DAY = dt.date(2010, 1, 1), dt.date(2025, 12, 31)
YEARS = range(FIRST_DAY.year, LAST_DAY.year + 1)
WORDS_MIN, WORDS_MAX = 300, 800
TOKEN_PREFIX = "zqx"  # curator tokens: no real word starts like this

STOPWORDS = frozenset(
    """
a about above after again against all am an and any are as at be because been before being
below between both but by can did do does doing down during each few for from further had
has have having he her here hers herself him himself his how i if in into is it its itself
just me more most my myself no nor not now of off on once only or other our ours ourselves
out over own same she should so some such than that the their theirs them themselves then
there these they this those through to too under until up very was we were what when where
which while who whom why will with you your yours yourself yourselves s t said also would
could one two three after since per
""".split()
)

# Words people type when they look for protest reports; kept when the corpus has them.
PROTEST_WORDS = """
protest protesters demonstrators demonstration police students strike opposition government
election rally march arrested arrests clashes riot tear gas killed injured corruption reform
workers union farmers teachers president parliament minister crowd square violence detained
dispersed capital supporters party demands wages rights democracy elections activists security
forces thousands hundreds hunger blockade boycott petition curfew military army soldiers shot
""".split()

FIRST_NAMES = """
Aigerim Nursultan Dinara Yerlan Asel Bakyt Gulnara Timur Madina Ruslan Amina Omar Fatima
Hassan Leila Karim Sofia Mateo Lucia Diego Ana Carlos Maria Jose Elena Ivan Olga Dmitri
Natalia Sergei Chen Wei Mei Hiroshi Yuki Minjun Jiwoo Arjun Priya Rahul Aisha Kwame Ama
Chinedu Ngozi Thabo Zanele Pierre Claire Lukas Anna Jan Katarzyna Mehmet Ayse Nikos Eleni
Sean Siobhan Tomas
""".split()
SURNAMES = """
Abenov Bekova Nurlanov Seitkali Zhakupova Umarov Karimova Haddad Mansour Khalil Nasser
Rahman Hossain Garcia Fernandez Lopez Martinez Silva Santos Pereira Ivanov Petrova Sokolov
Kuznetsova Popescu Nowak Kowalski Novak Horvat Yilmaz Demir Papadopoulos Georgiou Murphy
Kelly Byrne Dubois Moreau Schmidt Weber Rossi Bianchi Wang Li Zhang Tanaka Sato Kim Park
Nguyen Tran Singh Sharma Okafor Mensah Mwangi Banda Dlamini Diallo Traore
""".split()
ORG_GROUPS = [
    "Teachers",
    "Workers",
    "Farmers",
    "Students",
    "Doctors",
    "Nurses",
    "Journalists",
    "Lawyers",
    "Miners",
    "Taxi Drivers",
    "Pensioners",
    "Women",
    "Youth",
    "Traders",
    "Dockworkers",
    "Bus Drivers",
    "Garment Workers",
    "Civil Servants",
]
ORG_CAUSES = [
    "Democracy",
    "Justice",
    "Change",
    "Free Elections",
    "Land Reform",
    "Clean Government",
    "Fair Wages",
    "Press Freedom",
    "Human Rights",
    "Peace",
    "Independence",
    "Water Rights",
]
ORG_FORMS = [
    "{country} {group} Union",
    "{country} {group} Association",
    "{city} {group} Committee",
    "National {group} Federation of {country}",
    "Movement for {cause}",
    "{country} Front for {cause}",
    "Coalition for {cause} in {country}",
    "{city} Citizens for {cause}",
]
ACTOR_LINES = [
    "{actor} said the protest would continue until the demands were met.",
    "Supporters of {actor} gathered near the government building.",
    "{actor} called on the authorities to release those detained.",
    "A spokesperson for {actor} declined to comment.",
    "{actor} accused the police of using excessive force.",
    "Members of {actor} were among the crowd.",
]

# The request mix: class name and weight (out of 100).
CLASSES = [
    ("text", 16),
    ("text+filters", 8),
    ("phrase", 8),
    ("phrase+filters", 4),
    ("long", 8),
    ("long+filters", 4),
    ("browse-city", 6),
    ("browse-actor", 6),
    ("browse-source", 4),
    ("browse-year", 4),
    ("browse-dates", 4),
    ("article", 14),
    ("city-page", 5),
    ("actor-page", 5),
    ("home", 4),
]
TEXT_CLASSES = [c for c, _ in CLASSES if c.split("+")[0] in ("text", "phrase", "long")]
BROWSE_CLASSES = [c for c, _ in CLASSES if c.startswith("browse-")]
FIRST_SEARCH = "/api/search/?q=protest"

WORD = re.compile(r"[^\W\d_]+")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
STARTED = time.monotonic()
CHILDREN: list[subprocess.Popen] = []  # stopped on the way out, whatever happens


def log(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:7.0f}s] {message}", flush=True)


def name_key(name: str) -> str:
    """Case- and accent-insensitive key, as the archive compares names (one spelling per
    entity in the corpus, so the importer never merges two of ours)."""
    decomposed = unicodedata.normalize("NFKD", name)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(unicodedata.normalize("NFC", stripped).casefold().split())


# ============================================================================ material


@dataclass
class Material:
    """What the corpus and the queries are made of, all taken from (or modelled on) MM."""

    sources: list[str]
    cities: list[tuple[str, str]]  # (name, country), most reported first
    actors: list[str]  # most popular first
    sentences: list[str]
    sentences_by_country: dict[str, list[int]]
    titles: list[str]
    titles_by_country: dict[str, list[str]]
    cities_by_country: dict[str, list[int]] = field(default_factory=dict)


def load_material(mm_path: Path, seed: int) -> Material:
    records = [json.loads(line) for line in open(mm_path, encoding="utf-8") if line.strip()]
    sources = ranked(Counter(r["source"] for r in records if r["source"]))[:N_SOURCES]
    cities = top_cities(records)
    actors = rank_actors(records, cities, random.Random(f"{seed}-names"))
    sentences, by_country, titles, titles_by_country = [], {}, [], {}
    seen = {}
    for r in records:
        for sentence in split_sentences(r["body"]):
            if sentence not in seen:
                seen[sentence] = len(sentences)
                sentences.append(sentence)
            by_country.setdefault(r["country"], []).append(seen[sentence])
        title = " ".join(r["title"].split())
        if 3 <= len(title.split()) and len(title) <= 200:
            titles.append(title)
            titles_by_country.setdefault(r["country"], []).append(title)
    material = Material(sources, cities, actors, sentences, by_country, titles, titles_by_country)
    for i, (_, country) in enumerate(cities):
        material.cities_by_country.setdefault(country, []).append(i)
    return material


def ranked(counts: Counter) -> list:
    """Most frequent first; ties by value, so the order never depends on dict history."""
    return [value for value, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def top_cities(records) -> list[tuple[str, str]]:
    pairs = ranked(Counter((c, r["country"]) for r in records for c in r["cities"] if r["country"]))
    cities, keys = [], set()
    for name, country in pairs:
        # The importer would merge two cities of one name: keep the most reported one.
        if len(name) >= 2 and name_key(name) not in keys:
            keys.add(name_key(name))
            cities.append((name, country))
        if len(cities) == N_CITIES:
            break
    return cities


def rank_actors(records, cities, rng: random.Random) -> list[str]:
    """MM's protester identities by frequency, with generated people and organisations
    spread over the ranks below the first 20 (so some of them are popular too)."""
    keys = set()

    def fresh(name):
        if name_key(name) in keys or len(name) > 80:
            return False
        keys.add(name_key(name))
        return True

    mm = [a for a in ranked(Counter(a for r in records for a in r["actors"])) if fresh(a)][:N_MM_ACTORS]
    generated = []
    combos = [f"{first} {last}" for first in FIRST_NAMES for last in SURNAMES]
    for name in rng.sample(combos, len(combos)):
        if len(generated) == N_PEOPLE:
            break
        if fresh(name):
            generated.append(name)
    while len(generated) < N_PEOPLE + N_ORGS:
        city, country = rng.choice(cities)
        name = rng.choice(ORG_FORMS).format(
            country=country, city=city, group=rng.choice(ORG_GROUPS), cause=rng.choice(ORG_CAUSES)
        )
        if fresh(name):
            generated.append(name)
    total = len(mm) + len(generated)
    slots = set(rng.sample(range(20, total), len(generated)))
    mm_iter, gen_iter = iter(mm), iter(generated)
    return [next(gen_iter) if i in slots else next(mm_iter) for i in range(total)]


def split_sentences(body: str):
    for sentence in SENTENCE_END.split(" ".join(body.split())):
        words = sentence.split()
        # Coders' own remarks ("note: number of protesters was not provided ...") are no news.
        if (
            6 <= len(words) <= 60
            and sentence[-1] in ".!?"
            and not sentence.endswith("..")
            and "note:" not in sentence.lower()
        ):
            yield sentence[0].upper() + sentence[1:]


class Zipf:
    """Rank r (0-based) is drawn with weight 1 / (r + 1) ** s."""

    def __init__(self, n: int, s: float = 1.0):
        self.cum = list(itertools.accumulate(1 / (r**s) for r in range(1, n + 1)))

    def pick(self, rng: random.Random) -> int:
        return bisect.bisect_right(self.cum, rng.random() * self.cum[-1])


# ============================================================================ corpus


class CorpusMaker:
    def __init__(self, material: Material, seed: int):
        self.m = material
        self.rng = random.Random(f"{seed}-corpus")
        self.source_rank = Zipf(len(material.sources))
        self.city_rank = Zipf(len(material.cities), 0.9)
        self.actor_rank = Zipf(len(material.actors))
        self.local_rank = {c: Zipf(len(ix)) for c, ix in material.cities_by_country.items()}
        self.span = (LAST_DAY - FIRST_DAY).days + 1

    def record(self, number: int) -> dict:
        rng, m = self.rng, self.m
        city, country = m.cities[self.city_rank.pick(rng)]
        cities = self.more_cities(city, country)
        actors = []
        for _ in range(rng.choices((1, 2, 3, 4, 5), (30, 30, 20, 12, 8))[0]):
            actor = m.actors[self.actor_rank.pick(rng)]
            if actor not in actors:
                actors.append(actor)
        source = m.sources[self.source_rank.pick(rng)]
        day = FIRST_DAY + dt.timedelta(days=rng.randrange(self.span))
        # Real reports name their place and their actors: a dateline and a line or two.
        dateline = f"{city.upper()}, {country} ({source}) -"
        lines = [rng.choice(ACTOR_LINES).format(actor=actor) for actor in actors[:2]]
        extra = len(dateline.split()) + sum(len(line.split()) for line in lines)
        sentences = self.sentences(country, extra)
        body = self.body(dateline, sentences, lines)
        record_id = f"scale-{number:07d}"
        domain = re.sub(r"[^a-z0-9]+", "-", source.lower()).strip("-") + ".example"
        return {
            "id": record_id,
            "title": self.title(country, sentences[0]),
            "body": body,
            "published": day.isoformat(),
            "source": source,
            "cities": cities,
            "actors": actors,
            "country": country,
            "url": f"https://www.{domain}/{day:%Y/%m/%d}/{record_id}",
            "language": "en",
        }

    def more_cities(self, city: str, country: str) -> list[str]:
        # Further cities come from the same country: the importer gives every city a
        # record creates the record's country.
        cities = [city]
        local = self.m.cities_by_country[country]
        for _ in range(self.rng.choices((0, 1, 2), (70, 22, 8))[0]):
            other = self.m.cities[local[self.local_rank[country].pick(self.rng)]][0]
            if other not in cities:
                cities.append(other)
        return cities

    def sentences(self, country: str, words: int) -> list[str]:
        """Real MM sentences, half from the same country, until the body (`words` of it
        written already) reaches a length drawn from 300-800 words, never more than 800."""
        rng, m = self.rng, self.m
        local = m.sentences_by_country.get(country, [])
        target, chosen, misses = rng.randint(WORDS_MIN, WORDS_MAX), [], 0
        while words < target and misses < 50:
            if len(local) >= 20 and rng.random() < 0.5:
                sentence = m.sentences[rng.choice(local)]
            else:
                sentence = rng.choice(m.sentences)
            n = len(sentence.split())
            if words + n > WORDS_MAX:
                misses += 1
                continue
            chosen.append(sentence)
            words += n
        return chosen

    def body(self, dateline: str, sentences: list[str], lines: list[str]) -> str:
        rng = self.rng
        sentences = list(sentences)
        for line in lines:
            sentences.insert(rng.randint(1, len(sentences)), line[0].upper() + line[1:])
        sentences[0] = f"{dateline} {sentences[0]}"
        paragraphs, i = [], 0
        while i < len(sentences):
            size = rng.randint(2, 5)
            paragraphs.append(" ".join(sentences[i : i + size]))
            i += size
        return "\n\n".join(paragraphs)

    def title(self, country: str, first_sentence: str) -> str:
        rng, m = self.rng, self.m
        if rng.random() < 0.5:
            local = m.titles_by_country.get(country, [])
            return rng.choice(local if len(local) >= 50 else m.titles)
        words = first_sentence.split()[: rng.randint(6, 14)]
        return " ".join(words).rstrip(" .,;:")


def ensure_corpus(material: Material, path: Path, reports: int, seed: int) -> dict:
    """Generate the corpus unless the same one (N, seed, generator) is already there."""
    meta_path = path.with_suffix(".json")
    wanted = {"reports": reports, "seed": seed, "generator": GENERATOR_VERSION}
    if path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if all(meta.get(k) == v for k, v in wanted.items()):
            log(f"corpus: reusing {path}")
            return meta | {"reused": True}
    log(f"corpus: generating {reports:,} reports")
    start = time.perf_counter()
    maker, digest = CorpusMaker(material, seed), hashlib.sha256()
    words = []
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        for number in range(1, reports + 1):
            record = maker.record(number)
            words.append(len(record["body"].split()))
            line = json.dumps(record, ensure_ascii=False) + "\n"
            digest.update(line.encode())
            out.write(line)
    meta = wanted | {
        "path": str(path),
        "bytes": path.stat().st_size,
        "sha256": digest.hexdigest(),
        "seconds": round(time.perf_counter() - start, 1),
        "body_words": {"min": min(words), "mean": round(sum(words) / len(words)), "max": max(words)},
        "sources": len(material.sources),
        "cities": len(material.cities),
        "actors": len(material.actors),
    }
    meta_path.write_text(json.dumps(meta, indent=2))
    log(f"corpus: {meta['bytes'] / 1e6:,.0f} MB in {meta['seconds']} s, sha256 {meta['sha256'][:16]}")
    return meta


def split_corpus(corpus: Path, limit: int) -> tuple[Path, Path]:
    head, rest = corpus.with_name(f"head-{limit}.jsonl"), corpus.with_name(f"rest-{limit}.jsonl")
    with open(corpus, "rb") as src, open(head, "wb") as h, open(rest, "wb") as r:
        for n, line in enumerate(src):
            (h if n < limit else r).write(line)
    return head, rest


# ============================================================================ child processes


@dataclass
class Context:
    project: Path
    workdir: Path
    env: dict
    sqlite: Path | None  # the archive's database file, when it is SQLite

    @property
    def python(self) -> str:
        return str(self.project / ".venv" / "bin" / "python")

    @property
    def index_dir(self) -> Path:
        return self.workdir / "index"

    @property
    def tmp_dir(self) -> Path:
        return self.workdir / "tmp"

    @property
    def log_dir(self) -> Path:
        return self.workdir / "logs"


def make_context(args) -> Context:
    project = Path(args.project).resolve()
    workdir = Path(args.workdir or project / "bench" / "out" / f"scale-{args.reports}").resolve()
    for sub in ("", "tmp", "logs", "index"):
        (workdir / sub).mkdir(parents=True, exist_ok=True)
    key_file = workdir / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
    sqlite = None
    database_url = args.database_url
    if not database_url:
        sqlite = workdir / "archive.sqlite3"
        database_url = f"sqlite:///{sqlite}"  # an absolute path gives sqlite:////...
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "ARCHIVE_SEARCH_ENGINE")}
    env.update(
        ARCHIVE_SEARCH_ENGINE=args.engine,
        DATABASE_URL=database_url,
        ARCHIVE_INDEX_DIR=str(workdir / "index"),
        SECRET_KEY=key_file.read_text().strip(),
        TMPDIR=str(workdir / "tmp"),
        DJANGO_SETTINGS_MODULE="archive.settings",
        PYTHONUNBUFFERED="1",
    )
    return Context(project, workdir, env, sqlite)


def tree_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_size
            except FileNotFoundError:  # Whoosh removes files while we count
                pass
    return total


def database_bytes(ctx: Context) -> int:
    if not ctx.sqlite:
        return 0
    return sum(p.stat().st_size for p in ctx.sqlite.parent.glob(ctx.sqlite.name + "*"))


class Sampler(threading.Thread):
    """Every second: the size of the child's TMPDIR, the index and the database; keeps the
    peaks and prints a heartbeat now and then, so a long step shows that it moves."""

    def __init__(self, ctx: Context, label: str, heartbeat: float = 60.0):
        super().__init__(daemon=True)
        self.ctx, self.label, self.heartbeat = ctx, label, heartbeat
        self.peaks = {"tmp": 0, "index": 0, "db": 0}
        self.done = threading.Event()

    def sample(self) -> dict:
        sizes = {
            "tmp": tree_bytes(self.ctx.tmp_dir),
            "index": tree_bytes(self.ctx.index_dir),
            "db": database_bytes(self.ctx),
        }
        for k, v in sizes.items():
            self.peaks[k] = max(self.peaks[k], v)
        return sizes

    def run(self):
        start = last = time.monotonic()
        self.sample()
        while not self.done.wait(1.0):
            sizes = self.sample()
            if time.monotonic() - last >= self.heartbeat:
                last = time.monotonic()
                shown = ", ".join(f"{k} {v / 1e6:,.0f} MB" for k, v in sizes.items())
                log(f"  {self.label}: {last - start:,.0f} s so far; {shown}")

    def stop(self) -> dict:
        self.done.set()
        self.join()
        self.sample()
        return {f"{k}_peak_mb": round(v / 1e6, 1) for k, v in self.peaks.items()}


def manage(ctx: Context, label: str, *command: str, allow_exit: tuple = (0,)) -> dict:
    """Run `manage.py COMMAND` as a child; wall time, peak RSS, disk peaks, output."""
    log_path = ctx.log_dir / f"{label}.log"
    log(f"{label}: manage.py {' '.join(command)}")
    sampler = Sampler(ctx, label)
    start = time.perf_counter()
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(
            [ctx.python, "manage.py", *command],
            cwd=ctx.project,
            env=ctx.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        CHILDREN.append(proc)
        sampler.start()
        # wait4 gives this child's own resource usage (ru_maxrss: the largest of it and the
        # children it waited for), where getrusage(RUSAGE_CHILDREN) mixes every child.
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    figures = {
        "seconds": round(seconds, 2),
        "exit": proc.returncode,
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        **sampler.stop(),
        "log": str(log_path),
    }
    output = log_path.read_text(errors="replace")
    figures["output_tail"] = output.strip().splitlines()[-3:]
    log(f"{label}: {seconds:,.1f} s, exit {proc.returncode}, peak RSS {figures['peak_rss_mb']:,.0f} MB")
    if proc.returncode not in allow_exit:
        sys.stderr.write(output[-3000:])
        raise SystemExit(f"{label} failed (exit {proc.returncode}); see {log_path}")
    return figures


def import_counts(figures: dict) -> dict:
    """The summary line, "created 2000, updated 0, ...", as a dict."""
    lines = [
        line
        for line in Path(figures["log"]).read_text(errors="replace").splitlines()
        if line.startswith("created ")
    ]
    if not lines:
        return {}
    return {name: int(n) for name, n in re.findall(r"([a-z][a-z ]*?) (\d+)", lines[-1].split(";")[0])}


def git_commit(project: Path) -> str:
    def git(*args):
        return subprocess.run(["git", "-C", str(project), *args], capture_output=True, text=True).stdout

    commit = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    return commit + ("+dirty" if git("status", "--porcelain", "--untracked-files=no").strip() else "")


# ============================================================================ setup


def setup(args, ctx: Context, material: Material) -> dict:
    fig = {"mode": args.import_mode, "database": "sqlite" if ctx.sqlite else "postgresql"}
    for stale in (ctx.index_dir, ctx.tmp_dir):
        shutil.rmtree(stale, ignore_errors=True)
        stale.mkdir()
    if ctx.sqlite:
        for part in ctx.sqlite.parent.glob(ctx.sqlite.name + "*"):
            part.unlink()
    corpus = ctx.workdir / f"corpus-{args.reports}-seed{args.seed}.jsonl"
    fig["corpus"] = ensure_corpus(material, corpus, args.reports, args.seed)
    fig["migrate"] = manage(ctx, "migrate", "migrate", "--noinput")
    if not ctx.sqlite:
        require_empty(ctx)
    first, rest = corpus, None
    if args.import_limit and args.import_limit < args.reports:
        first, rest = split_corpus(corpus, args.import_limit)
    if args.import_mode == "indexed":
        fig["empty_rebuild"] = manage(ctx, "rebuild-empty", "rebuild_index")
    fig["import"] = timed_import(ctx, "import", first, args.import_limit or args.reports, args.reports)
    fig["import"]["mode"] = args.import_mode
    if args.import_only:
        # An index the import wrote as it went is the engine's whole index (a later
        # --skip-setup serves it as it is); one imported without an index has none yet.
        fig["engines"] = [args.engine] if args.import_mode == "indexed" and not rest else []
        return fig
    if rest:
        # The fastest way in for the rest: no index to keep up to date while importing.
        shutil.rmtree(ctx.index_dir)
        ctx.index_dir.mkdir()
        fig["import_rest"] = timed_import(ctx, "import-rest", rest, args.reports - args.import_limit, None)
        fig["import_rest"]["mode"] = "db-only"
    fig["rebuild"] = manage(ctx, "rebuild", "rebuild_index")
    indexed = re.search(r"Indexed (\d+)", " ".join(fig["rebuild"]["output_tail"]))
    fig["rebuild"]["reports"] = int(indexed.group(1)) if indexed else None
    fig["rebuild"]["rate"] = rate(fig["rebuild"]["reports"] or args.reports, fig["rebuild"]["seconds"])
    fig["index_mb"] = index_mb(ctx, args.engine)
    fig["database_mb"] = round(database_bytes(ctx) / 1e6, 1) if ctx.sqlite else None
    fig["engines"] = [args.engine]
    return fig


def index_mb(ctx: Context, engine: str) -> float:
    """The engine's index: Whoosh's directory, or the PostgreSQL engine's tables and indexes."""
    if engine == "whoosh":
        return round(tree_bytes(ctx.index_dir) / 1e6, 1)
    out = subprocess.run(
        [
            ctx.python,
            "manage.py",
            "shell",
            "-c",
            'from django.db import connection; c = connection.cursor(); c.execute("SELECT '
            "sum(pg_total_relation_size(oid)) FROM pg_class WHERE relkind = 'r' AND relname LIKE "
            "'search_postgres_%%'\"); print(c.fetchone()[0])",
        ],
        cwd=ctx.project,
        env=ctx.env,
        capture_output=True,
        text=True,
    )
    lines = out.stdout.strip().splitlines()
    return round(int(lines[-1]) / 1e6, 1) if lines and lines[-1].isdigit() else 0.0


def add_engine(args, ctx: Context, setup_fig: dict) -> None:
    """An archive set up for one engine, readied for another: its index built (timed, as the
    setup's rebuild is), or, when it was built before, mended of the curator's saves that
    went to the other engine since (`check_index --repair`)."""
    engines = setup_fig.setdefault("engines", [setup_fig.get("engine", "whoosh")])
    if args.engine in engines:
        setup_fig[f"repair_{args.engine}"] = manage(
            ctx, f"repair-{args.engine}", "check_index", "--repair", allow_exit=(0, 1)
        )
        return
    step = manage(ctx, f"rebuild-{args.engine}", "rebuild_index")
    indexed = re.search(r"Indexed (\d+)", " ".join(step["output_tail"]))
    step["reports"] = int(indexed.group(1)) if indexed else None
    step["rate"] = rate(step["reports"] or args.reports, step["seconds"])
    step["index_mb"] = index_mb(ctx, args.engine)
    setup_fig[f"rebuild_{args.engine}"] = step
    engines.append(args.engine)


def timed_import(ctx: Context, label: str, path: Path, records: int, extrapolate_to: int | None) -> dict:
    fig = manage(ctx, label, "import_articles", str(path), "--status", "published", allow_exit=(0, 1))
    fig["records"] = records
    fig["counts"] = import_counts(fig)
    fig["rate"] = rate(records, fig["seconds"])
    if extrapolate_to and extrapolate_to != records:
        fig["extrapolated_seconds_for"] = extrapolate_to
        fig["extrapolated_seconds"] = round(extrapolate_to / fig["rate"], 0) if fig["rate"] else None
    return fig


def rate(count: int, seconds: float) -> float | None:
    return round(count / seconds, 1) if seconds else None


def require_empty(ctx: Context) -> None:
    out = subprocess.run(
        [
            ctx.python,
            "manage.py",
            "shell",
            "-c",
            "from articles.models import Article; print(Article.objects.count())",
        ],
        cwd=ctx.project,
        env=ctx.env,
        capture_output=True,
        text=True,
    )
    # The count is the last line: Django's shell may announce its automatic imports first.
    lines = out.stdout.strip().splitlines()
    if not lines or lines[-1] != "0":
        found = f"{lines[-1]} articles" if lines else out.stderr.strip()[-200:]
        raise SystemExit(f"the database at {ctx.env['DATABASE_URL']} is not empty ({found}): give a new one")


# ============================================================================ HTTP


def get(port: int, path: str, timeout: float = 300.0) -> tuple[int, bytes, float]:
    """(status, body, seconds); status 0 when the connection failed."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    start = time.perf_counter()
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body, status = response.read(), response.status
    except (OSError, http.client.HTTPException) as exc:
        body, status = repr(exc).encode(), 0
    finally:
        conn.close()
    return status, body, time.perf_counter() - start


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(ctx: Context, workers: int, timeout: float | None) -> tuple[subprocess.Popen, int, float]:
    port = free_port()
    gunicorn = ctx.project / ".venv" / "bin" / "gunicorn"
    out = open(ctx.log_dir / "gunicorn.log", "ab")
    # As `make run` serves it; gunicorn kills a worker whose request takes longer than its
    # timeout (30 s unless told), and the client sees a dropped connection.
    extra = ["--timeout", str(timeout)] if timeout else []
    proc = subprocess.Popen(
        [
            str(gunicorn),
            "archive.wsgi:application",
            "-c",
            "archive/gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            *extra,
        ],
        cwd=ctx.project,
        env=ctx.env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    CHILDREN.append(proc)
    start = time.perf_counter()
    while time.perf_counter() - start < 300:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited ({proc.returncode}); see {ctx.log_dir / 'gunicorn.log'}")
        if get(port, "/robots.txt", timeout=10)[0] == 200:
            return proc, port, time.perf_counter() - start
        time.sleep(0.2)
    raise SystemExit("gunicorn did not answer within 300 s")


def stop_process(proc: subprocess.Popen, timeout: float = 30) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def worker_rss(master: int) -> dict:
    """VmRSS in MB of the gunicorn master and of each worker (its children), and for each
    worker how that RSS divides: its own memory (RssAnon) and the pages of files it maps
    (RssFile: the Whoosh index's segments, read through memory maps, are pages of the page
    cache that every worker shares), and its proportional share (Pss: a page mapped by k
    processes counts 1/k in each)."""
    workers = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                workers.append(int(entry))
    workers.sort()
    return {
        "master_mb": vm_rss(master),
        "workers_mb": [vm_rss(pid) for pid in workers],
        "workers_split_mb": [memory_split(pid) for pid in workers],
    }


def vm_rss(pid: int) -> float | None:
    return proc_kb(f"/proc/{pid}/status", "VmRSS")


def memory_split(pid: int) -> dict:
    return {
        "anon": proc_kb(f"/proc/{pid}/status", "RssAnon"),
        "file": proc_kb(f"/proc/{pid}/status", "RssFile"),
        "pss": proc_kb(f"/proc/{pid}/smaps_rollup", "Pss"),
    }


def proc_kb(path: str, field: str) -> float | None:
    """A "Field:   N kB" line of a /proc file, in MB."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(f"{field}:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


# ============================================================================ request mix


@dataclass
class Targets:
    """Slugs to ask for, as the archive made them: from its API's results and facets.
    Entities are (slug, name) and repeat as often as they were seen, so popular ones are
    asked for more often."""

    articles: list[str] = field(default_factory=list)
    cities: list[tuple[str, str]] = field(default_factory=list)
    actors: list[tuple[str, str]] = field(default_factory=list)
    sources: list[tuple[str, str]] = field(default_factory=list)


def discover(port: int) -> Targets:
    targets = Targets()
    for year in YEARS:
        status, body, _ = get(port, f"/api/search/?{urlencode({'year': year, 'per_page': 100})}")
        if status != 200:
            log(f"discovery: year {year} answered {status}")
            continue
        data = json.loads(body)
        for result in data["results"]:
            targets.articles.append(result["slug"])
            targets.cities += [(c["slug"], c["name"]) for c in result["cities"]]
            targets.actors += [(a["slug"], a["name"]) for a in result["actors"]]
            if result["source"]:
                targets.sources.append((result["source"]["slug"], result["source"]["name"]))
        for facet, seen in (("city", targets.cities), ("actor", targets.actors), ("source", targets.sources)):
            seen.extend((item["value"], item["label"]) for item in data["facets"].get(facet, []))
    targets.articles = list(dict.fromkeys(targets.articles))
    if not (targets.articles and targets.cities and targets.actors and targets.sources):
        raise SystemExit("discovery found no articles or entities through /api/search/")
    return targets


@dataclass
class Request:
    cls: str
    path: str
    spec: dict | None  # what the FTS5 peer replays; None for pages it has no peer for


class Mix:
    """The seeded request mix: which classes in what proportions, with what parameters."""

    def __init__(self, material: Material, targets: Targets):
        self.m, self.t = material, targets
        counts = Counter(w for s in material.sentences for w in WORD.findall(s.lower()))
        self.protest = [w for w in PROTEST_WORDS if counts[w] >= 20]
        vocab = [w for w in ranked(counts) if counts[w] >= 20 and len(w) >= 4 and w not in STOPWORDS]
        self.vocab = vocab[:5000]
        # Square roots flatten the head: people search topical words, not "that".
        self.vocab_cum = list(itertools.accumulate(math.sqrt(counts[w]) for w in self.vocab))
        self.names, self.weights = zip(*CLASSES, strict=True)

    def next(self, rng: random.Random) -> Request:
        return self.make(rng.choices(self.names, self.weights)[0], rng)

    def make(self, cls: str, rng: random.Random) -> Request:
        if cls in TEXT_CLASSES:
            kind = cls.split("+")[0]
            q = {"text": self.words, "phrase": self.phrase, "long": self.sentence}[kind](rng)
            params, spec = {"q": q}, {"kind": kind, "q": q}
            if cls.endswith("+filters"):
                self.filters(rng, params, spec)
            return Request(cls, "/api/search/?" + urlencode(params), spec)
        if cls in BROWSE_CLASSES:
            params, spec = self.browse(cls.split("-")[1], rng)
            return Request(cls, "/search/?" + urlencode(params), spec)
        if cls == "article":
            return Request(cls, f"/articles/{rng.choice(self.t.articles)}/", None)
        if cls == "city-page":
            return Request(cls, f"/cities/{rng.choice(self.t.cities)[0]}/", None)
        if cls == "actor-page":
            return Request(cls, f"/actors/{rng.choice(self.t.actors)[0]}/", None)
        return Request(cls, "/", None)

    def words(self, rng) -> str:
        k, words = rng.choices((1, 2, 3), (45, 35, 20))[0], []
        while len(words) < k:
            roll = rng.random()
            if roll < 0.5:
                word = rng.choice(self.protest)
            elif roll < 0.6:
                word = rng.choice(self.t.cities)[1].lower()  # "athens riot"
            else:
                word = rng.choices(self.vocab, cum_weights=self.vocab_cum)[0]
            if word not in words:
                words.append(word)
        return " ".join(words)

    def phrase(self, rng) -> str:
        while True:
            tokens = rng.choice(self.m.sentences).lower().split()
            n = rng.choice((2, 3))
            if len(tokens) < n:
                continue
            i = rng.randrange(len(tokens) - n + 1)
            span = tokens[i : i + n]
            if all(t.isalpha() for t in span) and span[0] not in STOPWORDS and span[-1] not in STOPWORDS:
                return '"' + " ".join(span) + '"'

    def sentence(self, rng) -> str:
        i = rng.randrange(len(self.m.sentences))
        words = self.m.sentences[i].split()
        while len(words) < 20:
            i = (i + 1) % len(self.m.sentences)
            words += self.m.sentences[i].split()
        return " ".join(words[:20])

    def filters(self, rng, params: dict, spec: dict) -> None:
        kind = rng.choice(("city", "dates", "both"))
        if kind in ("city", "both"):
            slug, name = rng.choice(self.t.cities)
            params["city"], spec["city"] = slug, name
        if kind in ("dates", "both"):
            self.dates(rng, params, spec)

    def dates(self, rng, params: dict, spec: dict) -> None:
        span = rng.choice((7, 30, 90, 365, 730))
        start = FIRST_DAY + dt.timedelta(days=rng.randrange((LAST_DAY - FIRST_DAY).days - span))
        params["date_from"] = spec["date_from"] = start.isoformat()
        params["date_to"] = spec["date_to"] = (start + dt.timedelta(days=span)).isoformat()

    def browse(self, kind: str, rng) -> tuple[dict, dict]:
        if kind in ("city", "actor", "source"):
            slug, name = rng.choice(getattr(self.t, kind + "s" if kind != "city" else "cities"))
            return {kind: slug}, {kind: name}
        if kind == "year":
            year = rng.choice(YEARS)
            return {"year": year}, {"year": year}
        params, spec = {}, {}
        self.dates(rng, params, spec)
        return params, spec


# ============================================================================ load


@dataclass
class Sample:
    cls: str
    path: str
    status: int
    seconds: float
    spec: dict | None
    client: int
    seq: int


def run_load(
    port: int, mix: Mix, *, clients: int, duration: float | None, requests: int | None, seed: int
) -> tuple[list[Sample], float]:
    per_client = [[] for _ in range(clients)]
    stop_at = time.perf_counter() + duration if duration else None

    def client(i: int):
        rng = random.Random(f"{seed}-client-{i}")
        quota = requests // clients + (i < requests % clients) if requests else None
        seq = 0
        while (quota is None or seq < quota) and (stop_at is None or time.perf_counter() < stop_at):
            req = mix.next(rng)
            status, _, seconds = get(port, req.path)
            per_client[i].append(Sample(req.cls, req.path, status, seconds, req.spec, i, seq))
            seq += 1

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [s for samples in per_client for s in samples], time.perf_counter() - start


def percentiles(values: list[float]) -> dict:
    """Nearest-rank p50/p95/p99 and max, in milliseconds."""
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(values)

    def at(p):
        return round(ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] * 1000, 1)

    return {"p50": at(50), "p95": at(95), "p99": at(99), "max": round(ordered[-1] * 1000, 1)}


def summarize(samples: list[Sample], wall: float) -> dict:
    classes = {}
    for cls, _ in CLASSES + [("all", 0)]:
        mine = [s for s in samples if cls in (s.cls, "all")]
        failed = [s for s in mine if not 200 <= s.status < 300]
        classes[cls] = {
            "count": len(mine),
            "errors": len(failed),
            "statuses": dict(Counter(str(s.status) for s in failed)),
            **percentiles([s.seconds for s in mine]),
        }
    return {"wall_seconds": round(wall, 1), "throughput": rate(len(samples), wall), "classes": classes}


# ============================================================================ curator


class Curator:
    """A curator saving in another process while the load runs, and a poller that searches
    for each save's token until the archive finds it."""

    def __init__(self, ctx: Context, port: int, interval: float, seed: int):
        self.port, self.pending, self.done = port, {}, []
        self.lock, self.stopping = threading.Lock(), threading.Event()
        self.errors = Counter()
        script = Path(__file__).resolve()
        self.proc = subprocess.Popen(
            [
                ctx.python,
                str(script),
                "_curator",
                "--project",
                str(ctx.project),
                "--interval",
                str(interval),
                "--seed",
                str(seed),
            ],
            cwd=ctx.project,
            env=ctx.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(ctx.log_dir / "curator.log", "ab"),
            text=True,
        )
        CHILDREN.append(self.proc)
        ready = self.proc.stdout.readline()
        if not ready.startswith("{"):
            raise SystemExit(f"the curator helper did not start; see {ctx.log_dir / 'curator.log'}")
        self.reader = threading.Thread(target=self.read, daemon=True)
        self.poller = threading.Thread(target=self.poll, daemon=True)

    def go(self):
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        self.reader.start()
        self.poller.start()

    def read(self):
        for line in self.proc.stdout:
            save = json.loads(line)
            with self.lock:
                self.pending[save["token"]] = save

    def poll(self):
        while not (self.stopping.is_set() and not self.pending):
            with self.lock:
                tokens = sorted(self.pending, key=lambda t: self.pending[t]["start"])[:50]
            if not tokens:
                time.sleep(0.1)
                continue
            query = urlencode({"q": " OR ".join(tokens), "per_page": 100})
            status, body, _ = get(self.port, f"/api/search/?{query}")
            received = time.time()
            if status != 200:
                self.errors[str(status)] += 1
                time.sleep(0.5)
                continue
            titles = " ".join(r["title"] for r in json.loads(body)["results"]).split()
            with self.lock:
                for token in tokens:
                    if token in titles and token in self.pending:
                        save = self.pending.pop(token)
                        save["searchable"] = received - save["start"]
                        self.done.append(save)
            time.sleep(0.25)

    def stop(self, grace: float) -> dict:
        """Stop saving, give the last saves `grace` seconds to become searchable, report."""
        self.proc.stdin.close()
        try:
            self.proc.wait(120)
        except subprocess.TimeoutExpired:
            stop_process(self.proc)
        self.reader.join(10)
        self.stopping.set()
        self.poller.join(grace)
        with self.lock:
            lost = len(self.pending)
            self.pending.clear()  # the poller ends at its next round
        found = [s["searchable"] for s in self.done]
        saves = [s["saved"] - s["start"] for s in self.done]
        summary = percentiles(found)
        return {
            "saves": len(found) + lost,
            "not_found": lost,
            "not_found_within_s": grace,
            "searchable_ms": summary,
            "save_ms": percentiles(saves),
            "poll_errors": dict(self.errors),
        }


def curator_main(argv: list[str]) -> None:
    """The helper process: Django set up once, one retitled article per interval."""
    parser = argparse.ArgumentParser(prog="scale.py _curator")
    parser.add_argument("--project", required=True)
    parser.add_argument("--interval", type=float, required=True)
    parser.add_argument("--seed", type=int, required=True)
    args = parser.parse_args(argv)
    sys.path.insert(0, args.project)
    import django

    django.setup()
    from django.db import transaction

    from articles.models import Article

    rng = random.Random(f"{args.seed}-curator")
    pks = list(Article.objects.filter(status="published").order_by("pk").values_list("pk", flat=True))
    rng.shuffle(pks)
    print(json.dumps({"ready": len(pks)}), flush=True)
    if sys.stdin.readline().strip() != "go":
        return
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    used = set()
    for pk in pks:
        if stop.is_set():
            break
        token = TOKEN_PREFIX + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(8))
        if token in used:
            continue
        used.add(token)
        article = Article.objects.get(pk=pk)
        # Tokens of earlier runs are dropped, so titles never grow run after run.
        base = " ".join(w for w in article.title.split() if not w.startswith(TOKEN_PREFIX))
        article.title = f"{base[:480]} {token}"
        start = time.time()
        with transaction.atomic():  # as the admin saves: one transaction, index after commit
            article.save()
        saved = time.time()
        print(json.dumps({"token": token, "pk": pk, "start": start, "saved": saved}), flush=True)
        stop.wait(max(0.0, args.interval - (saved - start)))


# ============================================================================ FTS5 peer

PEER_SCHEMA = """
CREATE TABLE source(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE city(id INTEGER PRIMARY KEY, name TEXT NOT NULL, country TEXT);
CREATE TABLE actor(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE article(id INTEGER PRIMARY KEY, record_id TEXT, title TEXT, published TEXT,
                     year INTEGER, source_id INTEGER REFERENCES source);
CREATE TABLE article_city(city_id INTEGER, article_id INTEGER, PRIMARY KEY(city_id, article_id))
    WITHOUT ROWID;
CREATE TABLE article_actor(actor_id INTEGER, article_id INTEGER, PRIMARY KEY(actor_id, article_id))
    WITHOUT ROWID;
CREATE VIRTUAL TABLE fts USING fts5(title, body, tokenize='porter unicode61 remove_diacritics 2');
"""
PEER_INDEXES = """
CREATE INDEX article_published ON article(published);
CREATE INDEX article_year ON article(year);
CREATE INDEX article_source ON article(source_id);
CREATE INDEX article_city_article ON article_city(article_id, city_id);
CREATE INDEX article_actor_article ON article_actor(article_id, actor_id);
"""
PEER_FACETS = {
    "source": "SELECT s.name, count(*) n FROM hits h JOIN article a ON a.id = h.id "
    "JOIN source s ON s.id = a.source_id GROUP BY a.source_id ORDER BY n DESC LIMIT 50",
    "city": "SELECT c.name, count(*) n FROM hits h JOIN article_city ac ON ac.article_id = h.id "
    "JOIN city c ON c.id = ac.city_id GROUP BY ac.city_id ORDER BY n DESC LIMIT 50",
    "actor": "SELECT x.name, count(*) n FROM hits h JOIN article_actor aa ON aa.article_id = h.id "
    "JOIN actor x ON x.id = aa.actor_id GROUP BY aa.actor_id ORDER BY n DESC LIMIT 50",
    "year": "SELECT a.year, count(*) FROM hits h JOIN article a ON a.id = h.id GROUP BY a.year",
}


def build_peer(corpus: Path, path: Path) -> dict:
    for part in path.parent.glob(path.name + "*"):
        part.unlink()
    log("peer: building the FTS5 database")
    start = time.perf_counter()
    con = sqlite3.connect(path)
    con.executescript(PEER_SCHEMA)
    ids = {"source": {}, "city": {}, "actor": {}}

    def entity(kind: str, name: str, country: str = "") -> int:
        known = ids[kind]
        key = name_key(name)
        if key not in known:
            known[key] = len(known) + 1
            if kind == "city":
                con.execute("INSERT INTO city VALUES (?, ?, ?)", (known[key], name, country))
            else:
                con.execute(f"INSERT INTO {kind} VALUES (?, ?)", (known[key], name))
        return known[key]

    reports, rows = 0, {"article": [], "article_city": [], "article_actor": [], "fts": []}
    inserts = {
        "article": "INSERT INTO article VALUES (?, ?, ?, ?, ?, ?)",
        "article_city": "INSERT OR IGNORE INTO article_city VALUES (?, ?)",
        "article_actor": "INSERT OR IGNORE INTO article_actor VALUES (?, ?)",
        "fts": "INSERT INTO fts(rowid, title, body) VALUES (?, ?, ?)",
    }

    def flush():
        for table, batch in rows.items():
            con.executemany(inserts[table], batch)
            batch.clear()

    with con, open(corpus, encoding="utf-8") as lines:
        for reports, line in enumerate(lines, start=1):
            r = json.loads(line)
            rows["article"].append(
                (
                    reports,
                    r["id"],
                    r["title"],
                    r["published"],
                    int(r["published"][:4]),
                    entity("source", r["source"]),
                )
            )
            rows["article_city"] += [(entity("city", c, r["country"]), reports) for c in r["cities"]]
            rows["article_actor"] += [(entity("actor", a), reports) for a in r["actors"]]
            rows["fts"].append((reports, r["title"], r["body"]))
            if reports % 1000 == 0:
                flush()
        flush()
        con.executescript(PEER_INDEXES)
        con.execute("INSERT INTO fts(fts) VALUES ('optimize')")
    con.execute("ANALYZE")
    con.close()
    seconds = time.perf_counter() - start
    figures = {
        "reports": reports,
        "seconds": round(seconds, 1),
        "rate": rate(reports, seconds),
        "size_mb": round(path.stat().st_size / 1e6, 1),
    }
    log(f"peer: {reports:,} reports in {seconds:,.1f} s")
    return figures


class Peer:
    def __init__(self, path: Path):
        self.con = sqlite3.connect(path)
        self.con.execute("CREATE TEMP TABLE hits(id INTEGER PRIMARY KEY)")
        self.ids = {
            kind: {name_key(n): i for i, n in self.con.execute(f"SELECT id, name FROM {kind}")}
            for kind in ("source", "city", "actor")
        }

    def search(self, spec: dict, *, facets: bool = True) -> int:
        """What a search page needs: count, facets (unless told not to) and the top 20."""
        match = fts_match(spec) if "q" in spec else None
        where, params = self.filters(spec)
        if match:
            base = f"FROM fts f JOIN article a ON a.id = f.rowid WHERE fts MATCH ?{where}"
            params = [match, *params]
            top = (
                f"SELECT f.rowid, a.title, snippet(fts, 1, '<mark>', '</mark>', '...', 30) {base} "
                "ORDER BY bm25(fts, 2.0, 1.0) LIMIT 20"
            )
            ids = "f.rowid"
        else:
            base = f"FROM article a WHERE 1{where}"
            top = f"SELECT a.id, a.title {base} ORDER BY a.published DESC, a.id DESC LIMIT 20"
            ids = "a.id"
        if not facets:
            count = self.con.execute(f"SELECT count(*) {base}", params).fetchone()[0]
            self.con.execute(top, params).fetchall()
            return count
        self.con.execute("DELETE FROM hits")
        self.con.execute(f"INSERT INTO hits SELECT {ids} {base}", params)
        count = self.con.execute("SELECT count(*) FROM hits").fetchone()[0]
        for sql in PEER_FACETS.values():
            self.con.execute(sql).fetchall()
        self.con.execute(top, params).fetchall()
        return count

    def filters(self, spec: dict) -> tuple[str, list]:
        where, params = "", []
        for kind in ("city", "actor"):
            if kind in spec:
                where += f" AND a.id IN (SELECT article_id FROM article_{kind} WHERE {kind}_id = ?)"
                params.append(self.ids[kind].get(name_key(spec[kind]), -1))
        if "source" in spec:
            where += " AND a.source_id = ?"
            params.append(self.ids["source"].get(name_key(spec["source"]), -1))
        if "year" in spec:
            where += " AND a.year = ?"
            params.append(int(spec["year"]))
        if "date_from" in spec:
            where += " AND a.published BETWEEN ? AND ?"
            params += [spec["date_from"], spec["date_to"]]
        return where, params


def fts_match(spec: dict) -> str:
    """The archive's query in FTS5 syntax: words ANDed, a phrase as a phrase, a long query's
    words ORed (FTS5 has no minimum-should-match: it matches more than the archive)."""
    tokens = [t for t in WORD.findall(spec["q"].lower())]
    if spec["kind"] == "phrase":
        return '"' + " ".join(tokens) + '"'
    if spec["kind"] == "long":
        return " OR ".join(f'"{t}"' for t in dict.fromkeys(tokens) if t not in STOPWORDS)
    return " ".join(f'"{t}"' for t in tokens)


def run_peer(ctx: Context, corpus: Path, samples: list[Sample], mix: Mix, args) -> dict:
    path = ctx.workdir / "peer.sqlite3"
    figures = {"build": build_peer(corpus, path)}
    peer = Peer(path)
    specs = {}
    for cls in TEXT_CLASSES + BROWSE_CLASSES:
        # The load's own requests first, then more of the same seeded mix.
        mine = [s.spec for s in sorted(samples, key=lambda s: (s.client, s.seq)) if s.cls == cls]
        rng = random.Random(f"{args.seed}-peer-{cls}")
        while len(mine) < args.peer_queries:
            mine.append(mix.make(cls, rng).spec)
        specs[cls] = mine
    log(f"peer: replaying {sum(map(len, specs.values())):,} searches")
    classes = {cls: time_peer(peer, cls_specs) for cls, cls_specs in specs.items()}
    classes["text only"] = time_peer(peer, specs["text"], facets=False)
    figures["classes"] = classes
    return figures


def time_peer(peer: Peer, specs: list[dict], *, facets: bool = True) -> dict:
    times, errors = [], 0
    for spec in specs:
        start = time.perf_counter()
        try:
            peer.search(spec, facets=facets)
        except sqlite3.OperationalError:
            errors += 1
        times.append(time.perf_counter() - start)
    return {"count": len(times), "errors": errors, **percentiles(times)}


# ============================================================================ report


def ms(value) -> str:
    if value is None:
        return "-"
    return f"{value:,.1f}" if value < 10 else f"{value:,.0f}"


def mb(value) -> str:
    return "-" if value is None else f"{value:,.0f} MB"


def ratio(a, b) -> str:
    if a is None or not b:
        return "-"
    return f"{a / b:,.0f}x" if a / b >= 100 else f"{a / b:,.1f}x"


def report(fig: dict) -> str:
    lines = []
    setup_fig = fig.get("setup", {})
    head = (
        f"Scale benchmark, commit {fig['commit']}: {fig['reports']:,} reports (seed {fig['seed']}), "
        f"{fig.get('engine', 'whoosh')} engine, {setup_fig.get('database', '?')} database, "
        f"import mode {setup_fig.get('mode', '?')}, "
        f"{fig['clients']} clients, {fig['workers']} workers"
    )
    lines += [head, "=" * len(head)]
    load = fig.get("load")
    peer = fig.get("peer", {}).get("classes", {})
    if load:
        rule = "-" * 109
        lines.append(
            f"{'class':<16}{'count':>7}{'errors':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
            f"{'peer p50':>10}{'peer p95':>10}{'arch/peer p50':>15}{'p95':>8}"
        )
        for cls, c in load["classes"].items():
            p = peer.get(cls, {})
            lines.append(
                f"{cls:<16}{c['count']:>7}{c['errors']:>7}{ms(c['p50']):>9}{ms(c['p95']):>9}"
                f"{ms(c['p99']):>9}{ms(p.get('p50')):>10}{ms(p.get('p95')):>10}"
                f"{ratio(c['p50'], p.get('p50')):>15}{ratio(c['p95'], p.get('p95')):>8}"
            )
        if "text only" in peer:
            p = peer["text only"]
            lines.append(
                f"{'peer text only':<16}{p['count']:>7}{p['errors']:>7}{'':>27}"
                f"{ms(p['p50']):>10}{ms(p['p95']):>10}"
            )
        lines.append(rule)
    rows = scalar_rows(fig)
    width = max((len(k) for k, _ in rows), default=0)
    lines += [f"{k:<{width}}  {v}" for k, v in rows]
    return "\n".join(lines)


def side_by_side(a: dict, b: dict) -> str:
    """Two runs (two engines, or two commits) in one table: each class's p50/p95 in both, the
    FTS5 peer's p95 measured in each run and each run's ratio to its own peer."""
    name = [f"{f.get('engine', 'whoosh')} {f['commit']}" for f in (a, b)]
    head = f"Side by side: {name[0]} | {name[1]}, {a['reports']:,} reports, {a['clients']} clients"
    lines = [head, "=" * len(head)]
    lines.append(
        f"{'class':<16}{'p50 A':>8}{'p95 A':>8}{'p50 B':>8}{'p95 B':>8}{'peer p95 A':>12}"
        f"{'peer p95 B':>12}{'A/peer':>8}{'B/peer':>8}"
    )
    ca, cb = a.get("load", {}).get("classes", {}), b.get("load", {}).get("classes", {})
    pa, pb = a.get("peer", {}).get("classes", {}), b.get("peer", {}).get("classes", {})
    for cls in dict.fromkeys([*ca, *cb]):
        x, y = ca.get(cls, {}), cb.get(cls, {})
        px, py = pa.get(cls, {}).get("p95"), pb.get(cls, {}).get("p95")
        lines.append(
            f"{cls:<16}{ms(x.get('p50')):>8}{ms(x.get('p95')):>8}{ms(y.get('p50')):>8}{ms(y.get('p95')):>8}"
            f"{ms(px):>12}{ms(py):>12}{ratio(x.get('p95'), px):>8}{ratio(y.get('p95'), py):>8}"
        )
    lines.append("-" * 88)

    def scalars(f: dict) -> dict:
        engine, setup_fig = f.get("engine", "whoosh"), f.get("setup", {})
        build = setup_fig.get(f"rebuild_{engine}") or setup_fig.get("rebuild") or {}
        size = build.get("index_mb") if f"rebuild_{engine}" in setup_fig else setup_fig.get("index_mb")
        cur, serve, rss = f.get("curator"), f.get("serve"), f.get("worker_rss")
        errors = sum(
            c.get("errors", 0) for k, c in f.get("load", {}).get("classes", {}).items() if k != "all"
        )
        return {
            "throughput": f"{f['load']['throughput']:,.2f}/s, {errors} errors" if f.get("load") else "-",
            "first search": sec(serve["first_search_ms"]) if serve else "-",
            "save to searchable": (
                f"{sec(cur['searchable_ms']['p50'])} / {sec(cur['searchable_ms']['p95'])} / "
                f"{sec(cur['searchable_ms']['max'])}"
                if cur
                else "-"
            ),
            "worker RSS": ", ".join(mb(w) for w in rss["workers_mb"]) if rss else "-",
            "index build": f"{build['seconds']:,.0f} s, {build.get('rate') or 0:,.0f}/s" if build else "-",
            "index size": mb(size),
        }

    sa, sb = scalars(a), scalars(b)
    width = max(len(k) for k in sa)
    lines += [f"{k:<{width}}  A {sa[k]}  |  B {sb[k]}" for k in sa]
    return "\n".join(lines)


def scalar_rows(fig: dict) -> list[tuple[str, str]]:
    rows = []
    load, setup_fig = fig.get("load"), fig.get("setup", {})
    if load:
        statuses = {k: v["statuses"] for k, v in load["classes"].items() if v["statuses"] and k != "all"}
        rows.append(
            (
                "throughput",
                f"{load['throughput']:,.2f} requests/s over {load['wall_seconds']:,.0f} s"
                + (f"; errors by class and status: {statuses}" if statuses else ""),
            )
        )
    corpus = setup_fig.get("corpus")
    if corpus:
        w = corpus["body_words"]
        rows.append(
            (
                "corpus",
                f"{corpus['reports']:,} reports, {corpus['bytes'] / 1e6:,.0f} MB, body words "
                f"{w['min']}-{w['max']} (mean {w['mean']}), sha256 {corpus['sha256'][:16]}",
            )
        )
    for key, label in (
        ("empty_rebuild", "empty index"),
        ("import", "import"),
        ("import_rest", "import rest"),
        ("rebuild", "rebuild_index"),
    ):
        step = setup_fig.get(key)
        if not step:
            continue
        rows.append((f"{label} time", step_line(step)))
        disk = f"temp files peak {mb(step['tmp_peak_mb'])}; index dir peak {mb(step['index_peak_mb'])}"
        rows.append((f"{label} peak RSS", f"{mb(step['peak_rss_mb'])}; {disk}"))
        if step.get("extrapolated_seconds"):
            rows.append(
                (
                    f"{label} for {step['extrapolated_seconds_for']:,}",
                    f"EXTRAPOLATED {step['extrapolated_seconds']:,.0f} s "
                    f"({step['extrapolated_seconds'] / 60:,.0f} min) at {step['rate']:,.1f} reports/s",
                )
            )
    if "index_mb" in setup_fig:
        database = setup_fig.get("database_mb")
        rows.append(
            (
                "index size",
                f"{mb(setup_fig['index_mb'])} on disk after the rebuild"
                + (f" (SQLite database {mb(database)})" if database else ""),
            )
        )
    if setup_fig.get("reused"):
        rows.append(("setup", f"reused from an earlier run ({setup_fig.get('commit', '?')})"))
    serve = fig.get("serve")
    if serve:
        rows.append(("server ready", f"{serve['ready_seconds']:,.1f} s after start"))
        status = serve["first_search_status"]
        dropped = ": connection dropped" if status == 0 else ""
        rows.append(
            (
                "first search",
                f"{serve['first_search_ms'] / 1000:,.2f} s ({FIRST_SEARCH}, status {status}{dropped})",
            )
        )
        timeout = fig["args"].get("timeout")
        rows.append(("gunicorn timeout", f"{timeout:,.0f} s" if timeout else "30 s (default, as make run)"))
    cur = fig.get("curator")
    if serve and not cur:
        rows.append(("save to searchable", "not measured (--save-interval 0: no curator during the load)"))
    if cur:
        s, v = cur["searchable_ms"], cur["save_ms"]
        every = fig["args"]["save_interval"]
        rows.append(
            (
                "save to searchable",
                f"p50 {sec(s['p50'])} / p95 {sec(s['p95'])} / max {sec(s['max'])} "
                f"over {cur['saves']} saves (one every {every:g} s), "
                f"{cur['not_found']} not found within "
                f"{cur['not_found_within_s']:,.0f} s after the load",
            )
        )
        rows.append(("save itself", f"p50 {sec(v['p50'])} / p95 {sec(v['p95'])} / max {sec(v['max'])}"))
    workers = fig.get("worker_rss")
    if workers:
        rows.append(
            (
                "worker RSS",
                ", ".join(mb(w) for w in workers["workers_mb"]) + f" (master {mb(workers['master_mb'])})",
            )
        )
        split = workers.get("workers_split_mb")
        if split:
            rows.append(
                (
                    "  of which",
                    "own (RssAnon) "
                    + ", ".join(mb(w["anon"]) for w in split)
                    + "; mapped files, shared (RssFile) "
                    + ", ".join(mb(w["file"]) for w in split)
                    + "; PSS "
                    + ", ".join(mb(w["pss"]) for w in split),
                )
            )
    peer = fig.get("peer", {}).get("build")
    if peer:
        rows.append(
            (
                "FTS5 peer build",
                f"{peer['rate']:,.0f} reports/s ({peer['reports']:,} in "
                f"{peer['seconds']:,.1f} s), {mb(peer['size_mb'])}",
            )
        )
    return rows


def step_line(step: dict) -> str:
    line = f"{step['seconds']:,.1f} s"
    if step.get("rate"):
        line += f", {step['rate']:,.1f} reports/s over {step.get('records') or step.get('reports'):,}"
    if step.get("mode"):
        line += f" ({step['mode']})"
    counts = step.get("counts")
    if counts and (counts.get("failed") or counts.get("duplicates")):
        line += f"; {counts}"
    return line


def sec(value_ms) -> str:
    return "-" if value_ms is None else f"{value_ms / 1000:,.2f} s"


def write_figures(ctx: Context, fig: dict) -> None:
    text = json.dumps(fig, indent=2, default=str)
    (ctx.workdir / "figures.json").write_text(text)
    (ctx.workdir / f"figures-{fig['engine']}.json").write_text(text)


def cleanup(ctx: Context) -> None:
    """Drop the bulky data; the figures, latencies and logs stay."""
    for name in ("index", "tmp"):
        shutil.rmtree(ctx.workdir / name, ignore_errors=True)
    for pattern in ("*.jsonl", "*.sqlite3*", "corpus-*.json"):
        for path in ctx.workdir.glob(pattern):
            if path.name != "latencies.jsonl":
                path.unlink()


# ============================================================================ main


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=100_000, help="corpus size N (default 100000)")
    parser.add_argument("--seed", type=int, default=1)
    amount = parser.add_mutually_exclusive_group()
    amount.add_argument("--duration", type=float, default=None, help="load seconds (default 60)")
    amount.add_argument("--requests", type=int, default=None, help="load requests, over all clients")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument(
        "--timeout",
        type=int,
        default=None,
        help="gunicorn worker timeout in seconds (default: gunicorn's 30 s, as make run)",
    )
    parser.add_argument(
        "--import-mode",
        choices=("db-only", "indexed"),
        default="db-only",
        help="indexed: build an empty index first so the import writes it as it goes",
    )
    parser.add_argument(
        "--import-limit",
        type=int,
        default=None,
        metavar="M",
        help="time the import on the first M records, import the rest without an index",
    )
    parser.add_argument("--import-only", action="store_true", help="stop after the timed import")
    parser.add_argument("--skip-setup", action="store_true", help="reuse the work directory's archive")
    parser.add_argument("--workdir", default=None, help="default: <project>/bench/out/scale-N")
    parser.add_argument("--database-url", default=None, help="postgres://... (an empty database)")
    parser.add_argument(
        "--engine",
        choices=("whoosh", "postgres", "both"),
        default="whoosh",
        help="the search engine (postgres needs --database-url); both: Whoosh, then PostgreSQL "
        "on the same archive, and the two tables side by side",
    )
    parser.add_argument(
        "--compare",
        nargs=2,
        metavar="FIGURES",
        help="print two runs' figures.json side by side and stop",
    )
    parser.add_argument("--keep", action="store_true", help="keep the corpus, database and index")
    parser.add_argument("--project", default=str(DEFAULT_PROJECT))
    parser.add_argument("--mm", default=str(DEFAULT_MM), help="the Mass Mobilization JSONL")
    parser.add_argument(
        "--save-interval", type=float, default=1.0, help="seconds between curator saves (0: no curator)"
    )
    parser.add_argument(
        "--searchable-timeout",
        type=float,
        default=60.0,
        help="seconds after the load to wait for the last saves to be found",
    )
    parser.add_argument("--peer-queries", type=int, default=200, help="peer searches per class (at least)")
    args = parser.parse_args(argv)
    if args.duration is None and args.requests is None:
        args.duration = 60.0
    if args.engine in ("postgres", "both") and not (args.database_url or "").startswith("postgres"):
        parser.error("--engine postgres needs --database-url postgres://...")
    return args


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_curator"]:
        return curator_main(argv[1:])
    args = parse_args(argv)
    if args.compare:
        figs = [json.loads(Path(path).read_text()) for path in args.compare]
        print(side_by_side(*figs))
        return None
    if args.engine == "both":
        written = {}
        # PostgreSQL first: the import builds the missing index of the engine it runs with,
        # and the PostgreSQL engine's build is the shorter.
        for engine, reuse in (("postgres", args.skip_setup), ("whoosh", True)):
            one = argparse.Namespace(**{**vars(args), "engine": engine, "skip_setup": reuse, "keep": True})
            main_one(one)
            written[engine] = make_context(one).workdir / f"figures-{engine}.json"
        if not args.keep:
            cleanup(make_context(args))
        print()
        print(side_by_side(*(json.loads(written[e].read_text()) for e in ("whoosh", "postgres"))))
        return None
    return main_one(args)


def main_one(args) -> None:
    ctx = make_context(args)
    if not Path(ctx.python).exists():
        raise SystemExit(f"{ctx.python} is missing: run `make install` in {ctx.project}")
    fig = {
        "commit": git_commit(ctx.project),
        "started": dt.datetime.now().isoformat(timespec="seconds"),
        "reports": args.reports,
        "seed": args.seed,
        "clients": args.clients,
        "workers": args.workers,
        "engine": args.engine,
        "args": vars(args),
        "workdir": str(ctx.workdir),
    }
    log(f"scale benchmark, commit {fig['commit']}, work directory {ctx.workdir}")
    material = load_material(Path(args.mm), args.seed)
    # A TERM (kill PID) unwinds like Ctrl-C, so the children are stopped and figures written.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        run(args, ctx, material, fig)
    finally:
        for proc in CHILDREN:
            stop_process(proc)
        write_figures(ctx, fig)
        if not args.keep:
            cleanup(ctx)
        # Printed even when a step failed: what was measured up to there.
        print()
        print(report(fig))
        print(f"\nfigures: {ctx.workdir / 'figures.json'}", flush=True)


def run(args, ctx: Context, material: Material, fig: dict) -> None:
    state = ctx.workdir / "setup.json"
    if args.skip_setup:
        if not state.exists():
            raise SystemExit(f"--skip-setup: {state} is missing; run once without it")
        fig["setup"] = json.loads(state.read_text())
        add_engine(args, ctx, fig["setup"])
        state.write_text(json.dumps(fig["setup"], indent=2))
        fig["setup"]["reused"] = True
    else:
        fig["setup"] = setup(args, ctx, material) | {"commit": fig["commit"]}
        state.write_text(json.dumps(fig["setup"], indent=2))
    write_figures(ctx, fig)
    if args.import_only:
        return
    corpus = Path(fig["setup"]["corpus"]["path"])

    server, port, ready = start_server(ctx, args.workers, args.timeout)
    status, _, first = get(port, FIRST_SEARCH)
    fig["serve"] = {
        "ready_seconds": round(ready, 2),
        "first_search_ms": round(first * 1000, 1),
        "first_search_status": status,
    }
    log(f"serving on port {port}; first search {first:,.2f} s (status {status})")
    targets = discover(port)
    log(
        f"discovered {len(targets.articles)} articles, {len(set(targets.cities))} cities, "
        f"{len(set(targets.actors))} actors, {len(set(targets.sources))} sources"
    )
    mix = Mix(material, targets)

    curator = Curator(ctx, port, args.save_interval, args.seed) if args.save_interval > 0 else None
    log(
        f"load: {args.clients} clients, "
        + (f"{args.duration:,.0f} s" if args.duration else f"{args.requests:,} requests")
        + (f", a curator's save every {args.save_interval:g} s" if curator else ", no curator")
    )
    if curator:
        curator.go()
    samples, wall = run_load(
        port, mix, clients=args.clients, duration=args.duration, requests=args.requests, seed=args.seed
    )
    fig["load"] = summarize(samples, wall)
    log(f"load: {len(samples):,} requests in {wall:,.1f} s")
    if curator:
        log("waiting for the last saves to be found")
        fig["curator"] = curator.stop(args.searchable_timeout)
    fig["worker_rss"] = worker_rss(server.pid)
    stop_process(server)
    with open(ctx.workdir / "latencies.jsonl", "w") as out:
        for s in samples:
            out.write(
                json.dumps(
                    {
                        "class": s.cls,
                        "path": s.path,
                        "status": s.status,
                        "ms": round(s.seconds * 1000, 1),
                        "client": s.client,
                        "seq": s.seq,
                    }
                )
                + "\n"
            )
    write_figures(ctx, fig)
    fig["peer"] = run_peer(ctx, corpus, samples, mix, args)


if __name__ == "__main__":
    main()
