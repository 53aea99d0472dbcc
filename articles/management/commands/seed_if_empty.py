from django.core.management import call_command
from django.core.management.base import BaseCommand

from articles import dbstats
from articles.models import Article


class Command(BaseCommand):
    help = "Load the curated seed articles the first time (when the archive has no articles)."

    def handle(self, *args, **options):
        if Article.objects.exists():
            self.stdout.write("Archive already has articles; seeds not loaded.")
            return
        call_command("loaddata", "seed_articles", verbosity=0)
        dbstats.refresh()
        self.stdout.write(f"Loaded {Article.objects.count()} seed articles.")
