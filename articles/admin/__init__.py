"""Curation in Django's admin: articles with their review workflow (`articles.py`, its form
in `article_form.py`), authority records (`entities.py`) and the curators' lists
(`records.py`). Importing this package registers them all."""

from . import articles, entities, records  # noqa: F401  (registration)
