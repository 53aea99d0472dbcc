"""Management commands: rebuild_index, check_index and the progress display."""

import io
import os
import pty
import subprocess
import sys

import pytest
from django.core.management import call_command

from articles import search
from articles.management.commands._progress import Progress

from . import factories as f
from .conftest import ROOT, subprocess_env


def test_progress_is_quiet_when_output_is_not_a_terminal():
    out = io.StringIO()
    progress = Progress(out, 10, "Indexing")
    for n in range(1, 11):
        progress.update(n)
    progress.finish()
    assert out.getvalue() == ""


def test_progress_draws_a_bar_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    out = Terminal()
    progress = Progress(out, 4, "Indexing")
    for n in range(1, 5):
        progress.update(n)
    progress.finish()
    assert "Indexing [" in out.getvalue() and "4/4" in out.getvalue()


@pytest.mark.usefixtures("index")
def test_rebuild_index_draws_progress_on_a_real_terminal(index):
    for n in range(3):
        f.article(f"Report {n}", "Text.")
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "rebuild_index"],
        cwd=ROOT,
        env=subprocess_env(index),
        stdout=secondary,
        stderr=secondary,
    )
    os.close(secondary)
    output = b""
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    proc.wait(timeout=60)
    os.close(primary)
    text = output.decode()
    assert "Indexing [" in text and "3/3" in text
    assert "Indexed 3 published articles." in text


@pytest.mark.usefixtures("index")
def test_rebuild_and_check_index(index):
    a = f.article("Alpha report", "Text.")
    out = io.StringIO()
    call_command("rebuild_index", stdout=out)
    assert out.getvalue().strip() == "Indexed 1 published article."
    out = io.StringIO()
    call_command("check_index", stdout=out)
    assert out.getvalue().strip() == "Index and database agree."
    # Make the index lag behind: a change committed without its index update.
    from articles.models import Article

    Article.objects.filter(pk=a.pk).update(title="Beta report")
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "check_index"],
        cwd=ROOT,
        env=subprocess_env(index),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert f"drift: 1 article(s) outdated in the index: {a.pk}" in result.stdout
    out = io.StringIO()
    call_command("rebuild_index", "--if-stale", stdout=out)
    assert out.getvalue().strip() == "Index brought up to date (1 document fixed)."
    assert search.match("beta").pks == [a.pk]
