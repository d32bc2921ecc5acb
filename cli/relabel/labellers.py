"""The labeller plug: who says, in hindsight, what an episode's agent did.

Three labellers answer a prompt mode's question (modes.py) about an episode and give one label
record per episode:

    {"id": episode id, "source_id": the same, "mode": "names", "labeller": "learned",
     "answer": "ball" | null, "instruction": "pick up a ball" | null, "confidence": 0.93 | null,
     ...remote: "reply" (the model's words), "parsed", "cached"}

- ``remote``: any vision-language model behind an OpenAI-compatible chat endpoint that takes
  images (vLLM, llama.cpp's server, a hosted API). It is shown the episode's last picture with
  the mode's question (few-shot modes first show example pictures with their answers), and its
  reply is parsed into the mode's vocabulary (``Mode.parse``); an unparsable reply is asked
  again (``attempts``), then counts as no answer. Replies are cached by a hash of the model and
  the whole request (pictures included), so a rerun costs nothing; calls, cache hits, tokens
  and failures are counted.
- ``text``: the same questions to a text-only chat model (remote, or a local Hugging Face
  model such as the packaged SmolLM2), told the episode's end in words (BabyAI-text's lines
  before and after the last action, without the line that says what the agent carries):
  the stage is not tied to pictures.
- ``learned``: the contrastive model trained here (clip.py) on pictures disjoint from the ones
  it labels.
- ``oracle``: privileged: it reads the lifted object from the episode record and injects
  errors at an exact precision and recall (the paper's noise study), over the whole dataset:
  of the P episodes with a right answer, round(recall * P) get it (the first by a hash of
  (seed, id)), and round(right * (1 - precision) / precision) of the others get a wrong
  answer drawn from the vocabulary (the first by a second hash), so that precision and recall
  are exact up to rounding.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from papertools.core.errors import PapertoolsError
from papertools.core.seed import derive_seed, python_rng

from .modes import Mode

ORACLE_KEY = 0x6F72  # "or"


def label_record(episode_id: str, mode: Mode, labeller: str, answer, confidence=None,
                 **extra) -> dict:
    return {"id": episode_id, "source_id": episode_id, "mode": mode.name, "labeller": labeller,
            "answer": answer, "instruction": mode.instruction(answer),
            "confidence": None if confidence is None else round(float(confidence), 4), **extra}


# ---------------------------------------------------------------------------------------------
# the oracle


def oracle_answers(records: list[dict], mode: Mode, precision: float = 1.0, recall: float = 1.0,
                   seed: int = 0) -> list[str | None]:
    """The oracle's answers for ``records`` (in order) at the given precision and recall."""
    if not (0 < precision <= 1 and 0 <= recall <= 1):
        raise PapertoolsError("precision must be in (0, 1] and recall in [0, 1]")
    truths = [mode.truth(r) for r in records]

    def rank(i, k):
        return derive_seed(seed, ORACLE_KEY, k, *records[i]["id"].encode())

    positives = sorted((i for i, t in enumerate(truths) if t is not None),
                       key=lambda i: rank(i, 1))
    right = set(positives[:int(round(recall * len(positives)))])
    answers = [truths[i] if i in right else None for i in range(len(records))]
    wrong_needed = int(round(len(right) * (1 - precision) / precision))
    vocab = mode.vocab
    others = sorted((i for i in range(len(records)) if i not in right
                     and any(v != truths[i] for v in vocab)), key=lambda i: rank(i, 2))
    if wrong_needed > len(others):
        raise PapertoolsError(f"precision {precision:g} at recall {recall:g} needs "
                              f"{wrong_needed} wrong answers but only {len(others)} episodes "
                              "can take one")
    for i in others[:wrong_needed]:
        choices = [v for v in vocab if v != truths[i]]
        answers[i] = python_rng(seed, ORACLE_KEY, 3, *records[i]["id"].encode()).choice(choices)
    return answers


# ---------------------------------------------------------------------------------------------
# the learned labeller


