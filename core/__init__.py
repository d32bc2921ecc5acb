"""papertools core: what several tools share (JSONL streams, errors, options, progress,
parallel map, seeding, the zero-context diff, man pages).

Modules import only the standard library, click, numpy and orjson at import time, so that
``papertools --help`` stays fast; heavy libraries are imported where they are used.
"""
