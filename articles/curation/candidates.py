"""Alias candidates: entities whose names differ only by the usual transliteration patterns
(`spelling.py`), proposed to curators, who merge or reject each pair. A pair decided once
(merged, rejected, or separated by undoing its merge) is never proposed again.

Proposals are refreshed whenever a curator changes a name or an alias in the admin, at the
end of every import, by the button on the proposals' list, and by `find_alias_candidates`.
"""

from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone

from articles.kinds import KINDS
from articles.models import AliasCandidate, Merge

from .merges import MergeError, merge
from .spelling import families


def find_candidates() -> list[AliasCandidate]:
    """Store a proposal for every spelling-family pair not decided before; return the new ones."""
    known = {
        (kind, *sorted((first, second)))
        for kind, first, second in AliasCandidate.objects.values_list("kind", "first_id", "second_id")
    }
    new = []
    for kind in KINDS.values():
        entities = kind.model.objects.annotate(n=Count("articles")).prefetch_related("aliases")
        for first, second, _first_name, _second_name in families(entities.order_by("pk")):
            if (kind.name, *sorted((first.pk, second.pk))) in known:
                continue
            # Keep the entity with more reports; the other becomes its spelling.
            if second.n > first.n:
                first, second = second, first
            known.add((kind.name, *sorted((first.pk, second.pk))))
            try:
                with transaction.atomic():
                    new.append(
                        AliasCandidate.objects.create(
                            kind=kind.name,
                            first_id=first.pk,
                            second_id=second.pk,
                            first_name=first.name,
                            second_name=second.name,
                        )
                    )
            except IntegrityError:
                continue  # proposed meanwhile by another process (two imports finishing)
    return new


def decide(candidate: AliasCandidate, *, accept: bool, user=None) -> Merge | None:
    """Accept (merge the second entity into the first) or reject a proposal."""
    if candidate.decision != AliasCandidate.Decision.PROPOSED:
        raise MergeError("This proposal has already been decided.")
    model = KINDS[candidate.kind].model
    if not accept:
        candidate.decision = AliasCandidate.Decision.REJECTED
        candidate.decided = timezone.now()
        candidate.save(update_fields=["decision", "decided"])
        return None
    first = model.objects.filter(pk=candidate.first_id).first()
    second = model.objects.filter(pk=candidate.second_id).first()
    if first is None or second is None:
        raise MergeError("One of the two entities no longer exists.")
    record = merge(target=first, merged=second, user=user)
    candidate.decision = AliasCandidate.Decision.MERGED
    candidate.decided = timezone.now()
    candidate.save(update_fields=["decision", "decided"])
    return record
