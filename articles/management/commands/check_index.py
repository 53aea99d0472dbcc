from django.core.management.base import BaseCommand

from articles import search


class Command(BaseCommand):
    help = "Compare the search index with the database; exit 1 when they differ."

    def add_arguments(self, parser):
        parser.add_argument("--repair", action="store_true", help="Fix every difference found.")

    def handle(self, *args, repair=False, **options):
        drift = search.check(repair=repair)
        if drift.clean:
            self.stdout.write("Index and database agree.")
            return
        lines = []
        if drift.index_missing:
            lines.append("the index is missing or of an older schema")
        for label, pks in (
            ("missing from the index", drift.missing),
            ("outdated in the index", drift.stale),
            ("in the index but not published", drift.extra),
        ):
            if pks:
                shown = ", ".join(map(str, pks[:20])) + (" ..." if len(pks) > 20 else "")
                lines.append(f"{len(pks)} article(s) {label}: {shown}")
        if drift.queued:
            lines.append(f"{drift.queued} queued index update(s) not yet applied")
        for line in lines:
            self.stdout.write(f"drift: {line}")
        if repair:
            after = search.check()
            if after.clean:
                self.stdout.write(self.style.SUCCESS("Repaired: index and database agree."))
                return
            self.stderr.write("Repair did not remove all drift.")
        raise SystemExit(1)
