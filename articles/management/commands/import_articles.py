import sys

from django.core.management.base import BaseCommand, CommandError

from articles.ingest import BATCH_SIZE, FORMATS, Importer

from ._progress import Progress


class Command(BaseCommand):
    help = (
        "Import report records from JSON Lines, CSV or plain-text files (or directories of "
        "them). Re-importing a record updates it, never duplicates it. Exit status 1 when "
        "any record failed."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", metavar="PATH")
        parser.add_argument(
            "--format",
            choices=["auto", *FORMATS],
            default="auto",
            help="file format (default: from the file name; .jsonl, .csv, else text)",
        )
        parser.add_argument(
            "--status",
            choices=["draft", "published"],
            default=None,
            help="status of new articles (default: the record's own, else "
            "published; plain text always lands as draft)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="check and report everything, write nothing"
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=BATCH_SIZE,
            help=f"records per transaction (default {BATCH_SIZE})",
        )

    def handle(self, *args, paths, format, status, dry_run, batch_size, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        progress = Progress(self.stderr, None, "Importing")
        importer = Importer(status=status, dry_run=dry_run, batch_size=batch_size, progress=progress.update)
        report = importer.run(paths, format)
        progress.finish()
        for note in report.notes:
            self.stdout.write(note)
        for problem in report.problems:
            self.stderr.write(problem)
        prefix = "dry run, nothing written: " if dry_run else ""
        summary = prefix + report.summary()
        if report.near_duplicates:
            summary += f"; {report.near_duplicates} possible duplicate(s) linked for review"
        self.stdout.write(summary)
        if not (report.created or report.updated) and report.seen and not report.failed:
            self.stdout.write("Nothing changed.")
        if report.failed:
            sys.exit(1)
