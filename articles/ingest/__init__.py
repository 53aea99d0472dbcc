"""Getting reports in and out: the record format, readers by file format, the cleaning of
saved pages, the importer (with duplicates merged and near duplicates linked) and export.

Public verbs: `Importer(...).run(paths)` and the export helpers.
"""

from .export import export_queryset, export_record, write_csv, write_jsonl
from .importer import BATCH_SIZE, Importer, Report
from .readers import READERS
from .records import LIST_SEPARATOR, RECORD_FIELDS

FORMATS = tuple(READERS)

__all__ = [
    "BATCH_SIZE",
    "FORMATS",
    "LIST_SEPARATOR",
    "RECORD_FIELDS",
    "Importer",
    "Report",
    "export_queryset",
    "export_record",
    "write_csv",
    "write_jsonl",
]
