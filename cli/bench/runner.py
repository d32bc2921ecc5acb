"""Running episodes: the step loop, per-episode records, atomic appends and resume.

A run folder holds:

- ``run.json``: the run's configuration (agent, client, model, seed, options); ``--resume``
  refuses a folder whose configuration differs in anything that changes results;
- ``episodes.jsonl``: one record per finished episode, appended whole (one ``write`` of one line
  on an O_APPEND descriptor, then fsync), in the order of the job list whatever ``--workers``
  says; a torn last line (a killed run) is dropped on resume;
- ``steps/<env>/<task>/<n>.jsonl``: the episode's step records (ARCHITECTURE.md's schema plus
  ``progression``, ``invalid``, ``completion``...), written to a temporary file and renamed
  before the episode record is appended, so every listed episode has its whole log (an
  interrupted episode leaves its steps in ``<n>.jsonl.partial`` until ``--resume`` plays it again);
- ``steps/<env>/<task>/<n>/<step>.png`` with ``--save-frames`` (named by the step's "frame");
- ``timings.jsonl``: wall-clock seconds per episode (the one file that differs between runs).

Seeds: episode n of (env, task) plays seed ``derive_seed(seed, crc32("env/task"), n)``, so a
result does not depend on which other environments run, on --workers or on --engine.
"""

from __future__ import annotations

import os
import time
import zlib
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from papertools.core.errors import PapertoolsError
from papertools.core.jsonl import dumps, loads, open_output, write_json
from papertools.core.seed import derive_seed

from .agents import BALROG_COMMIT, LLM_AGENTS, PromptTemplate, load_demos, load_template, \
    make_agent
from papertools.core.models.clients import MAX_REPLY_CHARS, cap_reply, make_client
from papertools.core.envs import ENVS, make_text_env

EPISODES = "episodes.jsonl"
IMAGE_ENVS = ("babyai", "crafter", "babaisai")  # the games with pictures (VLM mode)
TIMINGS = "timings.jsonl"
CONFIG = "run.json"
CANDIDATE_CHARS = 256  # an invalid output's parsed action, as stored (no valid action is longer)


@dataclass(frozen=True)
class RunConfig:
    agent: str = "random"
    client: str = "none"
    model: str | None = None
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    temperature: float | None = 1.0
    max_tokens: int = 1024
    timeout: float = 60.0
    max_retries: int = 5
    retry_delay: float = 2.0
    device: str = "cpu"
    history: int = 16
    max_steps: int | None = None
    feedback: bool = True
    seed: int = 0
    icl_file: str | None = None
    icl_episodes: int = 1
    max_prompt_tokens: int | None = None
    images: int = 0  # VLM mode: pictures on the last N observations (games that have them)
    save_frames: bool = False  # write each step's picture as a PNG and name it in "frame"
    system_role: bool = False  # True: the instruction is a system message (BALROG: user)
    prompt_template: str | None = None  # a template file (agents.PromptTemplate); None: ours
    prompt_template_sha256: str | None = None  # its digest, checked when an episode loads it
    max_reply_chars: int = MAX_REPLY_CHARS  # a step's stored completion (0: whole); not a result
    env_options: dict = field(default_factory=dict)  # env name -> make_text_env keyword arguments
    policy: str | None = None  # --agent policy: the policy folder
    policy_sha256: str | None = None  # its weights' digest, part of the results key
    deterministic: bool = False  # --agent policy: the most likely action, not a sample

    def results_key(self) -> dict:
        """What must match for --resume (connection details such as timeouts may change)."""
        keep = ("agent", "client", "model", "temperature", "max_tokens", "history", "max_steps",
                "feedback", "seed", "icl_file", "icl_episodes", "max_prompt_tokens", "images",
                "system_role", "prompt_template_sha256", "env_options")
        if self.agent == "policy":
            keep += ("policy_sha256", "deterministic")
        key = {k: getattr(self, k) for k in keep}
        key["prompt_layout"] = f"balrog@{BALROG_COMMIT[:7]}"  # the conversation's structure
        return key


