#!/usr/bin/env python
"""diffhist benchmark (issue 4): encode/decode speed, diff baselines, token compression.

Data: real NetHack games played on the NLE by ``papertools.core.nethack.play_steps`` (the simple
walker), each observation rendered as the paper's five text blocks. Evaluation: the first 20
seeds from 1000 on whose game lasts the full 1,000 steps (games that end sooner are skipped and
listed); tokenizer training: 8 other games, seeds 5000-5007, 1,000 steps at most. Both sets are
cached as JSONL under $TMPDIR/papertools-bench/ (keyed by the seeds, the step count and a hash
of core/nethack/text.py), so a rerun does not replay them.

1. speed: ``papertools diffhist encode FILE -o OUT -q`` and ``decode`` as subprocesses on the
   20,000 steps (JSON in and out, start-up included; best of 3), as observations/s of wall time
   and per CPU second of the command (user + system, from os.wait4: one process, one core).
   The goal (>= 20,000 observations/s per core, issue 4) is judged on the CPU figure, since the
   machine is shared and wall time counts other work; both are printed. The decoded file must
   be byte-identical to the input.
2. baselines, same run: (a) plain difflib: the same CLI code path in-process (click's main, -o
   FILE) with ``fast_diff`` swapped for ``core.diff.unified_diff``; outputs must be identical;
   plus the diff alone on every consecutive pair. (b) the Unix ``diff -U0`` program per step
   (two temporary files and one process per step) on a fixed subset of pairs, against
   ``fast_diff`` on the same pairs; also how often its hunks equal difflib's byte for byte.
3. token compression over the 20 games: tokens of the full history (every observation) against
   the diff history (first observation whole, then diffs), per game and overall, counted with a
   byte-level BPE trained here (``core.tokenizer.train_bpe``, vocabulary 8,192, on the training
   games' observations and diffs, with <|action|> and <|observation|> as added tokens) and with
   the approx count (UTF-8 bytes / 4); also in the paper's training format (non-overlapping
   64-step windows, prompt + completion, diff against the --full twin).

Usage: python benchmarks/diffhist_bench.py [--quick] [--strict] [--output PATH]
Figures go to stdout, progress to stderr, results to benchmarks/results/diffhist.json (--quick:
3 games of 200 steps, a small tokenizer, results in a temporary folder).
"""

from __future__ import annotations

import datetime
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

import common
from papertools.cli.diffhist import history
from papertools.core import diff as core_diff
from papertools.core.jsonl import atomic_path, write_atomic

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "diffhist.json"
CACHE = Path(tempfile.gettempdir()) / "papertools-bench"

GOALS = {
    "encode_obs_per_cpu_s": ("goal", ">=", 20000.0),
    "decode_obs_per_cpu_s": ("goal", ">=", 20000.0),
    "encode_obs_per_wall_s": ("aim", ">=", 20000.0),
    "speedup_vs_difflib": ("aim", ">=", 1.0),
}

MODES = {
    "full": dict(episodes=20, steps=1000, first_seed=1000, train_episodes=8, train_seed=5000,
                 vocab=8192, reps=3, unix_pairs=400, window=64),
    "quick": dict(episodes=3, steps=200, first_seed=1000, train_episodes=2, train_seed=5000,
                  vocab=2048, reps=1, unix_pairs=40, window=16),
}


def log(message: str) -> None:
    common.log("diffhist_bench", message)


# --------------------------------------------------------------------------------------------
# Data


def _nethack_hash() -> str:
    return hashlib.sha256((ROOT / "core" / "nethack" / "text.py").read_bytes()).hexdigest()[:12]


