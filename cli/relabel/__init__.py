"""``papertools relabel``: teach an agent new words by relabelling its own trajectories with a
vision-language labeller (Sumers et al., 2023) (options and help only).

The library: rollouts.py (lift-room trajectories with pictures: the bot's demonstrations, a
policy's rollouts; the seed streams), modes.py (the prompt modes: answers, instructions,
parsing), labellers.py (the plug: a remote VLM, the learned labeller, the noisy oracle),
clip.py (the contrastive labeller trained here), pipeline.py (relabelled datasets, cloning,
scoring against chance), study.py (every condition over seeds). The lift rooms live in
core/envs/lift.py, so bench plays them too.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from papertools.core import options

from .modes import MODES
from .study import StudyConfig as _StudyConfig

TOOL = "relabel"
_STUDY = _StudyConfig()
FAMILIES = ("any", "objects", "names", "colours", "categories", "preferences")

RECORDS = """\
collect writes a trajectory dataset (core/trajectories.py): dataset.json ("env": "lift/FAMILY",
"observation" {"image" (7,7,3), "rgb" (56,56,3): the agent's view as a picture, "direction"},
"action_words", "relabel": {"agent", "policy", "deterministic", "stream", "env_options"}),
episodes.jsonl (one record per episode: "id" ("PREFIX/N"), "env", "seed", "mission",
"success", "lifted" ("red ball", or null: privileged, read only by the oracle and the scorer),
"length", "return", "file") and episodes/ID.npz.

train-labeller writes a labeller folder: labeller.json ("kind", "captions", "words", "dim",
"frame_shape", "pictures", "train", "valid", "epochs", "history" [{"epoch", "loss",
"valid_accuracy"}], "valid_accuracy", "seconds") and model.safetensors.

label writes one record per episode: "id", "source_id", "mode", "labeller" ("oracle",
"learned", "remote"), "answer" (a word of the mode's vocabulary, or null: nothing),
"instruction" ("pick up a ball", or null), "confidence" (learned; null otherwise); remote adds
"reply" (the model's words), "parsed", "cached". Its summary on stderr (and score's records):
"episodes", "answers", "positives", "correct", "precision", "recall", with "mode" and
"labeller".

apply writes a trajectory dataset: the labelled episodes, "mission" replaced by the
instruction, "relabel": {"mission" (the original), "labeller", "answer", "confidence"};
dataset.json gains "relabelled": {"source", "modes", "episodes"}.

train writes a bench bc run folder (settings.json, log.jsonl, checkpoint/, finished.json,
policy/: the kind "babyai" policy bench run --agent policy plays).

eval --json writes one record: "family", "episodes", "success", "chance", "ratio" (success /
chance), "lifted" (episodes that lifted anything), "length", "targets", "policy".

study writes, under --out-dir: study.json, demos/, original/, pictures/, labeller/, rollouts/,
labels/CONDITION.jsonl, labellers.jsonl (each condition's labeller score), thresholds.jsonl
(the learned labeller's precision and recall per confidence threshold and mode), data/,
runs/CONDITION-sSEED/ (with result.json), results.jsonl (one record per agent and question:
"condition", "mode", "labeller", "precision", "recall", "seed", "novel", "family",
"episodes", "success", "chance", "ratio", "lifted", "length", "targets") and summary.jsonl (per
condition: "condition", "novel", "mode", "labeller", "precision", "recall", "seeds",
"success", "low", "high" (a 95% bootstrap interval over seeds), "chance", "ratio")."""

SEE_ALSO = ["papertools(1)", "papertools-bench(1)", "papertools-hrl(1)"]


@click.group(cls=options.OrderedGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def cli() -> None:
    """Distil a vision-language labeller into an agent by hindsight relabelling (Sumers,
    Marino, Ahuja, Fergus and Dasgupta, 2023).

    An agent that lifts *some* object (cloned from the BabyAI bot under the generic "pick up
    an object"; with collect --point, the object it is pointed at) is rolled out in lift rooms
    of several objects; a labeller says, from the
    last picture, what it lifted ("a ball", "a red object", "a dax"); that answer becomes the
    trajectory's instruction, and an agent cloned on the relabelled trajectories follows
    instructions it was never given. collect plays the bot or a policy, train-labeller trains
    the contrastive labeller, label runs a labeller (a remote VLM over an OpenAI-compatible
    endpoint, the learned one, or the privileged noisy oracle), apply writes the relabelled
    dataset, train clones an agent on it, eval scores it beside chance, and study runs every
    condition over seeds. Trained agents are policy folders that bench run --agent policy
    plays in the lift rooms (lift/names, lift/colours, ...).

    \b
    Examples:
      d=$(mktemp -d) && papertools relabel collect --agent bot --episodes 30 --out-dir $d/demos -q && papertools relabel label $d/demos --mode names --labeller oracle --precision 0.8 --recall 0.5 -o $d/labels.jsonl -q && papertools relabel apply $d/demos $d/labels.jsonl --out-dir $d/relabelled -q
      papertools relabel collect --agent bot --point --episodes 4 --out-dir "$(mktemp -d)/demos" -q
    """


cli.see_also = SEE_ALSO
cli.records = RECORDS


def _room_options(fn):
    for decorator in reversed([
            click.option("--num-objects", type=click.IntRange(min=2), default=_STUDY.num_objects,
                         show_default=True, help="Objects in a room; exactly one qualifies for "
                         "an instruction, so chance is 1/N."),
            click.option("--room-size", type=click.IntRange(min=5), default=_STUDY.room_size,
                         show_default=True, help="The room's side, walls included.")]):
        fn = decorator(fn)
    return fn


def _parse_pairs(values) -> tuple:
    from papertools.core.envs.lift import PAIRS

    pairs = tuple(" ".join(v.split()).lower() for v in values)
    bad = [p for p in pairs if p not in PAIRS]
    if bad:
        raise click.BadParameter(f"{bad[0]!r} is not a colour-type pair such as 'purple box'",
                                 param_hint="--exclude")
    return pairs


@cli.command()
@click.option("--agent", type=click.Choice(["bot", "policy"]), default="bot", show_default=True,
              help="The BabyAI bot (it walks to a hidden object and lifts it) or a trained "
                   "policy (--policy, sampling its actions).")
@click.option("--policy", metavar="DIR", type=click.Path(file_okay=False, exists=True),
              help="--agent policy: a policy folder (RUN/policy).")
@click.option("--family", type=click.Choice(FAMILIES), default="any", show_default=True,
              help="The instruction family of the rooms (any: 'pick up an object').")
@click.option("--point", is_flag=True,
              help="Point at the room's target (a mark in the agent's grid, kept apart from "
                   "the clean grid 'scene' that apply gives the learner): the bot's target, or "
                   "a uniformly drawn object a pointer-following policy lifts.")
@click.option("--explore", type=click.FloatRange(0, 1), default=_STUDY.explore,
              show_default=True, help="--agent policy: the chance that a step's action is a "
                                      "random turn or step forward instead (diverse lifts).")
@click.option("--episodes", type=click.IntRange(min=1), required=True, help="Episodes to play.")
@click.option("--stream", type=click.Choice(["demos", "pictures", "rollouts"]),
              help="The seed stream [default: demos for the bot, rollouts for a policy]; "
                   "each skips the evaluation's seeds for the same --seed.")
@options.list_option("--exclude", metavar="PAIR", convert=str,
                     help="A colour-type pair no room places (\"purple box\"); repeatable.")
@_room_options
@options.out_dir(required=True, help="The trajectory dataset folder (new, or resumed).")
@options.resume(help="Continue in --out-dir, playing only the episodes not yet there.")
@options.seed
@options.parallel
@options.quiet
def collect(agent, policy, family, point, explore, episodes, stream, exclude, num_objects,
            room_size, out_dir, resume, seed, workers, engine, quiet):
    """Play the bot or a policy in lift rooms, keeping the pictures.

    Each episode ends at the first lift (or the step limit). Every step keeps the grid, the
    agent's view as a 56x56 picture (what a labeller is shown: the last one carries the lifted
    object) and the action; the episode record keeps the mission and, privileged, the lifted
    object. The dataset is the same for any --workers; --resume plays only the missing
    episodes.

    \b
    Examples:
      papertools relabel collect --agent bot --episodes 10 --out-dir "$(mktemp -d)/demos" -q
      papertools relabel collect --agent bot --point --episodes 6 --exclude "purple box" -w 2 --out-dir "$(mktemp -d)/d" -q
    """
    from papertools.core.learn.evaluate import evaluation_seeds
    from papertools.core.progress import counter, note

    from . import rollouts

    if (agent == "policy") != bool(policy):
        raise click.UsageError("--policy DIR goes with --agent policy" if policy else
                               "--agent policy needs --policy DIR")
    stream = stream or ("demos" if agent == "bot" else "rollouts")
    key = {"demos": rollouts.DEMO_KEY, "pictures": rollouts.LABELLER_KEY,
           "rollouts": rollouts.COLLECT_KEY}[stream]
    seeds = rollouts.stream_seeds(seed, key, episodes,
                                  evaluation_seeds(seed, _STUDY.eval_episodes))
    opts = rollouts.env_options(num_objects, room_size, _parse_pairs(exclude),
                                **({"point": True} if point else {}))
    started = time.perf_counter()
    with counter(desc="relabel collect", unit="ep", total=episodes, quiet=quiet) as bar:
        written = rollouts.collect(Path(out_dir), family=family, seeds=seeds, options=opts,
                                   agent=agent, policy=policy, prefix=stream, resume=resume,
                                   explore=explore if agent == "policy" else 0.0,
                                   workers=workers, engine=engine,
                                   source={"stream": stream, "seed": seed},
                                   on_episode=lambda record: bar.update(1))
    note(TOOL, f"{written} episodes played into {out_dir} in "
               f"{time.perf_counter() - started:.1f} s", quiet=quiet)


@cli.command("train-labeller")
@click.argument("dataset", metavar="DATASET", type=click.Path(exists=True, file_okay=False))
@click.option("--epochs", type=click.IntRange(min=1), default=_STUDY.labeller_epochs,
              show_default=True, help="Passes over the pictures.")
@click.option("--lr", type=float, default=1e-3, show_default=True, help="Adam's learning rate.")
@click.option("--threads", type=click.IntRange(min=0), default=1, show_default=True,
              help="Torch threads (0: torch's default).")
@options.out_dir(required=True, help="The labeller folder to write.")
@options.seed
@options.quiet
def train_labeller(dataset, epochs, lr, threads, out_dir, seed, quiet):
    """Train the contrastive image-text labeller on a collected dataset's pictures.

    Each episode gives its last picture, captioned with the lifted object ("red ball", or
    "nothing"), and one earlier picture captioned "nothing". Use pictures disjoint from the
    episodes the labeller will label (collect --stream pictures). A tenth of the pictures is
    held out; their caption accuracy is logged per epoch (JSONL on stdout).

    \b
    Examples:
      d=$(mktemp -d) && papertools relabel collect --agent bot --stream pictures --episodes 40 --out-dir $d/pictures -q && papertools relabel train-labeller $d/pictures --epochs 2 --out-dir $d/labeller -q | tail -n 1
    """
    from papertools.core.jsonl import stdout_log
    from papertools.core.progress import note
    from papertools.core.trajectories import TrajectoryDataset

    from .clip import labeller_pictures, train_contrastive

    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise click.BadParameter(f"{out} is not empty", param_hint="--out-dir")
    frames, captions = labeller_pictures(TrajectoryDataset(dataset), seed=seed)
    summary = train_contrastive(frames, captions, out, epochs=epochs, lr=lr, seed=seed,
                                threads=threads, log=stdout_log())
    note(TOOL, f"labeller trained on {summary['train']} pictures: held-out caption accuracy "
               f"{summary['valid_accuracy']:.3f} ({summary['seconds']:.0f} s)", quiet=quiet)


@cli.command()
@click.argument("dataset", metavar="DATASET", type=click.Path(exists=True, file_okay=False))
@click.option("--mode", type=click.Choice(MODES), required=True,
              help="What the labeller is asked: the object's name, its colour, both, its "
                   "category (taught by examples) or whether the user likes it.")
@click.option("--labeller", "kind", type=click.Choice(["learned", "remote", "text", "oracle"]),
              required=True, help="The contrastive model trained here (--labeller-dir), a VLM "
                                  "behind an OpenAI-compatible endpoint (--base-url, --model), "
                                  "a text chat model told the end in words (--base-url and "
                                  "--model, or --model smollm2 or a local model folder), or "
                                  "the privileged oracle (--precision, --recall).")
@click.option("--labeller-dir", metavar="DIR", type=click.Path(exists=True, file_okay=False),
              help="learned: the labeller folder (train-labeller).")
@click.option("--threshold", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="learned: answer nothing below this confidence.")
@click.option("--examples", metavar="DATASET", type=click.Path(exists=True, file_okay=False),
              help="categories, preferences: a collected dataset whose pictures (with their "
                   "true answers) are the few-shot prompt's examples.")
@click.option("--shots", type=click.IntRange(min=1), default=_STUDY.shots, show_default=True,
              help="Examples per colour-type pair.")
@click.option("--limit", type=click.IntRange(min=1),
              help="Label only the dataset's first N episodes [default: all].")
@click.option("--precision", type=click.FloatRange(0, 1, min_open=True), default=1.0,
              show_default=True, help="oracle: the share of its answers that are right.")
@click.option("--recall", type=click.FloatRange(0, 1), default=1.0, show_default=True,
              help="oracle: the share of answerable episodes it answers rightly.")
@click.option("--base-url", metavar="URL", envvar="OPENAI_BASE_URL", show_envvar=True,
              help="remote: the OpenAI-compatible server (http://host:8000/v1).")
@click.option("--model", metavar="NAME", help="remote, text: the model name the server knows; "
              "text without --base-url: smollm2 (packaged) or a local model folder.")
@click.option("--api-key-env", metavar="VAR", default="OPENAI_API_KEY", show_default=True,
              help="remote: the environment variable holding the key.")
@click.option("--prompt", "prompt_file", metavar="JSON",
              type=click.Path(dir_okay=False, exists=True),
              help="remote: {\"system\": ..., \"questions\": {MODE: ...}} replacing the built-in "
                   "wording ({vocab} lists the mode's answers).")
@click.option("--cache", metavar="PATH", type=click.Path(dir_okay=False),
              help="remote, text: replies cached by a hash of the request [default: "
                   "DATASET's folder name + .KIND-cache.jsonl in the cache folder].")
@click.option("--attempts", type=click.IntRange(min=1), default=2, show_default=True,
              help="remote: asks per episode until a reply parses.")
@click.option("--timeout", type=float, default=60.0, show_default=True,
              help="remote: seconds per request.")
@click.option("--max-retries", type=click.IntRange(min=0), default=3, show_default=True,
              help="remote: retries of a failed request (exponential back-off).")
@click.option("--max-tokens", type=click.IntRange(min=1), default=16, show_default=True,
              help="remote: the longest reply.")
@options.output
@options.seed
@options.quiet
def label(dataset, mode, kind, labeller_dir, threshold, examples, shots, limit, precision,
          recall, base_url, model, api_key_env, prompt_file, cache, attempts, timeout,
          max_retries, max_tokens, output, seed, quiet):
    """Label every episode of a collected dataset: what did the agent lift?

    One record per episode, in the dataset's order: the answer (a word of the mode's
    vocabulary, or nothing) and the instruction it gives ("pick up a ball"). The labeller's
    precision and recall against the lifted objects (privileged, read only for this score)
    are printed on stderr.

    \b
    Examples:
      d=$(mktemp -d) && papertools relabel collect --agent bot --episodes 20 --out-dir $d/eps -q && papertools relabel label $d/eps --mode colours --labeller oracle --precision 0.75 --recall 0.5 | head -n 2
    """
    import numpy as np

    from papertools.core.jsonl import open_output
    from papertools.core.progress import counter, note
    from papertools.core.trajectories import TrajectoryDataset

    from .labellers import (RemoteLabeller, few_shot_examples, label_record, learned_answers,
                            oracle_answers)
    from .modes import Mode, score_labels
    from .rollouts import final_frames

    the_mode = Mode(mode)
    data = TrajectoryDataset(dataset)
    ids = data.ids[:limit] if limit else data.ids
    records = [data.record(i) for i in ids]
    needs_examples = mode in ("categories", "preferences") and kind != "oracle"
    if needs_examples and kind == "text":
        raise click.UsageError("--labeller text asks names, colours and objects")
    if needs_examples and not examples:
        raise click.UsageError(f"--mode {mode} is taught by examples: give --examples DATASET")
    shown = few_shot_examples(TrajectoryDataset(examples), the_mode, shots) \
        if needs_examples else None
    rows = []
    if kind == "oracle":
        answers = oracle_answers(records, the_mode, precision, recall, seed=seed)
        rows = [label_record(r["id"], the_mode, "oracle", a) for r, a in zip(records, answers)]
    elif kind == "learned":
        if not labeller_dir:
            raise click.UsageError("--labeller learned needs --labeller-dir DIR")
        from .clip import Contrastive

        frames = np.stack([f for _, f in final_frames(data, ids)]) if records else np.zeros(0)
        answers, conf = learned_answers(Contrastive.load(labeller_dir), frames, the_mode,
                                        threshold, shown)
        rows = [label_record(r["id"], the_mode, "learned", a, c)
                for r, a, c in zip(records, answers, conf)]
    else:
        if not model or (kind == "remote" and not base_url):
            raise click.UsageError(f"--labeller {kind} needs --base-url and --model" +
                                   (" (or --model alone: a local model)" if kind == "text"
                                    else ""))
        from papertools.core.cache import cache_dir
        from papertools.core.models.clients import HFClient, OpenAIClient

        if base_url:
            client = OpenAIClient(base_url, model, api_key_env=api_key_env, timeout=timeout,
                                  max_retries=max_retries, temperature=0.0,
                                  max_tokens=max_tokens)
        else:
            client = HFClient(model, temperature=0.0, max_tokens=max_tokens)
        client.check()
        prompt = None
        if prompt_file:
            try:
                prompt = json.loads(Path(prompt_file).read_text())
                if not isinstance(prompt, dict):
                    raise ValueError("not a JSON object")
            except ValueError as err:
                raise click.BadParameter(f"{prompt_file}: {err}", param_hint="--prompt") \
                    from None
        cache = cache or (cache_dir() / "relabel" / f"{Path(dataset).resolve().name}"
                          f".{kind}-cache.jsonl")
        remote = RemoteLabeller(client, the_mode, cache_path=cache, examples=shown,
                                attempts=attempts, prompt=prompt, seed=seed,
                                text=kind == "text")
    with open_output(output) as out, \
            counter(desc="relabel label", unit="ep", total=len(records), quiet=quiet) as bar:
        if kind in ("remote", "text"):
            from .rollouts import final_words

            ends = final_words(data, ids) if kind == "text" else final_frames(data, ids)
            for record, frame in ends:
                row = remote.label(record["id"], frame)
                rows.append(row)
                out.write(row)
                bar.update(1)
        else:
            for row in rows:
                out.write(row)
                bar.update(len(rows) and 1)
    score = score_labels(zip([r["answer"] for r in rows], [the_mode.truth(r) for r in records]))
    costs = f"; {remote.costs}" if kind in ("remote", "text") else ""
    note(TOOL, f"{kind} labeller, {mode}: {score['answers']} answers for {len(rows)} episodes, "
               f"precision {_fmt(score['precision'])}, recall {_fmt(score['recall'])}{costs}",
         quiet=quiet)


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.3f}"


@cli.command()
@click.argument("labels", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True))
@click.option("--dataset", metavar="DATASET", required=True,
              type=click.Path(exists=True, file_okay=False),
              help="The collected dataset the labels are of (its lifted objects are the truth).")
@options.on_error
@options.quiet
def score(labels, dataset, on_error, quiet):
    """Score label files against the lifted objects: precision and recall, one record each.

    \b
    Examples:
      d=$(mktemp -d) && papertools relabel collect --agent bot --episodes 20 --out-dir $d/eps -q && papertools relabel label $d/eps --mode names --labeller oracle --recall 0.5 -o $d/l.jsonl -q && papertools relabel score $d/l.jsonl --dataset $d/eps
    """
    from papertools.core.errors import Diagnostics, InputError
    from papertools.core.jsonl import open_output, read_records
    from papertools.core.trajectories import TrajectoryDataset

    from .modes import MODES as known, Mode, score_labels

    data = TrajectoryDataset(dataset)
    diagnostics = Diagnostics(TOOL, on_error)
    with open_output(None) as out:
        for path in labels:
            pairs, mode = [], None
            for item in read_records([path], diagnostics=diagnostics):
                record, place = item.record, item.place
                name = record.get("mode")
                if name not in known or record.get("id") not in set(data.ids):
                    diagnostics.bad(InputError("not a label record of this dataset (its mode "
                                               "or id)", place.file, place.line))
                    continue
                mode = Mode(name)
                pairs.append((record.get("answer"), mode.truth(data.record(record["id"]))))
            if pairs:
                out.write({"labels": path, "mode": mode.name, **score_labels(pairs)})
            elif not quiet:
                click.echo(f"papertools {TOOL}: {path}: no label records", err=True)
    click.get_current_context().exit(diagnostics.exit_code())


@cli.command()
@click.argument("dataset", metavar="DATASET", type=click.Path(exists=True, file_okay=False))
@click.argument("labels", nargs=-1, required=True, metavar="LABELS...",
                type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--episodes", type=click.IntRange(min=1),
              help="Keep the first N labelled episodes (conditions compared at equal labelled "
                   "episodes); fewer is an error [default: all].")
@options.out_dir(required=True, help="The relabelled dataset folder.")
@options.resume(help="Continue writing into --out-dir.")
@options.on_error
@options.quiet
def apply(dataset, labels, episodes, out_dir, resume, on_error, quiet):
    """Write the relabelled dataset: each labelled episode under its new instruction.

    Episodes labelled nothing are dropped; the original mission, the labeller and its answer
    are kept in the record's "relabel".

    \b
    Examples:
      d=$(mktemp -d) && papertools relabel collect --agent bot --episodes 20 --out-dir $d/eps -q && papertools relabel label $d/eps --mode names --labeller oracle -o $d/l.jsonl -q && papertools relabel apply $d/eps $d/l.jsonl --episodes 10 --out-dir $d/named
    """
    from papertools.core.errors import Diagnostics, InputError
    from papertools.core.jsonl import read_records
    from papertools.core.progress import note

    from .pipeline import apply_labels

    diagnostics = Diagnostics(TOOL, on_error)
    chosen = {}
    for item in read_records(list(labels), diagnostics=diagnostics):
        record = item.record
        if not isinstance(record.get("id"), str) or ("instruction" in record and not (
                record["instruction"] is None or isinstance(record["instruction"], str))):
            diagnostics.bad(InputError("a label record needs an 'id' and an 'instruction' "
                                       "(a string or null)", item.place.file, item.place.line))
            continue
        chosen[record["id"]] = record
    info = apply_labels(dataset, chosen, out_dir, episodes=episodes, resume=resume)
    note(TOOL, f"{info['episodes']} relabelled episodes in {out_dir} ({info['dropped']} "
               "dropped: no instruction, or past --episodes)", quiet=quiet)
    click.get_current_context().exit(diagnostics.exit_code())


@cli.command()
@click.argument("dataset", metavar="DATASET", type=click.Path(exists=True, file_okay=False))
@click.option("--epochs", type=click.IntRange(min=1), default=_STUDY.epochs, show_default=True,
              help="Passes over the training episodes.")
@click.option("--lr", type=float, default=_STUDY.lr, show_default=True,
              help="Adam's learning rate.")
@click.option("--early-film/--no-early-film", default=_STUDY.early_film, show_default=True,
              help="The mission also scales each grid cell's embedding before the first "
                   "convolution (words ground in far fewer episodes).")
@click.option("--pair-embed/--no-pair-embed", default=_STUDY.pair_embed, show_default=True,
              help="Each grid cell's object and colour also get one joint embedding (a "
                   "category, a set of colour-type pairs, can pick them out).")
@click.option("--threads", type=click.IntRange(min=0), default=1, show_default=True,
              help="Torch threads (0: torch's default).")
@options.out_dir(required=True, help="The run folder (RUN/policy at the end).")
@options.resume(help="Continue the run from its last checkpoint.")
@options.seed
@options.quiet
def train(dataset, epochs, lr, early_film, pair_embed, threads, out_dir, resume, seed,
          quiet):
    """Clone an instruction-following agent on a (relabelled) dataset.

    bench bc's sequence cloning with BabyAI's FiLM policy over the grid and the mission,
    whose word list also holds the lift families' words ("dax", "like"); log records on
    stdout; RUN/policy is a policy folder bench run --agent policy plays.

    \b
    Examples:
      d=$(mktemp -d) && papertools relabel collect --agent bot --family names --episodes 30 --out-dir $d/eps -q && papertools relabel train $d/eps --epochs 2 --out-dir $d/run -q | tail -n 1
    """
    from papertools.core.jsonl import stdout_log
    from papertools.core.progress import note

    from .pipeline import train_agent

    started = time.perf_counter()
    summary = train_agent(dataset, out_dir, epochs=epochs, lr=lr, seed=seed, resume=resume,
                          early_film=early_film, pair_embed=pair_embed, threads=threads, log=stdout_log(), progress=not quiet)
    note(TOOL, f"{summary.get('epochs')} epochs on {summary.get('train_episodes')} episodes; "
               f"policy in {out_dir}/policy ({time.perf_counter() - started:.0f} s)",
         quiet=quiet)


@cli.command("eval")
@click.argument("policy", metavar="POLICY", type=click.Path(exists=True, file_okay=False))
@click.option("--family", type=click.Choice(FAMILIES[1:]), required=True,
              help="The instructions asked (rooms of that family).")
@click.option("--episodes", type=click.IntRange(min=1), default=_STUDY.eval_episodes,
              show_default=True, help="Episodes on the evaluation seeds.")
@click.option("--target", "targets", multiple=True, metavar="TEXT",
              help="Ask only this instruction (\"pick up the purple box\"); repeatable.")
@click.option("--sample", is_flag=True, help="Sample actions instead of the most likely one.")
@_room_options
@options.as_json()
@options.seed
@options.parallel
@options.quiet
def evaluate(policy, family, episodes, targets, sample, num_objects, room_size, as_json, seed,
             workers, engine, quiet):
    """Score an agent on instructions of one family, beside chance, on held-out seeds.

    The rooms hold one object that qualifies and others that do not; success is lifting the
    one. Chance (lifting an object at random) is 1/--num-objects.

    \b
    Examples:
      d=$(mktemp -d) && papertools relabel collect --agent bot --family names --episodes 30 --out-dir $d/eps -q && papertools relabel train $d/eps --epochs 1 --out-dir $d/run -q > /dev/null && papertools relabel eval $d/run/policy --family names --episodes 10
    """
    from papertools.core.progress import counter

    from .pipeline import evaluate_agent

    with counter(desc="relabel eval", unit="ep", total=episodes, quiet=quiet) as bar:
        result = evaluate_agent(policy, family, episodes=episodes, seed=seed,
                                num_objects=num_objects, room_size=room_size,
                                deterministic=not sample, targets=targets, workers=workers,
                                engine=engine, on_episode=lambda r: bar.update(1))
    result = {k: v for k, v in result.items() if k != "records"}
    result["policy"] = str(policy)
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(f"{'family':<12} {'episodes':>8} {'success':>8} {'chance':>7} {'x chance':>8} "
               f"{'lifted':>7}")
    click.echo(f"{family:<12} {result['episodes']:>8} {result['success']:>8.3f} "
               f"{result['chance']:>7.3f} {result['ratio']:>8.2f} {result['lifted']:>7.3f}")


@cli.command()
@options.list_option("--modes", metavar="MODE[,MODE...]", choices=MODES,
                     help="The learned labeller's prompt modes [default: all].")
@options.list_option("--seeds", metavar="N[,N...]", convert=int,
                     help="Seeds of each learned-labeller condition's agent [default: 0,1,2; "
                          "--quick: 0].")
@click.option("--quick", is_flag=True,
              help="A small study (minutes): fewer episodes, epochs and cells.")
@click.option("--grid/--no-grid", default=True, show_default=True,
              help="The oracle's precision x recall grid.")
@click.option("--control/--no-control", default=True, show_default=True,
              help="The literal pipeline beside: no pointer, names, the learned labeller.")
@options.plot(help="Also draw the noise grid's heat map to this PNG.")
@options.out_dir(required=True, help="The study folder.")
@options.resume(help="Continue the study in --out-dir.")
@options.as_json(help="Write the summary records on standard output instead of the table.")
@options.parallel
@options.quiet
def study(modes, seeds, quick, grid, control, plot, out_dir, resume, as_json, workers, engine,
          quiet):
    """Run the whole pipeline: every labeller condition, agents over seeds, one folder.

    The original agent, the learned labeller and the rollouts are made once; then each
    condition (the learned labeller in every prompt mode; the oracle on a precision x recall
    grid) relabels the same rollouts, keeps the same number of labelled episodes, and clones
    an agent per seed, scored on the evaluation seeds beside chance. Interrupted, --resume
    continues at the unfinished stage. The default takes about an hour on 2 cores.

    \b
    Examples:
      papertools relabel study --quick --modes names --seeds 0 --no-grid --no-control --out-dir "$(mktemp -d)/study" -q
    """
    from .study import StudyConfig, plot_grid, run_study

    from dataclasses import replace

    config = StudyConfig()
    if quick:
        config = config.quick()
    if modes:
        config = replace(config, modes=tuple(modes))
    if seeds:
        config = replace(config, seeds=tuple(seeds))
    if not grid:
        config = replace(config, grid_seeds=())
    if not control:
        config = replace(config, control=False)
    result = run_study(config, out_dir, resume=resume, workers=workers, engine=engine,
                       quiet=quiet)
    if plot:
        plot_grid(result["summary"], plot)
    if as_json:
        for row in result["summary"]:
            click.echo(json.dumps(row))
        return
    click.echo(f"{'condition':<30} {'novel':<11} {'seeds':>5} {'success':>8} {'95% interval':>15} "
               f"{'chance':>7} {'x chance':>8}")
    for row in result["summary"]:
        interval = f"[{row['low']:.3f}, {row['high']:.3f}]"
        click.echo(f"{row['condition']:<30} {row['novel'] or '':<11} {row['seeds']:>5} "
                   f"{row['success']:>8.3f} {interval:>15} "
                   f"{row['chance']:>7.3f} {row['ratio']:>8.2f}")
    click.echo("")
    click.echo(f"{'labeller':<30} {'answers':>8} {'precision':>9} {'recall':>7}")
    for s in result["labellers"]:
        click.echo(f"{s['condition']:<30} {s['answers']:>8} {_fmt(s['precision']):>9} "
                   f"{_fmt(s['recall']):>7}")
