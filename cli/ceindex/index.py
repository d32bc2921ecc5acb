"""Offline indexing (AXN section 2.1, App. A), in the order it runs, and the index folder.

    1. DE_SRC embeddings of the items E_I (n, d) and training queries E_Q (|Q|, d).
    2. Sparse score matrix G: for each training query, k_d items (its DE top-k_d, or uniformly
       random), CE-scored: k_d * |Q| CE calls, logged to scores.jsonl as they come (resumable).
    3. Score normalisation s' = beta (s - alpha): alpha, beta fitted on the observed entries of
       100 training queries so the CE scores get the DE scores' mean and spread (monotone).
    4. Item embeddings fitted by masked squared error  min ||(G - U V^T)_observed||^2  (Eq. 3) with
       AdamW, initialised from the DE, in the paper's variants:
         trns: U, V free parameters initialised to E_Q, E_I (MF_Trns, transductive);
         ind:  x_out = sigmoid(w) (b2 + W2^T gelu(b1 + W1^T x)) + (1 - sigmoid(w)) x on the frozen
               DE embeddings, one MLP for queries and one for items, w initialised to -5 (MF_Ind);
         de:   no fitting, V = E_I (Axn_{DE,DE}: no extra index cost beyond normalisation).
       The rows of G of up to 100 training queries (a tenth at most) are held out of the fit;
       on them axn's search settings (Eq. 7's lambda, the per-query offset) are chosen for each
       variant (tune.py) and recorded as the index's defaults for search and eval.
    5. Optional, for the CUR baselines: the dense CE scores of --cur-queries random training
       queries (anchor queries) against all items, k_q * n CE calls (cur.jsonl, resumable).
    6. A faiss inner-product index per embedding set, index.json (configuration, CE-call
       counts, timings) written last: its presence marks a complete index.

Index folder:
    index.json, items.jsonl (id, text), train_queries.jsonl (id, text), scores.jsonl, cur.jsonl,
    de_items.npy, de.faiss, emb_<variant>.npy, emb_<variant>.faiss, mlp_ind.npz
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from papertools.core.errors import PapertoolsError
from papertools.core.jsonl import atomic_path, dumps, write_json
from papertools.core.seed import numpy_rng

FORMAT = 1
VARIANTS = ("trns", "ind", "de")
# most epochs; training stops earlier on the held-out entries (BuildConfig.holdout)
DEFAULT_EPOCHS = {"trns": 20, "ind": 20, "de": 0}
PROBE = ["papertools ceindex: the dual encoder fingerprint probe.", "k-NN search"]


@dataclass
class BuildConfig:
    de: str = "minilm"
    ce: str = "maxsim:minilm"
    k_d: int = 100
    sample: str = "de"  # de | random
    variants: tuple = ("trns",)
    epochs: int | None = None  # None: DEFAULT_EPOCHS per variant
    lr: float = 0.001  # the paper's Hotpot-QA / ZeShEL value (0.005, its SciDocs value, moves
    # unit-norm 384-d MiniLM embeddings too far: held-out error rises from the first epoch)
    holdout: float = 0.1  # share of G's entries held out for early stopping
    query_bias: bool = True  # a free offset per training query in the factorisation
    batch_size: int = 1024
    weight_decay: float = 0.0
    normalize: bool = True
    norm_queries: int = 100
    cur_queries: int = 0
    faiss: str = "auto"  # auto | flat | ivf
    seed: int = 0
    max_length: int = 64  # tokens per text for the DE and the MaxSim scorer
    # axn's search settings chosen on dev queries held out of the fit (tune.py); 0: no choice
    tune_queries: int = 100
    tune_lambdas: tuple = (0.0, 0.3, 0.5, 0.8, 1.0)
    tune_budgets: tuple = (50, 100, 200)

    def key(self) -> dict:
        """What a resumed build must share with the interrupted one."""
        return {k: getattr(self, k) for k in ("de", "ce", "k_d", "sample", "cur_queries", "seed",
                                              "max_length")}


# --------------------------------------------------------------------------------------------
# small file helpers: every final file is written to a temporary name and renamed into place

def save_npy(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, array)


def save_npz(path: Path, arrays: dict) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)


def save_faiss(path: Path, index) -> None:
    import faiss

    with atomic_path(path) as tmp:
        faiss.write_index(index, tmp)


def write_jsonl(path: Path, records) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        for rec in records:
            fh.write(dumps(rec))


def texts_hash(ids, texts) -> str:
    h = hashlib.sha256()
    for i, t in zip(ids, texts):
        h.update(i.encode() + b"\0" + t.encode() + b"\0")
    return h.hexdigest()[:16]


def de_probe(encoder) -> np.ndarray:
    """The DE's embeddings of fixed probe texts: what identifies the model (kept in index.json)."""
    return np.asarray(encoder.encode(PROBE), dtype=np.float64)


