"""The Whoosh engine (the only code that imports whoosh): an index in a directory of files.

`analysis.py` the analysers and schema, `translate.py` query plans in Whoosh's terms,
`columns.py` per-process arrays over the documents, `selection.py` searches as masks and
top-k ranking, `highlight.py` snippets, `backend.py` reading and writing the index.
"""

from .backend import WhooshBackend

Backend = WhooshBackend

__all__ = ["Backend", "WhooshBackend"]
