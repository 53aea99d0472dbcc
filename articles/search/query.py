"""The archive's query language, read the same way whatever engine answers it.

`parse(q, names)` turns what a reader typed into a `Plan` that engines translate:

- **Plain words** (anything without explicit syntax, a pasted sentence with its colons,
  brackets and quotes included) become *units*: one per word, or one per curated name found
  in the words (`Nur-Sultan`, `Democratic Choice of Kazakhstan`), whose alternatives are
  every spelling of that name. A result must contain `min_match` of the units.
- **Syntax** (`"phrases"`, `AND`, `OR`, `NOT`, parentheses, `field:value`, `prefix*`,
  `wild?card`, `fuzzy~` / `fuzzy~2`) becomes a small tree of nodes. Bare words and quoted
  phrases that spell a curated name also match its other spellings. Malformed input never
  raises: stray operators and brackets are dropped. A syntax query of four or more words
  that finds nothing is read once more as plain words (`Plan.fallback`).

The cost of a query is bounded here, before any engine sees it: at most `MAX_WORDS` words,
fuzzy terms of at most `MAX_FUZZY_DISTANCE` edits, and (applied by the engines)
`MAX_EXPANSIONS` terms for each prefix or wildcard, `MAX_FUZZY_EXPANSIONS` for each fuzzy
term, `MAX_TOTAL_EXPANSIONS` for the whole query and `TIME_BUDGET` seconds of searching.
"""

import math
import re

from .base import QueryError
from .names import NameTable
from .names import words as name_words
from .nodes import And, Fuzzy, Not, Or, Phrase, Plan, Prefix, Term, Unit, Wildcard, leaves
from .schema import QUERY_FIELDS

MAX_WORDS = 64
MAX_FUZZY_DISTANCE = 2
MAX_EXPANSIONS = 50
#: Words a fuzzy term stands for at most: the closest ones.
MAX_FUZZY_EXPANSIONS = 5
MAX_TOTAL_EXPANSIONS = 200
#: Prefixes and wildcards need this many letters before the first wildcard character.
MIN_PREFIX = 2
#: Words shorter than this are not indexed (single letters).
MIN_WORD = 2
#: Brackets and NOTs nest at most this deep; deeper ones are read as if flat.
MAX_DEPTH = 16
TIME_BUDGET = 2.0
#: Words a curated name's spelling may have between its own in a text.
NAME_SLOP = 1
OPERATORS = ("AND", "OR", "NOT")

__all__ = [
    "And",
    "Fuzzy",
    "Not",
    "Or",
    "Phrase",
    "Plan",
    "Prefix",
    "QueryError",
    "Term",
    "Unit",
    "Wildcard",
    "leaves",
    "minimum_should_match",
    "nothing_to_search",
    "parse",
]


# ----------------------------------------------------------------------- helpers

_WORD = re.compile(r"\w+")
_EXPLICIT = re.compile(
    r"(?:^|[\s(])(?:AND|OR|NOT)(?=[\s(]|$)|\"[^\"]+\"|\b(?:{}):\S|\w[*?~]|[*?]\w".format(
        "|".join(QUERY_FIELDS)
    )
)
_TOKEN = re.compile(r'"[^"]*"?|\w+:"[^"]*"?|\(|\)|[^\s()"]+')
_FUZZY = re.compile(r"^(\w+)~(\d*)$")


#: Plain queries of more units than this are read as natural language (a pasted claim or
#: sentence): any of their words may match and the ranking sorts them out. Requiring a
#: share of a long query's words cost nDCG@10 on the SciFact claims (README).
LONG_QUERY = 4
#: A plain query of at least this many units that ends with a full stop is a sentence (a
#: claim or a line pasted from a report), read as natural language whatever its length.
SENTENCE_UNITS = 3
_SENTENCE_END = re.compile(r"[^\s.]\.\s*$")


def minimum_should_match(units: int, sentence: bool = False) -> int:
    """How many of a plain query's units a result must contain: every unit of up to three;
    two of four (Solr edismax's `mm=3<25%` for short, news-style queries); one of more, and
    one of a sentence of three or more (a short claim such as "DUSP4 decreases apoptosis."
    is asked about its subject, not only of reports holding every word of it)."""
    if units > LONG_QUERY or (sentence and units >= SENTENCE_UNITS):
        return 1
    if units <= 3:
        return units
    return max(2, math.ceil(units * 0.25))


def is_sentence(q: str) -> bool:
    """Whether the query ends as a sentence does: a full stop after a word ("apoptosis.",
    "(AML)."), not an ellipsis. Keywords are typed without one; claims and pasted lines end
    with it (789 of SciFact's 809 training claims)."""
    return bool(_SENTENCE_END.search(q))


def correctable(words: list[str], names: NameTable | None = None):
    """The words of a query "did you mean" may correct, each once: words of letters only, of
    three letters or more, that are not a curated spelling (those match through the name's
    other spellings). Each engine then keeps those that match nothing."""
    for word in dict.fromkeys(words):
        if not word or not word.isalpha() or len(word) < 3:
            continue
        if names and names.find([" ".join(name_words(word))]):
            continue
        yield word


