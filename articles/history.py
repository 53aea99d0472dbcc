"""Versions in the history (django-simple-history) for writes that bypass model signals.

Bulk writes (imports, merges of duplicates) save rows without `save()`, so they record their
versions here: one version per article with its fields *and* its links to cities, actors and
countries, as a single save from the admin would, so that the first curator change reads
as a change and any version can be reverted to.
"""

from collections import defaultdict

from articles.kinds import LINKED
from articles.models import Article


def record_entities(model, objs, *, reason: str, user=None) -> None:
    model.history.bulk_history_create(objs, default_change_reason=reason, default_user=user)


def record_articles(articles: list[Article], *, reason: str, update: bool, user=None) -> None:
    """One version of each article as it is now in the database (fields and links)."""
    if not articles:
        return
    versions = Article.history.bulk_history_create(
        articles, update=update, default_change_reason=reason, default_user=user, batch_size=500
    )
    pks = [a.pk for a in articles]
    history_model = Article.history.model
    for kind in LINKED:
        linked = defaultdict(list)
        rows = kind.through.objects.filter(article_id__in=pks).values_list(
            "id", "article_id", kind.through_column
        )
        for row_id, article_id, other in rows.iterator(5000):
            linked[article_id].append((row_id, other))
        # The historical link rows copy the link table's rows, their ids included.
        m2m_model = getattr(history_model, kind.relation).model
        m2m_model.objects.bulk_create(
            [
                m2m_model(history=version, id=row_id, article_id=version.id, **{kind.through_column: other})
                for version in versions
                for row_id, other in linked[version.id]
            ],
            batch_size=1000,
        )
