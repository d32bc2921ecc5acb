"""One writer per folder: an fcntl lock on DIR/.lock, held while the writer runs.

A second process that asks for the same folder gets a clean error at once instead of two
writers interleaving (and one removing the other's half-written files). The lock goes with the
process: a writer killed with SIGKILL leaves no stale lock behind (the file stays, unlocked)."""

from __future__ import annotations

import os
from pathlib import Path

from papertools.core.errors import PapertoolsError

LOCK = ".lock"


def lock_folder(folder, what: str = "writer") -> int:
    """Lock ``folder`` (which must exist) for this process; returns the descriptor to close
    (closing it releases the lock). Raises :class:`PapertoolsError` naming the folder when
    another process holds it."""
    import fcntl

    fd = os.open(Path(folder) / LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.read(fd, 32).decode(errors="replace").strip()
        os.close(fd)
        raise PapertoolsError(f"{folder} is in use by another {what}"
                              + (f" (process {holder})" if holder else "")) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


__all__ = ["LOCK", "lock_folder"]
