"""The nodes of a query plan (`articles.search.query` builds them; engines translate them)."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Term:
    text: str
    field: str | None = None  # None: every searchable field, weighted


@dataclass(frozen=True)
class Phrase:
    words: tuple[str, ...]
    field: str | None = None
    slop: int = 0


@dataclass(frozen=True)
class Prefix:
    text: str
    field: str | None = None


@dataclass(frozen=True)
class Wildcard:
    pattern: str
    field: str | None = None


@dataclass(frozen=True)
class Fuzzy:
    text: str
    distance: int = 1
    field: str | None = None


@dataclass(frozen=True)
class And:
    children: tuple


@dataclass(frozen=True)
class Or:
    children: tuple


@dataclass(frozen=True)
class Not:
    child: object


@dataclass(frozen=True)
class Unit:
    """One thing a plain query asks for: a word, or a curated name in all its spellings."""

    label: str
    #: each alternative is a word sequence: ("protest",) or ("democratic", "choice", ...)
    alternatives: tuple[tuple[str, ...], ...]


@dataclass
class Plan:
    q: str
    kind: str  # "plain" or "syntax"
    units: list[Unit] = field(default_factory=list)
    min_match: int = 0
    #: plain words ending with a full stop, read as natural language (query.is_sentence)
    sentence: bool = False
    tree: object = None
    #: the words a reader typed, for "did you mean"
    words: list[str] = field(default_factory=list)
    #: the plain reading of a syntax query, tried once when the syntax finds nothing
    fallback: "Plan | None" = None
    #: clamped or dropped parts of the query, said to the reader
    notices: list[str] = field(default_factory=list)


def leaves(node):
    """Every leaf (Term, Phrase, Prefix, Wildcard, Fuzzy) of a syntax tree, NOTs included."""
    if isinstance(node, And | Or):
        for child in node.children:
            yield from leaves(child)
    elif isinstance(node, Not):
        yield from leaves(node.child)
    elif node is not None:
        yield node
