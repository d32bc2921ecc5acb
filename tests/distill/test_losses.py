"""The losses against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from papertools.cli.distill import losses


def test_score_distillation_is_the_soft_cross_entropy_with_temperature():
    s = torch.tensor([[1.0, 0.0, -1.0]])
    t = torch.tensor([[0.5, 0.5, 0.0]])
    allowed = torch.ones(1, 3, dtype=torch.bool)
    tau = 0.5
    p = [math.exp(x / tau) for x in (0.5, 0.5, 0.0)]
    p = [x / sum(p) for x in p]
    logq = [x / tau for x in (1.0, 0.0, -1.0)]
    norm = math.log(sum(math.exp(x) for x in logq))
    expected = -sum(pi * (li - norm) for pi, li in zip(p, logq))
    got = losses.score_distillation(s, t, allowed, tau)
    assert got.item() == pytest.approx(expected, rel=1e-6)
    # the minimum over student scores is the teacher's entropy, reached at s = t
    entropy = -sum(pi * math.log(pi) for pi in p)
    assert losses.score_distillation(t, t, allowed, tau).item() == pytest.approx(entropy, rel=1e-6)


def test_masked_candidates_do_not_count():
    s = torch.tensor([[2.0, 0.0, 9.0]])
    t = torch.tensor([[1.0, 0.0, -9.0]])
    allowed = torch.tensor([[True, True, False]])
    two = losses.score_distillation(s[:, :2], t[:, :2], allowed[:, :2], 1.0)
    assert losses.score_distillation(s, t, allowed, 1.0).item() == pytest.approx(two.item())


def test_label_loss_with_two_positives_is_minus_log_their_summed_probability():
    s = torch.tensor([[0.0, math.log(2.0), math.log(3.0)], [0.0, 0.0, 0.0]])
    positive = torch.tensor([[True, True, False], [False, False, False]])
    allowed = torch.ones(2, 3, dtype=torch.bool)
    got = losses.label_loss(s, positive, allowed, 1.0)  # row 2 has no positive: not counted
    assert got.item() == pytest.approx(-math.log(3 / 6), rel=1e-6)


def test_margin_mse_is_zero_for_equal_margins_and_counts_triples():
    t = torch.tensor([[3.0, 1.0, 0.0]])
    positive = torch.tensor([[True, False, False]])
    allowed = torch.ones(1, 3, dtype=torch.bool)
    assert losses.margin_mse(t + 5.0, t, positive, allowed).item() == pytest.approx(0.0)
    s = torch.tensor([[3.0, 2.0, 0.0]])  # margins 1 and 3 against 2 and 3
    assert losses.margin_mse(s, t, positive, allowed).item() == pytest.approx((1 + 0) / 2)


def test_embedding_distances():
    a = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    b = torch.tensor([[0.0, 1.0], [0.0, 2.0]])
    assert losses.embedding_matching(a, b, "mse").item() == pytest.approx(1.0)  # (2 + 0) / 2
    assert losses.embedding_matching(a, b, "l2").item() == pytest.approx(math.sqrt(2) / 2, rel=1e-5)
    assert losses.embedding_matching(a, b, "cosine").item() == pytest.approx(0.5)
    with pytest.raises(ValueError):
        losses.embedding_matching(a, b, "kl")
