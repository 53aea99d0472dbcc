"""The record format (CONTRACT.md) and its validation: a raw record in, a `Record` or a
`RecordError` out, whatever the file format it came from."""

import datetime as dt
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from articles.text import fingerprint, normalize_name

LIST_SEPARATOR = ";"
MAX = {"id": 200, "title": 500, "body": 1_000_000, "name": 400, "url": 2000, "ids": 1000}
#: The fields of the import format, in the order exports write them.
FORMAT_FIELDS = (
    "id",
    "title",
    "body",
    "published",
    "source",
    "cities",
    "actors",
    "country",
    "url",
    "language",
)
#: `status` and `ids` are the archive's own additions, so that an export re-imported gives
#: the same archive.
RECORD_FIELDS = (*FORMAT_FIELDS, "status", "ids")


#: A cell starting with one of these is run as a formula by spreadsheets (OWASP's CSV
#: injection list); a leading quote is escaped too, so that reading undoes writing exactly.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")


def spreadsheet_safe(text: str) -> str:
    """A CSV cell no spreadsheet runs: `=HYPERLINK(...)` is written `'=HYPERLINK(...)`."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def from_spreadsheet(text: str) -> str:
    """The cell as it was before `spreadsheet_safe`."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text


class RecordError(ValueError):
    """A record that cannot be imported; the message says why."""


@dataclass
class Record:
    """One validated record, ready to be written."""

    where: str
    record_id: str | None
    title: str
    body: str
    published: dt.date | None
    source: str
    cities: list[str]
    actors: list[str]
    countries: list[str]
    url: str
    language: str
    status: str | None
    #: every record id behind the article (an export of an article that several records made)
    ids: list[str]

    @property
    def reason(self) -> str:
        """Why the history has a new version: "import FILE"."""
        return f"import {self.where.rsplit(':', 1)[0]}"

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.title, self.body, self.published)

    def names(self, field: str) -> list[str]:
        """The names the record gives for a record field ("source", "cities", ...)."""
        if field == "source":
            return [self.source] if self.source else []
        if field == "country":
            return self.countries
        return getattr(self, field)


_URL = URLValidator(schemes=["http", "https"])
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")


def _text(record: dict, key: str, *, required=False, limit: int | None = None) -> str:
    value = record.get(key)
    if value is None:
        if required:
            raise RecordError(f"{key} is missing")
        return ""
    if not isinstance(value, str):
        raise RecordError(f"{key} must be text, not {type(value).__name__}")
    value = value.replace("\x00", "").strip()
    if required and not value:
        raise RecordError(f"{key} is empty")
    if limit and len(value) > limit:
        raise RecordError(f"{key} is too long ({len(value)} characters, at most {limit})")
    return value


def _names(record: dict, key: str) -> list[str]:
    """A list of names: a JSON list, or text with names separated by `;`."""
    value = record.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(LIST_SEPARATOR)
    if not isinstance(value, list):
        raise RecordError(f"{key} must be a list of names, not {type(value).__name__}")
    names, seen = [], set()
    for item in value:
        if not isinstance(item, str):
            raise RecordError(f"{key} must hold names (text), found {type(item).__name__}")
        name = " ".join(item.replace("\x00", "").split())
        if not name:
            continue
        if len(name) > MAX["name"]:
            raise RecordError(f"a name in {key} is too long ({len(name)} characters, at most {MAX['name']})")
        if normalize_name(name) not in seen:
            seen.add(normalize_name(name))
            names.append(name)
    return names


def _identifier(value, label: str) -> str:
    if value is not None and not isinstance(value, str | int) or isinstance(value, bool):
        raise RecordError(f"{label} must be text or a number, not {type(value).__name__}")
    value = str(value).strip() if value is not None else ""
    if len(value) > MAX["id"]:
        raise RecordError(f"{label} is too long ({len(value)} characters, at most {MAX['id']})")
    return value


def _date(raw) -> dt.date | None:
    if raw in (None, ""):
        return None
    if not isinstance(raw, str):
        raise RecordError(f"published must be a YYYY-MM-DD date, not {type(raw).__name__}")
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw.strip()):
        raise RecordError(f"published {raw[:40]!r} is not a YYYY-MM-DD date")
    try:
        return dt.date.fromisoformat(raw.strip())
    except ValueError:
        raise RecordError(f"published {raw!r} is not a real date") from None


def _ids(record: dict, record_id: str) -> list[str]:
    raw = record.get("ids")
    if raw in (None, "", []):
        return [record_id] if record_id else []
    if isinstance(raw, str):
        raw = [v for v in raw.split(LIST_SEPARATOR) if v.strip()]
    if not isinstance(raw, list) or len(raw) > MAX["ids"]:
        raise RecordError("ids must be a list of record ids")
    ids = list(dict.fromkeys(_identifier(v, "an id in ids") for v in raw))
    if not record_id:
        raise RecordError("ids is given but id is missing")
    if record_id not in ids:
        raise RecordError(f"ids does not include the record's id {record_id!r}")
    return [record_id, *(i for i in ids if i and i != record_id)]


def validate(where: str, record: dict) -> Record:
    record_id = _identifier(record.get("id"), "id")
    url = _text(record, "url", limit=MAX["url"])
    if url:
        try:
            _URL(url)
        except ValidationError:
            raise RecordError(f"url {url[:80]!r} is not an http(s) URL") from None
    language = _text(record, "language", limit=8).lower() or "en"
    if not _LANGUAGE.match(language):
        raise RecordError(f"language {language!r} is not an ISO 639-1 code")
    status = _text(record, "status", limit=10).lower() or None
    if status not in (None, "draft", "published"):
        raise RecordError(f"status {status!r} is neither draft nor published")
    return Record(
        where=where,
        record_id=record_id or None,
        title=" ".join(_text(record, "title", required=True, limit=MAX["title"]).split()),
        body=_text(record, "body", required=True, limit=MAX["body"]),
        published=_date(record.get("published")),
        source=" ".join(_text(record, "source", limit=MAX["name"]).split()),
        cities=_names(record, "cities"),
        actors=_names(record, "actors"),
        countries=_names(record, "country"),
        url=url,
        language=language,
        status=status,
        ids=_ids(record, record_id),
    )
