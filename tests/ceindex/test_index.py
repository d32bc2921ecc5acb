"""Indexing: the masked factorisation, the skip-MLP, the normalisation."""

from __future__ import annotations

import numpy as np
import pytest

from papertools.cli.ceindex.index import SkipMLP, fit_mf, fit_normalizer


def _lowrank_problem(seed=0, nq=40, ni=30, d=3, frac=0.6, noise=0.3):
    rng = np.random.default_rng(seed)
    U, V = rng.normal(size=(nq, d)), rng.normal(size=(ni, d))
    G = U @ V.T
    mask = rng.random(G.shape) < frac
    rows, cols = np.nonzero(mask)
    init_q = (U + rng.normal(scale=noise, size=U.shape)).astype(np.float32)
    init_i = (V + rng.normal(scale=noise, size=V.shape)).astype(np.float32)
    return G, mask, rows, cols, init_q, init_i


def test_factorisation_recovers_an_exactly_low_rank_matrix():
    G, mask, rows, cols, Q0, I0 = _lowrank_problem()
    fit = fit_mf(rows, cols, G[rows, cols].astype(np.float32), Q0, I0, "trns", epochs=400,
                 lr=0.03, batch_size=len(rows), seed=0)
    # held-out entries were never seen: only the low-rank structure can predict them
    held = ~mask
    init_err = np.sqrt(np.mean((Q0 @ I0.T - G)[held] ** 2))
    # U is not returned; recover it from V and the observed entries by least squares per row
    U = np.stack([np.linalg.lstsq(fit.V[cols[rows == q]], G[q, cols[rows == q]], rcond=None)[0]
                  for q in range(G.shape[0])])
    err = np.sqrt(np.mean((U @ fit.V.T - G)[held] ** 2))
    assert fit.mse_final < 1e-4 < fit.mse_init
    assert err < 0.02 < init_err


def test_only_observed_entries_train_and_unobserved_items_stay_at_init():
    G, mask, rows, cols, Q0, I0 = _lowrank_problem(seed=1)
    keep = cols >= 5  # items 0..4 get no observation at all
    fit = fit_mf(rows[keep], cols[keep], G[rows[keep], cols[keep]].astype(np.float32), Q0, I0,
                 "trns", epochs=20, lr=0.01, batch_size=64, seed=0)
    assert np.array_equal(fit.V[:5], I0[:5])
    assert not np.allclose(fit.V[5:], I0[5:])
    assert fit.losses[-1] < fit.losses[0]


def test_masked_loss_ignores_unobserved_values():
    """Changing G where it is not observed changes nothing."""
    G, mask, rows, cols, Q0, I0 = _lowrank_problem(seed=2)
    a = fit_mf(rows, cols, G[rows, cols].astype(np.float32), Q0, I0, "trns", epochs=3, seed=0)
    G2 = G.copy()
    G2[~mask] = 1e6
    b = fit_mf(rows, cols, G2[rows, cols].astype(np.float32), Q0, I0, "trns", epochs=3, seed=0)
    assert np.array_equal(a.V, b.V)


def test_inductive_variant_starts_near_identity_and_learns():
    G, mask, rows, cols, Q0, I0 = _lowrank_problem(seed=3, d=8)
    vals = G[rows, cols].astype(np.float32)
    start = fit_mf(rows, cols, vals, Q0, I0, "ind", epochs=0, seed=0)
    gate = 1 / (1 + np.exp(5.0))  # sigmoid(-5)
    assert float(start.mlp_item["w_skip"]) == -5.0
    assert np.abs(start.V - I0).max() < 10 * gate * (1 + np.abs(I0).max())
    fit = fit_mf(rows, cols, vals, Q0, I0, "ind", epochs=30, lr=0.005, batch_size=64, seed=0)
    assert fit.mse_final < 0.6 * fit.mse_init


def test_skip_mlp_numpy_matches_torch():
    import torch

    torch.manual_seed(0)
    module = SkipMLP.module(6)
    with torch.no_grad():
        module.w_skip.fill_(0.3)
        x = torch.randn(4, 6)
        want = module(x).numpy()
    got = SkipMLP.apply(SkipMLP.weights(module), x.numpy())
    assert np.allclose(got, want, atol=1e-5)


