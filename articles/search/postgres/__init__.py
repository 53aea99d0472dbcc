"""The PostgreSQL engine: full-text search in the archive's own database.

`configs.py` the text search configuration of each language, `text.py` the words as both
sides of a search see them, `translate.py` query plans as SQL conditions over tsvectors,
`selection.py` searches, filters and facet counts in SQL, `backend.py` reading and writing
the document table. The tables come from this Django app's migration (PostgreSQL only).
"""
