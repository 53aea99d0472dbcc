"""Curators' operations on entities: merging one into another, and undoing a merge."""

import re
import threading

from django.db import models, transaction
from django.utils import timezone

from . import search
from .kinds import KINDS as KIND_REGISTRY
from .models import (
    Actor,
    AliasCandidate,
    Article,
    City,
    LinkSuggestion,
    Merge,
    NamesVersion,
)
from .search.names import words
from .spelling import families
from .text import normalize_name

KINDS = {name: kind.model for name, kind in KIND_REGISTRY.items()}
KIND_OF = {model: kind for kind, model in KINDS.items()}
LINK = {name: kind.relation for name, kind in KIND_REGISTRY.items() if kind.many}
EXTRA_FIELDS = {"source": ["homepage"], "city": [], "actor": ["kind"], "country": []}


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
    # Article by article, through the ORM, so every change lands in the history with its
    # user and is queued for the index (a queryset.update() would bypass both).
    if kind == "source":
        snapshot["already_linked"] = []
        for article in Article.objects.filter(source=merged):
            article.source = target
            article._history_user = user
            article.save()
    else:
        relation = LINK[kind]
        already = set(target.articles.filter(pk__in=moved).values_list("pk", flat=True))
        snapshot["already_linked"] = sorted(already)
        for article in Article.objects.filter(pk__in=moved):
            article._history_user = user
            links = getattr(article, relation)
            if article.pk not in already:
                links.add(target)
            links.remove(merged)
    names = [merged.name, *snapshot["aliases"]]
    merged_pk = merged.pk
    for alias in merged.aliases.all():
        alias._history_user = user
        alias.delete()
    merged._history_user = user
    merged.delete()
    existing = {target.key, *target.aliases.values_list("key", flat=True)}
    added = []
    for name in names:
        key = normalize_name(name)
        if key in existing:
            continue
        alias = target.alias_model(entity=target, name=name)
        alias._history_user = user
        alias.save()
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
def undo_merge(record: Merge, *, user=None) -> object:
    """Recreate the merged entity with its names and reports; return it."""
    if record.undone:
        raise MergeError("This merge has already been undone.")
    model = KINDS[record.kind]
    snap = record.snapshot
    target = model.objects.filter(pk=record.target_id).first()
    if target is None:
        raise MergeError(f"{record.target_name} no longer exists; the merge cannot be undone.")
    if model.objects.filter(slug=snap["slug"]).exists():
        raise MergeError(f"The address /{snap['slug']}/ is taken again; rename that entity first.")
    for alias in target.aliases.filter(name__in=snap["added_aliases"]):
        alias._history_user = user
        alias.delete()
    restored = model(name=snap["name"], slug=snap["slug"], **snap["fields"])
    restored._history_user = user
    restored.save()
    for name in snap["aliases"]:
        alias = model.alias_model(entity=restored, name=name)
        alias._history_user = user
        alias.save()
    moved = list(Article.objects.filter(pk__in=snap["articles"]).values_list("pk", flat=True))
    if record.kind == "source":
        for article in Article.objects.filter(pk__in=moved, source=target):
            article.source = restored
            article._history_user = user
            article.save()
    else:
        relation = LINK[record.kind]
        keep = set(snap["already_linked"])
        for article in Article.objects.filter(pk__in=moved):
            article._history_user = user
            links = getattr(article, relation)
            links.add(restored)
            if article.pk not in keep:
                links.remove(target)
    record.undone = timezone.now()
    record.save(update_fields=["undone"])
    search.enqueue(moved)
    NamesVersion.bump()
    return restored


@transaction.atomic
def split_city(city: City, *, articles, name: str, user=None) -> City:
    """Move `articles` (reports of `city`) to a new city called `name`: for a name that
    stands for two places (Santiago, Chile and Santiago, Dominican Republic). Every report
    moved is a version in its history; a split is undone by merging the new city back."""
    name = " ".join(name.split())
    if City.resolve(name) is not None:
        raise MergeError(f"“{name}” is already a name of the city {City.resolve(name).name}: "
                         "choose another name, or merge instead.")
    moving = list(Article.objects.filter(cities=city, pk__in=[a.pk for a in articles]))
    if not moving:
        raise MergeError("Choose at least one report of this city to move.")
    new_city = City(name=name)
    new_city._history_user = user
    new_city.save()
    for article in moving:
        article._history_user = user
        article._change_reason = f"split: {city.name} -> {name}"
        article.cities.remove(city)
        article.cities.add(new_city)
    return new_city


