"""Supervised fine-tuning of a causal LM on LintSeq training strings, read top to bottom.

The released code (``src/finetune.py``, Tulu/open-instruct style, DeepSpeed) trains on
``instruction + "\\n<|diff|>" + edits...`` with the loss masked on the instruction, ``<|diff|>``
added to the tokenizer as a normal token and the embeddings resized (to a multiple of 16), AdamW
with weight decay 0.01, and a linear learning-rate schedule with warm-up (ratio 0.001). This is
the same recipe in one readable loop:

1. Records are ``prompt``/``completion`` pairs (``lintseq format``; the baseline's too) or a
   single ``text`` (trained whole). Each example is ``prompt + completion + EOS``, tokenised as
   the prompt's tokens followed by the completion's, so that the mask boundary is exact and
   generation sees the same prompt tokens; labels are -100 on the prompt (for edit sequences
   that is the instruction and the first ``<|diff|>``, which generation is given), and sequences
   are cut at ``--max-length``.
2. The model is a local Hugging Face directory (``--model``), or a fresh GPT-2 built from a
   preset or a config file (``--init-config``), in which case a byte-level BPE tokenizer is
   trained on the training strings first (deterministic). Either way ``<|diff|>`` is made one
   token when the data uses it.
3. Each epoch shuffles the examples with a seed derived from (``--seed``, epoch), groups them
   into batches of ``--batch-size`` of similar length (sorted within windows of 64 batches, the
   batches then shuffled: little padding, still random), pads on the right, and accumulates
   ``--grad-accum`` batches per optimiser step. The loss is the token mean (``--reduce-loss mean``) or, as the released
   scripts, the sum (``sum``) over unmasked tokens.
4. The run folder is core.training's (settings.json, log.jsonl, a lock, finished.json).
   Checkpoints (model, optimiser, schedule, random states, position in the data) are written
   to ``OUT/checkpoint`` atomically every ``--save-every`` steps, at every epoch's end and on
   Ctrl-C; ``--resume`` continues from there (with the same settings) and gives the same model
   as an uninterrupted run. The final model and tokenizer are saved to ``OUT`` (``--model
   OUT`` loads them) with ``OUT/papertools.json`` saying what they were trained on, including
   the prompt format (``edits`` or ``program``) that ``lintseq generate`` needs.

Several GPUs: launch the same command with ``torchrun --nproc_per_node N`` (or
``accelerate launch``); each process takes every N-th batch and gradients are averaged
(DistributedDataParallel, NCCL on GPUs, Gloo on CPUs); rank 0 logs and writes.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from papertools.core.errors import PapertoolsError
from papertools.core.jsonl import write_json
from papertools.core.seed import derive_seed
from papertools.core.training import (Progress, RunDir, adamw, checkpoint_on_interrupt, digest,
                                      distributed_setup, epoch_done, step_done,
                                      warmup_schedule)

from .training import DIFF_TOKEN

IGNORE = -100  # label of tokens that carry no loss


@dataclass
class FinetuneConfig:
    out_dir: str
    model: str | None = None  # a local HF directory or cached hub id ...
    init_config: str | None = None  # ... or a preset / config.json for a fresh model
    epochs: int = 2  # the released scripts: 10 for the baseline, 10 / s for edit sequences
    lr: float = 3e-4  # the released TinyCodeLM setting (5e-5 or 1e-5 for 2B-14B models)
    batch_size: int = 16
    grad_accum: int = 1  # optimiser step every grad_accum batches
    max_length: int = 512  # tokens per example (released: 1024)
    warmup_ratio: float = 0.001
    weight_decay: float = 0.01
    reduce_loss: str = "mean"  # "sum" as the released scripts (--reduce_loss sum)
    vocab_size: int = 2048  # of the BPE trained with --init-config
    seed: int = 0
    device: str = "auto"
    dtype: str = "auto"
    save_every: int = 0  # steps between checkpoints (0: at epoch ends only)
    log_every: int = 10  # steps between log records
    resume: bool = False


# what --resume may change: where and how often, not what is trained
MUTABLE = ("device", "save_every", "log_every")


def run_settings(config: FinetuneConfig, examples: list[Example]) -> dict:
    """What the run is (settings.json): the configuration and a digest of the examples."""
    settings = {k: v for k, v in asdict(config).items() if k not in ("out_dir", "resume")}
    return dict(settings, examples=len(examples),
                examples_sha256=digest((e.prompt, e.completion) for e in examples))


@dataclass
class Example:
    prompt: str
    completion: str


# ---------------------------------------------------------------------------------------------
# Data


def encode(tokenizer, examples: list[Example], max_length: int) -> list[tuple[list[int], int]]:
    """(token ids, number of prompt tokens) per example: prompt, completion, EOS; cut at max."""
    prompts = tokenizer([e.prompt for e in examples], add_special_tokens=False)["input_ids"]
    completions = tokenizer([e.completion for e in examples],
                            add_special_tokens=False)["input_ids"]
    eos = tokenizer.eos_token_id
    out = []
    for p, c in zip(prompts, completions):
        ids = (p + c + [eos])[:max_length]
        out.append((ids, min(len(p), len(ids))))
    return out


def epoch_batches(lengths: list[int], batch_size: int, seed: int, epoch: int,
                  window: int = 64) -> list[list[int]]:
    """The batches of ``epoch``: the examples shuffled with a seed from (seed, epoch), then, within
    each window of ``window`` batches, sorted by length so that a batch wastes little on padding,
    and the batches shuffled again. Deterministic; every example once per epoch."""
    import numpy as np

    rng = np.random.default_rng(derive_seed(seed, epoch))
    order = rng.permutation(len(lengths)).tolist()
    span = batch_size * window
    batches = []
    for start in range(0, len(order), span):
        chunk = sorted(order[start:start + span], key=lambda i: lengths[i])
        batches += [chunk[k:k + batch_size] for k in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def collate(batch: list[tuple[list[int], int]], pad_id: int):
    """input_ids, attention_mask, labels (-100 on prompt and padding), right-padded."""
    import torch

    width = max(len(ids) for ids, _ in batch)
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)  # (B, T)
    labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)  # (B, T)
    mask = torch.zeros((len(batch), width), dtype=torch.long)  # (B, T)
    for row, (ids, n_prompt) in enumerate(batch):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, n_prompt: len(ids)] = torch.tensor(ids[n_prompt:])
        mask[row, : len(ids)] = 1
    return input_ids, mask, labels


# ---------------------------------------------------------------------------------------------
# Model and tokenizer


def build(config: FinetuneConfig, examples: list[Example], uses_diff: bool, device):
    """(model, tokenizer): loaded from --model, or a fresh GPT-2 and a BPE trained on the data."""
    from papertools.core import models

    if config.model:
        model, tokenizer = models.load_causal_lm(config.model, device=device, dtype=config.dtype)
    else:
        from transformers import AutoModelForCausalLM

        from papertools.core.models.tokenizer import train_bpe

        texts = (e.prompt + e.completion for e in examples)
        tokenizer = train_bpe(texts, vocab_size=config.vocab_size,
                              added_tokens=(DIFF_TOKEN,) if uses_diff else ())
        model_config = models.gpt2_config(
            config.init_config, vocab_size=-(-len(tokenizer) // 16) * 16,  # a multiple of 16
            n_positions=config.max_length,
            bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.eos_token_id)
        model = AutoModelForCausalLM.from_config(model_config).to(device)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if uses_diff and DIFF_TOKEN not in tokenizer.get_vocab():
        tokenizer.add_tokens([DIFF_TOKEN])  # a normal added token, as the released code
    if len(tokenizer) > model.get_input_embeddings().num_embeddings:
        model.resize_token_embeddings(len(tokenizer), pad_to_multiple_of=16)
    return model, tokenizer


def _unwrap(model):
    return getattr(model, "module", model)


# ---------------------------------------------------------------------------------------------
# Training


def finetune(config: FinetuneConfig, examples: list[Example], log, progress=False) -> dict:
    """Train and save; ``log(record)`` receives the log records (they also go to
    OUT/log.jsonl); ``progress`` shows a step bar on standard error. Returns the summary."""
    import torch

    from papertools.core import models

    if not examples:
        raise PapertoolsError("no training examples")
    rank, world = distributed_setup()
    device = models.resolve_device(config.device)
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    with RunDir(config.out_dir, run_settings(config, examples), resume=config.resume,
                mutable=MUTABLE, echo=log, primary=rank == 0) as run:
        if run.finished:
            return run.finished
        return _train(config, examples, run, progress, rank, world, device)


def _train(config: FinetuneConfig, examples: list[Example], run: RunDir, progress, rank: int,
           world: int, device) -> dict:
    import torch
    import torch.nn.functional as F

    from papertools.core import models

    out = run.path
    torch.manual_seed(config.seed)
    uses_diff = any(DIFF_TOKEN in e.prompt or DIFF_TOKEN in e.completion for e in examples)

    saved = run.load_checkpoint() if config.resume else None
    if saved is not None:  # continue: the checkpoint's model and tokenizer, same data order
        model, tokenizer = models.load_causal_lm(str(saved.path / "model"), device=device,
                                                 dtype=config.dtype)
    else:
        model, tokenizer = build(config, examples, uses_diff, device)
    encoded = encode(tokenizer, examples, config.max_length)
    lengths = [len(ids) for ids, _ in encoded]

    batches_per_epoch = math.ceil(len(encoded) / config.batch_size)
    per_step = config.grad_accum * world  # batches per optimiser step, over all processes
    steps_per_epoch = math.ceil(batches_per_epoch / per_step)
    total_steps = steps_per_epoch * config.epochs
    optimizer = adamw(model, config.lr, config.weight_decay)
    # linear warm-up, then linear decay to 0
    scheduler = warmup_schedule(optimizer, total_steps, warmup_ratio=config.warmup_ratio)
    state = {"step": 0, "epoch": 0, "batch": 0, "tokens": 0, "loss_sum": 0.0, "loss_count": 0}
    if saved is not None:
        saved.restore(optimizer=optimizer, scheduler=scheduler)
        state = saved.state
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    if rank == 0:
        tokenizer.save_pretrained(out)

    def write(folder: Path) -> None:
        _unwrap(model).save_pretrained(folder / "model")
        tokenizer.save_pretrained(folder / "model")

    def checkpoint():
        run.save_checkpoint(state=dict(state), optimizer=optimizer, scheduler=scheduler,
                            write=write)  # the primary process writes
        if world > 1:
            torch.distributed.barrier()

    model.train()
    started, tokens_at_start = time.perf_counter(), state["tokens"]
    bar = Progress(total_steps, state["step"], "lintseq finetune") \
        if progress and rank == 0 else None

    def emit_log():
        run.log(_log_record(state, steps_per_epoch, scheduler, started, tokens_at_start))
        state["loss_sum"], state["loss_count"] = 0.0, 0

    with checkpoint_on_interrupt(checkpoint, bar):  # Ctrl-C keeps what was learned; --resume
        while state["epoch"] < config.epochs:
            batches = epoch_batches(lengths, config.batch_size, config.seed, state["epoch"])
            while state["batch"] < batches_per_epoch:
                first = state["batch"]
                group = range(first, min(first + per_step, batches_per_epoch))
                mine = [(batches[b], 1.0) for b in group if (b - first) % world == rank]
                if not mine:  # fewer batches than processes at the epoch's end: a zero-weight
                    mine = [(batches[0][:1], 0.0)]  # pass keeps DistributedDataParallel in step
                for idx, weight in mine:
                    input_ids, mask, labels = (t.to(device) for t in
                                               collate([encoded[i] for i in idx],
                                                       tokenizer.pad_token_id))
                    logits = model(input_ids=input_ids, attention_mask=mask).logits  # (B, T, V)
                    targets = labels[:, 1:]  # token t predicts token t + 1
                    loss_sum = F.cross_entropy(logits[:, :-1].flatten(0, 1).float(),
                                               targets.flatten(), ignore_index=IGNORE,
                                               reduction="sum")
                    n_tokens = int((targets != IGNORE).sum())
                    loss = loss_sum / max(1, n_tokens) if config.reduce_loss == "mean" \
                        else loss_sum
                    (loss * weight / len(mine)).backward()
                    if weight:
                        state["loss_sum"] += float(loss_sum.detach())
                        state["loss_count"] += n_tokens
                        state["tokens"] += int(mask.sum())
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                state["batch"] = group.stop
                state["step"] += 1
                if bar is not None:
                    bar.update(loss=f"{state['loss_sum'] / max(1, state['loss_count']):.3f}",
                               tok_s=f"{_rate(state, started, tokens_at_start):.0f}")
                step_done(state, total_steps, config.log_every, config.save_every, emit_log,
                          checkpoint)
            epoch_done(state, checkpoint)

    if world > 1:  # tokens seen by all processes
        total = torch.tensor([state["tokens"]], dtype=torch.long, device=device)
        torch.distributed.all_reduce(total)
        state["tokens"] = int(total.item())
    summary = {"finished": True, "rank": rank, "format": "edits" if uses_diff else "program",
               "steps": state["step"], "epochs": config.epochs, "examples": len(examples),
               "tokens": state["tokens"], "seconds": round(time.perf_counter() - started, 3),
               "parameters": sum(p.numel() for p in _unwrap(model).parameters()),
               "tokenizer": "trained byte-level BPE" if config.init_config else config.model,
               "vocab_size": len(tokenizer), "config": asdict(config)}
    if rank == 0:
        _unwrap(model).save_pretrained(out)
        tokenizer.save_pretrained(out)
        write_json(out / "papertools.json", summary)
        run.finish(summary)
    if world > 1:
        torch.distributed.barrier()
    return summary


def _rate(state, started, tokens_at_start) -> float:
    return (state["tokens"] - tokens_at_start) / max(1e-9, time.perf_counter() - started)


def _log_record(state, steps_per_epoch, scheduler, started, tokens_at_start) -> dict:
    loss = state["loss_sum"] / max(1, state["loss_count"])
    return {"step": state["step"], "epoch": round(state["step"] / steps_per_epoch, 4),
            "loss": round(loss, 5), "lr": scheduler.get_last_lr()[0], "tokens": state["tokens"],
            "tokens_per_s": round(_rate(state, started, tokens_at_start), 1)}
