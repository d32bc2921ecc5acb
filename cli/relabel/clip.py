"""A small contrastive image-text model: the labeller trained here, in place of Flamingo.

Pictures (rollouts.picture: the agent's 56x56 view before and after the episode's last action,
side by side) and captions ("red ball", or
"nothing" when the agent carries nothing) are embedded into one space, an image by a small
CNN and a caption by the mean of its word vectors and a linear layer (so a caption never seen
in training, "purple box" from "purple ..." and "... box", still has a vector). Training is a
contrastive cross-entropy of each picture against every caption of the vocabulary, with a
learned temperature, as CLIP's image-to-text half. Its mistakes are its own: a picture where
the carried object is hidden under the agent's triangle, a colour confused, are the natural
noise the study measures (labeller precision and recall, beside the oracle's injected noise).

Asked a question (a prompt mode), the labeller answers from its caption distribution: names and
colours sum the pairs' probabilities into the answer's; categories and preferences are taught
by examples (few-shot): pictures with their answers, and a picture's answer is the class of the
examples it is most similar to (the best cosine similarity per class, a softmax over classes).
The confidence of an answer is its probability; below ``threshold`` the labeller says nothing.

A labeller folder: ``labeller.json`` (kind, captions, words, sizes, the training summary) and
``model.safetensors``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from papertools.core.envs import lift
from papertools.core.errors import PapertoolsError

NOTHING = "nothing"
CAPTIONS = (*lift.PAIRS, NOTHING)
KIND = "papertools-relabel-contrastive"


def _modules(words: list[str], dim: int):
    import torch
    from torch import nn

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.image = nn.Sequential(
                nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Flatten(), nn.LazyLinear(128), nn.ReLU(), nn.Linear(128, dim))
            self.words = nn.EmbeddingBag(len(words), dim, mode="mean")
            self.text = nn.Linear(dim, dim)
            self.scale = nn.Parameter(torch.tensor(np.log(10.0), dtype=torch.float32))
            self.index = {w: i for i, w in enumerate(words)}

        def embed_images(self, frames):
            x = torch.as_tensor(np.asarray(frames), dtype=torch.float32).permute(0, 3, 1, 2)
            return nn.functional.normalize(self.image(x / 255.0), dim=-1)

        def embed_texts(self, texts):
            ids, offsets = [], []
            for text in texts:
                offsets.append(len(ids))
                known = [self.index[w] for w in text.split() if w in self.index]
                if not known:
                    raise PapertoolsError(f"the labeller knows none of the words of {text!r}")
                ids.extend(known)
            vec = self.words(torch.tensor(ids), torch.tensor(offsets))
            return nn.functional.normalize(self.text(vec), dim=-1)

        def logits(self, frames, texts):
            return self.embed_images(frames) @ self.embed_texts(texts).T * self.scale.exp()

    return Model()


class Contrastive:
    """A trained labeller folder, loaded (``Contrastive.load(path)``)."""

    def __init__(self, model, meta: dict, path: Path | None = None):
        self.model, self.meta, self.path = model, meta, path

    @classmethod
    def load(cls, path) -> "Contrastive":
        import torch
        from safetensors.torch import load_file

        path = Path(path)
        try:
            meta = json.loads((path / "labeller.json").read_text())
        except (OSError, ValueError) as err:
            raise PapertoolsError(f"{path}: not a labeller folder ({err})") from None
        if meta.get("kind") != KIND:
            raise PapertoolsError(f"{path}/labeller.json: kind {meta.get('kind')!r} is not "
                                  f"{KIND!r}")
        model = _modules(meta["words"], meta["dim"])
        with torch.no_grad():
            model.embed_images(np.zeros((1, *meta["frame_shape"]), np.uint8))  # size the lazy layer
        model.load_state_dict(load_file(str(path / "model.safetensors")))
        model.eval()
        return cls(model, meta, path)

    def caption_probs(self, frames, captions=CAPTIONS, batch: int = 256) -> np.ndarray:
        """[N, len(captions)]: each picture's distribution over the captions."""
        import torch

        out = []
        with torch.no_grad():
            texts = self.model.embed_texts(list(captions))
            for i in range(0, len(frames), batch):
                images = self.model.embed_images(frames[i:i + batch])
                out.append(torch.softmax(images @ texts.T * self.model.scale.exp(), -1).numpy())
        return np.concatenate(out) if out else np.zeros((0, len(captions)), np.float32)

    def embed(self, frames, batch: int = 256) -> np.ndarray:
        import torch

        with torch.no_grad():
            return np.concatenate([self.model.embed_images(frames[i:i + batch]).numpy()
                                   for i in range(0, len(frames), batch)]) if len(frames) else \
                np.zeros((0, self.meta["dim"]), np.float32)