def corrected(q: str, replacements: dict[str, str]) -> str | None:
    """The query with each word replaced (its first occurrence, as a whole word), or None
    when there is nothing to replace."""
    if not replacements:
        return None
    for word, suggestion in replacements.items():
        q = re.sub(rf"\b{re.escape(word)}\b", suggestion, q, count=1)
    return q


def has_syntax(q: str) -> bool:
    return bool(_EXPLICIT.search(q))


def _fold(text: str) -> str:
    return " ".join(name_words(text))


def _name_alternatives(typed: list[str], spellings) -> tuple[tuple[str, ...], ...]:
    """The typed words first, then every other spelling of the name, as word sequences."""
    typed_key = _fold(" ".join(typed))
    others = sorted({tuple(_WORD.findall(s)) for s in spellings if _fold(s) != typed_key})
    return (tuple(typed), *(o for o in others if o))


NO_WORDS = "The query has no words to search for."


def nothing_to_search(plan: Plan) -> QueryError:
    """Why a query that was read leaves nothing to search: what was dropped from it (a
    one-letter prefix), the common words the index leaves out, or nothing at all."""
    if plan.notices:
        return QueryError(f"{plan.notices[0]} {NO_WORDS}")
    words = list(dict.fromkeys(w.lower() for w in plan.words))
    if not words:
        return QueryError(NO_WORDS)
    short = [w for w in words if len(w) < MIN_WORD]
    common = [w for w in words if len(w) >= MIN_WORD]
    if not common:
        return QueryError(
            f"{_listed(short)} {_verb(short)} too short to search for: give words of "
            f"{MIN_WORD} letters or more."
        )
    if short:
        return QueryError(
            f"{_listed(common)} {_verb(common)} too common and {_listed(short)} too short "
            "to search for: add a less common word."
        )
    return QueryError(f"{_listed(common)} {_verb(common)} too common to search for: add a less common word.")


def _listed(words: list[str]) -> str:
    shown = [f"“{w[:40]}”" for w in words[:6]]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} and {shown[-1]}"


def _verb(words: list[str]) -> str:
    return "is" if len(words) == 1 else "are"


def _check_size(words: list[str]):
    if len(words) > MAX_WORDS:
        raise QueryError(f"The query has {len(words)} words; give at most {MAX_WORDS}.")


# ----------------------------------------------------------------- plain words


def plain_plan(q: str, names: NameTable | None, *, words: list[str] | None = None) -> Plan:
    words = [w for w in (words if words is not None else _WORD.findall(q))]
    _check_size(words)
    spans = names.find([_fold(w) for w in words]) if names else []
    units, i = [], 0
    for start, end, spellings in [*spans, (len(words), len(words), None)]:
        units += [Unit(w, ((w,),)) for w in words[i:start]]
        if spellings is not None:
            typed = words[start:end]
            units.append(Unit(" ".join(typed), _name_alternatives(typed, spellings)))
        i = end
    if not units:
        raise QueryError(NO_WORDS)
    sentence = is_sentence(q)
    return Plan(
        q=q,
        kind="plain",
        units=units,
        min_match=minimum_should_match(len(units), sentence),
        sentence=sentence,
        words=[u.label for u in units],
    )


# ----------------------------------------------------------------------- syntax


