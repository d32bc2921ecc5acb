"""BALROG's aggregation, a markdown table and a bar chart with error bars.

Per environment: the mean progression over all its episodes (tasks pooled) and its standard error,
population standard deviation / sqrt(n). Overall: the unweighted mean of the environment means,
with standard error sqrt(sum of the environments' SE^2) / number of environments. Everything is
shown x100, as BALROG's summary.json and its "Overall Average Progression: X% +- Y%".
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

from papertools.core.envs import ENVS


def mean_se(values: list[float]) -> tuple[float, float]:
    n = len(values)
    if n == 0:
        return 0.0, 0.0
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / n  # population variance, as BALROG
    return mean, math.sqrt(var) / math.sqrt(n)


def summarize(records: list[dict], label: str = "") -> dict:
    by_env: dict[str, list[float]] = defaultdict(list)
    by_task: dict[tuple, list[float]] = defaultdict(list)
    extra: dict[str, dict] = defaultdict(lambda: defaultdict(float))
    for r in records:
        by_env[r["env"]].append(float(r["progression"]))
        by_task[(r["env"], r["task"])].append(float(r["progression"]))
        e = extra[r["env"]]
        e["steps"] += r.get("steps", 0)
        e["invalid_actions"] += r.get("invalid_actions", 0)
        e["input_tokens"] += r.get("input_tokens", 0)
        e["output_tokens"] += r.get("output_tokens", 0)
    order = [name for name in ENVS if name in by_env] + sorted(set(by_env) - set(ENVS))
    envs = {}
    for name in order:
        mean, se = mean_se(by_env[name])
        e = extra[name]
        envs[name] = {"progression": 100 * mean, "se": 100 * se, "episodes": len(by_env[name]),
                      "invalid_rate": e["invalid_actions"] / e["steps"] if e["steps"] else 0.0,
                      "input_tokens": int(e["input_tokens"]),
                      "output_tokens": int(e["output_tokens"])}
    tasks = {f"{env}/{task}": {"progression": 100 * mean_se(v)[0], "se": 100 * mean_se(v)[1],
                               "episodes": len(v)}
             for (env, task), v in sorted(by_task.items())}
    notes = [f"{name}: {ENVS[name].note}" for name in envs if name in ENVS and ENVS[name].note]
    n = len(envs)
    overall = sum(e["progression"] for e in envs.values()) / n if n else 0.0
    overall_se = math.sqrt(sum(e["se"] ** 2 for e in envs.values())) / n if n else 0.0
    return {"label": label, "average_progress": overall, "standard_error": overall_se,
            "envs": envs, "tasks": tasks, "episodes": len(records), "notes": notes}


def env_order(summaries: list[dict]) -> list[str]:
    """Every environment of any run, in the registry's order (unknown names last)."""
    names = {n for s in summaries for n in s["envs"]}
    return [n for n in ENVS if n in names] + sorted(names - set(ENVS))


def markdown(summaries: list[dict], tasks: bool = False) -> str:
    """One column per run (a leaderboard when several), one row per environment."""
    names = env_order(summaries)
    head = "| environment | " + " | ".join(s["label"] for s in summaries) + " |"
    rule = "|---|" + "---:|" * len(summaries)
    rows = [head, rule]
    for name in names:
        cells = []
        for s in summaries:
            e = s["envs"].get(name)
            cells.append(f"{e['progression']:.1f} ± {e['se']:.1f} (n={e['episodes']})" if e
                         else "-")
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    rows.append("| **average** | " + " | ".join(
        f"**{s['average_progress']:.1f} ± {s['standard_error']:.1f}**" for s in summaries) + " |")
    if any(e["invalid_rate"] or e["output_tokens"] for s in summaries for e in s["envs"].values()):
        rows += ["", "| invalid outputs, tokens in / out | " +
                 " | ".join(s["label"] for s in summaries) + " |", rule]
        for name in names:
            cells = []
            for s in summaries:
                e = s["envs"].get(name)
                cells.append(f"{100 * e['invalid_rate']:.1f}%, {e['input_tokens']} / "
                             f"{e['output_tokens']}" if e else "-")
            rows.append(f"| {name} | " + " | ".join(cells) + " |")
    notes = sorted({note for s in summaries for note in s.get("notes", [])})
    if len({tuple(s["envs"]) for s in summaries}) > 1:
        rows += ["", "The runs cover different environments: each average is over its own run's "
                 "environments, so compare averages only between runs of the same ones."]
    if notes:
        rows += [""] + [f"Not comparable with BALROG's figures: {note}." for note in notes]
    if tasks:
        keys = []
        for s in summaries:
            keys += [k for k in s["tasks"] if k not in keys]
        rows += ["", "| task | " + " | ".join(s["label"] for s in summaries) + " |", rule]
        for key in keys:
            cells = [f"{s['tasks'][key]['progression']:.1f} ± {s['tasks'][key]['se']:.1f}"
                     if key in s["tasks"] else "-" for s in summaries]
            rows.append(f"| {key} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def plot(summaries: list[dict], path: str, title: str | None = None) -> None:
    """Grouped bars: environments on the x axis, one bar per run, SE error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = env_order(summaries) + ["average"]
    width = 0.8 / max(1, len(summaries))
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(names) * max(1, len(summaries)) ** 0.5), 4))
    for k, s in enumerate(summaries):
        values = [s["envs"].get(n, {}).get("progression", 0.0) if n != "average"
                  else s["average_progress"] for n in names]
        errors = [s["envs"].get(n, {}).get("se", 0.0) if n != "average"
                  else s["standard_error"] for n in names]
        xs = [i + (k - (len(summaries) - 1) / 2) * width for i in range(len(names))]
        ax.bar(xs, values, width, yerr=errors, capsize=3, label=s["label"])
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names)
    ax.set_ylabel("progression (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title or "BALROG progression (mean ± standard error)")
    if len(summaries) > 1:
        ax.legend()
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
