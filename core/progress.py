"""Progress on stderr: a tqdm bar when stderr is a terminal and ``--quiet`` is not given."""

from __future__ import annotations

import contextlib
import sys
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")


def enabled(quiet: bool = False) -> bool:
    return not quiet and sys.stderr.isatty()


def progress(iterable: Iterable[T], *, desc: str = "", total: int | None = None,
             unit: str = "rec", quiet: bool = False) -> Iterator[T]:
    """Wrap ``iterable`` in a progress bar on stderr (never on stdout), or pass it through."""
    if not enabled(quiet):
        yield from iterable
        return
    from tqdm import tqdm

    with tqdm(iterable, desc=desc, total=total, unit=unit, file=sys.stderr, dynamic_ncols=True,
              leave=False) as bar:
        yield from bar


def note(tool: str, message: str, *, quiet: bool = False) -> None:
    """One line of information on stderr (``papertools <tool>: <message>``)."""
    if not quiet:
        print(f"papertools {tool}: {message}", file=sys.stderr, flush=True)


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, text: str) -> None:
        pass


@contextlib.contextmanager
def counter(*, desc: str = "", total: int | None = None, unit: str = "rec",
            quiet: bool = False):
    """A bar on stderr advanced by hand (``bar.update(n)``), for work that reports through
    callbacks rather than an iterable; a silent stand-in when progress is off."""
    if not enabled(quiet):
        yield _NoBar()
        return
    from tqdm import tqdm

    with tqdm(desc=desc, total=total, unit=unit, file=sys.stderr, dynamic_ncols=True,
              leave=False) as bar:
        yield bar
