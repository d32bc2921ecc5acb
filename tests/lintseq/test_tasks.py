"""The LintSeq experiment's task family (examples/lintseq/tasks.py): every reference program
passes its own tests and is sampled by ``lintseq sample`` without a reject; the held-out problems
share no instance, behaviour or naming with training, and their tests tell apart every training
program that computes something else; the output is byte-identical for a seed."""

from __future__ import annotations

import builtins
import importlib.util
import json
import keyword
import os
import random
import subprocess
import sys
from collections import defaultdict

import pytest

from papertools.cli.lintseq.linters import make_linter
from papertools.cli.lintseq.sample import Program, normalize_program
from tests.helpers import EXAMPLES, invoke

TASKS_PY = EXAMPLES / "lintseq" / "tasks.py"


def load_tasks():
    spec = importlib.util.spec_from_file_location("lintseq_example_tasks", TASKS_PY)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


tasks = load_tasks()
SEED, N_TRAIN, N_HELDOUT = 0, 3000, 100  # the experiment's defaults


@pytest.fixture(scope="module")
def split():
    return tasks.generate(SEED, N_TRAIN, N_HELDOUT)


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory):
    """train.jsonl and heldout.jsonl as the experiment writes them (default sizes)."""
    path = tmp_path_factory.mktemp("tasks")
    tasks.main(["generate", "--out-dir", str(path), "--seed", str(SEED)])
    return path


