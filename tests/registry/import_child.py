"""``oligomet registry import ARGS...`` in a process of its own that stops at one stage of its write.

    python import_child.py MARKER_DIR STAGE MODE ARGS...

Every stage the store passes (``registry/store.py`` ``_trace``: ``lock_wait``, ``locked``, ``deleted``,
``wrote_<table>``) leaves an empty file of that name in MARKER_DIR. At STAGE the import, inside its
transaction, waits for a file ``go`` in MARKER_DIR (MODE ``wait``) or for ever (MODE ``hang``, to be
killed). Used by ``test_sites_processes.py``; not a test module itself.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path


def main() -> None:
    markers, stop_at, mode, *args = sys.argv[1:]
    markers = Path(markers)

    def at_stage(stage: str) -> None:
        name = stage.replace(" ", "_")
        (markers / name).touch()
        if name != stop_at:
            return
        while mode == "hang" or not (markers / "go").exists():
            time.sleep(0.05)

    from oligomet.cli import app
    from oligomet.registry import store

    store._trace_hook = at_stage
    app(args=["registry", "import", *args], prog_name="oligomet")


if __name__ == "__main__":
    main()
