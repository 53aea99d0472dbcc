"""Suggested links: the curated cities and actors an article's text names (under any
spelling) that it is not linked to yet, each with the sentence that names it.

Suggestions are computed when the edit page is shown, never written by showing it. A
curator's decisions are made inside the article's own form (so no unsaved edit is lost) and
recorded as `LinkSuggestion` rows: an accepted one links the entity, a rejected one is never
proposed again for that article. Names on the curators' list of generic names ("people",
"police", "residents") are never proposed.
"""

import re
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from articles.kinds import KINDS
from articles.models import GenericName, LinkSuggestion
from articles.search.names import table, words
from articles.text import normalize_name

SUGGESTED_KINDS = ("city", "actor")
_SENTENCE = re.compile(r"(?<=[.!?…])\s+|\n+")


@dataclass(frozen=True)
class Suggestion:
    kind: str
    entity_id: int
    entity_name: str
    matched: str
    evidence: str

    @property
    def value(self) -> str:
        """How the form names it: "city:12"."""
        return f"{self.kind}:{self.entity_id}"

    @property
    def label(self) -> str:
        return f"{KINDS[self.kind].label}: {self.entity_name}"


def mentions(text: str) -> dict[tuple[str, int], Suggestion]:
    """(kind, entity id) -> a suggestion for every curated city and actor the text names,
    with the first sentence naming each."""
    names = table()
    found = {}
    for sentence in _SENTENCE.split(text or ""):
        folded = list(words(sentence))
        for start, end, entities in names.mentions(folded, SUGGESTED_KINDS):
            for entity in entities:
                found.setdefault(
                    (entity.kind, entity.pk),
                    Suggestion(
                        entity.kind,
                        entity.pk,
                        entity.name,
                        " ".join(folded[start:end]),
                        sentence.strip()[:1000],
                    ),
                )
    return found


def pending(article) -> list[Suggestion]:
    """The article's open suggestions: named, not linked, not decided, not generic."""
    if article.pk is None:
        return []
    linked = {
        (kind.name, pk)
        for kind in (KINDS[k] for k in SUGGESTED_KINDS)
        for pk in getattr(article, kind.relation).values_list("pk", flat=True)
    }
    decided = set(
        article.suggestions.exclude(decision=LinkSuggestion.Decision.PROPOSED).values_list(
            "kind", "entity_id"
        )
    )
    generic = set(GenericName.objects.values_list("key", flat=True))
    spellings = {(e.kind, e.pk): e.spellings for found in table().entities.values() for e in found}
    out = []
    for key, suggestion in mentions(f"{article.title}.\n{article.body}").items():
        if key in linked or key in decided:
            continue
        if generic & {normalize_name(s) for s in spellings.get(key, ())}:
            continue
        out.append(suggestion)
    return sorted(out, key=lambda s: (s.kind, s.entity_name.casefold()))


@transaction.atomic
def decide(article, *, accept=(), reject=(), user=None) -> list[str]:
    """Record a curator's decisions on suggestions (given as "city:12" values); link the
    accepted ones. Returns the names linked."""
    open_ = {s.value: s for s in pending(article)}
    linked = []
    for value, decision in [*((v, "accepted") for v in accept), *((v, "rejected") for v in reject)]:
        suggestion = open_.get(value)
        if suggestion is None:
            continue  # decided meanwhile, or no longer named by the text
        kind = KINDS[suggestion.kind]
        if decision == "accepted":
            entity = kind.model.objects.filter(pk=suggestion.entity_id).first()
            if entity is None:
                continue
            article._history_user = user
            article._change_reason = f"accept suggestion: {kind.label.lower()} {entity.name}"
            getattr(article, kind.relation).add(entity)
            linked.append(entity.name)
        LinkSuggestion.objects.update_or_create(
            article=article,
            kind=suggestion.kind,
            entity_id=suggestion.entity_id,
            defaults={
                "entity_name": suggestion.entity_name,
                "matched": suggestion.matched,
                "evidence": suggestion.evidence,
                "decision": decision,
                "decided_by": user,
                "decided": timezone.now(),
            },
        )
    return linked
