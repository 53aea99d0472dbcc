"""A small progress bar for management commands: drawn on a terminal, silent otherwise."""

import time


class Progress:
    def __init__(self, stream, total: int | None, label: str, *, enabled: bool | None = None):
        self.stream, self.total, self.label = stream, total, label
        self.enabled = enabled if enabled is not None else _isatty(stream)
        self.count = 0
        self._last = 0.0
        self._start = time.monotonic()

    def update(self, count: int):
        self.count = count
        now = time.monotonic()
        if not self.enabled or (now - self._last < 0.1 and count != self.total):
            return
        self._last = now
        rate = count / max(now - self._start, 1e-6)
        if self.total:
            width = 30
            done = int(width * min(count, self.total) / self.total)
            bar = "#" * done + "-" * (width - done)
            text = f"\r{self.label} [{bar}] {count}/{self.total} ({rate:.0f}/s)"
        else:
            text = f"\r{self.label} {count} ({rate:.0f}/s)"
        self.stream.write(text)
        self.stream.flush()

    def finish(self):
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def _isatty(stream) -> bool:
    target = getattr(stream, "_out", stream)  # Django's OutputWrapper
    try:
        return target.isatty()
    except (AttributeError, ValueError):
        return False
