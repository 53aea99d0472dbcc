"""Read a page's HTML as a reader sees it: visible text, links, headings."""

from html.parser import HTMLParser


class _Page(HTMLParser):
    SKIP = {"script", "style", "head", "template"}
    BLOCK = {
        "p",
        "div",
        "li",
        "h1",
        "h2",
        "h3",
        "td",
        "th",
        "dt",
        "dd",
        "section",
        "nav",
        "br",
        "header",
        "footer",
        "main",
        "ul",
        "ol",
        "aside",
        "form",
        "label",
        "button",
        "option",
        "tr",
        "table",
        "caption",
        "article",
        "select",
        "input",
    }

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text, self.links, self.headings = [], [], []
        self._skip, self._link, self._heading = 0, None, None
        self.tags = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag in self.BLOCK:
            self.text.append(" ")
        if tag in self.SKIP:
            self._skip += 1
        if tag == "a":
            self._link = [attrs.get("href"), ""]
        if tag in ("h1", "h2", "h3"):
            self._heading = [tag, ""]

    def handle_endtag(self, tag):
        if tag in self.BLOCK:
            self.text.append(" ")
        if tag in self.SKIP:
            self._skip -= 1
        if tag == "a" and self._link:
            self.links.append((" ".join(self._link[1].split()), self._link[0]))
            self._link = None
        if tag in ("h1", "h2", "h3") and self._heading:
            self.headings.append((self._heading[0], " ".join(self._heading[1].split())))
            self._heading = None

    def handle_data(self, data):
        if self._skip:
            return
        self.text.append(data)
        if self._link:
            self._link[1] += data
        if self._heading:
            self._heading[1] += data


def read(response_or_html):
    html = getattr(response_or_html, "content", response_or_html)
    if isinstance(html, bytes):
        html = html.decode()
    page = _Page()
    page.feed(html)
    page.visible = " ".join("".join(page.text).split())
    return page
