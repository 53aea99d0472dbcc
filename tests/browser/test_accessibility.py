"""Every public page type, on the seed archive and on an imported corpus, in Chromium:

- axe-core finds no WCAG 2.1 A/AA violation;
- the served HTML is valid (the Nu HTML Checker, vnu.jar, errors only);
- no horizontal scrolling from 320 px to 1600 px, and at 1600 px running text keeps a
  readable measure;
- from the top, Tab reaches the skip link first, then the header (home link, search box),
  and every focused control shows a focus indicator;
- nothing is requested from another site, and no page carries a script.

Each archive is loaded once per module and every page visited once (`crawl`); the tests then
check what was recorded, one test per check and page.
"""

import datetime as dt
from urllib.parse import urlencode

import pytest

from .conftest import WCAG_TAGS, archive_site
from .corpus import load_corpus, load_seed

# The module's archive is loaded once (fixture `site`) and read through a live server; the
# django_db mark only makes pytest-django create the test database when these tests run alone.
pytestmark = [pytest.mark.browser, pytest.mark.django_db]

WIDTHS = (320, 390, 768, 1280, 1600)
# Paragraphs longer than this many characters must wrap within READABLE_MEASURE at 1600 px.
LONG_TEXT, READABLE_MEASURE = 100, "80ch"

PAGE_NAMES = [
    "home",
    "search",
    "search-query-filters",
    "search-facet-filter",
    "search-page-2",
    "search-no-results",
    "search-bad-parameter",
    "search-past-the-end",
    "article",
    "city-list",
    "city-list-filtered",
    "city",
    "actor-list",
    "actor",
    "source-list",
    "source",
    "country-list",
    "country",
    "unpublished-entity",
    "archive-year",
    "archive-month",
    "archive-empty-year",
    "not-found",
]


def page_paths() -> dict[str, str]:
    """One path per page type, chosen from what the loaded archive holds."""
    from django.db.models import Count

    from articles.models import Actor, Article, City, Country, Source
    from tests import factories

    empty = factories.city(name="Zhezkazgan")  # no published report names it: not public
    published = Article.objects.published()
    newest = published.newest_first().first()
    top = {
        model: model.objects.annotate(n=Count("articles")).order_by("-n", "name").first()
        for model in (City, Actor, Source, Country)
    }
    word = "protest"
    paths = {
        "home": "/",
        "search": "/search/",
        "search-query-filters": "/search/?"
        + urlencode(
            [("q", word), ("city", top[City].slug), ("year", newest.published.year), ("sort", "newest")]
        ),
        "search-facet-filter": "/search/?" + urlencode([("q", word), ("facet_city", "a")]),
        # Numbered pagination, with fewer per page where the archive is small (the seeds).
        "search-page-2": "/search/?page=2" if published.count() > 20 else "/search/?per_page=2&page=2",
        "search-no-results": "/search/?q=zzxqvyk",
        "search-bad-parameter": "/search/?q=protest&date_from=2020-02-31&per_page=0&colour=red",
        "search-past-the-end": "/search/?page=999",
        "article": newest.get_absolute_url(),
        "city-list": "/cities/",
        "city-list-filtered": "/cities/?q=a&sort=count",
        "city": top[City].get_absolute_url(),
        "actor-list": "/actors/",
        "actor": top[Actor].get_absolute_url(),
        "source-list": "/sources/",
        "source": top[Source].get_absolute_url(),
        "country-list": "/countries/",
        "country": top[Country].get_absolute_url(),
        "unpublished-entity": empty.get_absolute_url(),
        "archive-year": f"/archive/{newest.published:%Y}/",
        "archive-month": f"/archive/{newest.published:%Y/%m}/",
        "archive-empty-year": f"/archive/{dt.date.today().year + 5}/",
        "not-found": "/no/such/page/",
    }
    return {name: paths[name] for name in PAGE_NAMES}


@pytest.fixture(scope="module", params=["seed", "corpus"])
def site(request, django_db_setup, django_db_blocker, tmp_path_factory):
    loader = load_seed if request.param == "seed" else load_corpus

    def load(site):
        loader(site)
        site.paths = page_paths()

    index_dir = tmp_path_factory.mktemp(f"a11y-{request.param}") / "index"
    with archive_site(django_db_blocker, index_dir, load) as site:
        site.name = request.param
        yield site


@pytest.fixture(autouse=True)
def fresh_index(site):
    """The module's archive and index serve every test (overrides tests/conftest.py's)."""
    return site.index_dir


