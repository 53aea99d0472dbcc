"""Whoosh's multi-process writer, made safe to kill.

`MpWriter` forks processes that analyse documents and wait on a queue for more. Two things
in whoosh-reloaded 2.7.5 leave them behind: `cancel()` only flips a flag in the parent's copy
of each task, so the children wait on the queue until the parent exits (and the parent's exit
then waits for them); and when the parent is killed (SIGKILL, the OOM killer), nothing tells
them at all. Forked, they hold the parent's open files, the archive's writer lock among them,
so every later write waited for a lock no one would release (found by bench/faults.py:
`rebuild_index` and `import_articles` killed part-way, then run again).

Here each child watches its parent and exits as soon as it is gone, and `cancel()` stops the
children before discarding the segment. Their unfinished files are not in the index's table
of contents; Whoosh removes them at the next commit. Each child writes its segment with
bulk.py's writer.
"""

import os
import threading
import time

from whoosh import multiproc
from whoosh.multiproc import MpWriter, SubWriterTask
from whoosh.writing import SegmentWriter

from .bulk import BulkSegmentWriter

#: How often a child checks that the process that started it is still there (seconds).
WATCH_INTERVAL = 0.2


class WatchedTask(SubWriterTask):
    """A sub-writer process that exits when its parent is gone."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Taken in the parent before the fork: a child that reads getppid() itself when it starts
        # may already have been reparented, if its parent was killed first, and would wait for ever.
        self.parent = os.getpid()

    def run(self):
        parent = self.parent

        def watch():
            while os.getppid() == parent:
                time.sleep(WATCH_INTERVAL)
            os._exit(1)  # reparented: whoever started us is dead; nothing to hand back

        threading.Thread(target=watch, name="parent-watch", daemon=True).start()
        # This process's writer (SubWriterTask.run makes one SegmentWriter): the bulk one.
        multiproc.SegmentWriter = BulkSegmentWriter
        super().run()


class ParallelWriter(MpWriter):
    def _new_task(self):
        task = WatchedTask(
            self.storage, self.indexname, self.jobqueue, self.resultqueue, self.subargs, self.multisegment
        )
        self.tasks.append(task)
        task.start()
        return task

    def cancel(self):
        try:
            for task in self.tasks:
                task.terminate()
            for task in self.tasks:
                task.join()
        finally:
            SegmentWriter.cancel(self)
