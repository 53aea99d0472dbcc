"""A search's URL state: its parameters in one fixed order, so one search has one URL, and
every link that changes it (a facet value toggled, a chip removed, a page, a period of the
timeline, the feed and exports of the same search)."""

from dataclasses import dataclass
from urllib.parse import urlencode

#: Parameters that page through a search; feeds and exports ignore them.
PAGING = ("page", "per_page")


@dataclass(frozen=True)
class UrlState:
    pairs: tuple[tuple[str, str], ...]

    @classmethod
    def from_params(cls, params, order, *, leave_out=()) -> "UrlState":
        """The valid parameters of a QueryDict, in `order`, blanks and `leave_out` dropped."""
        return cls(
            tuple(
                (key, value)
                for key in order
                if key not in leave_out
                for value in params.getlist(key)
                if value.strip()
            )
        )

    def query(self, *, drop=(), **values) -> str:
        """The query string with parameters dropped or set ("" when nothing is left)."""
        pairs = [(k, v) for k, v in self.pairs if k not in drop and k not in values]
        pairs += [(k, str(v)) for k, v in values.items() if v not in (None, "")]
        return urlencode(pairs)

    def url(self, *, drop=(), **values) -> str:
        """A relative URL: "?" and the query string (or "?" for everything)."""
        query = self.query(drop=drop, **values)
        return "?" + query if query else "?"

    def toggled(self, name: str, value: str) -> str:
        """This search with one value of a repeatable parameter added or removed."""
        pairs = [kv for kv in self.pairs if kv[0] != "page"]
        if (name, value) in pairs:
            pairs.remove((name, value))
        else:
            pairs.append((name, value))
        return "?" + urlencode(pairs) if pairs else "?"

    def without(self, name: str, value: str | None = None) -> str:
        """This search without a parameter (or one of its values), from its first page."""
        pairs = [
            kv
            for kv in self.pairs
            if kv[0] != "page" and not (kv[0] == name and (value is None or kv[1] == value))
        ]
        return "?" + urlencode(pairs) if pairs else "?"

    def page_url(self, number: int) -> str:
        return self.url(drop=("page",), page=number if number > 1 else None)

    def applied(self) -> str:
        """The query string as applied, without paging (feeds and exports record it)."""
        return self.query(drop=PAGING)

    def keep(self, names) -> list[tuple[str, str]]:
        """The pairs of these parameters (hidden fields to resubmit with a form)."""
        return [(k, v) for k, v in self.pairs if k in names]

    def except_(self, names) -> list[tuple[str, str]]:
        return [(k, v) for k, v in self.pairs if k not in names]
