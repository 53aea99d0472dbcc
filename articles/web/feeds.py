"""`/search/feed/`: an Atom 1.0 feed of any search.

It takes the parameters of `/search/` (`page` and `per_page` are accepted and ignored) and
holds the first `FEED_LENGTH` results in the search's order: by relevance when there is a
text query, newest first otherwise, unless `sort` says otherwise. A bad parameter answers
400 in plain text naming it, as the exports do.

Each entry links to the article's permalink, which is also its id; its `published` and
`updated` dates are the report's publication date (midnight UTC; an article without one,
which only a draft can be, would use the time it was created); its author is the source;
its categories are its cities and actors; its summary is the start of the text, as plain
text.
"""

import datetime as dt
import re
from dataclasses import dataclass
from itertools import islice

from django.contrib.syndication.views import Feed
from django.template.defaultfilters import date as format_date
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.utils.text import Truncator
from django.utils.xmlutils import SimplerXMLGenerator

from articles.browse.search import Search
from articles.models import Article

from .exports import bad_parameters

FEED_LENGTH = 50
SUMMARY_WORDS = 60
ARCHIVE_NAME = "Protest Archive"


#: What XML 1.0 cannot hold: C0 control characters (but tab and line breaks), surrogates and
#: the two non-characters.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(value: str) -> str:
    return NOT_XML.sub("\ufffd", value) if value else value


class XMLTextWriter(SimplerXMLGenerator):
    """Django's XML writer, writing a character XML cannot hold as U+FFFD instead of failing
    (Django raises, which answered 500): a control character in an imported title or in a
    query must not break the feed of every search that shows it."""

    def characters(self, content):
        super().characters(xml_text(content))

    def startElement(self, name, attrs):
        super().startElement(name, {k: xml_text(v) for k, v in attrs.items()} if attrs else attrs)


class PlainTextAtomFeed(Atom1Feed):
    """Atom with `<summary type="text">`: summaries are plain text, never read as HTML."""

    def write(self, outfile, encoding):
        handler = XMLTextWriter(outfile, encoding, short_empty_elements=True)
        handler.startDocument()
        handler.startElement("feed", self.root_attributes())
        self.add_root_elements(handler)
        self.write_items(handler)
        handler.endElement("feed")

    def add_item_elements(self, handler, item):
        super().add_item_elements(handler, {**item, "description": None})
        if item["description"]:
            handler.addQuickElement("summary", item["description"], {"type": "text"})


class BadSearch(Exception):
    def __init__(self, errors):
        super().__init__("bad search parameters")
        self.errors = errors


@dataclass
class FeedSearch:
    """What one request's feed is about (the Feed object itself is shared across requests)."""

    title: str
    subtitle: str
    search_url: str
    feed_url: str
    articles: list[Article]


def describe(search) -> str:
    """The search in words, from its chips: "“toqaev”; city: Almaty or Astana; from 1 June 2019"."""
    groups: dict[str, list[str]] = {}
    for chip in search.chips():
        value = chip["value"]
        if hasattr(value, "year"):
            value = format_date(value, "j F Y")
        groups.setdefault(chip["label"], []).append(str(value))
    parts = []
    for label, values in groups.items():
        if label == "Text":
            parts.append(f"“{values[0]}”")
        elif label in ("From", "To"):
            parts.append(f"{label.lower()} {values[0]}")
        else:
            parts.append(f"{label.lower()}: {' or '.join(values)}")
    return "; ".join(parts) or "all reports"


SORT_WORDS = {"relevance": "best matches first", "newest": "newest first", "oldest": "oldest first"}


class SearchFeed(Feed):
    feed_type = PlainTextAtomFeed
    author_name = ARCHIVE_NAME

    def __call__(self, request, *args, **kwargs):
        try:
            return super().__call__(request, *args, **kwargs)
        except BadSearch as exc:
            return bad_parameters(exc.errors, request.GET)

    def get_object(self, request, *args, **kwargs):
        search = Search(request.GET)
        if search.errors:
            raise BadSearch(search.errors)
        query = search.state.applied()
        suffix = f"?{query}" if query else ""
        return FeedSearch(
            title=f"{ARCHIVE_NAME}: {describe(search)}",
            subtitle=(
                f"The first {FEED_LENGTH} reports of this search, "
                f"{SORT_WORDS[search.sort]}. Every result: "
                f"{request.build_absolute_uri(reverse('search-export-csv') + suffix)}"
            ),
            search_url=reverse("search") + suffix,
            feed_url=reverse("search-feed") + suffix,
            articles=list(islice(search.articles(chunk=FEED_LENGTH), FEED_LENGTH)),
        )

    def title(self, obj):
        return obj.title

    def subtitle(self, obj):
        return obj.subtitle

    def link(self, obj):
        return obj.search_url

    def feed_url(self, obj):
        return obj.feed_url

    def items(self, obj):
        return obj.articles

    def item_title(self, item):
        return item.title  # Atom titles are text: the XML writer escapes them.

    def item_description(self, item):
        return Truncator(" ".join(item.body.split())).words(SUMMARY_WORDS, truncate="…")

    def item_pubdate(self, item):
        if item.published:
            return dt.datetime.combine(item.published, dt.time.min, tzinfo=dt.UTC)
        return item.created

    def item_updateddate(self, item):
        return self.item_pubdate(item)

    def item_author_name(self, item):
        return item.source.name if item.source else None

    def item_categories(self, item):
        return [c.name for c in item.cities.all()] + [a.name for a in item.actors.all()]
