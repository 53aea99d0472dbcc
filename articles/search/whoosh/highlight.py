"""Snippets: the passages of a text that match a query, escaped, with only `<mark>` added."""

from django.utils.html import escape
from whoosh import highlight


class MarkFormatter(highlight.Formatter):
    """Escapes the text and marks matches with a bare <mark>: nothing else is HTML."""

    between = " … "

    def _text(self, text):
        return escape(text)

    def format_token(self, text, token, replace=False):
        return f"<mark>{escape(highlight.get_text(text, token, replace))}</mark>"

    def format_fragment(self, fragment, replace=False):
        html = super().format_fragment(fragment, replace=replace)
        if fragment.startchar > 0:
            html = "… " + html
        if fragment.endchar < len(fragment.text.rstrip()):
            html += " …"
        return html

    def __call__(self, text, fragments):
        return "".join(self.format_fragment(f) for f in fragments)


def snippets(texts: dict[int, str], terms: set[str], analyzer, *, length: int) -> dict[int, str]:
    """pk -> snippet for each text holding one of the (analysed) `terms`."""
    formatter = MarkFormatter()
    out = {}
    for pk, text in texts.items():
        if len(text) <= length:
            fragmenter = highlight.WholeFragmenter()
        else:
            fragmenter = highlight.ContextFragmenter(maxchars=length, surround=length // 3)
        html = highlight.highlight(text, terms, analyzer, fragmenter, formatter, top=1)
        if html:
            out[pk] = html
    return out
