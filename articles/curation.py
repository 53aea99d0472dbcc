"""Curators' operations on entities: merging one into another, and undoing a merge."""

from django.db import models, transaction
from django.utils import timezone

from . import search
from .models import Actor, AliasCandidate, Article, City, Merge, NamesVersion, Source
from .spelling import families
from .text import normalize_name

KINDS = {"source": Source, "city": City, "actor": Actor}
KIND_OF = {model: kind for kind, model in KINDS.items()}
LINK = {"city": "cities", "actor": "actors"}
EXTRA_FIELDS = {"source": ["homepage"], "city": ["country"], "actor": ["kind"]}


class MergeError(ValueError):
    pass


def _article_ids(kind: str, entity) -> list[int]:
    return list(entity.articles.order_by("pk").values_list("pk", flat=True))


@transaction.atomic
def merge(*, target, merged, user=None) -> Merge:
    """Move all of `merged`'s reports to `target`, keep `merged`'s names as `target`'s
    aliases, and delete `merged`. Recorded so that `undo_merge` can reverse it."""
    kind = KIND_OF[type(target)]
    if type(merged) is not type(target):
        raise MergeError("Only entities of one kind can be merged.")
    if merged.pk == target.pk:
        raise MergeError("An entity cannot be merged into itself.")
    moved = _article_ids(kind, merged)
    snapshot = {
        "name": merged.name, "slug": merged.slug,
        "fields": {f: getattr(merged, f) for f in EXTRA_FIELDS[kind]},
        "aliases": [a.name for a in merged.aliases.all()],
        "articles": moved,
    }
    if kind == "source":
        Article.objects.filter(source=merged).update(source=target, updated=timezone.now())
        snapshot["already_linked"] = []
    else:
        through = getattr(Article, LINK[kind]).through
        column = f"{kind}_id"
        already = set(through.objects.filter(**{column: target.pk}, article_id__in=moved)
                      .values_list("article_id", flat=True))
        snapshot["already_linked"] = sorted(already)
        through.objects.bulk_create([through(article_id=pk, **{column: target.pk})
                                     for pk in moved if pk not in already])
        through.objects.filter(**{column: merged.pk}).delete()
    names = [merged.name, *snapshot["aliases"]]
    merged_pk = merged.pk
    merged.aliases.all().delete()
    merged.delete()
    existing = {target.key, *target.aliases.values_list("key", flat=True)}
    added = []
    for name in names:
        key = normalize_name(name)
        if key in existing:
            continue
        alias = target.aliases.create(name=name)
        existing.add(key)
        added.append(alias.name)
    snapshot["added_aliases"] = added
    record = Merge.objects.create(kind=kind, target_id=target.pk, target_name=target.name,
                                  merged_name=snapshot["name"], snapshot=snapshot, created_by=user)
    # Proposals about the merged entity are settled by the merge.
    AliasCandidate.objects.filter(
        kind=kind, decision=AliasCandidate.Decision.PROPOSED
    ).filter(models.Q(first_id=merged_pk) | models.Q(second_id=merged_pk)).update(
        decision=AliasCandidate.Decision.MERGED, decided=timezone.now())
    search.enqueue(moved)
    NamesVersion.bump()
    return record


@transaction.atomic
def undo_merge(record: Merge) -> object:
    """Recreate the merged entity with its names and reports; return it."""
    if record.undone:
        raise MergeError("This merge has already been undone.")
    model = KINDS[record.kind]
    snap = record.snapshot
    target = model.objects.filter(pk=record.target_id).first()
    if target is None:
        raise MergeError(f"{record.target_name} no longer exists; the merge cannot be undone.")
    target.aliases.filter(name__in=snap["added_aliases"]).delete()
    if model.objects.filter(slug=snap["slug"]).exists():
        raise MergeError(f"The address /{snap['slug']}/ is taken again; rename that entity first.")
    restored = model(name=snap["name"], slug=snap["slug"], **snap["fields"])
    restored.save()
    for alias in snap["aliases"]:
        restored.aliases.create(name=alias)
    moved = [pk for pk in snap["articles"] if Article.objects.filter(pk=pk).exists()]
    if record.kind == "source":
        Article.objects.filter(pk__in=moved, source=target).update(source=restored,
                                                                     updated=timezone.now())
    else:
        through = getattr(Article, LINK[record.kind]).through
        column = f"{record.kind}_id"
        keep = set(snap["already_linked"])
        through.objects.filter(**{column: target.pk}, article_id__in=[
            pk for pk in moved if pk not in keep]).delete()
        through.objects.bulk_create([through(article_id=pk, **{column: restored.pk}) for pk in moved])
    record.undone = timezone.now()
    record.save(update_fields=["undone"])
    search.enqueue(moved)
    NamesVersion.bump()
    return restored


def find_candidates() -> list[AliasCandidate]:
    """Store a proposal for every spelling-family pair not decided before; return the new ones."""
    new = []
    for kind, model in KINDS.items():
        entities = model.objects.prefetch_related("aliases").order_by("pk")
        for first, second, first_name, second_name in families(entities):
            # Keep the entity with more reports; the other becomes its spelling.
            if second.articles.count() > first.articles.count():
                first, second, first_name, second_name = second, first, second_name, first_name
            pair = {"kind": kind, "first_id": first.pk, "second_id": second.pk}
            reverse = {"kind": kind, "first_id": second.pk, "second_id": first.pk}
            if AliasCandidate.objects.filter(**pair).exists() or \
                    AliasCandidate.objects.filter(**reverse).exists():
                continue
            new.append(AliasCandidate.objects.create(
                **pair, first_name=first.name, second_name=second.name))
    return new


def decide(candidate: AliasCandidate, *, accept: bool, user=None) -> Merge | None:
    """Accept (merge the second entity into the first) or reject a proposal."""
    if candidate.decision != AliasCandidate.Decision.PROPOSED:
        raise MergeError("This proposal has already been decided.")
    model = KINDS[candidate.kind]
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