def episodes(first_seed: int, count: int, steps: int, full_length: bool) -> tuple[list, dict]:
    """``count`` games from ``first_seed`` on (only games of exactly ``steps`` steps when
    ``full_length``), cached; (list of episodes, facts about them)."""
    from papertools.core.nethack.text import play_steps

    CACHE.mkdir(parents=True, exist_ok=True)
    key = f"{first_seed}-{count}-{steps}-{int(full_length)}-{_nethack_hash()}"
    path = CACHE / f"diffhist-episodes-{key}.jsonl"
    meta_path = path.with_suffix(".meta.json")
    if path.exists() and meta_path.exists():
        games: dict[str, list] = {}
        with open(path, "rb") as fh:
            for line in fh:
                r = orjson.loads(line)
                games.setdefault(r["episode"], []).append(r)
        log(f"{len(games)} cached games from {path}")
        return list(games.values()), orjson.loads(meta_path.read_bytes())
    started = time.perf_counter()
    games, skipped, seed = [], [], first_seed
    while len(games) < count:
        records = list(play_steps(seed, steps))
        if full_length and len(records) < steps:
            skipped.append([seed, len(records)])
        else:
            games.append(records)
        seed += 1
        if seed - first_seed > 20 * count + 50:
            raise RuntimeError("too many games ended early")
    seconds = time.perf_counter() - started
    meta = dict(seeds=[g[0]["episode"] for g in games], skipped_seeds_and_lengths=skipped,
                steps=sum(len(g) for g in games), play_seconds=seconds, cache=str(path))
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        for g in games:
            for r in g:
                fh.write(orjson.dumps(r) + b"\n")
    write_atomic(meta_path, orjson.dumps(meta))
    log(f"played {len(games)} games ({meta['steps']} steps) in {seconds:.1f} s; "
        f"skipped {len(skipped)} that ended early")
    return games, meta


def interleaved_file(games: list, folder: str) -> tuple[str, int]:
    """All games in one stream, interleaved round robin (as a recorder of many games writes)."""
    path = os.path.join(folder, "steps.jsonl")
    count = 0
    with open(path, "wb") as fh:
        for t in range(max(len(g) for g in games)):
            for g in games:
                if t < len(g):
                    fh.write(orjson.dumps(g[t]) + b"\n")
                    count += 1
    return path, count


# --------------------------------------------------------------------------------------------
# 1. CLI speed


def run_cli(args: list[str]) -> dict:
    """Wall seconds and the command's CPU seconds (os.wait4 on its process)."""
    command = [*common.papertools_command(), *args]
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {stderr.decode()[-800:]}")
    return dict(seconds=seconds, cpu_seconds=usage.ru_utime + usage.ru_stime)


def bench_cli(path: str, steps: int, folder: str, reps: int) -> dict:
    encoded = os.path.join(folder, "encoded.jsonl")
    decoded = os.path.join(folder, "decoded.jsonl")
    empty = os.path.join(folder, "empty.jsonl")
    open(empty, "wb").close()
    runs: dict[str, list] = {"encode": [], "decode": [], "startup": []}
    for rep in range(reps):
        runs["encode"].append(run_cli(["diffhist", "encode", path, "-o", encoded, "-q"]))
        runs["decode"].append(run_cli(["diffhist", "decode", encoded, "-o", decoded, "-q"]))
        runs["startup"].append(run_cli(["diffhist", "encode", empty, "-q"]))
        log(f"CLI run {rep + 1}/{reps}: encode {runs['encode'][-1]['seconds']:.2f} s, decode "
            f"{runs['decode'][-1]['seconds']:.2f} s, start-up {runs['startup'][-1]['seconds']:.2f} s")
    identical = Path(decoded).read_bytes() == Path(path).read_bytes()
    out = dict(steps=steps, repetitions=reps, decoded_identical=identical,
               input_mib=os.path.getsize(path) / 2**20,
               encoded_mib=os.path.getsize(encoded) / 2**20)
    for name in ("encode", "decode", "startup"):
        wall = min(r["seconds"] for r in runs[name])
        cpu = min(r["cpu_seconds"] for r in runs[name])
        out[name] = dict(seconds=wall, cpu_seconds=cpu, seconds_all=[r["seconds"] for r in runs[name]],
                         cpu_seconds_all=[r["cpu_seconds"] for r in runs[name]])
        if name != "startup":
            out[name]["obs_per_wall_s"] = steps / wall
            out[name]["obs_per_cpu_s"] = steps / cpu
    for name in ("encode", "decode"):  # the same, less the start-up of an empty run
        out[name]["obs_per_cpu_s_after_startup"] = steps / max(
            out[name]["cpu_seconds"] - out["startup"]["cpu_seconds"], 1e-9)
    return out


# --------------------------------------------------------------------------------------------
# 2. Baselines


