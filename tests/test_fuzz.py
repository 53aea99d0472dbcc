"""Generated requests over every public URL and parameter: no answer is a server error.

Hypothesis draws paths, parameter names and values (any text, NUL and markup included,
numbers near every edge, repeated parameters, raw percent-encoded bytes that are not UTF-8).
CI runs the `ci` profile; `HYPOTHESIS_PROFILE=long` (or `bench/faults.py`) runs many more.
"""

import datetime as dt
import os
import string
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from . import factories as f

settings.register_profile(
    "ci",
    max_examples=250,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "long",
    max_examples=5000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")

SEARCH_PATHS = ["/search/", "/api/search/", "/search/feed/", "/search/export.csv", "/search/export.json"]
PARAMS = [
    "q",
    "source",
    "city",
    "actor",
    "country",
    "year",
    "language",
    "date_from",
    "date_to",
    "sort",
    "page",
    "per_page",
    "facet_source",
    "facet_city",
    "facet_actor",
    "facet_country",
]

edge_numbers = st.one_of(
    st.integers(min_value=-10, max_value=10),
    st.integers(min_value=9990, max_value=10010),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, 100, 101, 1_000_000]),
).map(str)
texts = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=60),
    st.text(string.printable, max_size=60),
    st.sampled_from(
        [
            '"',
            "(",
            ")",
            "*",
            "~",
            "NOT",
            "AND OR",
            "city:",
            "q*",
            "a~99",
            "\x00",
            "<script>alert(1)</script>",
            "' OR 1=1 --",
            "../../etc/passwd",
            "%00",
            "2020-02-30",
            "0000-00-00",
            "9999-12-31",
            "0000",
            "0001",
            "almaty",
            "kazakhstan",
            "x" * 5000,
        ]
    ),
    edge_numbers,
)
pairs = st.lists(st.tuples(st.one_of(st.sampled_from(PARAMS), st.text(max_size=12)), texts), max_size=8)
raw_bytes = st.binary(max_size=40).map(lambda b: "".join(f"%{byte:02X}" for byte in b))


@pytest.fixture
def corpus(index):
    almaty = f.city("Almaty")
    kz = f.country("Kazakhstan")
    for i in range(3):
        f.article(
            f"Rally {i}",
            f"Workers rallied, report {i}.",
            published=dt.date(2020, 1 + i, 1),
            cities=[almaty],
            countries=[kz],
            source=f.source(f"Outlet {i}"),
        )
    f.article("Draft", "Not yet.", status="draft")


def fetch(client, path, **extra):
    response = client.get(path, **extra)
    if response.streaming:
        b"".join(response.streaming_content)  # a failure half-way through counts too
    return response


@settings(settings.get_profile(PROFILE))
@given(path=st.sampled_from(SEARCH_PATHS), params=pairs)
def test_search_urls_never_fail(client, corpus, path, params):
    response = fetch(client, path + "?" + urlencode(params))
    assert response.status_code < 500, (path, params)


@settings(settings.get_profile(PROFILE))
@given(
    path=st.sampled_from(SEARCH_PATHS + ["/", "/cities/", "/countries/"]),
    name=st.sampled_from(PARAMS),
    raw=raw_bytes,
)
def test_undecodable_query_strings_never_fail(client, corpus, path, name, raw):
    response = fetch(client, path, QUERY_STRING=f"{name}={raw}")
    assert response.status_code < 500, (path, name, raw)


path_parts = st.one_of(texts, edge_numbers).map(lambda s: quote(s, safe=""))


@settings(settings.get_profile(PROFILE))
@given(
    template=st.sampled_from(
        [
            "/articles/{}/",
            "/api/articles/{}/",
            "/cities/{}/",
            "/actors/{}/",
            "/sources/{}/",
            "/countries/{}/",
            "/archive/{}/",
            "/archive/2020/{}/",
            "/archive/{}/01/",
            "/sitemap-{}.xml",
            "/{}",
        ]
    ),
    part=path_parts,
    page=st.one_of(st.none(), texts),
)
def test_entity_article_and_date_paths_never_fail(client, corpus, template, part, page):
    url = template.format(part or "x")
    response = fetch(client, url, **({"QUERY_STRING": urlencode({"page": page})} if page else {}))
    assert response.status_code < 500, url


EDGES = [
    "",
    " ",
    "0",
    "-1",
    "0000",
    "0001",
    "9999",
    "10000",
    "2" * 30,
    "1e9",
    "NaN",
    "\x00",
    "%",
    "2020-02-30",
    "0000-01-01",
    "9999-12-31",
    "<b>",
    "a" * 2000,
    "NOT | NOT NOT |",
    "(" * 50,
    "police~99999999",
    "p* q* r*",
    "ü",
    "Алматы",
    "almaty",
    "kazakhstan",
]


def test_every_parameter_with_every_edge_value(client, corpus):
    """A grid beside the random draws: each parameter alone with each edge value, everywhere."""
    failures = []
    for path in SEARCH_PATHS:
        for name in PARAMS:
            for value in EDGES:
                response = fetch(client, path + "?" + urlencode({name: value}))
                if response.status_code >= 500:
                    failures.append((path, name, value[:30], response.status_code))
    assert failures == []
