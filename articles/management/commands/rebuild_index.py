from django.core.management.base import BaseCommand

from articles import search
from articles.models import Article

from ._progress import Progress


class Command(BaseCommand):
    help = "Rebuild the whole search index from the database (published articles only)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-stale",
            action="store_true",
            help="Only rebuild when the index is missing, of an older schema, or out of step.",
        )

    def handle(self, *args, if_stale=False, **options):
        if if_stale and search.is_ready():
            drift = search.check(repair=True)
            if drift.clean:
                self.stdout.write("Index is up to date.")
            else:
                fixed = len(drift.missing) + len(drift.stale) + len(drift.extra)
                self.stdout.write(
                    f"Index brought up to date ({fixed} document{'s' if fixed != 1 else ''} fixed)."
                )
            return
        total = Article.objects.published().count()
        progress = Progress(self.stdout, total, "Indexing")
        count = search.rebuild(progress=progress.update)
        progress.finish()
        plural = "s" if count != 1 else ""
        self.stdout.write(self.style.SUCCESS(f"Indexed {count} published article{plural}."))