def inprocess_encode(path: str, out: str, diff_function) -> dict:
    """``papertools diffhist encode PATH -o OUT -q`` through click in this process, with
    history.fast_diff replaced by ``diff_function``; wall and process CPU seconds."""
    from papertools.cli.main import cli

    saved = history.fast_diff
    history.fast_diff = diff_function
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        code = cli.main(["diffhist", "encode", path, "-o", out, "-q"], standalone_mode=False)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        history.fast_diff = saved
    if code not in (0, None):
        raise RuntimeError(f"in-process encode exited {code}")
    return dict(seconds=wall, cpu_seconds=cpu)


def bench_difflib(path: str, steps: int, games: list, folder: str, reps: int) -> dict:
    outs = {"fast_diff": os.path.join(folder, "fast.jsonl"),
            "difflib": os.path.join(folder, "difflib.jsonl")}
    functions = {"fast_diff": history.fast_diff, "difflib": core_diff.unified_diff}
    times = {name: [] for name in outs}
    for _ in range(reps):
        for name in outs:
            times[name].append(inprocess_encode(path, outs[name], functions[name]))
    identical = Path(outs["fast_diff"]).read_bytes() == Path(outs["difflib"]).read_bytes()
    res = dict(identical=identical, encode={})
    for name in outs:
        cpu = min(t["cpu_seconds"] for t in times[name])
        wall = min(t["seconds"] for t in times[name])
        res["encode"][name] = dict(cpu_seconds=cpu, seconds=wall, obs_per_cpu_s=steps / cpu,
                                   obs_per_wall_s=steps / wall)
    res["encode_speedup"] = res["encode"]["difflib"]["cpu_seconds"] / \
        res["encode"]["fast_diff"]["cpu_seconds"]
    # the diff alone, on pre-split lines
    pairs = [(a["obs"].split("\n"), b["obs"].split("\n")) for g in games for a, b in zip(g, g[1:])]
    alone = {}
    for name, fn in functions.items():
        best = None
        for _ in range(reps):
            cpu = time.process_time()
            for a, b in pairs:
                fn(a, b)
            cpu = time.process_time() - cpu
            best = cpu if best is None else min(best, cpu)
        alone[name] = dict(cpu_seconds=best, diffs_per_cpu_s=len(pairs) / best)
    res["diff_alone"] = dict(pairs=len(pairs), **alone,
                             speedup=alone["difflib"]["cpu_seconds"] / alone["fast_diff"]["cpu_seconds"])
    return res


