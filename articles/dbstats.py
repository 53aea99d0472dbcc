"""Planner statistics: the database learns how its tables look after bulk writes.

Without statistics SQLite takes every index for a selective one: asked whether a source has
a published report, it walks the `status` index through every published article instead of
the source's own few (1.1 s for the 50 sources of a facet at 15,000 reports; 2 ms with
statistics). `ANALYZE` after migrations, seeding and each import run keeps the plans right as
the archive grows; PostgreSQL's autovacuum would get there too, later.
"""

import logging

from django.db import DatabaseError, connections

logger = logging.getLogger("articles")


def refresh(using: str = "default") -> None:
    """Refresh the query planner's statistics of every table (a few seconds at 100k reports).

    Statistics only make queries faster: when another writer holds the database too long,
    this gives up with a warning rather than fail the work that called it."""
    try:
        with connections[using].cursor() as cursor:
            cursor.execute("ANALYZE")
    except DatabaseError as exc:
        logger.warning("planner statistics not refreshed: %s", exc)