def train_contrastive(frames: np.ndarray, captions: list[str], out_dir, *, epochs: int = 15,
                      batch_size: int = 128, lr: float = 1e-3, dim: int = 64, seed: int = 0,
                      valid_fraction: float = 0.1, threads: int = 1, log=None) -> dict:
    """Train on (picture, caption) pairs and write the labeller folder; returns its summary
    (the held-out pictures' caption accuracy after every epoch)."""
    import torch
    from safetensors.torch import save_file

    from papertools.core.jsonl import write_json
    from papertools.core.seed import numpy_rng

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    unknown = sorted(set(captions) - set(CAPTIONS))
    if unknown:
        raise PapertoolsError(f"captions outside the vocabulary: {', '.join(unknown[:3])}")
    words = sorted({w for c in CAPTIONS for w in c.split()})
    model = _modules(words, dim)
    frames = np.asarray(frames)
    target = np.array([CAPTIONS.index(c) for c in captions])
    rng = numpy_rng(seed, 0x636C)
    order = rng.permutation(len(frames))
    n_valid = int(round(len(frames) * valid_fraction))
    valid, train = order[:n_valid], order[n_valid:]
    with torch.no_grad():
        model.embed_images(frames[:1])
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    history, started = [], time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        perm = rng.permutation(train)
        total = 0.0
        for i in range(0, len(perm), batch_size):
            idx = perm[i:i + batch_size]
            logits = model.logits(frames[idx], list(CAPTIONS))
            loss = torch.nn.functional.cross_entropy(logits, torch.as_tensor(target[idx]))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(idx)
        model.eval()
        with torch.no_grad():
            acc = None
            if len(valid):
                pred = model.logits(frames[valid], list(CAPTIONS)).argmax(-1).numpy()
                acc = float((pred == target[valid]).mean())
        record = {"epoch": epoch, "loss": total / max(1, len(train)), "valid_accuracy": acc}
        history.append(record)
        if log:
            log(record)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()},
              str(out / "model.safetensors"))
    summary = {"kind": KIND, "words": words, "dim": dim, "captions": list(CAPTIONS),
               "frame_shape": list(frames.shape[1:]), "pictures": len(frames),
               "train": len(train), "valid": len(valid), "epochs": epochs, "lr": lr,
               "seed": seed, "history": history,
               "valid_accuracy": history[-1]["valid_accuracy"] if history else None,
               "seconds": round(time.perf_counter() - started, 1)}
    write_json(out / "labeller.json", summary)
    return summary


def labeller_pictures(dataset, mid_per_episode: int = 1, seed: int = 0):
    """(pictures, captions) from a collected dataset: each episode's end (rollouts.picture)
    with its true caption (the lifted pair, or nothing) and ``mid_per_episode`` pictures of an
    earlier step, captioned nothing (nothing is lifted before the end)."""
    from papertools.core.seed import numpy_rng

    from .rollouts import picture

    rng = numpy_rng(seed, 0x7069)
    frames, captions = [], []
    for episode_id in dataset.ids:
        record = dataset.record(episode_id)
        rgb = dataset.load(episode_id, keys=["rgb"])["obs/rgb"]
        frames.append(picture(rgb))
        captions.append(record.get("lifted") or NOTHING)
        for _ in range(mid_per_episode if len(rgb) > 2 else 0):
            frames.append(picture(rgb, int(rng.integers(1, len(rgb) - 1))))
            captions.append(NOTHING)
    return np.stack(frames), captions


__all__ = ["CAPTIONS", "Contrastive", "NOTHING", "labeller_pictures", "train_contrastive"]