def bench_unix_diff(games: list, count: int, folder: str) -> dict:
    """``diff -U0 a b`` per step on ``count`` pairs spread evenly over all consecutive pairs."""
    everything = [(a["obs"], b["obs"]) for g in games for a, b in zip(g, g[1:])]
    pick = [everything[i * len(everything) // count] for i in range(count)]
    exe = shutil.which("diff")
    if exe is None:
        return dict(skipped="no diff program on PATH")
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
    a_path, b_path = os.path.join(folder, "a.txt"), os.path.join(folder, "b.txt")
    same = 0
    wall = time.perf_counter()
    cpu_children = os.times()
    for a, b in pick:
        with open(a_path, "w", encoding="utf-8") as fh:
            fh.write(a + "\n")
        with open(b_path, "w", encoding="utf-8") as fh:
            fh.write(b + "\n")
        done = subprocess.run([exe, "-U0", a_path, b_path], capture_output=True)
        if done.returncode not in (0, 1):
            raise RuntimeError(f"diff failed: {done.stderr[-400:]!r}")
        lines = done.stdout.decode("utf-8").split("\n")
        theirs = "\n".join(lines[2:]).removesuffix("\n") if done.stdout else ""
        same += theirs == history.fast_diff(a.split("\n"), b.split("\n"))
    wall = time.perf_counter() - wall
    after = os.times()
    cpu = (after.user - cpu_children.user) + (after.system - cpu_children.system) + \
        (after.children_user - cpu_children.children_user) + \
        (after.children_system - cpu_children.children_system)
    ours = None  # fast_diff on the same pairs, wall time as for the program (best of 3)
    for _ in range(3):
        started = time.perf_counter()
        for a, b in pick:
            history.obs_diff(a, b)
        took = time.perf_counter() - started
        ours = took if ours is None else min(ours, took)
    return dict(pairs=count, program=version.splitlines()[0] if version else exe,
                seconds=wall, cpu_seconds=cpu, obs_per_wall_s=count / wall,
                obs_per_cpu_s=count / cpu, same_hunks_as_difflib=same,
                fast_diff_seconds=ours, fast_diff_obs_per_wall_s=count / max(ours, 1e-9),
                speedup_diff_alone=wall / max(ours, 1e-9))


# --------------------------------------------------------------------------------------------
# 3. Token compression


def train_tokenizer(games: list, vocab: int):
    from papertools.core.models.tokenizer import train_bpe

    texts = []
    for g in games:
        prev = None
        for r in g:
            texts.append(r["obs"])
            if prev is not None:
                texts.append(history.obs_diff(prev, r["obs"]))
            prev = r["obs"]
    started = time.perf_counter()
    tok = train_bpe(texts, vocab_size=vocab, added_tokens=(history.ACTION, history.OBSERVATION))
    return tok, dict(kind="byte-level BPE (papertools.core.models.tokenizer.train_bpe)",
                     vocab_size_requested=vocab, vocab_size=len(tok), texts=len(texts),
                     train_chars=sum(len(t) for t in texts),
                     train_seconds=time.perf_counter() - started)


def count_many(tok, texts: list[str]) -> list[int]:
    if not texts:
        return []
    return [len(e.ids) for e in tok.backend_tokenizer.encode_batch(texts, add_special_tokens=False)]


def bench_tokens(games: list, tok, window: int) -> dict:
    rows = []
    started = time.perf_counter()
    for g in games:
        obs = [r["obs"] for r in g]
        diffs = [obs[0]] + [history.obs_diff(a, b) for a, b in zip(obs, obs[1:])]
        full_bpe, diff_bpe = sum(count_many(tok, obs)), sum(count_many(tok, diffs))
        full_apx = sum(history.approx_tokens(t) for t in obs)
        diff_apx = sum(history.approx_tokens(t) for t in diffs)
        rows.append(dict(episode=g[0]["episode"], steps=len(g),
                         chars_full=sum(map(len, obs)), chars_diff=sum(map(len, diffs)),
                         bpe_full=full_bpe, bpe_diff=diff_bpe, bpe_ratio=full_bpe / diff_bpe,
                         approx_full=full_apx, approx_diff=diff_apx,
                         approx_ratio=full_apx / diff_apx))
    tot = {k: sum(r[k] for r in rows) for k in ("steps", "chars_full", "chars_diff", "bpe_full",
                                                  "bpe_diff", "approx_full", "approx_diff")}
    tot["bpe_ratio"] = tot["bpe_full"] / tot["bpe_diff"]
    tot["approx_ratio"] = tot["approx_full"] / tot["approx_diff"]
    tot["chars_ratio"] = tot["chars_full"] / tot["chars_diff"]
    tot["median_episode_bpe_ratio"] = statistics.median(r["bpe_ratio"] for r in rows)
    # the paper's training format: non-overlapping windows, diff example vs its --full twin
    diff_texts, full_texts = [], []
    for g in games:
        for start in range(0, len(g) - window + 1, window):
            chunk = g[start:start + window]
            o, a = [r["obs"] for r in chunk], [r["action"] for r in chunk]
            d = history.window_example(o, a)
            f = history.window_example(o, a, full=True)
            diff_texts.append(d["prompt"] + d["completion"])
            full_texts.append(f["prompt"] + f["completion"])
    wd, wf = count_many(tok, diff_texts), count_many(tok, full_texts)
    windows = dict(k=window, windows=len(wd), bpe_diff_mean=statistics.mean(wd),
                   bpe_full_mean=statistics.mean(wf), bpe_ratio=sum(wf) / sum(wd),
                   diff_windows_within_4096=sum(n <= 4096 for n in wd),
                   full_windows_within_4096=sum(n <= 4096 for n in wf),
                   approx_ratio=sum(map(history.approx_tokens, full_texts)) /
                   sum(map(history.approx_tokens, diff_texts)))
    return dict(episodes=rows, totals=tot, windows=windows,
                seconds=time.perf_counter() - started)


# --------------------------------------------------------------------------------------------
# Report


def print_table(res: dict, goals: dict) -> None:
    def mark(name):
        g = goals[name]
        return f"{g['status']}{' (aim)' if g['kind'] == 'aim' else ''}: {g['target']}"

    d, c, b, u, t = res["data"], res["cli"], res["difflib"], res["unix_diff"], res["tokens"]
    print(f"\ndiffhist benchmark ({res['mode']}): {d['episodes']} NetHack games x "
          f"{d['steps_per_episode']} steps = {c['steps']:,} observations "
          f"(seeds {d['seeds'][0]}..{d['seeds'][-1]}; {len(d['skipped'])} shorter games skipped); "
          f"{res['machine']['cpu_count']} CPUs, Python {res['machine']['python']}")
    print(f"   input {c['input_mib']:.1f} MiB of JSONL, mean observation "
          f"{t['totals']['chars_full'] / t['totals']['steps']:.0f} characters; encoded "
          f"{c['encoded_mib']:.1f} MiB")
    print("\n1. papertools diffhist as a subprocess, JSON in and out, best of "
          f"{c['repetitions']} (start-up {c['startup']['seconds']:.2f} s wall included)")
    for name in ("encode", "decode"):
        r = c[name]
        print(f"   {name:6} {r['seconds']:6.2f} s wall {r['obs_per_wall_s']:9,.0f} obs/s   "
              f"{r['cpu_seconds']:6.2f} CPU s {r['obs_per_cpu_s']:9,.0f} obs/s per core   "
              f"[{mark(name + '_obs_per_cpu_s')}]   (less start-up: "
              f"{r['obs_per_cpu_s_after_startup']:,.0f})")
    print(f"   encode wall figure [{mark('encode_obs_per_wall_s')}]; decoded file identical to "
          f"the input: {'yes' if c['decoded_identical'] else 'NO'}")
    fe, de = b["encode"]["fast_diff"], b["encode"]["difflib"]
    print("\n2. baselines")
    print(f"   (a) encode in-process (click main, -o FILE), CPU s:  fast_diff {fe['cpu_seconds']:.2f}"
          f" ({fe['obs_per_cpu_s']:,.0f} obs/s)   plain difflib {de['cpu_seconds']:.2f} "
          f"({de['obs_per_cpu_s']:,.0f} obs/s)   ratio {b['encode_speedup']:.2f}x   "
          f"[{mark('speedup_vs_difflib')}]   outputs identical: "
          f"{'yes' if b['identical'] else 'NO'}")
    a = b["diff_alone"]
    print(f"       the diff alone on {a['pairs']:,} pairs: fast_diff "
          f"{a['fast_diff']['diffs_per_cpu_s']:,.0f}/s, difflib "
          f"{a['difflib']['diffs_per_cpu_s']:,.0f}/s, ratio {a['speedup']:.2f}x")
    if "skipped" in u:
        print(f"   (b) Unix diff: skipped ({u['skipped']})")
    else:
        print(f"   (b) `diff -U0` per step ({u['program']}), {u['pairs']} pairs: "
              f"{u['obs_per_wall_s']:,.0f} obs/s wall ({u['obs_per_cpu_s']:,.0f} per CPU s, "
              f"processes included); fast_diff on the same pairs {u['fast_diff_obs_per_wall_s']:,.0f}"
              f" obs/s (wall)")
        print(f"       ratio: encode CLI (wall) / diff program = "
              f"{c['encode']['obs_per_wall_s'] / u['obs_per_wall_s']:,.0f}x; diff alone "
              f"{u['speedup_diff_alone']:,.0f}x; same hunks as difflib on "
              f"{u['same_hunks_as_difflib']}/{u['pairs']} pairs")
    tk, tt, w = res["tokenizer"], t["totals"], t["windows"]
    print(f"\n3. token compression, full history / diff history, over {d['episodes']} games")
    print(f"   tokenizer: {tk['kind']}, vocabulary {tk['vocab_size']:,} (asked "
          f"{tk['vocab_size_requested']:,}: the merges run out on this text), trained on "
          f"{tk['texts']:,} observations and diffs of {res['train_data']['episodes']} other games "
          f"(seeds {res['train_data']['seeds'][0]}..{res['train_data']['seeds'][-1]}) in "
          f"{tk['train_seconds']:.1f} s")
    print(f"   {'episode':<12} {'steps':>6} {'BPE full':>11} {'BPE diff':>10} {'ratio':>6} "
          f"{'approx':>7}")
    for r in t["episodes"]:
        print(f"   {r['episode']:<12} {r['steps']:>6} {r['bpe_full']:>11,} {r['bpe_diff']:>10,} "
              f"{r['bpe_ratio']:>6.2f} {r['approx_ratio']:>7.2f}")
    print(f"   {'all':<12} {tt['steps']:>6} {tt['bpe_full']:>11,} {tt['bpe_diff']:>10,} "
          f"{tt['bpe_ratio']:>6.2f} {tt['approx_ratio']:>7.2f}   (characters "
          f"{tt['chars_ratio']:.2f}; median game {tt['median_episode_bpe_ratio']:.2f})")
    print(f"   training format, {w['windows']} windows of k={w['k']}: {w['bpe_full_mean']:,.0f} BPE "
          f"tokens full vs {w['bpe_diff_mean']:,.0f} diff per example, ratio {w['bpe_ratio']:.2f} "
          f"(approx {w['approx_ratio']:.2f}); within 4,096 tokens: "
          f"{w['diff_windows_within_4096']} diff, {w['full_windows_within_4096']} full")
    common.print_footer(res)


def main(argv=None) -> int:
    args, mode, output = common.parse_args(__doc__, RESULTS, argv)
    cfg = MODES[mode]
    started = time.perf_counter()
    res = dict(benchmark="diffhist", mode=mode,
               command=f"python benchmarks/diffhist_bench.py{' --quick' if args.quick else ''}",
               date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               machine=common.machine_info(("nle", "orjson", "tokenizers", "click")))
    res["machine"]["load_average_1min_at_start"] = os.getloadavg()[0] \
        if hasattr(os, "getloadavg") else None
    res["machine"]["busy_cpus_at_start"] = busy = common.busy_cpus()
    if busy is not None and busy > 0.2:
        log(f"warning: {busy:.1f} CPUs busy with other work at start: wall timings are noisy")

    games, meta = episodes(cfg["first_seed"], cfg["episodes"], cfg["steps"], True)
    train, train_meta = episodes(cfg["train_seed"], cfg["train_episodes"], cfg["steps"], False)
    res["data"] = dict(episodes=len(games), steps_per_episode=cfg["steps"], seeds=meta["seeds"],
                       skipped=meta["skipped_seeds_and_lengths"], cache=meta["cache"],
                       player="papertools.core.nethack.play_steps (simple walker), "
                              "NetHackChallenge-v0")
    res["train_data"] = dict(episodes=len(train), seeds=train_meta["seeds"],
                             steps=train_meta["steps"])
    ok = True
    with tempfile.TemporaryDirectory(prefix="diffhist-bench-") as folder:
        path, steps = interleaved_file(games, folder)
        log(f"{steps} steps of {len(games)} interleaved games in {path}")
        res["cli"] = bench_cli(path, steps, folder, cfg["reps"])
        if not res["cli"]["decoded_identical"]:
            log("ERROR: decode(encode(x)) differs from x")
            ok = False
        log("in-process encode with fast_diff and with plain difflib")
        res["difflib"] = bench_difflib(path, steps, games, folder, cfg["reps"])
        if not res["difflib"]["identical"]:
            log("ERROR: fast_diff and difflib encodings differ")
            ok = False
        log(f"Unix diff on {cfg['unix_pairs']} pairs")
        res["unix_diff"] = bench_unix_diff(games, cfg["unix_pairs"], folder)
    log(f"training the BPE tokenizer (vocabulary {cfg['vocab']})")
    tok, res["tokenizer"] = train_tokenizer(train, cfg["vocab"])
    log("counting tokens")
    res["tokens"] = bench_tokens(games, tok, cfg["window"])

    goals = {
        "encode_obs_per_cpu_s": common.judge(GOALS, "encode_obs_per_cpu_s",
                                             res["cli"]["encode"]["obs_per_cpu_s"]),
        "decode_obs_per_cpu_s": common.judge(GOALS, "decode_obs_per_cpu_s",
                                             res["cli"]["decode"]["obs_per_cpu_s"]),
        "encode_obs_per_wall_s": common.judge(GOALS, "encode_obs_per_wall_s",
                                              res["cli"]["encode"]["obs_per_wall_s"]),
        "speedup_vs_difflib": common.judge(GOALS, "speedup_vs_difflib",
                                           res["difflib"]["encode_speedup"]),
    }
    failed = common.finish(res, goals, output, started, print_table)
    if failed:
        log(f"goals not met: {', '.join(failed)}")
    if not ok or (args.strict and failed):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
