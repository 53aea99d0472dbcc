"""Readers of the import formats: JSON Lines, CSV (the same columns, lists joined with `;`)
and plain text (a saved page). Each yields (where, raw record or RecordError); adding a format
is one reader registered in READERS.
"""

import csv
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from .cleaning import clean_text
from .records import LIST_SEPARATOR, RecordError, from_spreadsheet

#: CSV columns that hold lists joined with `;` (`country` may hold several countries).
LIST_COLUMNS = ("cities", "actors", "country", "ids")


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv",):
        return "csv"
    return "text"


def iter_paths(paths: Iterable[str]) -> Iterator[Path]:
    """Files named, and the files inside directories named, in a stable order."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        else:
            yield path


def read_records(path: Path, fmt: str) -> Iterator[tuple[str, dict | RecordError]]:
    """(where, raw record or the error that made it unreadable) for every record of a file."""
    yield from READERS[fmt](path)


def _read_jsonl(path: Path):
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            where = f"{path}:{number}"
            line = raw.strip()
            if number == 1 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]
            if not line:
                continue
            try:
                record = json.loads(line.decode("utf-8"))
            except UnicodeDecodeError as exc:
                yield where, RecordError(f"not UTF-8 ({exc.reason} at byte {exc.start})")
                continue
            except json.JSONDecodeError as exc:
                yield where, RecordError(f"invalid JSON: {exc.msg} (column {exc.colno})")
                continue
            if not isinstance(record, dict):
                yield where, RecordError(f"a record is a JSON object, not {type(record).__name__}")
                continue
            yield where, record


def _read_csv(path: Path):
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            return
        except (csv.Error, UnicodeDecodeError) as exc:
            yield f"{path}:1", RecordError(f"unreadable CSV header: {exc}")
            return
        header = [h.strip() for h in header]
        if "title" not in header or "body" not in header:
            yield f"{path}:1", RecordError("the header must name at least the title and body columns")
            return
        start = reader.line_num + 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except (csv.Error, UnicodeDecodeError) as exc:
                yield f"{path}:{start}", RecordError(f"unreadable CSV: {exc}")
                return
            where = f"{path}:{start}"
            start = reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                yield where, RecordError(f"expected {len(header)} columns, found {len(row)}")
                continue
            record = {key: from_spreadsheet(cell) for key, cell in zip(header, row, strict=True)}
            for key in LIST_COLUMNS:
                if key in record:
                    record[key] = [
                        from_spreadsheet(v.strip()) for v in record[key].split(LIST_SEPARATOR) if v.strip()
                    ]
            for key in ("published", "url", "id", "source", "status"):
                if record.get(key) == "":
                    record[key] = None
            yield where, record


def _read_text(path: Path):
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        yield f"{path}:1", RecordError(f"not UTF-8 ({exc.reason} at byte {exc.start})")
        return
    title, body = clean_text(text)
    yield f"{path}:1", {"id": path.stem, "title": title, "body": body, "status": "draft"}


#: format name -> reader; `--format` offers these names.
READERS = {"jsonl": _read_jsonl, "csv": _read_csv, "text": _read_text}