class _Parser:
    """Recursive descent over tokens; tolerant: what cannot be read is skipped."""

    def __init__(self, tokens: list[str], names: NameTable | None, plan: Plan):
        self.tokens, self.pos, self.names, self.plan = tokens, 0, names, plan
        self.depth = 0

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self):
        token = self.peek()
        self.pos += 1
        return token

    def parse(self):
        nodes = []
        while self.peek() is not None:
            node = self.or_expr()
            if node is not None:
                nodes.append(node)
            elif self.peek() is not None:
                self.take()  # a stray ")" or operator
        return _and(nodes)

    def or_expr(self):
        left = self.and_expr()
        while self.peek() == "OR":
            self.take()
            right = self.and_expr()
            if right is not None:
                left = right if left is None else Or(_flatten(Or, left, right))
        return left

    def and_expr(self):
        nodes = []
        while self.peek() not in (None, ")", "OR"):
            if self.peek() == "AND":
                self.take()
                continue
            node = self.unary()
            if node is not None:
                nodes.append(node)
        return _and(self.expand_names(nodes))

    def unary(self):
        if self.peek() == "NOT":
            self.take()
            if self.depth >= MAX_DEPTH or self.peek() in (None, ")", "OR", "AND"):
                return None
            self.depth += 1
            child = self.unary()
            self.depth -= 1
            return Not(child) if child is not None else None
        return self.primary()

    def primary(self):
        token = self.take()
        if token == "(":
            if self.depth >= MAX_DEPTH:
                return None  # too deep: its contents are read at this level
            self.depth += 1
            node = self.or_expr()
            self.depth -= 1
            if self.peek() == ")":
                self.take()
            return node
        if token == ")":
            return None
        return self.leaf(token)

    def leaf(self, token: str):
        fieldname = None
        if ":" in token and not token.startswith('"'):
            prefix, _, rest = token.partition(":")
            if prefix in QUERY_FIELDS and rest:
                fieldname, token = prefix, rest
        if token.startswith('"'):
            words = tuple(_WORD.findall(token))
            if not words:
                return None
            self.plan.words += words
            return Phrase(words, fieldname) if len(words) > 1 else Term(words[0], fieldname)
        fuzzy = _FUZZY.match(token)
        if fuzzy:
            text, raw = fuzzy.groups()
            distance = int(raw[:3]) if raw else 1
            if distance > MAX_FUZZY_DISTANCE:
                most = MAX_FUZZY_DISTANCE
                self.plan.notices.append(
                    f"“{token[:40]}”: fuzzy terms allow at most {most} edits; searched as {text}~{most}."
                )
                distance = MAX_FUZZY_DISTANCE
            self.plan.words.append(text)
            return Fuzzy(text, max(distance, 0), fieldname) if distance else Term(text, fieldname)
        if "*" in token or "?" in token:
            return self.wildcard(token, fieldname)
        words = tuple(_WORD.findall(token))
        if not words:
            return None
        self.plan.words += words
        if len(words) > 1:  # Nur-Sultan, 2019-06-09: the words in order
            return Phrase(words, fieldname)
        return Term(words[0], fieldname)

    def wildcard(self, token: str, fieldname):
        pattern = re.sub(r"[^\w*?]", "", token)
        literal = re.match(r"\w*", pattern).group(0)
        if len(literal) < MIN_PREFIX:
            self.plan.notices.append(
                f"“{token[:40]}”: give at least {MIN_PREFIX} letters before "
                "* or ?; it was searched as a word."
            )
            words = tuple(_WORD.findall(token))
            return (
                (Term(words[0], fieldname) if len(words) == 1 else Phrase(words, fieldname))
                if words
                else None
            )
        self.plan.words.append(literal)
        if pattern.endswith("*") and not re.search(r"[*?]", pattern[:-1]):
            return Prefix(pattern[:-1].lower(), fieldname)
        return Wildcard(pattern.lower(), fieldname)

    def expand_names(self, nodes: list) -> list:
        """Bare words and phrases that spell a curated name also match its other spellings."""
        if not self.names:
            return nodes
        out, run = [], []

        def flush():
            words = [n.text for n in run]
            spans = self.names.find([_fold(w) for w in words])
            i = 0
            for start, end, spellings in spans:
                out.extend(run[i:start])
                out.append(_alternatives(_name_alternatives(words[start:end], spellings)))
                i = end
            out.extend(run[i:])
            run.clear()

        for node in nodes:
            if isinstance(node, Term) and node.field is None:
                run.append(node)
                continue
            flush()
            if isinstance(node, Phrase) and node.field is None:
                spans = self.names.find([_fold(w) for w in node.words])
                if len(spans) == 1 and spans[0][:2] == (0, len(node.words)):
                    node = _alternatives(_name_alternatives(list(node.words), spans[0][2]))
            out.append(node)
        flush()
        return out


def _alternatives(alternatives) -> Or:
    return Or(tuple(Phrase(a, slop=NAME_SLOP) if len(a) > 1 else Term(a[0]) for a in alternatives))


def _flatten(kind, *nodes) -> tuple:
    out = []
    for node in nodes:
        out.extend(node.children if isinstance(node, kind) else (node,))
    return tuple(out)


def _and(nodes: list):
    if not nodes:
        return None
    return nodes[0] if len(nodes) == 1 else And(_flatten(And, *nodes))


def syntax_plan(q: str, names: NameTable | None) -> Plan:
    tokens = _TOKEN.findall(q)
    _check_size([w for w in _WORD.findall(q) if w not in OPERATORS])
    plan = Plan(q=q, kind="syntax")
    plan.tree = _Parser(tokens, names, plan).parse()
    if plan.tree is None:
        raise QueryError(NO_WORDS)
    if _only_negative(plan.tree):
        raise QueryError("The query only excludes words: add one to find, as in “protest NOT police”.")
    words = [w for w in _WORD.findall(q) if w not in OPERATORS]
    if len(words) >= 4:
        plan.fallback = plain_plan(" ".join(words), names, words=words)
    return plan


def _only_negative(node) -> bool:
    if isinstance(node, Not):
        return True
    if isinstance(node, And):
        return all(_only_negative(c) for c in node.children)
    return False


def parse(q: str, names: NameTable | None = None) -> Plan:
    """The plan for a reader's query. Raises QueryError when there is nothing to search."""
    q = q.strip()
    if has_syntax(q):
        return syntax_plan(q, names)
    return plain_plan(q, names)
