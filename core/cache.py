"""papertools' cache folder: what tools make once and reuse (generated games and levels, NLE's
database of a recorded dataset), never an input folder.

``$PAPERTOOLS_CACHE``, else ``$XDG_CACHE_HOME/papertools``, else ``~/.cache/papertools``.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """The cache folder, or a folder under it (not created here)."""
    base = os.environ.get("PAPERTOOLS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "papertools")
    return Path(base, *parts)
