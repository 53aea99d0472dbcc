from django.core.management.base import BaseCommand, CommandError

from articles.ingest import export_queryset, export_record, write_csv, write_jsonl


class Command(BaseCommand):
    help = "Write every article, with all its metadata, in the import format."

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
        parser.add_argument("--output", metavar="FILE", help="write here instead of standard output")

    def handle(self, *args, format, output, **options):
        records = (export_record(a) for a in export_queryset().iterator(chunk_size=1000))
        writer = write_csv if format == "csv" else write_jsonl
        if not output or output == "-":
            self.stdout.ending = ""
            writer(records, self.stdout)
            return
        try:
            with open(output, "w", encoding="utf-8", newline="") as fh:
                writer(records, fh)
        except OSError as exc:
            raise CommandError(f"cannot write {output}: {exc.strerror}") from exc
