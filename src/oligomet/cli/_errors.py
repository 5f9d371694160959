"""The one line the command line prints for an error (without ``--debug``).

Errors raised on purpose (bad protocol, bad data, missing file) carry a message written for the
user and are printed as they are. Anything else is printed with its type, because its text alone
can be empty (``MemoryError()``) or cryptic (``KeyError: 'x'`` prints as ``'x'``); resource
exhaustion also gets a hint of what to do.
"""
from __future__ import annotations

# Raised by oligomet with a message meant for the user (ProtocolError and StudyError are ValueErrors).
_USER_ERRORS = (ValueError, FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError,
                FileExistsError)

_HINTS = {
    MemoryError: "the machine ran out of memory; analyse fewer patients or covariates at a time, close other "
                 "programs, or use a machine with more memory",
    RecursionError: "an input is nested too deeply; look for a very long or deeply nested expression",
    OSError: "check the disk space and the permissions of the output folder",
}


def error_message(exc: BaseException) -> str:
    """``exc`` as one clear line: its own message for user errors, else its type, message and a hint."""
    text = str(exc).strip()
    if isinstance(exc, _USER_ERRORS) and text:
        return text
    hint = next((h for kind, h in _HINTS.items() if isinstance(exc, kind)), None)
    line = type(exc).__name__ + (f": {text}" if text else "")
    if hint:
        line += f" ({hint})"
    return line + "; rerun with --debug for the traceback"