def few_shot_examples(dataset, mode: Mode, shots: int = 2, seed: int = 0):
    """(pictures, answers): ``shots`` last pictures per colour-type pair from a labelled
    dataset (the answers from the lifted objects): the examples a few-shot prompt shows."""
    from .rollouts import final_frames

    per_pair: dict[str, list] = {}  # pictures of the episodes' ends
    for record, frame in final_frames(dataset):
        pair = record.get("lifted")
        if pair and len(per_pair.setdefault(pair, [])) < shots:
            per_pair[pair].append(frame)
    frames, answers = [], []
    for pair in sorted(per_pair):
        for frame in per_pair[pair]:
            frames.append(frame)
            answers.append(mode.answer_of(pair))
    if not frames:
        raise PapertoolsError(f"{dataset.path}: no episode lifted anything; no examples")
    return np.stack(frames), answers


def learned_answers(labeller, frames, mode: Mode, threshold: float = 0.0,
                    examples=None) -> tuple[list, list]:
    """(answers, confidences) of the contrastive labeller for ``frames``.

    names, colours, objects: zero-shot, from the caption distribution; categories and
    preferences: from ``examples`` (pictures, answers), the class of the most similar examples.
    An answer whose probability is below ``threshold``, or nothing, is None."""
    from .clip import CAPTIONS, NOTHING

    vocab = mode.vocab
    if mode.name in ("names", "colours", "objects"):
        probs = labeller.caption_probs(frames)
        classes = [*vocab, None]
        mass = np.zeros((len(frames), len(classes)))
        for j, caption in enumerate(CAPTIONS):
            answer = None if caption == NOTHING else mode.answer_of(caption)
            mass[:, classes.index(answer)] += probs[:, j]
    else:
        if examples is None:
            raise PapertoolsError(f"mode {mode.name} is taught by examples: give some "
                                  "(--examples DATASET)")
        ex_frames, ex_answers = examples
        classes = sorted({a for a in ex_answers if a is not None}) + [None]
        sims = labeller.embed(frames) @ labeller.embed(ex_frames).T
        best = np.stack([sims[:, [i for i, a in enumerate(ex_answers) if a == c]].max(1)
                         if any(a == c for a in ex_answers) else np.full(len(frames), -1.0)
                         for c in classes], 1)
        scale = float(np.exp(labeller.model.scale.detach().numpy()))
        logits = best * scale
        mass = np.exp(logits - logits.max(1, keepdims=True))
        mass /= mass.sum(1, keepdims=True)
    pick = mass.argmax(1)
    answers, confidences = [], []
    for i, j in enumerate(pick):
        answer, conf = classes[j], float(mass[i, j])
        answers.append(answer if answer is not None and conf >= threshold else None)
        confidences.append(conf)
    return answers, confidences


# ---------------------------------------------------------------------------------------------
# a remote vision-language model

QUESTIONS = {
    "names": "What kind of object is the agent holding: a ball, a box or a key? Answer with "
             "the one word, or with 'nothing' if it holds nothing.",
    "colours": "What colour is the object the agent is holding (red, green, blue, purple, "
               "yellow or grey)? Answer with the one word, or with 'nothing' if it holds "
               "nothing.",
    "objects": "Which object is the agent holding? Answer with its colour and kind, such as "
               "'red ball', or with 'nothing' if it holds nothing.",
    "categories": "Which category is the object the agent holds in: {vocab}? The examples "
                  "show each. Answer with the category's name, or with 'nothing' if it is in "
                  "none or the agent holds nothing.",
    "preferences": "Is the object the agent holds one the user likes? The examples show what "
                   "the user likes. Answer yes or no.",
}
TEXT_SYSTEM = ("You read what an agent in a small grid world saw, in words, just before and "
               "just after its last action. Objects are listed with their distance from the "
               "agent. When the agent picks up an object, the object is one step forward before "
               "the action and no longer listed after it.")
SYSTEM = ("You look at pictures of a small grid world seen from above, from the point of view "
          "of an agent: the agent is the red triangle in the middle of the bottom row. Each "
          "picture shows two views side by side: on the left just before the agent's last "
          "action, on the right just after it. When the agent picks up an object, the object "
          "is in the cell right in front of it on the left, and gone from the floor on the "
          "right, where the agent holds it.")


