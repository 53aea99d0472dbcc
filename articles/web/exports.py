"""`/search/export.csv` and `/search/export.json`: the whole result set of any search.

Both take the search parameters of `/search/` (`page` and `per_page` are accepted and
ignored: an export always holds every result) and list the results in the search's order.
A bad parameter answers 400 in plain text naming it, and nothing is exported; a text query
while the index is missing or being rebuilt answers 503 with Retry-After.

The response is streamed: results are read in chunks (`browse.search.Search.articles`) and
written out as they come, so an export of the whole archive neither times out nor holds
the archive in memory.

Records use the archive's import format (CONTRACT.md: `id`, `title`, `body`, `published`,
`source`, `cities`, `actors`, `country`, `url`, `language`) plus `slug` and `permalink`.

Provenance (what was searched, where, when) travels inside the file, so it survives the
file being renamed, mailed or merged with others:

- JSON is one object: `{"query", "archive", "exported", "results": [...], "count"}`.
  `count` comes last because it is the number of records actually written.
- CSV keeps a plain table that every spreadsheet and CSV reader opens as it is: the header
  row first, then one row per record, no comment or trailer rows. The provenance is three
  constant columns at the end of every row, `query`, `archive` and `exported`: a row
  copied into another table still says which search it came from. The file starts with a
  UTF-8 byte-order mark so that spreadsheets read Cyrillic names correctly (the archive's
  own import tolerates it), and lists are joined with `;`. The record columns come first
  and the extra columns are ignored by `import_articles`, so a CSV export can be imported.
  A cell a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a tab or a
  carriage return: OWASP's CSV-injection rule) is written with a leading `'`, as is a cell
  that starts with `'` itself; `import_articles` removes that quote again.

`query` is the search's query string as applied (`q=toqaev&city=almaty`): the archive's
URL + `search/?` + `query` reproduces the search. `exported` is UTC ISO 8601.
"""

import csv
import io
import json
from collections.abc import Iterable, Iterator

from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.views.decorators.http import require_safe

from articles import search as engine
from articles.browse.filters import KNOWN_PARAMS
from articles.browse.search import Search
from articles.ingest import export_record
from articles.ingest.export import csv_cell
from articles.ingest.records import FORMAT_FIELDS
from articles.models import Article
from articles.text import make_slug

#: A public export's columns: the import format, then where each report lives here.
RECORD_FIELDS = (*FORMAT_FIELDS, "slug", "permalink")
META_FIELDS = ("query", "archive", "exported")
CHUNK = 500
#: Bytes gathered before a piece of the response is sent (fewer, larger writes).
FLUSH_AT = 64 * 1024


def bad_parameters(errors: dict[str, str], params) -> HttpResponse:
    """400 in plain text, one line per bad parameter (feeds and exports).

    A text query that cannot run because the index is being rebuilt is not the caller's
    fault: that is a 503 to retry later, not a partial answer.
    """
    if "q" in errors and params.get("q") and not engine.is_ready():
        return HttpResponse(
            f"q: {errors['q']}\n",
            status=503,
            headers={"Retry-After": "60"},
            content_type="text/plain; charset=utf-8",
        )
    lines = ["This search has bad parameters; fix them and try again."]
    for name, message in errors.items():
        if name not in KNOWN_PARAMS and name in params:
            message = "unknown parameter."
        lines.append(f"{name}: {message}")
    return HttpResponse("\n".join(lines) + "\n", status=400, content_type="text/plain; charset=utf-8")


def export_time() -> str:
    return timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ")


def record(article: Article, request) -> dict:
    """One result in the import format, plus its slug and absolute permalink."""
    data = export_record(article, with_ids=False)
    data.pop("status", None)
    data["slug"] = article.slug
    data["permalink"] = request.build_absolute_uri(article.get_absolute_url())
    return {key: data[key] for key in RECORD_FIELDS}


def _filename(search, stamp: str, extension: str) -> str:
    words = make_slug(search.q, 40) if search.q else "search"
    return f"protest-archive-{words}-{stamp.replace('-', '').replace(':', '')}.{extension}"


def _attachment(chunks: Iterable[str], content_type: str, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse((c.encode() for c in chunks), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _buffered(pieces: Iterable[str]) -> Iterator[str]:
    buffer, size = [], 0
    for piece in pieces:
        buffer.append(piece)
        size += len(piece)
        if size >= FLUSH_AT:
            yield "".join(buffer)
            buffer, size = [], 0
    if buffer:
        yield "".join(buffer)


@require_safe
def export_csv(request):
    search = Search(request.GET)
    if search.errors:
        return bad_parameters(search.errors, request.GET)
    articles = search.articles(chunk=CHUNK)
    meta = [search.state.applied(), request.build_absolute_uri("/"), export_time()]

    def rows() -> Iterator[str]:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")

        def take() -> str:
            text = out.getvalue()
            out.seek(0)
            out.truncate()
            return text

        writer.writerow(RECORD_FIELDS + META_FIELDS)
        yield "\ufeff" + take()
        for article in articles:
            data = record(article, request)
            writer.writerow([csv_cell(data[key]) for key in RECORD_FIELDS] + [csv_cell(m) for m in meta])
            yield take()

    return _attachment(
        _buffered(rows()), "text/csv; charset=utf-8; header=present", _filename(search, meta[2], "csv")
    )


@require_safe
def export_json(request):
    search = Search(request.GET)
    if search.errors:
        return bad_parameters(search.errors, request.GET)
    articles = search.articles(chunk=CHUNK)
    stamp = export_time()
    head = {"query": search.state.applied(), "archive": request.build_absolute_uri("/"), "exported": stamp}

    def pieces() -> Iterator[str]:
        yield json.dumps(head, ensure_ascii=False)[:-1] + ',\n "results": ['
        count = 0
        for article in articles:
            yield ("\n  " if count == 0 else ",\n  ") + json.dumps(
                record(article, request), ensure_ascii=False
            )
            count += 1
        yield ("\n ]" if count else "]") + f',\n "count": {count}\n}}\n'

    return _attachment(_buffered(pieces()), "application/json", _filename(search, stamp, "json"))
