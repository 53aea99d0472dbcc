"""A generated corpus for the browser tests: a few hundred records in the import format.

Deterministic (a fixed random seed), spread over 2015-2020, many cities (so city facets are
long enough for "show more" and the filter box), several sources and actors. Imported through
`articles.ingest.Importer`, so entities, aliases and the index are built the real way.
"""

import datetime as dt
import json
import random
from pathlib import Path

SOURCES = ["Reuters", "Associated Press", "Kazinform", "Vlast.kz", "Eurasianet", "Radio Azattyq"]

# (city, country): Kazakh cities first, so most records land there.
CITIES = [
    ("Almaty", "Kazakhstan"),
    ("Astana", "Kazakhstan"),
    ("Shymkent", "Kazakhstan"),
    ("Karaganda", "Kazakhstan"),
    ("Aktobe", "Kazakhstan"),
    ("Taraz", "Kazakhstan"),
    ("Pavlodar", "Kazakhstan"),
    ("Ust-Kamenogorsk", "Kazakhstan"),
    ("Semey", "Kazakhstan"),
    ("Atyrau", "Kazakhstan"),
    ("Kostanay", "Kazakhstan"),
    ("Kyzylorda", "Kazakhstan"),
    ("Uralsk", "Kazakhstan"),
    ("Petropavl", "Kazakhstan"),
    ("Aktau", "Kazakhstan"),
    ("Temirtau", "Kazakhstan"),
    ("Turkestan", "Kazakhstan"),
    ("Kokshetau", "Kazakhstan"),
    ("Taldykorgan", "Kazakhstan"),
    ("Ekibastuz", "Kazakhstan"),
    ("Zhanaozen", "Kazakhstan"),
    ("Bishkek", "Kyrgyzstan"),
    ("Osh", "Kyrgyzstan"),
    ("Jalal-Abad", "Kyrgyzstan"),
    ("Karakol", "Kyrgyzstan"),
    ("Tashkent", "Uzbekistan"),
    ("Samarkand", "Uzbekistan"),
    ("Nukus", "Uzbekistan"),
    ("Andijan", "Uzbekistan"),
    ("Minsk", "Belarus"),
    ("Brest", "Belarus"),
    ("Gomel", "Belarus"),
    ("Grodno", "Belarus"),
    ("Tbilisi", "Georgia"),
    ("Batumi", "Georgia"),
    ("Kutaisi", "Georgia"),
    ("Yerevan", "Armenia"),
    ("Gyumri", "Armenia"),
    ("Baku", "Azerbaijan"),
    ("Dushanbe", "Tajikistan"),
]

ACTORS = [
    "Kassym-Jomart Tokayev",
    "Nursultan Nazarbayev",
    "Democratic Choice of Kazakhstan",
    "Mukhtar Ablyazov",
    "Oyan, Qazaqstan",
    "Human Rights Watch",
    "Amnesty International",
    "Ministry of Internal Affairs",
    "Almaty City Police Department",
    "Federation of Trade Unions",
    "Sadyr Japarov",
    "Sooronbay Jeenbekov",
    "Svetlana Tikhanovskaya",
    "Alexander Lukashenko",
    "Nikol Pashinyan",
    "Shavkat Mirziyoyev",
    "European Union",
    "OSCE",
    "Central Election Commission",
    "Bolat Dembaev",
]

SUBJECTS = [
    "oil workers",
    "students",
    "pensioners",
    "farmers",
    "mothers of large families",
    "opposition supporters",
    "miners",
    "teachers",
    "journalists",
    "residents",
]
ACTIONS = ["rally", "strike", "picket", "march", "sit-in", "hunger strike", "protest"]
DEMANDS = [
    "higher wages",
    "the release of detained activists",
    "fair elections",
    "lower utility prices",
    "land reform",
    "clean air",
    "housing",
    "freedom of assembly",
]
OUTCOMES = [
    "Police detained {n} people and released most of them by the evening.",
    "The authorities called the gathering unsanctioned and fined {n} participants.",
    "Officials met a delegation of {n} protesters and promised to review the demands.",
    "The gathering ended peacefully after about {n} minutes.",
]


def records(n: int = 300, seed: int = 2020) -> list[dict]:
    """`n` distinct, published records across 2015-2020 in the import format."""
    rng = random.Random(seed)
    first, days = dt.date(2015, 1, 1), (dt.date(2020, 12, 31) - dt.date(2015, 1, 1)).days
    out = []
    for i in range(n):
        # Half the records in the first six cities: the top of the city facet is meaningful.
        city, country = CITIES[rng.randrange(6)] if rng.random() < 0.5 else rng.choice(CITIES)
        cities = [city]
        if rng.random() < 0.2:
            other = rng.choice([c for c, k in CITIES if k == country and c != city] or [city])
            if other != city:
                cities.append(other)
        subject, action, demand = rng.choice(SUBJECTS), rng.choice(ACTIONS), rng.choice(DEMANDS)
        actors = rng.sample(ACTORS, rng.randint(1, 3))
        published = first + dt.timedelta(days=rng.randrange(days + 1))
        count = rng.randint(3, 400)
        body = "\n\n".join(
            [
                f"{subject.capitalize()} held a {action} in {' and '.join(cities)} on "
                f"{published:%d %B %Y}, demanding {demand}. Organisers said about {count} people "
                f"took part; {actors[0]} was named in their statement.",
                rng.choice(OUTCOMES).format(n=rng.randint(2, 60)),
                f"Report number {i + 1} in the generated corpus, filed from {cities[0]}, {country}.",
            ]
        )
        out.append(
            {
                "id": f"gen-{i + 1:04d}",
                "title": f"{subject.capitalize()} {action} in {cities[0]} over {demand} (#{i + 1})",
                "body": body,
                "published": published.isoformat(),
                "source": rng.choice(SOURCES),
                "cities": cities,
                "actors": actors,
                "country": country,
                "url": f"https://example.org/reports/{i + 1}",
                "language": "en",
            }
        )
    return out


def write_jsonl(path: Path, items: list[dict]) -> Path:
    path.write_text("".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items), encoding="utf-8")
    return path


def import_corpus(directory: Path, n: int = 300) -> None:
    """Import the generated corpus through the Importer (the index must already exist)."""
    from articles.ingest import Importer

    report = Importer().run([str(write_jsonl(directory / "corpus.jsonl", records(n)))])
    assert not report.failed, report.problems


def load_seed(site) -> None:
    """The curated seed archive, loaded as `make run` loads it, and indexed."""
    from django.core.management import call_command

    from articles import search

    call_command("loaddata", "seed_articles", verbosity=0)
    search.rebuild()


def load_corpus(site, n: int = 300) -> None:
    """An empty index, then the generated corpus imported the real way."""
    from articles import search

    search.rebuild()
    import_corpus(site.index_dir.parent, n)