def de_fingerprint(probe: np.ndarray) -> str:
    """A short hash of the probe embeddings, for people to compare (the check uses the values)."""
    return hashlib.sha256(np.round(probe, 3).tobytes()).hexdigest()[:16]


def same_de(probe: np.ndarray, stored) -> bool:
    """The same model, up to floating-point differences between machines and batch sizes."""
    stored = np.asarray(stored, dtype=np.float64)
    return probe.shape == stored.shape and float(np.max(np.abs(probe - stored))) < 1e-3


def make_faiss(V: np.ndarray, kind: str = "auto"):
    """Inner-product index: flat up to 11,000 vectors, else IVF-flat with nlist = sqrt(n) and
    nprobe = sqrt(nlist) (ANNCUR's rule); ``kind`` forces one."""
    import faiss

    V = np.ascontiguousarray(V, dtype=np.float32)
    n, d = V.shape
    if kind == "flat" or (kind == "auto" and n <= 11000):
        index = faiss.IndexFlatIP(d)
    else:
        nlist = max(1, int(np.sqrt(n)))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
        index.train(V)
        index.nprobe = max(1, int(np.sqrt(nlist)))
    index.add(V)
    return index


# --------------------------------------------------------------------------------------------
# 3. normalisation

def fit_normalizer(ce_scores: np.ndarray, de_scores: np.ndarray,
                   groups: np.ndarray | None = None) -> tuple[float, float]:
    """alpha, beta with beta (s - alpha) matching the DE scores' mean and standard deviation.

    With ``groups`` (the query of each entry), beta matches the standard deviation within a
    query (each query's mean removed): what a query's ranking and the test-time regression
    see. Pooled over queries, a CE whose scores carry a large per-query offset (MaxSim sums
    over the query's tokens) gets a beta that shrinks the within-query spread below the DE's.
    """
    ce_scores = np.asarray(ce_scores, dtype=np.float64)
    de_scores = np.asarray(de_scores, dtype=np.float64)
    if groups is not None:
        _, g = np.unique(np.asarray(groups), return_inverse=True)
        count = np.bincount(g)
        sc = float(np.std(ce_scores - (np.bincount(g, ce_scores) / count)[g]))
        sd = float(np.std(de_scores - (np.bincount(g, de_scores) / count)[g]))
    else:
        sc, sd = float(np.std(ce_scores)), float(np.std(de_scores))
    beta = sd / sc if sc > 0 and sd > 0 else 1.0
    alpha = float(np.mean(ce_scores)) - float(np.mean(de_scores)) / beta
    return alpha, beta


# --------------------------------------------------------------------------------------------
# 4. masked matrix factorisation