def read_jsonl(path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def function_of(inst):
    namespace: dict = {}
    exec(compile(inst.program, f"<{inst.template}>", "exec"), namespace)
    return namespace[inst.fname]


def same(result, expected) -> bool:
    if isinstance(expected, float):
        return isinstance(result, (int, float)) and abs(result - expected) < 1e-6
    return type(result) is type(expected) and result == expected


def passes(fn, tests) -> bool:
    for arg, expected in tests:
        try:
            result = fn(json.loads(json.dumps(arg)))  # a fresh copy: programs may mutate
        except Exception:
            return False
        if not same(result, expected):
            return False
    return True


# --------------------------------------------------------------------------------------------
# The templates


def test_templates_are_many_and_distinct():
    names = [t.name for t in tasks.TEMPLATES]
    assert len(names) >= 15 and len(set(names)) == len(names)


def test_function_names_cannot_clash():
    """No function name shadows the harness (check, candidate), a builtin or a keyword."""
    for t in tasks.TEMPLATES:
        for name in t.fnames:
            assert name.isidentifier() and not keyword.iskeyword(name), name
            assert name not in {"check", "candidate"} and not hasattr(builtins, name), name


def test_programs_have_some_structure(split):
    train, heldout = split
    n_lines = [x.program.count("\n") for x in train + heldout]
    assert min(n_lines) >= 3 and max(n_lines) <= 12
    assert sum(n >= 7 for n in n_lines) > len(n_lines) / 4  # many with nested blocks
    # every template appears in training, and some in held-out
    assert {x.template for x in train} == {t.name for t in tasks.TEMPLATES}
    assert {x.template for x in heldout} == {t.name for t in tasks.TEMPLATES}


# --------------------------------------------------------------------------------------------
# Reference programs against their tests


def test_every_reference_program_passes_its_tests(split):
    """The programs and the independent ``solve`` implementations agree on every test input."""
    train, heldout = split
    for inst in train + heldout:
        tests = inst.tests(SEED)
        assert len(tests) >= 5, inst.instruction
        assert passes(function_of(inst), tests), f"{inst.instruction}\n{inst.program}"


def test_heldout_records_pass_the_way_eval_runs_them(out_dir, split):
    """program + "\\n\\n" + test + "\\n\\ncheck(entry_point)\\n" runs clean for the reference,
    and fails for a function that returns None."""
    _, heldout = split
    records = read_jsonl(out_dir / "heldout.jsonl")
    assert len(records) == N_HELDOUT
    for inst, rec in zip(heldout, records):
        assert rec["entry_point"] == inst.fname
        def_line, body = inst.program.split("\n", 1)
        assert rec["prompt"].startswith(def_line + "\n") and rec["canonical_solution"] == body
        exec(inst.program + "\n\n" + rec["test"] + f"\n\ncheck({rec['entry_point']})\n", {})
        exec(rec["prompt"] + rec["canonical_solution"] + "\n\n" + rec["test"]
             + f"\n\ncheck({rec['entry_point']})\n", {})
        wrong = f"def {inst.fname}({inst.arg}):\n    return None\n"
        with pytest.raises(AssertionError):
            exec(wrong + "\n\n" + rec["test"] + f"\n\ncheck({rec['entry_point']})\n", {})


def test_heldout_tests_tell_other_training_programs_apart(split):
    """A training program of the same template (renamed) passes a held-out problem's tests only
    when it computes the same function on many more inputs (e.g. "at least 13" and "greater
    than 12"); such equivalents are rare."""
    train, heldout = split
    by_template = defaultdict(list)
    for inst in train:
        by_template[inst.template].append(function_of(inst))
    equivalent = compared = 0
    for h in heldout:
        template, p, reference = tasks.BY_NAME[h.template], h.params, function_of(h)
        tests = h.tests(SEED)
        rng = random.Random(1)
        fuzz = [x for _ in range(20) for x in template.inputs(p, rng)]
        wide = [(x, reference(json.loads(json.dumps(x)))) for x in fuzz]
        for fn in by_template[h.template]:
            compared += 1
            if passes(fn, tests):
                assert passes(fn, wide), f"the tests of {h.instruction!r} are too weak"
                equivalent += 1
    assert compared > 5000 and equivalent < compared / 100


# --------------------------------------------------------------------------------------------
# The split


def test_heldout_shares_no_instance_behaviour_or_naming_with_train(split):
    train, heldout = split
    assert len(train) == N_TRAIN and len(heldout) == N_HELDOUT
    train_keys = {x.key for x in train}
    assert len(train_keys) == len(train)
    assert not {x.key for x in heldout} & train_keys
    assert not {x.behaviour for x in heldout} & {x.behaviour for x in train}
    assert not {x.naming for x in heldout} & {x.naming for x in train}
    assert not {x.program for x in heldout} & {x.program for x in train}
    assert not {x.instruction for x in heldout} & {x.instruction for x in train}
    # ... while every held-out function name is seen in training with its template
    seen = {(x.template, x.fname) for x in train}
    assert all((h.template, h.fname) in seen for h in heldout)


def test_instructions_determine_programs(split):
    train, heldout = split
    program_of: dict[str, str] = {}
    for inst in train + heldout:
        assert program_of.setdefault(inst.instruction, inst.program) == inst.program
    assert len(program_of) == len(train) + len(heldout)
    # the instruction names the function and its argument
    for inst in train + heldout:
        assert f"{inst.fname}({inst.arg})" in inst.instruction


def test_other_seeds_and_sizes_keep_the_split():
    train, heldout = tasks.generate(7, 500, 40)
    assert len(train) == 500 and len(heldout) == 40
    assert not {x.behaviour for x in heldout} & {x.behaviour for x in train}
    assert not {x.naming for x in heldout} & {x.naming for x in train}


# --------------------------------------------------------------------------------------------
# Files, determinism, and lintseq sample on every program


def test_records_have_the_fields_the_pipeline_reads(out_dir):
    train = read_jsonl(out_dir / "train.jsonl")
    heldout = read_jsonl(out_dir / "heldout.jsonl")
    assert len(train) == N_TRAIN
    assert set(train[0]) == {"id", "template", "instruction", "program"}
    assert len({r["id"] for r in train}) == N_TRAIN
    for rec in heldout:
        assert set(rec) == {"task_id", "template", "instruction", "prompt", "canonical_solution",
                            "test", "entry_point"}
        assert rec["prompt"].startswith(f"def {rec['entry_point']}(")
        assert rec["prompt"].count('"""') == 2 and rec["prompt"].endswith('"""\n')
        assert rec["test"].startswith("def check(candidate):\n    assert ")
    assert len({r["task_id"] for r in heldout}) == N_HELDOUT


def test_same_seed_same_bytes_in_fresh_interpreters(tmp_path, out_dir):
    """Byte-identical across processes and hash seeds; another seed gives other data."""
    def run(seed, folder, hash_seed):
        env = dict(os.environ, PYTHONHASHSEED=str(hash_seed))
        subprocess.run([sys.executable, str(TASKS_PY), "generate", "--out-dir", str(folder),
                        "--seed", str(seed)], check=True, env=env, capture_output=True)
        return [(folder / name).read_bytes() for name in ("train.jsonl", "heldout.jsonl")]

    first = run(SEED, tmp_path / "a", 1)
    assert first == run(SEED, tmp_path / "b", 2)
    assert first == [(out_dir / name).read_bytes() for name in ("train.jsonl", "heldout.jsonl")]
    other = run(SEED + 1, tmp_path / "c", 1)
    assert other[0] != first[0] and other[1] != first[1]


def test_every_program_is_sampled_without_rejects(split):
    train, heldout = split
    linter = make_linter("pyflakes")
    rng = random.Random(0)
    for inst in train + heldout:
        program = Program(normalize_program(inst.program), linter)  # raises Reject
        edits = program.edits(program.sample_rounds(rng))
        assert edits and all("\n-" not in e for e in edits)


def test_lintseq_sample_accepts_the_training_file(out_dir):
    """The experiment's stage b on the real file: --strict fails on any reject."""
    run = invoke(["lintseq", "sample", str(out_dir / "train.jsonl"), "-n", "1", "--strict", "-q"])
    assert run.exit_code == 0, run.stderr
    records = run.records
    assert len(records) == N_TRAIN
    assert sum(r["n_edits"] for r in records) / N_TRAIN > 1.5  # not one edit per program
