"""Each document's `impact`: its lexemes that rank it among the best for a one-word query,
each with its tier (`selection.IMPACT`), and a GIN index on them, so that a common word's
first page ranks the few reports of its first tier instead of every report holding it. The
function that writes them is the database's, so that every writer (the sync path, a
rebuild, this migration for an index written before) computes them alike. On other
databases, nothing."""

from importlib import import_module

import django.contrib.postgres.search
from django.db import migrations

# The engine's migrations run their SQL on PostgreSQL only, as the first one does.
_run = import_module("articles.search.postgres.migrations.0001_initial")._run

# Frozen here: the tiers and the weights this migration writes an existing index's impact
# with (articles/search/postgres/selection.py, IMPACT and WEIGHTS, when it was written).
WEIGHTS = "{0.75, 0.75, 1.0, 1.0}"
IMPACT = "{0.9, 0.85, 0.77}"

CREATE = [
    # A lexeme's tier is the first of `floors` its one-word ts_rank in `document` reaches:
    # "polic|1" for a report that ranks at 0.9 or more for "police", and so on. A lexeme of
    # one or two positions scores at most (1 + 1/4) / 1.6449 = 0.76 whatever the weights (at
    # most 1): below every floor, so only those of three positions or more are ranked.
    r"""CREATE OR REPLACE FUNCTION search_postgres_impact(
            document tsvector, rank_weights real[], floors real[]
        ) RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT array_to_tsvector(COALESCE(array_agg(u.lexeme || '|' || t.tier), '{}'))
        FROM unnest(document) AS u(lexeme, positions, marks),
             LATERAL (SELECT ts_rank(rank_weights, document, ('''' || replace(replace(u.lexeme, '\', '\\'),
                                     '''', '''''') || '''')::tsquery, 0) AS score) AS r,
             LATERAL (SELECT min(f.n) AS tier FROM unnest(floors) WITH ORDINALITY AS f(floor, n)
                      WHERE r.score >= f.floor) AS t
        WHERE cardinality(u.positions) >= 3 AND t.tier IS NOT NULL
    $$""",
    "ALTER TABLE search_postgres_document ADD COLUMN impact tsvector NOT NULL DEFAULT ''",
    "LOCK TABLE search_postgres_document IN SHARE ROW EXCLUSIVE MODE",
    f"UPDATE search_postgres_document SET impact = search_postgres_impact(document, '{WEIGHTS}', '{IMPACT}')",
    "CREATE INDEX search_postgres_document_impact ON search_postgres_document USING gin (impact)",
]

DROP = [
    "DROP INDEX IF EXISTS search_postgres_document_impact",
    "ALTER TABLE search_postgres_document DROP COLUMN IF EXISTS impact",
    "DROP FUNCTION IF EXISTS search_postgres_impact(tsvector, real[], real[])",
]


class Migration(migrations.Migration):
    dependencies = [("search_postgres", "0003_entity_and_day_counts")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(_run(CREATE), _run(DROP))],
            state_operations=[
                migrations.AddField(
                    model_name="document",
                    name="impact",
                    field=django.contrib.postgres.search.SearchVectorField(default=""),
                ),
            ],
        )
    ]
