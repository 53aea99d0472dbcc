"""Merging one entity into another, undoing it, and splitting a city in two.

Every report touched is changed article by article through the ORM, so each change is a
version in its history (with its user and a reason) and is queued for the index; never a
bare queryset.update(). A merge keeps everything needed to undo it, and the undo restores
the entity under its own id, slug and aliases, so its history and its pages come back as
they were, and the pair is remembered as separated so it is not proposed again.
"""

from django.db import models, transaction
from django.utils import timezone

from articles import search
from articles.kinds import kind_of
from articles.models import AliasCandidate, Article, City, Merge, NamesVersion
from articles.text import normalize_name

EXTRA_FIELDS = {"source": ["homepage"], "city": [], "actor": ["kind"], "country": []}


class MergeError(ValueError):
    """The curator's request cannot be carried out; the message says why."""


def _articles(kind, entity):
    return Article.objects.filter(**{kind.article_lookup: entity}).order_by("pk")


def _relink(article, kind, *, remove, add, user, reason):
    article._history_user = user
    article._change_reason = reason
    if not kind.many:
        article.source = add
        article.save()
        return
    links = getattr(article, kind.relation)
    if add is not None:
        links.add(add)
    if remove is not None:
        links.remove(remove)


@transaction.atomic
def merge(*, target, merged, user=None) -> Merge:
    """Move all of `merged`'s reports to `target`, keep `merged`'s names as `target`'s
    aliases, and delete `merged`. Recorded so that `undo_merge` can reverse it."""
    kind = kind_of(target)
    if type(merged) is not type(target):
        raise MergeError("Only entities of one kind can be merged.")
    if merged.pk == target.pk:
        raise MergeError("An entity cannot be merged into itself.")
    moved = list(_articles(kind, merged).values_list("pk", flat=True))
    already = (
        set(_articles(kind, target).filter(pk__in=moved).values_list("pk", flat=True)) if kind.many else set()
    )
    snapshot = {
        "pk": merged.pk,
        "name": merged.name,
        "slug": merged.slug,
        "fields": {f: getattr(merged, f) for f in EXTRA_FIELDS[kind.name]},
        "aliases": [a.name for a in merged.aliases.all()],
        "alias_pks": [a.pk for a in merged.aliases.all()],
        "articles": moved,
        "already_linked": sorted(already),
    }
    reason = f"merge: {merged.name} into {target.name}"
    for article in Article.objects.filter(pk__in=moved):
        _relink(
            article,
            kind,
            remove=merged,
            add=None if article.pk in already else target,
            user=user,
            reason=reason,
        )
    names = [merged.name, *snapshot["aliases"]]
    for alias in merged.aliases.all():
        alias._history_user, alias._change_reason = user, reason
        alias.delete()
    merged._history_user, merged._change_reason = user, reason
    merged.delete()
    existing = {target.key, *target.aliases.values_list("key", flat=True)}
    added = []
    for name in names:
        key = normalize_name(name)
        if key in existing:
            continue
        alias = target.alias_model(entity=target, name=name)
        alias._history_user, alias._change_reason = user, reason
        alias.save()
        existing.add(key)
        added.append(alias.name)
    snapshot["added_aliases"] = added
    record = Merge.objects.create(
        kind=kind.name,
        target_id=target.pk,
        target_name=target.name,
        merged_name=snapshot["name"],
        snapshot=snapshot,
        created_by=user,
    )
    # Proposals about the merged entity are settled by the merge.
    AliasCandidate.objects.filter(kind=kind.name, decision=AliasCandidate.Decision.PROPOSED).filter(
        models.Q(first_id=merged.pk) | models.Q(second_id=merged.pk)
    ).update(decision=AliasCandidate.Decision.MERGED, decided=timezone.now())
    search.enqueue(moved)
    NamesVersion.bump()
    return record


