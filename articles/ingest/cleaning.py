"""Cleaning of plain-text records (saved news pages): page chrome, outlet boilerplate and
captions removed, title and paragraphs kept."""

import re
from collections.abc import Iterator

# Page chrome seen in saved news pages: whole lines that are never part of a report.
CHROME_LINES = re.compile(
    r"^(accessibility links|breaking news|skip to (main )?content|share|print|menu|search|"
    r"advertisement|related( stories| articles)?|read more|comments?|subscribe|"
    r"\d+x\d+ image|image|photo|video|xs|sm|md|lg|xl|to find out more, click here\.?)$",
    re.IGNORECASE,
)
# Outlet boilerplate: paragraphs about the outlet rather than the event.
BOILERPLATE = re.compile(
    r"(offers informed and accurate reporting|has been declared an? \"?undesirable organi[sz]ation|"
    r"if you are in russia or the russia-controlled|all rights reserved|cookies? (policy|settings)|"
    r"sign up for our newsletter|follow us on)",
    re.IGNORECASE,
)


def clean_text(text: str) -> tuple[str, str]:
    """Title and body of a saved news page, with page chrome removed.

    The cleaning step, in order:
    1. lines are stripped of whitespace and list bullets (•, *, -);
    2. lines that are page chrome are dropped: navigation words ("Accessibility links",
       "Breaking News", "Share", "Print"...), image and size labels ("16x9 Image", "XS",
       "SM", "MD", "LG"), "To find out more, click here.";
    3. paragraphs of outlet boilerplate are dropped ("... offers informed and accurate
       reporting ...", "declared an undesirable organization", newsletter and cookie notes),
       together with the outlet-name line just before them;
    4. a line printed twice in a row (a photo caption and its alternative text) is dropped
       altogether: captions describe the page's picture, not the event;
    5. the first remaining line is the title; a trailing line of at most five words without
       final punctuation (an outlet signature such as "Times of Central Asia") is dropped;
    6. paragraphs are separated by one blank line.
    """
    lines = [re.sub(r"^[•*\-–]\s+", "", line.strip()) for line in text.splitlines()]
    kept: list[str] = []
    for line in lines:
        if CHROME_LINES.match(line):
            continue
        if BOILERPLATE.search(line):
            # Drop the outlet's name printed above its blurb too.
            while kept and kept[-1] and len(kept[-1].split()) <= 5:
                kept.pop()
            continue
        if line and kept and line == _last_nonblank(kept):
            kept.pop()
            while kept and not kept[-1]:
                kept.pop()
            continue
        kept.append(line)
    paragraphs = [p for p in _paragraphs(kept)]
    if not paragraphs:
        return "", ""
    title = paragraphs.pop(0)
    if paragraphs and len(paragraphs[-1].split()) <= 5 and not re.search(r"[.!?\"”)]$", paragraphs[-1]):
        paragraphs.pop()
    return title, "\n\n".join(paragraphs)


def _last_nonblank(lines: list[str]) -> str:
    for line in reversed(lines):
        if line:
            return line
    return ""


def _paragraphs(lines: list[str]) -> Iterator[str]:
    for line in lines:
        if line:
            yield line
