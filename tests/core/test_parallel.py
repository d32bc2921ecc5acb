"""core.parallel: ordered results, identical across engines, errors with places, laziness."""

from __future__ import annotations

import functools

import pytest

from papertools.core.errors import InputError, PapertoolsError
from papertools.core.parallel import ordered_map, resolve_engine

from tests.core import _workers
from tests.helpers import ROOT

SEED = 1234
N = 50


def expected_draws():
    return [_workers.seeded_draw(SEED, i) for i in range(N)]


@pytest.fixture
def ray_env(monkeypatch):
    """Ray's workers import tests.core._workers: put the repository root on their path."""
    pytest.importorskip("ray")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))


def test_resolve_engine():
    assert resolve_engine("auto", 1) == "inline"
    assert resolve_engine("auto", 2) == "process"
    for name in ("inline", "process", "ray"):
        assert resolve_engine(name, 3) == name
    with pytest.raises(PapertoolsError) as info:
        resolve_engine("spark", 2)
    assert str(info.value) == "unknown engine 'spark' (choose from auto, inline, process, ray)"


def test_ordered_map_unknown_engine():
    with pytest.raises(PapertoolsError, match="unknown engine 'threads'"):
        list(ordered_map(_workers.square, [1, 2], engine="threads"))


@pytest.mark.parametrize("engine, workers", [("inline", 1), ("auto", 1), ("process", 1),
                                             ("process", 2), ("auto", 2)])
def test_results_come_back_in_input_order(engine, workers):
    items = list(range(40))
    got = list(ordered_map(_workers.square_late_first, items, workers=workers, engine=engine,
                           chunk_size=3))
    assert got == [x * x for x in items]


def test_empty_input():
    assert list(ordered_map(_workers.square, [], workers=2, engine="process")) == []


@pytest.mark.parametrize("engine, workers, chunk_size", [("inline", 1, 8), ("process", 1, 8),
                                                         ("process", 2, 1), ("process", 2, 7)])
def test_seeded_results_do_not_depend_on_engine_or_workers(engine, workers, chunk_size):
    work = functools.partial(_workers.seeded_draw, SEED)
    got = list(ordered_map(work, range(N), workers=workers, engine=engine, chunk_size=chunk_size))
    assert got == expected_draws()
    assert len({tuple(row[1:]) for row in got}) == N  # distinct streams per record


@pytest.mark.parametrize("engine, workers", [("inline", 1), ("process", 2)])
def test_worker_error_keeps_its_place(engine, workers):
    with pytest.raises(InputError) as info:
        list(ordered_map(_workers.fail_on_five, range(20), workers=workers, engine=engine,
                         chunk_size=2))
    err = info.value
    assert (err.message, err.file, err.line, err.field) == ("boom", "in.jsonl", 5, "x")
    assert str(err) == "in.jsonl:5: field 'x': boom"


def test_process_map_is_lazy():
    pulled = 0
    total = 10_000

    def source():
        nonlocal pulled
        for k in range(total):
            pulled += 1
            yield k

    chunk_size, window = 4, 3
    results = ordered_map(_workers.square, source(), workers=2, engine="process",
                          chunk_size=chunk_size, window=window)
    assert pulled == 0  # nothing happens before the first result is asked for
    assert next(results) == 0
    assert pulled <= window * chunk_size + chunk_size
    assert [next(results) for _ in range(20)] == [k * k for k in range(1, 21)]
    assert pulled <= window * chunk_size + chunk_size + 24
    results.close()  # shuts the pool down


def test_inline_map_is_lazy():
    pulled = []

    def source():
        for k in range(100):
            pulled.append(k)
            yield k

    results = ordered_map(_workers.square, source())
    assert next(results) == 0
    assert pulled == [0]


@pytest.mark.slow
def test_ray_engine_orders_and_matches_the_other_engines(ray_env):
    import ray

    work = functools.partial(_workers.seeded_draw, SEED)
    got = list(ordered_map(work, range(N), workers=2, engine="ray", chunk_size=3))
    assert got == expected_draws()
    squares = list(ordered_map(_workers.square_late_first, range(30), workers=2, engine="ray",
                               chunk_size=2))
    assert squares == [x * x for x in range(30)]
    assert not ray.is_initialized()  # the map started its local Ray, so it shut it down


@pytest.mark.slow
def test_ray_engine_error_keeps_its_place(ray_env):
    with pytest.raises(InputError) as info:
        list(ordered_map(_workers.fail_on_five, range(20), workers=2, engine="ray", chunk_size=2))
    err = info.value
    assert (err.message, err.file, err.line, err.field) == ("boom", "in.jsonl", 5, "x")
    assert str(err) == "in.jsonl:5: field 'x': boom"
