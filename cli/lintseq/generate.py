"""Sampling programs from a fine-tuned model, and decoding generated edit sequences.

An edit-sequence model is prompted with ``instruction + "\\n<|diff|>"`` and writes edits
separated by ``"\\n<|diff|>"``, ending with empty edits and EOS; a whole-program model is
prompted with ``instruction + "\\n"``. The prompt format is the one the model was trained on
(``papertools.json`` beside it, written by ``lintseq finetune``), unless ``--format`` says.

Decoding (:func:`decode_edits`) is the released ``resolve_edit_path``, tolerant as it is: each
hunk's lines are inserted before line ``c`` of its ``@@ -a,b +c,d @@`` header (appended when
``c`` is past the end); a hunk whose header does not parse is skipped. Unlike the released
code, it counts what it had to forgive: an edit is *malformed* when it has text but no hunk, a
header that does not parse, or a body line that does not start with ``+`` (such lines are
dropped, where the released code inserted them with their ``-`` stripped).

Randomness: each problem's samples come from a torch generator seeded by (``--seed``, the
problem's index in the input), so the output does not depend on ``--workers``; it does depend
on ``--batch-size`` (how the samples share random draws) and, on GPUs, on kernels.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from papertools.core.errors import InputError, PapertoolsError

from .training import DIFF_TOKEN, SEPARATOR

_HEADER = re.compile(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def decode_edits(text: str, eos: str | None = None) -> tuple[str, int, int]:
    """(program, edits with at least one hunk applied, malformed edits) from generated text."""
    if eos:
        text = text.split(eos, 1)[0]
    lines: list[str] = []
    applied = malformed = 0
    for edit in text.split(SEPARATOR):
        if "@@" not in edit:
            malformed += bool(edit.strip())  # text that is not an edit (empty edits end a path)
            continue
        bad, hunks, current = False, [], None
        for row in edit.split("\n"):
            if row.startswith("@@"):
                match = _HEADER.match(row)
                current = (max(0, int(match.group(3)) - 1), []) if match else None
                if current is None:
                    bad = True  # the hunk is skipped
                else:
                    hunks.append(current)
            elif row.startswith("+") and current is not None:
                current[1].append(row[1:])
            else:
                bad = True  # a line that is no insertion: dropped
        for at, insert in hunks:
            lines = lines + insert if at >= len(lines) else lines[:at] + insert + lines[at:]
        applied += bool(hunks)
        malformed += bad
    return "\n".join(lines), applied, malformed


@dataclass(frozen=True)
class GenerateConfig:
    model: str
    n: int = 20
    temperature: float = 0.8
    top_p: float = 0.95
    min_p: float = 0.0
    max_new_tokens: int = 256
    batch_size: int = 32
    seed: int = 0
    format: str = "auto"  # auto | edits | program
    instruction_field: str = "instruction"
    device: str = "auto"
    dtype: str = "auto"
    threads: int = 0  # torch threads in this process (0: torch's default)


_LOADED: dict = {}


def load(config: GenerateConfig):
    """(model, tokenizer, format), loaded once per process."""
    key = (config.model, config.device, config.dtype)
    if key not in _LOADED:
        import json
        from pathlib import Path

        import torch

        from papertools.core.models import load_causal_lm

        if config.threads:
            torch.set_num_threads(config.threads)
        model, tokenizer = load_causal_lm(config.model, device=config.device, dtype=config.dtype)
        model.eval()
        fmt = config.format
        if fmt == "auto":
            meta = Path(config.model) / "papertools.json"
            if meta.exists():
                fmt = json.loads(meta.read_text()).get("format", "program")
            else:
                fmt = "edits" if DIFF_TOKEN in tokenizer.get_vocab() else "program"
        _LOADED[key] = (model, tokenizer, fmt)
    return _LOADED[key]


def prompt_for(instruction: str, fmt: str) -> str:
    return instruction + (SEPARATOR if fmt == "edits" else "\n")


def generate_record(config: GenerateConfig, item) -> tuple[list[dict], int] | InputError:
    """All samples for one problem record: (output records, new tokens), or the input error."""
    import torch

    from papertools.core.errors import field
    from papertools.core.seed import derive_seed

    record, place = item.record, item.place
    try:
        task = record.get("task_id", record.get("id"))
        if not isinstance(task, (str, int)) or isinstance(task, bool):
            raise InputError("missing field (or 'id')" if task is None else
                             "expected a string or an integer", place.file, place.line, "task_id")
        instruction = field(record, config.instruction_field, str, place=place)
    except InputError as err:
        return err
    model, tokenizer, fmt = load(config)
    prompt = prompt_for(instruction, fmt)
    ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
    context = getattr(model.config, "n_positions", None) or \
        getattr(model.config, "max_position_embeddings", None) or 10**9
    room = min(config.max_new_tokens, context - ids.shape[1])
    if room < 1:
        return InputError(f"the prompt has {ids.shape[1]} tokens, the model's context "
                          f"{context}", place.file, place.line, config.instruction_field)
    generator_seed = derive_seed(config.seed, item.index)
    torch.manual_seed(generator_seed & 0xFFFFFFFFFFFF)
    eos = tokenizer.eos_token
    out, new_tokens, done = [], 0, 0
    while done < config.n:
        batch = min(config.batch_size, config.n - done)
        inputs = ids.repeat(batch, 1).to(model.device)  # (batch, prompt tokens)
        sampling = dict(do_sample=True, temperature=config.temperature, top_p=config.top_p,
                        min_p=config.min_p or None) if config.temperature > 0 else \
            dict(do_sample=False)
        with torch.no_grad():
            result = model.generate(inputs, attention_mask=torch.ones_like(inputs),
                                    max_new_tokens=room, eos_token_id=tokenizer.eos_token_id,
                                    pad_token_id=tokenizer.pad_token_id, **sampling)
        for row in result[:, ids.shape[1]:]:
            row = row.tolist()
            if tokenizer.eos_token_id in row:
                row = row[: row.index(tokenizer.eos_token_id)]
            new_tokens += len(row) + 1
            completion = tokenizer.decode(row, skip_special_tokens=False)
            if fmt == "edits":
                program, n_edits, malformed = decode_edits(completion, eos)
            else:
                program, n_edits, malformed = completion.split(eos, 1)[0].rstrip(), 0, 0
            out.append({"id": f"{task}:{done}", "task_id": task, "sample": done,
                        "program": program, "completion": completion, "format": fmt,
                        "n_edits": n_edits, "malformed_edits": malformed})
            done += 1
    return out, new_tokens


def check_config(config: GenerateConfig) -> None:
    if config.temperature < 0 or not 0 < config.top_p <= 1 or not 0 <= config.min_p < 1:
        raise PapertoolsError("need --temperature >= 0, 0 < --top-p <= 1, 0 <= --min-p < 1")