def test_normalizer_matches_de_distribution_and_keeps_order():
    rng = np.random.default_rng(0)
    ce = rng.normal(12.0, 4.0, size=500)
    de = rng.normal(0.3, 0.1, size=500)
    alpha, beta = fit_normalizer(ce, de)
    s = beta * (ce - alpha)
    assert s.mean() == pytest.approx(de.mean()) and s.std() == pytest.approx(de.std())
    assert np.array_equal(np.argsort(s), np.argsort(ce))


def test_fit_is_deterministic():
    G, mask, rows, cols, Q0, I0 = _lowrank_problem(seed=4)
    vals = G[rows, cols].astype(np.float32)
    a = fit_mf(rows, cols, vals, Q0, I0, "ind", epochs=2, batch_size=32, seed=5)
    b = fit_mf(rows, cols, vals, Q0, I0, "ind", epochs=2, batch_size=32, seed=5)
    assert np.array_equal(a.V, b.V)


def test_normalizer_within_queries_ignores_per_query_offsets():
    """Per-query offsets inflate the pooled spread; with groups, beta matches the spread of
    scores within a query, which is what a ranking (and the test-time regression) sees."""
    rng = np.random.default_rng(1)
    groups = np.repeat(np.arange(50), 20)
    de = rng.normal(0.3, 0.1, size=groups.size)
    ce = 3.0 * de + rng.normal(0.0, 5.0, size=50)[groups]  # within a query: 3x the DE
    _, beta_pooled = fit_normalizer(ce, de)
    alpha, beta = fit_normalizer(ce, de, groups)
    assert beta == pytest.approx(1 / 3, rel=1e-6)
    assert beta_pooled < 0.1  # the offsets' spread, not the scores'
    assert (beta * (ce - alpha)).mean() == pytest.approx(de.mean())


def test_early_stopping_keeps_the_best_epoch_on_held_out_entries():
    """A learning rate that only makes held-out entries worse keeps the DE init (epoch 0)."""
    G, mask, rows, cols, Q0, I0 = _lowrank_problem(seed=6, noise=0.0)  # the init is exact
    vals = G[rows, cols].astype(np.float32)
    fit = fit_mf(rows, cols, vals, Q0, I0, "trns", epochs=10, lr=0.5, batch_size=16, seed=0,
                 holdout=0.2, patience=2)
    assert fit.best_epoch == 0 and np.array_equal(fit.V, I0)
    assert fit.heldout_mse[0] < min(fit.heldout_mse[1:])
    assert len(fit.losses) == 2  # stopped after two epochs without improvement
    G, mask, rows, cols, Q0, I0 = _lowrank_problem(seed=6)  # a noisy init: training helps
    good = fit_mf(rows, cols, G[rows, cols].astype(np.float32), Q0, I0, "trns", epochs=200,
                  lr=0.03, batch_size=len(rows), seed=0, holdout=0.2, patience=5)
    assert good.best_epoch > 0 and min(good.heldout_mse) < good.heldout_mse[0]


def test_query_bias_absorbs_per_query_offsets():
    """G = U V^T + c_q: with a free offset per query the factors fit it; without, they cannot."""
    G, mask, rows, cols, Q0, I0 = _lowrank_problem(seed=7, d=3, noise=0.0)
    c = np.random.default_rng(7).normal(0.0, 5.0, size=G.shape[0])
    vals = (G + c[:, None])[rows, cols].astype(np.float32)
    with_b = fit_mf(rows, cols, vals, Q0, I0, "trns", epochs=300, lr=0.03,
                    batch_size=len(rows), seed=0, query_bias=True)
    without = fit_mf(rows, cols, vals, Q0, I0, "trns", epochs=300, lr=0.03,
                     batch_size=len(rows), seed=0)
    assert with_b.mse_final < 0.1 * without.mse_final


def test_read_log_stops_at_a_damaged_line(tmp_path):
    from papertools.cli.ceindex.index import read_log

    log = tmp_path / "scores.jsonl"
    log.write_bytes(b'{"q": 0, "items": [1, 2], "scores": [0.5, 0.25]}\n'
                    b'{"items": [1], "scores": [0.5]}\n'
                    b'{"q": 2, "items": [1], "scores": [0.5]}\n')
    assert list(read_log(log)) == [0]
    log.write_bytes(b'{"q": 0, "items": [1, 2], "scores": [0.5]}\n')
    assert read_log(log) == {}
    log.write_bytes(b'{"q": 3, "scores": [0.5, 1.0]}\n{"q": 4, "scores": [1]}\n{"q": 5')
    assert list(read_log(log)) == [3, 4]
