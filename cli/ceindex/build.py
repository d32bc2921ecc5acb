"""``ceindex build``: the indexing pipeline of index.py, run end to end into an index folder."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from papertools.core.errors import PapertoolsError
from papertools.core.jsonl import dumps, write_json
from papertools.core.progress import note, progress
from papertools.core.seed import numpy_rng, seed_everything

from .index import (DEFAULT_EPOCHS, FORMAT, BuildConfig, choose_sparse_items, config_dict,
                    de_fingerprint, de_probe, fit_mf, fit_normalizer, make_faiss, prepare_folder, read_log,
                    rewrite_log, save_faiss, save_npy, save_npz, texts_hash,
                    write_jsonl)
from .records import Texts
from .search import ItemSpace
from .tune import FittedIndex, choose, dev_split
from .scorers import CachedCE, load_scorer, shared_encoder

TOOL = "ceindex"


def build_index(items: Texts, queries: Texts, out: str | Path, config: BuildConfig, *,
                resume: bool = False, overwrite: bool = False, quiet: bool = True,
                device="cpu", encoder=None, scorer=None) -> dict:
    """Build the index folder ``out``; returns index.json's content.

    ``encoder`` / ``scorer``: already loaded DE and CE (tests, benchmarks); else loaded from
    ``config.de`` / ``config.ce``.
    """
    started = time.perf_counter()
    out = Path(out)
    if len(items) == 0:
        raise PapertoolsError("no items")
    if len(queries) == 0:
        raise PapertoolsError("no training queries")
    for v in config.variants:
        if v not in DEFAULT_EPOCHS:
            raise PapertoolsError(f"unknown variant {v!r}")
    if any(not 0.0 <= float(lam) <= 1.0 for lam in config.tune_lambdas) or \
            not config.tune_lambdas:
        raise PapertoolsError("--tune-lambda: every lambda must lie in [0, 1]")
    # the CE first: a scorer that does not load fails before any other work
    # (a relative py:FILE.py spec is relative to the index folder, see scorers.index_spec)
    scorer = scorer or load_scorer(config.ce, device=device, max_length=config.max_length,
                                   base=out)
    seed_everything(config.seed)
    prepare_folder(out, config, texts_hash(items.ids, items.texts),
                   texts_hash(queries.ids, queries.texts), resume, overwrite)
    timings: dict[str, float] = {}

    # 1. DE embeddings
    t = time.perf_counter()
    de = encoder or shared_encoder(config.de, device, config.max_length)
    probe = de_probe(de)
    E_I = _encode(de, items.texts, "items", quiet)
    E_Q = _encode(de, queries.texts, "training queries", quiet)
    de_index = make_faiss(E_I, config.faiss)
    timings["de_encode_s"] = time.perf_counter() - t
    save_npy(out / "de_items.npy", E_I)
    save_faiss(out / "de.faiss", de_index)
    write_jsonl(out / "items.jsonl", ({"id": i, "text": s} for i, s in zip(items.ids, items.texts)))
    write_jsonl(out / "train_queries.jsonl",
                ({"id": i, "text": s} for i, s in zip(queries.ids, queries.texts)))

    # 2. sparse G: k_d items per training query, CE-scored, logged per query (resumable)
    t = time.perf_counter()
    ce = CachedCE(scorer, items.texts)
    chosen = choose_sparse_items(E_Q, E_I, config.k_d, config.sample, config.seed,
                                 de_index if config.faiss != "ivf" and len(items) <= 11000 else None)
    log = out / "scores.jsonl"
    done = read_log(log) if resume else {}
    rewrite_log(log, done)
    resumed = sum(len(r["items"]) for r in done.values())
    for q, rec in done.items():
        ce.known(queries.texts[q], np.asarray(rec["scores"], np.float32), rec["items"])
    with open(log, "ab") as fh:
        for q in progress(range(len(queries)), desc="ceindex: score G", unit="query", quiet=quiet):
            if q in done:
                continue
            s = ce.scores(queries.texts[q], chosen[q])
            fh.write(dumps({"q": q, "items": chosen[q].tolist(), "scores": s.tolist()}))
            fh.flush()
    timings["sparse_ce_s"] = time.perf_counter() - t
    rows = np.repeat(np.arange(len(queries)), chosen.shape[1])
    cols = chosen.reshape(-1)
    vals = np.concatenate([ce.row(queries.texts[q])[chosen[q]] for q in range(len(queries))])

    # 5. (before training, so an interrupted CUR pass resumes too) dense anchor rows for CUR
    t = time.perf_counter()
    k_q = min(config.cur_queries, len(queries))
    cur_log = out / "cur.jsonl"
    anchors = np.sort(numpy_rng(config.seed, 2).choice(len(queries), size=k_q, replace=False)) \
        if k_q else np.zeros(0, np.int64)
    cur_done = read_log(cur_log) if resume else {}
    rewrite_log(cur_log, cur_done)
    for q, rec in cur_done.items():
        ce.known(queries.texts[q], np.asarray(rec["scores"], np.float32))
    all_items = np.arange(len(items))
    cur_new = 0
    with open(cur_log, "ab") as fh:
        for q in progress(anchors.tolist(), desc="ceindex: CUR anchors", unit="query", quiet=quiet):
            if q in cur_done:
                continue
            before = ce.computed
            s = ce.scores(queries.texts[q], all_items)
            cur_new += ce.computed - before
            fh.write(dumps({"q": int(q), "id": queries.ids[q], "scores": s.tolist()}))
            fh.flush()
    timings["cur_ce_s"] = time.perf_counter() - t

    # 3. normalisation on the observed entries of (up to) norm_queries training queries
    if config.normalize:
        pick = np.sort(numpy_rng(config.seed, 3).choice(
            len(queries), size=min(config.norm_queries, len(queries)), replace=False))
        mask = np.isin(rows, pick)
        de_scores = np.einsum("ij,ij->i", E_Q[rows[mask]], E_I[cols[mask]])
        alpha, beta = fit_normalizer(vals[mask], de_scores, rows[mask])
        norm_calls = int(mask.sum())
    else:
        alpha, beta, norm_calls = 0.0, 1.0, 0
    targets = (beta * (vals.astype(np.float64) - alpha)).astype(np.float32)

    # 4. item embeddings per variant, fitted without the dev queries' rows of G: those queries
    # choose axn's search settings after each fit (tune.py)
    dev = dev_split(len(queries), config.tune_queries, config.seed)
    fit_rows = ~np.isin(rows, dev)
    dev_texts = [queries.texts[q] for q in dev]
    known = {queries.texts[q]: chosen[q].tolist() for q in dev}
    de_space = ItemSpace(E_I, de_index)
    tune_calls, tune_s = 0, 0.0
    variants = {}
    mlps = {}
    for variant in config.variants:
        epochs = DEFAULT_EPOCHS[variant] if config.epochs is None else config.epochs
        if variant == "de":
            V, info = E_I, {"epochs": 0, "seconds": 0.0}
        else:
            fit = fit_mf(rows[fit_rows], cols[fit_rows], targets[fit_rows], E_Q, E_I, variant,
                         epochs, config.lr,
                         config.batch_size, config.weight_decay, config.seed,
                         query_bias=config.query_bias, holdout=config.holdout)
            note(TOOL, f"{variant}: {fit.epochs} epochs (kept epoch {fit.best_epoch}), masked "
                       f"mse on G {fit.mse_init:.5f} -> {fit.mse_final:.5f}, held out "
                       f"{' '.join(f'{x:.5f}' for x in fit.heldout_mse)}, {fit.seconds:.1f} s",
                 quiet=quiet)
            V = fit.V
            info = {"epochs": fit.epochs, "steps": fit.steps, "seconds": fit.seconds,
                    "train_mse_init": fit.mse_init, "train_mse_final": fit.mse_final,
                    "best_epoch": fit.best_epoch, "heldout_mse": fit.heldout_mse,
                    "losses": fit.losses}
            if variant == "ind":
                mlps = {"query": fit.mlp_query, "item": fit.mlp_item}
        V = V.astype(np.float32)
        v_index = make_faiss(V, config.faiss)
        save_npy(out / f"emb_{variant}.npy", V)
        save_faiss(out / f"emb_{variant}.faiss", v_index)
        t, before = time.perf_counter(), ce.computed
        search = choose(FittedIndex(len(items), alpha, beta, de_space,
                                    {variant: ItemSpace(V, v_index)},
                                    mlps.get("query") if variant == "ind" else None),
                        ce, dev_texts, E_Q[dev], variant, config.tune_lambdas,
                        config.tune_budgets, seed=config.seed, known=known)
        tune_calls += ce.computed - before
        tune_s += time.perf_counter() - t
        if search["tuned"]:
            note(TOOL, f"axn:{variant}: lambda {search['lambda']:g}, per-query offset "
                       f"{'on' if search['intercept'] else 'off'} (best of "
                       f"{len(search['dev_recall'])} on {len(dev)} held-out training queries)",
                 quiet=quiet)
        variants[variant] = {"dim": int(V.shape[1]), **info, "search": search}
    timings["tune_s"] = tune_s
    if mlps:
        save_npz(out / "mlp_ind.npz",
                 {f"{side}.{k}": v for side, w in mlps.items() for k, v in w.items()})

    sparse_calls = int(len(vals))
    cur_calls = int(k_q * len(items))
    meta = {
        "format": FORMAT,
        "de": config.de, "de_fingerprint": de_fingerprint(probe), "de_dim": int(E_I.shape[1]),
        "de_probe": np.round(probe, 6).tolist(),
        "ce": config.ce,
        "n_items": len(items), "n_train_queries": len(queries),
        # training queries held out of the fit to choose axn's search settings
        "tune_query_ids": [queries.ids[q] for q in dev],
        # items with at least one observed score: the others keep their DE embedding (trns)
        "items_observed": int(np.unique(cols).size),
        "items_hash": texts_hash(items.ids, items.texts),
        "config": config_dict(config),
        "normalize": {"alpha": alpha, "beta": beta, "fitted": bool(config.normalize)},
        "variants": variants, "default_variant": config.variants[0],
        "cur": {"queries": int(k_q), "anchor_query_ids": [queries.ids[q] for q in anchors]},
        # CE calls the index cost, as the paper counts them: every observed entry of G, and
        # the dense anchor rows (pairs shared with G are counted in both, as separately built)
        # "tune": the new pairs the choice of search settings scored (every variant)
        "ce_calls": {"sparse": sparse_calls, "cur": cur_calls, "normalize": norm_calls,
                     "tune": int(tune_calls),
                     "computed_this_run": int(ce.computed), "resumed": int(resumed)},
        "seconds": {**timings, "total": time.perf_counter() - started},
    }
    write_json(out / "index.json", meta)
    note(TOOL, f"indexed {len(items)} items with {len(queries)} training queries: "
               f"{sparse_calls} CE calls for G (k_d={chosen.shape[1]}), {cur_calls} for CUR "
               f"anchors; variants {', '.join(config.variants)}; "
               f"{meta['seconds']['total']:.1f} s", quiet=quiet)
    return meta


def _encode(de, texts, what, quiet):
    from papertools.core.progress import enabled

    if not enabled(quiet):
        return de.encode(texts)
    from tqdm import tqdm
    import sys

    with tqdm(total=len(texts), desc=f"ceindex: encode {what}", file=sys.stderr,
              leave=False) as bar:
        def tell(done):
            bar.n = done
            bar.refresh()
        return de.encode(texts, progress=tell)


def load_meta(path) -> dict:
    return json.loads((Path(path) / "index.json").read_text())
