"""The Whoosh engine (the only code that imports whoosh): analysis, the translation of query
plans, snippets, and the backend that reads and writes an index directory."""

from .backend import WhooshBackend

__all__ = ["WhooshBackend"]
