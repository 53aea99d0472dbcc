from django.core.management.base import BaseCommand

from articles.curation import find_candidates
from articles.models import AliasCandidate


class Command(BaseCommand):
    help = (
        "Propose, as alias candidates for curators, entities whose names differ only by common "
        "transliteration patterns (q/k, -ayev/-aev, zh/j, dzh/j, kh/h, y/i, doubled letters). "
        "Nothing is merged: curators decide in the admin (Archive > Alias candidates)."
    )

    def handle(self, *args, **options):
        new = find_candidates()
        for candidate in new:
            self.stdout.write(
                f"{candidate.get_kind_display()}: {candidate.first_name} / {candidate.second_name}"
            )
        pending = AliasCandidate.objects.filter(decision=AliasCandidate.Decision.PROPOSED).count()
        self.stdout.write(f"{len(new)} new proposal(s); {pending} awaiting a curator's decision.")