@pytest.fixture(scope="module")
def crawl(site, shared_browser, tmp_path_factory):
    """Visit every page once; record its HTML, requests, axe results and layout at each width.

    JavaScript is on in this context only so that axe can run: the pages carry no script
    (test_pages_carry_no_script), so they render exactly as with JavaScript off.
    """
    from .conftest import AXE_JS

    out = tmp_path_factory.mktemp(f"html-{site.name}")
    context = shared_browser.new_context(base_url=site.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    refused: list[str] = []  # what the Content-Security-Policy blocked
    page.on(
        "console",
        lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None,
    )
    records = {}
    for name, path in site.paths.items():
        requested.clear()
        refused.clear()
        response = page.goto(path)
        html = response.text()
        file = out / f"{name}.html"
        file.write_text(html, encoding="utf-8")
        record = {
            "path": path,
            "status": response.status,
            "file": file,
            "scripts": page.locator("script").count(),
            "widths": {},
        }
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            record["widths"][width] = page.evaluate(LAYOUT_JS, [LONG_TEXT, READABLE_MEASURE])
        page.set_viewport_size({"width": 1280, "height": 900})
        record["requests"] = list(requested)
        record["refused"] = list(refused)
        if AXE_JS.exists():
            # Evaluated by the test tool, not loaded by the page: the page's policy allows no
            # inline script, and must not be loosened for a test.
            page.evaluate(AXE_JS.read_text(encoding="utf-8"))
            record["axe"] = page.evaluate(
                "tags => axe.run(document, {runOnly: {type: 'tag', values: tags},"
                " resultTypes: ['violations']}).then(r => r.violations)",
                WCAG_TAGS,
            )
        records[name] = record
    context.close()
    return records


LAYOUT_JS = """([longText, measure]) => {
  const root = document.documentElement;
  const wide = [];
  for (const el of document.querySelectorAll('main p, main li, main dd, main figcaption')) {
    const text = el.textContent.trim().replace(/\\s+/g, ' ');
    if (text.length < longText || !el.offsetParent) continue;
    const probe = document.createElement('span');
    probe.style.cssText = `position:absolute;visibility:hidden;width:${measure}`;
    el.appendChild(probe);
    const limit = probe.getBoundingClientRect().width;
    probe.remove();
    const width = el.getBoundingClientRect().width;
    if (width > limit + 1) wide.push(`${el.tagName.toLowerCase()} ${Math.round(width)}px > ` +
                                     `${measure} (${Math.round(limit)}px): ${text.slice(0, 50)}`);
  }
  const overflowing = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width && r.right > root.clientWidth + 0.5 && el.offsetParent !== null)
      overflowing.push(`${el.tagName.toLowerCase()}.${el.className} right edge ${Math.round(r.right)}px`);
  }
  return {scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, wide,
          overflowing: overflowing.slice(0, 5),
          fontSize: parseFloat(getComputedStyle(document.body).fontSize)};
}"""


@pytest.mark.parametrize("name", PAGE_NAMES)
def test_pages_answer_as_expected(crawl, name):
    record = crawl[name]
    expected = 404 if name in ("not-found", "search-past-the-end", "unpublished-entity") else 200
    assert record["status"] == expected, record["path"]


@pytest.mark.parametrize("name", PAGE_NAMES)
def test_no_axe_violations(crawl, axe_source, name):
    record = crawl[name]
    assert "axe" in record, "axe-core was not available when the pages were crawled"
    assert not record["axe"], f"axe-core on {record['path']}:\n" + format_violations(record["axe"])


def format_violations(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']}  [{v['helpUrl']}]")
        for node in v["nodes"][:5]:
            summary = " ".join(node.get("failureSummary", "").split())
            lines.append(f"    {' '.join(map(str, node['target']))}: {summary}")
        if len(v["nodes"]) > 5:
            lines.append(f"    ... and {len(v['nodes']) - 5} more")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def validation(crawl, vnu):
    """The Nu HTML Checker's errors for every crawled page, in one run."""
    found = vnu([record["file"] for record in crawl.values()])
    return {name: found[record["file"].resolve()] for name, record in crawl.items()}


@pytest.mark.parametrize("name", PAGE_NAMES)
def test_served_html_is_valid(crawl, validation, name):
    record = crawl[name]
    errors = [
        f"line {m.get('lastLine')}: {m['message']}\n    {m.get('extract', '').strip()}"
        for m in validation[name]
    ]
    assert not errors, f"vnu on {record['path']}:\n" + "\n".join(errors)


@pytest.mark.parametrize("name", PAGE_NAMES)
def test_no_horizontal_scrolling_from_320_to_1600_px(crawl, name):
    record = crawl[name]
    too_wide = {
        width: (layout["scrollWidth"], layout["overflowing"])
        for width, layout in record["widths"].items()
        if layout["scrollWidth"] > width
    }
    assert not too_wide, (
        f"{record['path']} scrolls sideways (width: (scrollWidth, overflowing elements)): {too_wide}"
    )


@pytest.mark.parametrize("name", PAGE_NAMES)
def test_text_keeps_a_readable_measure_at_1600_px(crawl, name):
    record = crawl[name]
    layout = record["widths"][1600]
    assert layout["fontSize"] >= 16
    assert not layout["wide"], f"{record['path']} at 1600 px: " + "; ".join(layout["wide"])


@pytest.mark.parametrize("name", PAGE_NAMES)
def test_nothing_is_requested_from_another_site(crawl, site, name):
    record = crawl[name]
    assert record["requests"], "the page was not recorded"
    elsewhere = [url for url in record["requests"] if not url.startswith(site.url + "/")]
    assert not elsewhere, f"{record['path']} requested {elsewhere}"


@pytest.mark.parametrize("name", PAGE_NAMES)
def test_pages_carry_no_script(crawl, name):
    record = crawl[name]
    assert record["scripts"] == 0, f"{record['path']} has {record['scripts']} script element(s)"


@pytest.mark.parametrize("name", PAGE_NAMES)
def test_the_content_security_policy_blocks_nothing(crawl, name):
    """Pages render whole under a policy with no inline style or script (no bar without its
    height, no chart without its columns)."""
    record = crawl[name]
    assert record["refused"] == [], record["path"]


# ------------------------------------------------------------------ keyboard

FOCUS_JS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const r = el.getBoundingClientRect();
  // A bar of an SVG chart shows focus on its shape (a stroke), not with an outline.
  const shape = el instanceof SVGElement ? el.querySelector('rect') : null;
  return {
    tag: el.tagName.toLowerCase(), id: el.id, cls: el.getAttribute('class') || '',
    text: (el.getAttribute('aria-label') || el.textContent || el.value || '').trim().slice(0, 40),
    outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0,
    shadow: style.boxShadow !== 'none' || (shape !== null && getComputedStyle(shape).stroke !== 'none'),
    inView: r.width > 0 && r.height > 0 && r.right > 0 && r.bottom > 0 && r.left < innerWidth,
  };
}"""

# The header's tab stops, in order, before anything in <main>: the skip link, the archive's
# name (a link home), the search box and its button, the browse links.
HEADER_STOPS = [
    "skip link",
    "home link",
    "search box",
    "search button",
    "All reports",
    "Cities",
    "Actors",
    "Sources",
]


def describe(stop: dict) -> str:
    if "skip-link" in stop["cls"]:
        return "skip link"
    if "site-name" in stop["cls"]:
        return "home link"
    if stop["id"] == "site-q":
        return "search box"
    if stop["tag"] == "button":
        return "search button" if stop["text"] == "Search" else f"button {stop['text']}"
    return stop["text"]


FOCUS_STOPS = 20  # tab stops checked for a visible focus indicator on each page


@pytest.fixture(scope="module")
def keyboard_page(site, shared_browser):
    context = shared_browser.new_context(
        base_url=site.url, java_script_enabled=False, viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


@pytest.mark.parametrize("name", PAGE_NAMES)
def test_tab_reaches_the_skip_link_then_the_search_box_and_focus_is_visible(site, keyboard_page, name):
    page = keyboard_page
    page.goto(site.paths[name])
    stops = []
    for _ in range(FOCUS_STOPS):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUS_JS)
        if focused is None:
            break  # past the last control
        stops.append(focused)

    header = [describe(stop) for stop in stops[: len(HEADER_STOPS)]]
    assert header == HEADER_STOPS, f"{site.paths[name]}: the first tab stops are {header}"
    assert stops[0]["inView"], "the skip link stays off screen when focused"
    unseen = [
        f"{s['tag']}.{s['cls']} “{s['text']}”"
        for s in stops
        if not (s["outline"] or s["shadow"]) or not s["inView"]
    ]
    assert not unseen, f"{site.paths[name]}: no visible focus on {unseen}"

    # The skip link leads into <main>: the next Tab lands on main's first control.
    page.goto(site.paths[name])
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
