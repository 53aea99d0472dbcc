from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_roles(sender, **kwargs):
    from django.contrib.auth.models import Group, Permission

    from .curation.roles import ensure_roles

    ensure_roles(Group, Permission)


def _refresh_statistics(sender, using="default", **kwargs):
    from . import dbstats

    dbstats.refresh(using)


class ArticlesConfig(AppConfig):
    name = "articles"
    verbose_name = "Archive"

    def ready(self):
        from . import signals  # noqa: F401  (connects the index-sync receivers)

        # After auth's own post_migrate has created the permissions.
        post_migrate.connect(_ensure_roles, sender=self)
        post_migrate.connect(_refresh_statistics, sender=self)