def cities_in_several_countries():
    """Cities whose reports are about more than one country: one name for two places, or a
    place whose country changed (Moscow, USSR and Russia). For curators to decide."""
    return City.objects.annotate(
        n_countries=models.Count("articles__countries", distinct=True)).filter(n_countries__gt=1)


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


# ----------------------------------------------------------------------------- suggestions

_SENTENCE = re.compile(r"(?<=[.!?…])\s+|\n+")
_names_cache: dict = {"version": None, "table": None, "longest": 0}
_names_lock = threading.Lock()


def _link_table():
    """(word tuple -> [(kind, entity id, entity name)], longest) for every city and actor
    name and alias; rebuilt when NamesVersion moves on."""
    version = NamesVersion.current()
    with _names_lock:
        if _names_cache["version"] != version:
            table: dict[tuple[str, ...], set] = {}
            for kind, model in (("city", City), ("actor", Actor)):
                for pk, name in model.objects.values_list("pk", "name"):
                    table.setdefault(words(name), set()).add((kind, pk, name))
                for pk, alias, name in model.alias_model.objects.values_list(
                        "entity_id", "name", "entity__name"):
                    table.setdefault(words(alias), set()).add((kind, pk, name))
            table.pop((), None)
            _names_cache.update(version=version, table=table,
                                longest=max((len(k) for k in table), default=0))
        return _names_cache["table"], _names_cache["longest"]


def mentions(text: str) -> dict[tuple[str, int], tuple[str, str, str]]:
    """(kind, entity id) -> (entity name, spelling found, sentence) for every curated city
    and actor the text names, the first sentence naming each."""
    table, longest = _link_table()
    found = {}
    for sentence in _SENTENCE.split(text or ""):
        folded = list(words(sentence))
        i = 0
        while i < len(folded):
            for size in range(min(longest, len(folded) - i), 0, -1):
                hits = table.get(tuple(folded[i : i + size]))
                if hits:
                    for kind, pk, name in hits:
                        found.setdefault((kind, pk), (name, " ".join(folded[i : i + size]),
                                                      sentence.strip()[:1000]))
                    i += size
                    break
            else:
                i += 1
    return found


@transaction.atomic
def suggest_links(article: Article) -> list[LinkSuggestion]:
    """Bring the article's proposals up to date with its text and links; return the open ones."""
    linked = {("city", pk) for pk in article.cities.values_list("pk", flat=True)}
    linked |= {("actor", pk) for pk in article.actors.values_list("pk", flat=True)}
    named = mentions(f"{article.title}.\n{article.body}")
    existing = {(s.kind, s.entity_id): s for s in article.suggestions.all()}
    for key, suggestion in existing.items():
        if suggestion.decision == LinkSuggestion.Decision.PROPOSED and (
                key in linked or key not in named):
            suggestion.delete()
    for (kind, pk), (name, matched, sentence) in named.items():
        if (kind, pk) in linked or (kind, pk) in existing:
            continue
        LinkSuggestion.objects.create(article=article, kind=kind, entity_id=pk, entity_name=name,
                                      matched=matched, evidence=sentence)
    return list(article.suggestions.filter(decision=LinkSuggestion.Decision.PROPOSED))


@transaction.atomic
def decide_link(suggestion: LinkSuggestion, *, accept: bool, user=None) -> None:
    """Accept (link the city or actor to the article) or reject a suggestion, for good."""
    if suggestion.decision != LinkSuggestion.Decision.PROPOSED:
        raise MergeError("This suggestion has already been decided.")
    if accept:
        model = KINDS[suggestion.kind]
        entity = model.objects.filter(pk=suggestion.entity_id).first()
        if entity is None:
            raise MergeError(f"{suggestion.entity_name} no longer exists.")
        article = suggestion.article
        article._history_user = user
        getattr(article, LINK[suggestion.kind]).add(entity)
    suggestion.decision = (LinkSuggestion.Decision.ACCEPTED if accept
                           else LinkSuggestion.Decision.REJECTED)
    suggestion.decided_by = user
    suggestion.decided = timezone.now()
    suggestion.save(update_fields=["decision", "decided_by", "decided"])
