"""A tiny local chat model for offline runs, tests and the demo (random weights, ~0.1M
parameters): a byte-level BPE trained on the games' action words and a 2-layer GPT-2, saved with
``save_pretrained`` so ``--client hf --model DIR`` and ``bench serve --model DIR`` load it like
any Hugging Face model directory. Its replies are near-random text: it exercises the harness
(prompting, parsing, invalid-output mapping), not play."""

from __future__ import annotations

from pathlib import Path


def build_tiny_model(folder: str | Path, seed: int = 0) -> Path:
    import torch
    from transformers import GPT2LMHeadModel

    from papertools.core.models import gpt2_config, quiet_hf
    from papertools.core.models.tokenizer import train_bpe

    from papertools.core.envs.babaisai import ACTION_HELP as BABA
    from papertools.core.envs.babyai import ACTION_HELP as BABYAI
    from papertools.core.envs.crafter import WORDS as CRAFTER

    quiet_hf()
    folder = Path(folder)
    texts = [" ".join(BABYAI), " ".join(BABA), " ".join(CRAFTER), "Observation: you see a wall",
             "system: user: assistant: ACTION: <|ACTION|> <|END|>"] * 4
    tokenizer = train_bpe(texts, vocab_size=300)
    torch.manual_seed(seed)
    config = gpt2_config("gpt2-test", vocab_size=len(tokenizer), n_positions=1024,
                         eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.eos_token_id)
    model = GPT2LMHeadModel(config)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
