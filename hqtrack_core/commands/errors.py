"""One line for an error a user can fix: the wording every ``hqtrack`` command (and ``hqtrack vot run``'s TraX
session) ends with, ``hqtrack <cmd>: error: <this>``."""

from __future__ import annotations

import errno

# errno -> what the user can do about it
_OS_ADVICE = {
    errno.ENOSPC: "the disk is full: free space or choose another --out (nothing was left half-written)",
    errno.EDQUOT: "the disk quota is exceeded: free space or choose another --out (nothing was left half-written)",
    errno.EROFS: "the file system is read-only: choose a writable --out",
    errno.EACCES: "permission denied or read-only: choose files you can read and an --out you can write",
    errno.EPERM: "operation not permitted: choose files you can read and an --out you can write",
}


def describe_error(err: BaseException) -> str:
    """One line for an error: the message, plus advice for the OS errors a user can fix."""
    if isinstance(err, OSError) and err.errno in _OS_ADVICE:
        where = f" ({err.filename})" if err.filename else ""
        return f"{_OS_ADVICE[err.errno]}{where}"
    if isinstance(err, KeyError) and len(err.args) == 1 and isinstance(err.args[0], str):
        return err.args[0]  # (str(KeyError) would add quotes)
    return str(err)
