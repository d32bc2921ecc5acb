"""An ordered parallel ``map`` over records with three engines.

- ``inline``: in this process (the default for one worker);
- ``process``: a local pool of ``--workers`` processes (the default for more than one);
- ``ray``: Ray tasks; joins the cluster named by ``RAY_ADDRESS`` when it is set, else starts a
  local Ray with ``--workers`` CPUs (``pip install 'papertools[ray]'``).

Results come back in input order, streaming: at most ``window`` chunks are in flight, so memory
stays flat however long the input is. Work functions must be importable top-level functions and
must derive any randomness from the item itself (see :mod:`papertools.core.seed`), which is what
makes the output identical for every engine and worker count.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

from .errors import PapertoolsError

T = TypeVar("T")
R = TypeVar("R")

ENGINES = ("auto", "inline", "process", "ray")


def resolve_engine(engine: str, workers: int) -> str:
    if engine not in ENGINES:
        raise PapertoolsError(f"unknown engine {engine!r} (choose from {', '.join(ENGINES)})")
    if engine == "auto":
        return "inline" if workers <= 1 else "process"
    return engine


def _run_chunk(fn: Callable[[T], R], chunk: list[T]) -> list[R]:
    return [fn(item) for item in chunk]


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def ordered_map(fn: Callable[[T], R], items: Iterable[T], *, workers: int = 1,
                engine: str = "auto", chunk_size: int = 8, window: int | None = None) -> Iterator[R]:
    """Yield ``fn(item)`` for every item, in input order."""
    workers = max(1, int(workers))
    engine = resolve_engine(engine, workers)
    if engine == "inline":
        for item in items:
            yield fn(item)
        return
    window = window or 4 * workers
    if engine == "process":
        yield from _process_map(fn, items, workers, chunk_size, window)
    else:
        yield from _ray_map(fn, items, workers, chunk_size, window)


def _process_map(fn, items, workers, chunk_size, window):
    # forkserver: safe when the parent holds threads (torch, tqdm), cheap after the first start.
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method))
    pending: deque = deque()
    try:
        for chunk in _chunks(items, chunk_size):
            pending.append(pool.submit(_run_chunk, fn, chunk))
            if len(pending) >= window:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _ray_map(fn, items, workers, chunk_size, window):
    try:
        import ray
    except ImportError:
        raise PapertoolsError("the ray engine needs Ray: pip install 'papertools[ray]'") from None
    started = False
    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS")
        kwargs = dict(include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
        if address:
            ray.init(address=address, **kwargs)
        else:
            ray.init(num_cpus=workers, **kwargs)
        started = True
    remote_chunk = ray.remote(_run_chunk)
    fn_ref = ray.put(fn)
    pending: deque = deque()
    try:
        for chunk in _chunks(items, chunk_size):
            pending.append(remote_chunk.remote(fn_ref, chunk))
            if len(pending) >= window:
                yield from ray.get(pending.popleft())
        while pending:
            yield from ray.get(pending.popleft())
    except ray.exceptions.RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, PapertoolsError):
            raise cause from None
        raise
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
        if started:
            ray.shutdown()