class SkipMLP:
    """MF_Ind's per-side network: x' = b2 + W2^T gelu(b1 + W1^T x); out = s x' + (1 - s) x,
    s = sigmoid(w_skip), w_skip initialised to -5 (so it starts close to the identity)."""

    @staticmethod
    def module(d: int):
        import torch

        class _Skip(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.lin1 = torch.nn.Linear(d, 2 * d)  # W1: d x 2d (PyTorch default init)
                self.lin2 = torch.nn.Linear(2 * d, d)  # W2: 2d x d
                self.w_skip = torch.nn.Parameter(torch.tensor(-5.0))

            def forward(self, x):
                s = torch.sigmoid(self.w_skip)
                return s * self.lin2(torch.nn.functional.gelu(self.lin1(x))) + (1 - s) * x

        return _Skip()

    @staticmethod
    def weights(module) -> dict:
        return {"W1": module.lin1.weight.detach().cpu().numpy(),
                "b1": module.lin1.bias.detach().cpu().numpy(),
                "W2": module.lin2.weight.detach().cpu().numpy(),
                "b2": module.lin2.bias.detach().cpu().numpy(),
                "w_skip": np.float32(module.w_skip.detach().cpu().item())}

    @staticmethod
    def apply(w: dict, x: np.ndarray) -> np.ndarray:
        """The same network in numpy (exact gelu), for search time."""
        from math import sqrt

        h = x @ w["W1"].T + w["b1"]
        h = 0.5 * h * (1.0 + _erf(h / sqrt(2.0)))
        s = 1.0 / (1.0 + np.exp(-float(w["w_skip"])))
        return (s * (h @ w["W2"].T + w["b2"]) + (1.0 - s) * x).astype(np.float32)


def _erf(x: np.ndarray) -> np.ndarray:
    import torch

    return torch.special.erf(torch.from_numpy(np.ascontiguousarray(x))).numpy()


@dataclass
class FitResult:
    V: np.ndarray  # (n_items, d) item embeddings
    mlp_query: dict | None  # MF_Ind's query network (numpy weights), for lambda at search time
    mlp_item: dict | None
    mse_init: float
    mse_final: float
    epochs: int
    steps: int
    seconds: float
    losses: list
    best_epoch: int = 0  # the epoch whose embeddings are returned (0: the DE init)
    heldout_mse: list = field(default_factory=list)  # per epoch, from epoch 0 (the init)


def fit_mf(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, E_Q: np.ndarray,
           E_I: np.ndarray, variant: str = "trns", epochs: int = 10, lr: float = 0.005,
           batch_size: int = 1024, weight_decay: float = 0.0, seed: int = 0,
           progress=None, query_bias: bool = False, holdout: float = 0.0,
           patience: int = 2) -> FitResult:
    """Fit item embeddings to the observed entries (rows[j], cols[j]) -> vals[j] (Eq. 3).

    Loss: mean squared error over a shuffled mini-batch of observed entries only; AdamW.
    ``weight_decay`` defaults to 0 so an item without observations keeps its DE embedding
    exactly (AdamW's decoupled decay would shrink every row of V, observed or not).

    ``query_bias``: a free offset b_q per training query (score = <u_q, v_i> + b_q), so the item
    embeddings need not explain each query's constant offset (which does not change its ranking).
    ``holdout``: the share of observed entries held out (at random) to stop early: after each
    epoch the held-out MSE is measured, and training stops after ``patience`` epochs without
    improvement; the item embeddings of the best epoch (epoch 0: the DE init) are returned.
    """
    import torch

    started = time.perf_counter()
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    r = torch.as_tensor(rows, dtype=torch.long)
    c = torch.as_tensor(cols, dtype=torch.long)
    y = torch.as_tensor(vals, dtype=torch.float32)
    n_q = int(np.asarray(E_Q).shape[0])
    if holdout > 0.0 and len(y) > 1:
        held = torch.as_tensor(numpy_rng(seed, 7).random(len(y)) < holdout)
        r_h, c_h, y_h = r[held], c[held], y[held]
        r, c, y = r[~held], c[~held], y[~held]
    else:
        r_h = c_h = y_h = None
    Q0 = torch.as_tensor(E_Q, dtype=torch.float32)
    I0 = torch.as_tensor(E_I, dtype=torch.float32)
    d = Q0.shape[1]
    if variant == "trns":
        U = torch.nn.Parameter(Q0.clone())  # (|Q|, d), initialised from the DE
        V = torch.nn.Parameter(I0.clone())  # (n, d)
        params = [U, V]

        def predict_dot(ri, ci):
            return (U[ri] * V[ci]).sum(-1)
    elif variant == "ind":
        q_net, i_net = SkipMLP.module(d), SkipMLP.module(d)
        params = list(q_net.parameters()) + list(i_net.parameters())

        def predict_dot(ri, ci):
            return (q_net(Q0[ri]) * i_net(I0[ci])).sum(-1)
    else:
        raise PapertoolsError(f"unknown variant {variant!r}")
    if query_bias:
        # initialised to each query's mean residual under the DE init (what the DE misses)
        with torch.no_grad():
            res = y - predict_dot(r, c)
            b0 = torch.zeros(n_q).index_add_(0, r, res) / \
                torch.zeros(n_q).index_add_(0, r, torch.ones_like(res)).clamp(min=1)
        b_q = torch.nn.Parameter(b0)
        params = params + [b_q]

        def predict(ri, ci):
            return predict_dot(ri, ci) + b_q[ri]
    else:
        predict = predict_dot

    def mse(rr=None, cc=None, yy=None) -> float:
        rr, cc, yy = (r, c, y) if rr is None else (rr, cc, yy)
        with torch.no_grad():
            total = 0.0
            for s in range(0, len(yy), 65536):
                total += float(((predict(rr[s:s + 65536], cc[s:s + 65536]) - yy[s:s + 65536]) ** 2).sum())
            return total / max(1, len(yy))

    def snapshot():
        if variant == "trns":
            return V.detach().clone(), None, None
        return None, SkipMLP.weights(q_net), SkipMLP.weights(i_net)

    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    mse_init, losses, steps = mse(), [], 0
    held_mse = [mse(r_h, c_h, y_h)] if r_h is not None else []
    best = (held_mse[0], 0, snapshot()) if held_mse else None
    for epoch in range(epochs):
        perm = torch.randperm(len(y), generator=gen)
        total = 0.0
        for s in range(0, len(y), batch_size):
            b = perm[s:s + batch_size]
            loss = ((predict(r[b], c[b]) - y[b]) ** 2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(b)
            steps += 1
        losses.append(total / max(1, len(y)))
        if progress is not None:
            progress(epoch + 1, losses[-1])
        if best is not None:
            held_mse.append(mse(r_h, c_h, y_h))
            if held_mse[-1] < best[0]:
                best = (held_mse[-1], epoch + 1, snapshot())
            elif epoch + 1 - best[1] >= patience:
                break
    mse_final = mse()
    if best is not None:  # the best epoch on the held-out entries
        best_epoch, (V_best, w_q, w_i) = best[1], best[2]
    else:
        best_epoch, (V_best, w_q, w_i) = len(losses), snapshot()
    if variant == "trns":
        V_out = V_best.numpy().copy()
    else:
        V_out = SkipMLP.apply(w_i, np.asarray(E_I, dtype=np.float32))
    return FitResult(V_out, w_q, w_i, mse_init, mse_final, len(losses), steps,
                     time.perf_counter() - started, losses, best_epoch, held_mse)


# --------------------------------------------------------------------------------------------
# the index folder

# what search and eval read from index.json (name -> JSON type)
META_FIELDS = {"format": int, "de": str, "ce": str, "de_probe": list, "n_items": int,
               "items_hash": str, "config": dict, "normalize": dict, "variants": dict,
               "default_variant": str, "cur": dict}


class Index:
    """A built index folder, loaded lazily (arrays on first use).

    Every file is checked as it is read: a file that does not parse, or holds the wrong shape,
    is one error naming it (rebuild the index), never a traceback.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        meta = self.path / "index.json"
        if not meta.exists():
            what = "an unfinished build (run build --resume)" if (self.path / "build.json").exists() \
                else "not an index folder"
            raise PapertoolsError(f"index {str(self.path)!r}: {what}")
        with self._reading("index.json"):
            self.meta = json.loads(meta.read_bytes())
            if not isinstance(self.meta, dict):
                raise ValueError("not a JSON object")
        if self.meta.get("format") != FORMAT:
            raise self._corrupt("index.json", f"format {self.meta.get('format')} is not {FORMAT}")
        for name, kind in META_FIELDS.items():
            if not isinstance(self.meta.get(name), kind) or isinstance(self.meta.get(name), bool):
                raise self._corrupt("index.json", f"field {name!r} is missing or not a "
                                                  f"{kind.__name__}")
        with self._reading("index.json"):
            float(self.meta["normalize"]["alpha"]), float(self.meta["normalize"]["beta"])
            int(self.meta["config"]["max_length"]), int(self.meta["cur"]["queries"])
        self._cache: dict = {}

    def _corrupt(self, name: str, reason: str) -> PapertoolsError:
        reason = " ".join(str(reason).split())
        return PapertoolsError(f"corrupt index file ({reason}): rebuild the index",
                               str(self.path / name))

    @contextlib.contextmanager
    def _reading(self, name: str):
        """Turn any failure to read or parse the index file ``name`` into one clear error."""
        import pickle
        import zipfile

        if not (self.path / name).is_file():
            raise PapertoolsError("missing index file: rebuild the index", str(self.path / name))
        try:
            yield
        except PapertoolsError:
            raise
        except RuntimeError as exc:  # faiss: "Error in <function> at <file:line>: <reason>"
            raise self._corrupt(name, str(exc).rsplit(": ", 1)[-1]) from None
        except (OSError, ValueError, KeyError, TypeError, IndexError, EOFError,
                zipfile.BadZipFile, pickle.UnpicklingError) as exc:
            reason = f"{type(exc).__name__}: {exc}" if isinstance(exc, KeyError) else exc
            raise self._corrupt(name, reason) from None

    def _array(self, name: str, rows: int | None = None, ndim: int = 2) -> np.ndarray:
        """A .npy of the folder: ``ndim`` dimensions, ``rows`` rows when given."""
        with self._reading(name):
            array = np.load(self.path / name)
        if array.ndim != ndim or (rows is not None and array.shape[0] != rows) \
                or not np.issubdtype(array.dtype, np.floating):
            raise self._corrupt(name, f"a {array.dtype} array of shape {array.shape}, expected "
                                      f"{rows if rows is not None else 'n'} rows of floats")
        return array

    def search_defaults(self, variant: str) -> dict:
        """axn's lambda and per-query offset for ``variant``, as build chose them on held-out
        training queries ("search" in the variant's entry of index.json); an index built
        without a choice gets lambda 0 with the offset (tune.UNTUNED)."""
        from .tune import UNTUNED

        chosen = self.meta["variants"].get(variant, {}).get("search")
        if not isinstance(chosen, dict):
            return dict(UNTUNED)
        with self._reading("index.json"):
            lam, icpt = float(chosen["lambda"]), chosen["intercept"]
            if not 0.0 <= lam <= 1.0 or not isinstance(icpt, bool):
                raise ValueError(f"variant {variant!r}: search settings {chosen}")
        return {**chosen, "lambda": lam}

    @property
    def alpha(self) -> float:
        return float(self.meta["normalize"]["alpha"])

    @property
    def beta(self) -> float:
        return float(self.meta["normalize"]["beta"])

    def _load(self, name: str, fn):
        if name not in self._cache:
            self._cache[name] = fn()
        return self._cache[name]

    def items(self) -> tuple[list[str], list[str]]:
        def read():
            ids, texts = [], []
            with self._reading("items.jsonl"), open(self.path / "items.jsonl", "rb") as fh:
                for line in fh:
                    rec = json.loads(line)
                    ids.append(str(rec["id"]))
                    texts.append(_text(rec["text"]))
            if len(ids) != self.meta["n_items"]:
                raise self._corrupt("items.jsonl", f"{len(ids)} items, index.json says "
                                                   f"{self.meta['n_items']}")
            return ids, texts
        return self._load("items", read)

    def train_texts(self) -> set[str]:
        def read():
            with self._reading("train_queries.jsonl"), \
                    open(self.path / "train_queries.jsonl", "rb") as fh:
                return {_text(json.loads(line)["text"]) for line in fh}
        return self._load("train", read)

    def de_items(self) -> np.ndarray:
        return self._load("de_items", lambda: self._array("de_items.npy", self.meta["n_items"]))

    def faiss(self, name: str):
        import faiss

        def read():
            with self._reading(f"{name}.faiss"):
                index = faiss.read_index(str(self.path / f"{name}.faiss"))
            if index.ntotal != self.meta["n_items"]:
                raise self._corrupt(f"{name}.faiss", f"{index.ntotal} vectors, index.json says "
                                                     f"{self.meta['n_items']} items")
            return index
        return self._load(f"faiss:{name}", read)

    def embeddings(self, variant: str) -> np.ndarray:
        if variant not in self.meta["variants"]:
            raise PapertoolsError(f"index {str(self.path)!r} has no {variant!r} item embeddings "
                                  f"(it has {', '.join(self.meta['variants'])}; build --variant)")
        return self._load(f"emb:{variant}",
                          lambda: self._array(f"emb_{variant}.npy", self.meta["n_items"]))

    def mlp(self, side: str) -> dict:
        def read():
            with self._reading("mlp_ind.npz"), np.load(self.path / "mlp_ind.npz") as data:
                out = {k.split(".", 1)[1]: data[k] for k in data.files
                       if k.startswith(side + ".")}
            if set(out) != {"W1", "b1", "W2", "b2", "w_skip"}:
                raise self._corrupt("mlp_ind.npz", f"no complete {side} network")
            return out
        return self._load(f"mlp:{side}", read)

    def cur_rows(self) -> np.ndarray:
        """(k_q, n) raw CE scores of the anchor queries against every item."""
        if not self.meta["cur"]["queries"]:
            raise PapertoolsError(f"index {str(self.path)!r} has no CUR anchor matrix: "
                                  "build it with --cur-queries K for anncur/adacur")

        def read():
            n = self.meta["n_items"]
            rows = []
            with self._reading("cur.jsonl"), open(self.path / "cur.jsonl", "rb") as fh:
                for line in fh:
                    rows.append(np.asarray(json.loads(line)["scores"], dtype=np.float32))
                out = np.stack(rows) if rows else np.zeros((0, n), np.float32)
            if out.shape != (self.meta["cur"]["queries"], n):
                raise self._corrupt("cur.jsonl", f"shape {out.shape}, expected "
                                                 f"{(self.meta['cur']['queries'], n)}")
            return out
        return self._load("cur", read)

    def sparse_scores(self):
        """(rows, cols, raw scores) of the observed entries of G."""
        rows, cols, vals = [], [], []
        with self._reading("scores.jsonl"), open(self.path / "scores.jsonl", "rb") as fh:
            for line in fh:
                rec = json.loads(line)
                rows += [int(rec["q"])] * len(rec["items"])
                cols += [int(i) for i in rec["items"]]
                vals += [float(v) for v in rec["scores"]]
        return np.asarray(rows), np.asarray(cols), np.asarray(vals, dtype=np.float32)


def _text(value) -> str:
    if not isinstance(value, str):
        raise TypeError(f"a text is {type(value).__name__}, not a string")
    return value


def prepare_folder(path: Path, config: BuildConfig, items_hash: str, queries_hash: str,
                   resume: bool, overwrite: bool) -> None:
    """Create the folder, or check that a resumed build matches the interrupted one."""
    state = {"config": config.key(), "items": items_hash, "train_queries": queries_hash}
    build_json = path / "build.json"
    if path.exists() and any(path.iterdir()):
        if resume and build_json.exists():
            before = json.loads(build_json.read_text())
            if before != json.loads(json.dumps(state)):
                diff = [k for k in state["config"] if before.get("config", {}).get(k) != state["config"][k]]
                what = ", ".join(diff) or "items or training queries"
                raise PapertoolsError(f"--resume: {str(path)!r} was started with other settings "
                                      f"({what}); use --overwrite to start again")
            return
        if not overwrite:
            raise PapertoolsError(f"index folder {str(path)!r} is not empty: --resume to continue "
                                  "an interrupted build, --overwrite to replace it")
        for name in ("index.json", "scores.jsonl", "cur.jsonl", "build.json"):
            with contextlib.suppress(FileNotFoundError):
                (path / name).unlink()
    path.mkdir(parents=True, exist_ok=True)
    write_json(build_json, state)


def read_log(path: Path) -> dict[int, dict]:
    """Complete lines of a resumable log, by query index: reading stops at a torn or malformed
    line (killed mid-write, or damaged), and the queries from there on are scored again."""
    done: dict[int, dict] = {}
    if not path.exists():
        return done
    with open(path, "rb") as fh:
        for line in fh:
            if not line.endswith(b"\n"):
                break
            try:
                rec = json.loads(line)
                q = int(rec["q"])
                if len(rec["scores"]) != len(rec.get("items", rec["scores"])):
                    raise ValueError("items and scores differ in length")
            except (ValueError, KeyError, TypeError):
                break
            done[q] = rec
    return done


def rewrite_log(path: Path, done: dict[int, dict]) -> None:
    """Keep only the complete lines (so appending after a torn line stays valid)."""
    write_jsonl(path, [done[q] for q in sorted(done)])


def config_dict(config: BuildConfig) -> dict:
    out = asdict(config)
    out["variants"] = list(config.variants)
    return out


def choose_sparse_items(E_Q: np.ndarray, E_I: np.ndarray, k_d: int, sample: str, seed: int,
                        de_index=None) -> np.ndarray:
    """(|Q|, k_d) item indices per training query: DE top-k_d, or uniformly random."""
    n = E_I.shape[0]
    k = min(k_d, n)
    if sample == "random":
        return np.stack([numpy_rng(seed, 1, q).choice(n, size=k, replace=False)
                         for q in range(E_Q.shape[0])]) if len(E_Q) else np.zeros((0, k), np.int64)
    index = de_index if de_index is not None else make_faiss(E_I, "flat")
    _, ids = index.search(np.ascontiguousarray(E_Q, dtype=np.float32), k)
    return ids.astype(np.int64)
