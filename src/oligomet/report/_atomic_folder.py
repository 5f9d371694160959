"""Write a report folder all at once: into a temporary folder beside it, then swap it into place.

Writing straight into ``--out`` left the previous study's tables beside the new ``results.json``
and, when the disk filled up, half a report. Here a reader of ``--out`` sees either the previous
report or the new one, complete:

* the files are written into ``.<name>.new-<random>`` in the same parent folder (same file system,
  so the final step is a rename, not a copy); on any error that folder is removed and ``--out`` is
  untouched;
* the finished folder replaces ``--out`` with one atomic ``renameat2(RENAME_EXCHANGE)`` on Linux;
  elsewhere (or on file systems without it) with two renames, old out of the way, new in, and the
  old one put back if the second fails; the old report is deleted afterwards.

Only an empty folder or a previous oligomet report (a folder with the ``results.json`` that this
package writes) is replaced; any other existing ``--out`` is refused, so a mistyped ``--out ~`` can
never delete anything.
"""
from __future__ import annotations

import ctypes
import errno
import json
import os
import secrets
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


class OutputFolderError(FileExistsError):
    """``--out`` exists and is not something a report may replace."""


def _is_report(folder: Path) -> bool:
    try:
        doc = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and {"numbers", "provenance"} <= doc.keys()


def check_output_folder(out: str | Path) -> Path:
    """The absolute path of ``out`` if a report may be written there (absent, empty, or a previous
    report); otherwise an :class:`OutputFolderError` that says what to do."""
    path = Path(out).expanduser().resolve()   # a symlinked --out: replace the folder it points to
    if not path.exists():
        return path
    if not path.is_dir():
        raise OutputFolderError(f"output folder {str(out)!r} is a file; give a folder for the report")
    if any(path.iterdir()) and not _is_report(path):
        raise OutputFolderError(f"output folder {str(out)!r} is not empty and holds no oligomet report "
                                f"(no results.json of a previous run); it would be replaced as a whole, so "
                                f"give a new or empty folder, or remove it first")
    return path


def new_sibling(path: Path, tag: str) -> Path:
    """A new empty folder ``.<name>.<tag>-<random>`` beside ``path`` (on its file system)."""
    # os.mkdir honours the umask (tempfile.mkdtemp would make the report readable by its owner only)
    while True:
        cand = path.parent / f".{path.name}.{tag}-{secrets.token_hex(4)}"
        try:
            cand.mkdir()
            return cand
        except FileExistsError:  # pragma: no cover - 32 random bits
            continue


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2 with RENAME_EXCHANGE); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):   # glibc < 2.28 or another libc
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    at_fdcwd, rename_exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):   # the file system cannot exchange
        return False
    raise OSError(err, os.strerror(err), str(b))


def _swap_in(new: Path, out: Path) -> None:
    if not out.exists():
        os.rename(new, out)
        return
    if _exchange(new, out):
        shutil.rmtree(new, ignore_errors=True)    # ``new`` now holds the previous report
        return
    old = new_sibling(out, "old")
    os.rename(out, old / out.name)
    try:
        os.rename(new, out)
    except BaseException:
        os.rename(old / out.name, out)
        raise
    finally:
        if out.exists():
            shutil.rmtree(old, ignore_errors=True)


@contextmanager
def replacing_folder(out: str | Path) -> Iterator[Path]:
    """Yield an empty temporary folder to write into; on normal exit it becomes ``out`` (replacing a
    previous report), on an error it is removed and ``out`` is left as it was."""
    target = check_output_folder(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = new_sibling(target, "new")
    try:
        yield tmp
        _swap_in(tmp, check_output_folder(target))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
