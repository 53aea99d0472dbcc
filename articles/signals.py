"""Index sync is a trigger, not logic: every change that affects an article's index document
queues that article's pk in the same transaction (`search.enqueue`), and the search package
drains the queue after commit. Raw saves (fixtures) are skipped: `loaddata` is followed by
`rebuild_index`.
"""

from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete
from django.dispatch import receiver

from . import search
from .kinds import KINDS, LINKED
from .models import Article, NamesVersion

ENTITY_MODELS = tuple(kind.model for kind in KINDS.values())
ALIAS_MODELS = tuple(kind.alias_model for kind in KINDS.values())


def _articles_of(entity) -> list[int]:
    return list(entity.articles.values_list("pk", flat=True))


@receiver(post_save, sender=Article)
@receiver(post_delete, sender=Article)
def article_changed(sender, instance, raw=False, **kwargs):
    if not raw:
        search.enqueue([instance.pk])


def article_links_changed(sender, instance, action, reverse, pk_set, **kwargs):
    if action == "pre_clear":
        # The rows are about to go: remember whom they concern while they still exist.
        if reverse:
            instance._cleared_article_pks = _articles_of(instance)
        return
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    if not reverse:
        search.enqueue([instance.pk])
    elif action == "post_clear":
        search.enqueue(getattr(instance, "_cleared_article_pks", []))
    else:
        search.enqueue(pk_set or [])


for _kind in LINKED:
    m2m_changed.connect(article_links_changed, sender=_kind.through, dispatch_uid=f"index-links-{_kind.name}")


@receiver(post_save)
def entity_saved(sender, instance, raw=False, created=False, **kwargs):
    if sender not in ENTITY_MODELS:
        return
    NamesVersion.bump()  # query expansion reads names: refresh it, fixtures included
    if not (raw or created):
        search.enqueue(_articles_of(instance))


@receiver(pre_delete)
def entity_deleting(sender, instance, **kwargs):
    # Links are removed (or the delete is refused) without per-article signals: queue now.
    if sender in ENTITY_MODELS:
        NamesVersion.bump()
        search.enqueue(_articles_of(instance))


@receiver(post_save)
@receiver(post_delete)
def alias_changed(sender, instance, raw=False, **kwargs):
    if sender not in ALIAS_MODELS:
        return
    NamesVersion.bump()
    if raw:
        return
    entity = type(instance).entity.field.related_model.objects.filter(pk=instance.entity_id).first()
    if entity is not None:
        search.enqueue(_articles_of(entity))