class RemoteLabeller:
    """A chat client (core.models.clients.OpenAIClient) asked about pictures, with a cache."""

    def __init__(self, client, mode: Mode, *, cache_path=None, examples=None, attempts: int = 2,
                 prompt: dict | None = None, seed: int = 0, text: bool = False):
        self.client, self.mode, self.examples = client, mode, examples
        self.attempts, self.seed = max(1, int(attempts)), seed
        self.text = text  # told in words (final_words), not shown a picture
        prompt = prompt or {}
        self.system = prompt.get("system", TEXT_SYSTEM if text else SYSTEM)
        question = prompt.get("questions", {}).get(mode.name, QUESTIONS[mode.name])
        self.question = question.replace("{vocab}", ", ".join(mode.vocab))
        self.cache_path = Path(cache_path) if cache_path else None
        self.cache: dict[str, str] = {}
        if self.cache_path and self.cache_path.exists():
            for n, line in enumerate(self.cache_path.read_text().splitlines(), 1):
                try:
                    item = json.loads(line)
                    self.cache[item["key"]] = item["reply"]
                except (ValueError, KeyError, TypeError):
                    continue  # a torn last line of an interrupted run
        self.costs = {"calls": 0, "cached": 0, "retries": 0, "failed": 0, "unparsed": 0,
                      "prompt_tokens": 0, "completion_tokens": 0}

    def messages(self, frame) -> list[dict]:
        from papertools.core.models.clients import with_image

        def content(shown):
            if self.text:
                return f"{shown}\n\n{self.question}"
            return with_image(self.question, shown)

        out = [{"role": "system", "content": self.system}]
        if self.examples is not None:
            for ex_frame, answer in zip(*self.examples):
                out.append({"role": "user", "content": content(ex_frame)})
                shown = ("yes" if answer else "no") if self.mode.name == "preferences" else \
                    (answer or "nothing")
                out.append({"role": "assistant", "content": shown})
        out.append({"role": "user", "content": content(frame)})
        return out

    def _key(self, messages, attempt: int) -> str:
        body = json.dumps({"model": getattr(self.client, "model", ""), "messages": messages,
                           "attempt": attempt}, sort_keys=True)
        return hashlib.sha256(body.encode()).hexdigest()

    def _remember(self, key: str, reply: str) -> None:
        self.cache[key] = reply
        if self.cache_path:
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.cache_path, "a") as fh:
                fh.write(json.dumps({"key": key, "reply": reply}) + "\n")

    def label(self, episode_id: str, frame) -> dict:
        """One episode's label record; ``frame``: its picture (rollouts.picture), or its words
        (rollouts.end_words) for a text labeller."""
        messages = self.messages(frame)
        reply, parsed, answer, cached = "", False, None, True
        for attempt in range(self.attempts):
            key = self._key(messages, attempt)
            if key in self.cache:
                self.costs["cached"] += 1
                reply = self.cache[key]
            else:
                cached = False
                result = self.client.complete(messages, seed=self.seed + attempt)
                self.costs["calls"] += 1
                self.costs["retries"] += result.retries
                self.costs["prompt_tokens"] += result.input_tokens
                self.costs["completion_tokens"] += result.output_tokens
                if result.error:
                    self.costs["failed"] += 1
                    raise PapertoolsError(f"the labeller's model failed on episode "
                                          f"{episode_id!r}: {result.error}")
                reply = result.text
                self._remember(key, reply)
            parsed, answer = self.mode.parse(reply)
            if parsed:
                break
        if not parsed:
            self.costs["unparsed"] += 1
        return label_record(episode_id, self.mode, "text" if self.text else "remote", answer,
                            None, reply=reply, parsed=parsed, cached=cached)


__all__ = ["QUESTIONS", "RemoteLabeller", "SYSTEM", "few_shot_examples", "label_record",
           "learned_answers", "oracle_answers"]