@transaction.atomic
def undo_merge(record: Merge, *, user=None):
    """Restore the merged entity (its id, slug, names and reports); return it."""
    if record.undone:
        raise MergeError("This merge has already been undone.")
    from articles.kinds import KINDS

    kind = KINDS[record.kind]
    model, snap = kind.model, record.snapshot
    target = model.objects.filter(pk=record.target_id).first()
    if target is None:
        raise MergeError(f"{record.target_name} no longer exists; the merge cannot be undone.")
    if model.objects.filter(slug=snap["slug"]).exists():
        raise MergeError(f"The address /{snap['slug']}/ is taken again; rename that entity first.")
    reason = f"undo merge: {snap['name']} out of {target.name}"
    for alias in target.aliases.filter(name__in=snap["added_aliases"]):
        alias._history_user, alias._change_reason = user, reason
        alias.delete()
    # Under its own id (ids are never reused by either database), so its history and every
    # link to its pages hold again.
    pk = snap.get("pk") if not model.objects.filter(pk=snap.get("pk")).exists() else None
    restored = model(pk=pk, name=snap["name"], slug=snap["slug"], **snap["fields"])
    restored._history_user, restored._change_reason = user, reason
    restored.save(force_insert=True)
    alias_pks = snap.get("alias_pks") or [None] * len(snap["aliases"])
    for alias_pk, name in zip(alias_pks, snap["aliases"], strict=True):
        taken = alias_pk is not None and model.alias_model.objects.filter(pk=alias_pk).exists()
        alias = model.alias_model(pk=None if taken else alias_pk, entity=restored, name=name)
        alias._history_user, alias._change_reason = user, reason
        alias.save(force_insert=True)
    moved = list(Article.objects.filter(pk__in=snap["articles"]).values_list("pk", flat=True))
    keep = set(snap["already_linked"])
    for article in Article.objects.filter(pk__in=moved):
        _relink(
            article,
            kind,
            add=restored,
            remove=None if article.pk in keep else target,
            user=user,
            reason=reason,
        )
    record.undone = timezone.now()
    record.save(update_fields=["undone"])
    # The curator has said these two are different: never propose the pair again.
    pair = models.Q(first_id=target.pk, second_id=restored.pk) | models.Q(
        first_id=restored.pk, second_id=target.pk
    )
    updated = AliasCandidate.objects.filter(pair, kind=kind.name).update(
        decision=AliasCandidate.Decision.SEPARATED, decided=timezone.now()
    )
    if not updated:
        AliasCandidate.objects.create(
            kind=kind.name,
            first_id=target.pk,
            second_id=restored.pk,
            first_name=target.name,
            second_name=restored.name,
            decision=AliasCandidate.Decision.SEPARATED,
            decided=timezone.now(),
        )
    search.enqueue(moved)
    NamesVersion.bump()
    return restored


@transaction.atomic
def split_city(city: City, *, articles, name: str, user=None) -> City:
    """Move `articles` (reports of `city`) to a new city called `name`: for a name that
    stands for two places (Santiago, Chile and Santiago, Dominican Republic). Every report
    moved is a version in its history; a split is undone by merging the new city back."""
    name = " ".join(name.split())
    clash = City.resolve(name)
    if clash is not None:
        raise MergeError(
            f"“{name}” is already a name of the city {clash.name}: choose another name, or merge instead."
        )
    moving = list(Article.objects.filter(cities=city, pk__in=[a.pk for a in articles]))
    if not moving:
        raise MergeError("Choose at least one report of this city to move.")
    new_city = City(name=name)
    new_city._history_user = user
    new_city.save()
    kind = kind_of(city)
    for article in moving:
        _relink(article, kind, remove=city, add=new_city, user=user, reason=f"split: {city.name} -> {name}")
    return new_city


def cities_in_several_countries():
    """Cities whose reports are about more than one country: one name for two places, or a
    place whose country changed (Moscow, USSR and Russia). For curators to decide."""
    return City.objects.annotate(n_countries=models.Count("articles__countries", distinct=True)).filter(
        n_countries__gt=1
    )