@dataclass(frozen=True)
class Job:
    env: str
    task: str
    index: int
    out_dir: str
    config: RunConfig

    @property
    def id(self) -> str:
        return f"{self.env}/{self.task}/{self.index}"

    @property
    def seed(self) -> int:
        return episode_seed(self.config.seed, self.env, self.task, self.index)

    @property
    def steps_path(self) -> str:
        task = self.task.replace("/", "__")
        return os.path.join("steps", self.env, task, f"{self.index}.jsonl")


def policy_digest(path) -> str:
    """The sha256 of a policy folder's files (what a --resume must find unchanged)."""
    import hashlib

    folder = Path(path)
    if not (folder / "policy.json").is_file():
        raise PapertoolsError(f"{path}: not a policy folder (no policy.json; bench ppo and "
                              "bench bc write one as RUN/policy)")
    digest = hashlib.sha256()
    for file in sorted(p for p in folder.iterdir() if p.is_file()):
        digest.update(file.name.encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def episode_seed(seed: int, env: str, task: str, index: int) -> int:
    return derive_seed(seed, zlib.crc32(f"{env}/{task}".encode()), index) % (2 ** 31)


def make_jobs(pairs, episodes: int | None, out_dir: str, config: RunConfig) -> list[Job]:
    """Episodes per task: ``episodes``, else BALROG's default for the environment."""
    jobs = []
    for env, task in pairs:
        count = episodes if episodes is not None else ENVS[env].episodes
        jobs.extend(Job(env, task, n, out_dir, config) for n in range(count))
    return jobs


# -- one episode (runs in a worker) -------------------------------------------------------------
_CLIENTS: dict = {}


def _client(config: RunConfig):
    key = (config.client, config.model, config.base_url, config.device)
    if key not in _CLIENTS:
        _CLIENTS[key] = make_client(
            config.client, model=config.model, base_url=config.base_url,
            api_key_env=config.api_key_env, timeout=config.timeout,
            max_retries=config.max_retries, delay=config.retry_delay,
            temperature=config.temperature, max_tokens=config.max_tokens, device=config.device)
    return _CLIENTS[key]


def run_episode(job: Job) -> dict:
    """Play one episode; write its step log; return its record (and its seconds, separately)."""
    config = job.config
    started = time.perf_counter()
    options = dict(config.env_options.get(job.env, {}))
    if job.env == "textworld":
        options.setdefault("game", job.index)
    if (config.images or config.save_frames) and job.env in IMAGE_ENVS:
        options["images"] = True
    env = make_text_env(job.env, seed=job.seed, task=job.task, max_steps=config.max_steps,
                        **options)
    client = _client(config) if config.agent in LLM_AGENTS else None
    demos = load_demos(config.icl_file, config.icl_episodes, job.env) \
        if config.agent == "few_shot" and config.icl_file else None
    template = episode_template(config)
    agent = make_agent(config.agent, client, config.history, demos, config.max_prompt_tokens,
                       config.images, config.system_role, template, policy=config.policy,
                       deterministic=config.deterministic)
    try:
        obs = env.reset(job.seed)
        agent.reset(env, job.seed)
        total, invalid, errors, tokens_in, tokens_out = 0.0, 0, 0, 0, 0
        actions: Counter = Counter()
        feedback, done, info, step = "", False, {}, 0
        target = Path(job.out_dir) / job.steps_path
        target.parent.mkdir(parents=True, exist_ok=True)
        loop_started = time.perf_counter()
        with open_output(str(target), tool="bench") as log:
            while not done:
                decision = agent.act(obs, feedback)
                word = env.check_action(decision.action)
                is_invalid = word is None
                if is_invalid:
                    word = env.default_action
                    invalid += 1
                shown = f"{feedback}{obs.full()}"
                next_obs, reward, done, info = env.step(word)
                agent.observe(obs.text, word, obs.image)
                total += reward
                actions[word] += 1
                tokens_in += decision.input_tokens
                tokens_out += decision.output_tokens
                errors += bool(decision.error)
                record = {"id": f"{job.id}:{step}", "episode": job.id, "step": step,
                          "obs": shown, "action": word, "reward": reward, "done": done,
                          "progression": env.progression, "env": job.env, "task": job.task,
                          "invalid": is_invalid}
                if is_invalid:
                    record["candidate"] = decision.action if decision.action is None else \
                        cap_reply(decision.action, CANDIDATE_CHARS)[0]
                if decision.completion or decision.error:
                    # stored once, capped: the reasoning is part of it (not stored again)
                    record["completion"], cut = cap_reply(decision.completion,
                                                          config.max_reply_chars)
                    if cut:
                        record["reply_truncated"] = True
                        record["reply_chars"] = len(decision.completion)
                if decision.error:
                    record["client_error"] = decision.error
                record.update(obs.extra)
                if config.save_frames and obs.image is not None:
                    record["frame"] = save_frame(target, step, obs.image)
                log.write(record)
                feedback = template.feedback(word) if is_invalid and config.feedback else ""
                obs = next_obs
                step += 1
        loop_seconds = time.perf_counter() - loop_started
        end = info.get("end_reason") or ("terminated" if info.get("terminated") else "truncated")
        result = {
            "id": job.id, "env": job.env, "task": job.task, "episode": job.index,
            "seed": job.seed, "agent": config.agent, "model": config.model,
            "progression": env.progression, "return": round(total, 6), "steps": step,
            "end": end, "invalid_actions": invalid, "client_errors": errors,
            "input_tokens": tokens_in, "output_tokens": tokens_out,
            "action_frequency": dict(sorted(actions.items())), "stats": env.stats(),
            "steps_file": job.steps_path, "config": config.results_key()}
    finally:
        env.close()
    return {"record": result, "seconds": round(time.perf_counter() - started, 4),
            "loop_seconds": loop_seconds}


def episode_template(config: RunConfig) -> PromptTemplate:
    """The run's prompt template (papertools' own texts when no file was given)."""
    if not config.prompt_template:
        return PromptTemplate()
    template = load_template(config.prompt_template)
    if config.prompt_template_sha256 and template.digest != config.prompt_template_sha256:
        raise PapertoolsError(f"--prompt-template {config.prompt_template} changed during the "
                              "run (its sha256 differs from the one in run.json)")
    return template


def save_frame(log_path: Path, step: int, image) -> str:
    """steps/ENV/TASK/N/STEP.png; returns its path relative to the run folder."""
    from PIL import Image

    folder = log_path.with_suffix("")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{step}.png"
    Image.fromarray(image).convert("RGB").save(path, format="PNG")
    return str(path.relative_to(log_path.parents[3]))


# -- the run folder ------------------------------------------------------------------------------
def finished_ids(out_dir: Path) -> list[str]:
    """Ids of finished episodes; a torn last line (killed mid-write) is cut off the file."""
    path = out_dir / EPISODES
    if not path.exists():
        return []
    data = path.read_bytes()
    ids, good = [], 0
    for line in data.splitlines(keepends=True):
        if not line.endswith(b"\n"):
            break
        try:
            ids.append(loads(line)["id"])
        except (ValueError, KeyError, TypeError):
            break
        good += len(line)
    if good != len(data):
        with open(path, "r+b") as fh:
            fh.truncate(good)
    return ids


def append_record(path: Path, record: dict) -> None:
    """One whole line per write on an O_APPEND descriptor, then fsync."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, dumps(record))
        os.fsync(fd)
    finally:
        os.close(fd)


def lock_dir(out_dir: Path):
    """An exclusive lock on the run folder for this process's lifetime (one run per folder)."""
    import fcntl

    out_dir.mkdir(parents=True, exist_ok=True)
    handle = open(out_dir / ".lock", "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise PapertoolsError(f"{out_dir} is in use by another bench run") from None
    return handle


def prepare_dir(out_dir: Path, config: RunConfig, envs: list, resume: bool) -> set:
    """Create or check the run folder; the ids already done (with --resume)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    meta_path = out_dir / CONFIG
    done = finished_ids(out_dir)
    if meta_path.exists() and (done or resume):
        meta = loads(meta_path.read_bytes())
        if not resume:
            raise PapertoolsError(f"{out_dir} already holds results ({len(done)} episodes): "
                                  "add --resume to continue that run, or give another --out-dir")
        if meta.get("results_key") != loads(dumps(config.results_key())):
            theirs = meta.get("results_key", {})
            diff = sorted(k for k in set(theirs) | set(config.results_key())
                          if theirs.get(k) != loads(dumps(config.results_key())).get(k))
            raise PapertoolsError(f"{out_dir} holds a run with other settings "
                                  f"({', '.join(diff)}); --resume needs the same ones")
    write_json(meta_path, {"tool": "papertools bench", "config": asdict(config),
                           "results_key": config.results_key(), "envs": envs})
    return set(done)


def run(jobs: list[Job], out_dir: Path, workers: int = 1, engine: str = "auto",
        on_episode=None) -> list[dict]:
    """Run the jobs (in order of the list, results appended in that order)."""
    from papertools.core.parallel import ordered_map

    written = []
    for result in ordered_map(run_episode, jobs, workers=workers, engine=engine, chunk_size=1):
        record = result["record"]
        append_record(out_dir / EPISODES, record)
        append_record(out_dir / TIMINGS, {"id": record["id"], "seconds": result["seconds"]})
        written.append(record)
        if on_episode:
            on_episode(record)
    return written


def run_folder(folder: Path, pairs, episodes: int | None, config: RunConfig, *,
               resume: bool = False, workers: int = 1, engine: str = "auto", on_start=None,
               on_episode=None) -> tuple[list[dict], int, dict]:
    """A whole ``bench run``: lock and prepare the folder, run the episodes not done yet,
    append them; returns (the records run, episodes resumed, the folder's summary)."""
    from .report import summarize

    lock = lock_dir(folder)  # one run per folder
    try:
        done = prepare_dir(folder, config, [f"{e}/{t}" for e, t in pairs], resume)
        jobs = [j for j in make_jobs(pairs, episodes, str(folder), config) if j.id not in done]
        if on_start:
            on_start(len(jobs))
        written = run(jobs, folder, workers=workers, engine=engine, on_episode=on_episode)
        return written, len(done), summarize(read_episodes(folder))
    finally:
        lock.close()


def read_episodes(out_dir: str | Path) -> list[dict]:
    """The episode records of a run folder; a bad line is an error naming file and line."""
    from papertools.core.errors import InputError, field
    from papertools.core.jsonl import read_records

    path = Path(out_dir) / EPISODES
    if not path.exists():
        raise PapertoolsError(f"{out_dir}: no {EPISODES} (not a bench run folder)")
    records = []
    for item in read_records([str(path)]):
        for name, kind in (("id", str), ("env", str), ("task", str), ("progression", float)):
            field(item.record, name, kind, place=item.place)
        if not 0.0 <= item.record["progression"] <= 1.0:
            raise InputError("progression outside [0, 1]", item.place.file, item.place.line,
                             "progression")
        records.append(item.record)
    return records


def failed_calls(records: list[dict], config: RunConfig) -> tuple[int, int]:
    """(model calls that failed after every retry, model calls) over episode records: an LLM
    agent makes one call per step."""
    if config.agent not in LLM_AGENTS:
        return 0, 0
    return (sum(r.get("client_errors", 0) for r in records),
            sum(r.get("steps", 0) for r in records))


def check_bots(pairs) -> None:
    """--agent bot: fail before any episode when a game has no reference agent."""
    import importlib

    for name in dict.fromkeys(env for env, _ in pairs):
        module = importlib.import_module(f"papertools.core.envs.{ENVS[name].module}")
        if not ENVS[name].bot or getattr(module.Env, "bot", None) is None:
            raise PapertoolsError(f"no reference bot for {name} (bots: babyai, babaisai, "
                                  "textworld, minihack, nle)")


def check_client(config: RunConfig) -> None:
    """Fail before any episode when the model server cannot be reached or refuses the key."""
    if config.agent in LLM_AGENTS:
        if config.client == "none":
            raise PapertoolsError(f"agent {config.agent!r} needs a model: --client openai "
                                  "--model NAME [--base-url URL], or --client hf --model DIR")
        if config.images and config.client == "hf":
            raise PapertoolsError("--images needs a vision-language model server (--client "
                                  "openai); the hf client is text-only")
        client = _client(config)
        if config.client == "openai":
            client.check()
