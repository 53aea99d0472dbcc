"""Read replicas (`DATABASE_REPLICA_URLS`): what reads where.

An anonymous reader's GET or HEAD request outside the admin (no session cookie: a reader who
never logged in) reads one replica, chosen in turn per request, for everything it reads:
pages, search, facets, the PostgreSQL engine's index. Everything else reads and writes the
primary: curators (any request carrying a session cookie, so they see their own saves at
once), the admin, every POST, management commands, the index queue and its drain. A reader
may therefore see a save only once it has reached the replica (its replication lag).

Without replicas the router changes nothing: `db_for_read` answers None, Django's default.
"""

import contextlib
import contextvars
import itertools

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS

_reading: contextvars.ContextVar[str | None] = contextvars.ContextVar("archive_replica", default=None)


def replicas() -> list[str]:
    return [alias for alias in settings.DATABASES if alias != DEFAULT_DB_ALIAS]


@contextlib.contextmanager
def reading_from(alias: str | None):
    """Reads inside the block go to `alias` (None: the primary)."""
    token = _reading.set(alias)
    try:
        yield
    finally:
        _reading.reset(token)


def read_alias() -> str:
    """The database this request's reads go to (for code that takes a connection itself)."""
    return _reading.get() or DEFAULT_DB_ALIAS


class ReplicaRouter:
    def db_for_read(self, model, **hints):
        return _reading.get()

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True  # replicas hold the primary's rows

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS


class ReplicaReadsMiddleware:
    SAFE = ("GET", "HEAD")

    def __init__(self, get_response):
        self.get_response = get_response
        aliases = replicas()
        self.turns = itertools.cycle(aliases) if aliases else None

    def __call__(self, request):
        if (
            self.turns is None
            or request.method not in self.SAFE
            or request.path.startswith("/admin/")
            or settings.SESSION_COOKIE_NAME in request.COOKIES
        ):
            return self.get_response(request)
        with reading_from(next(self.turns)):
            return self.get_response(request)
