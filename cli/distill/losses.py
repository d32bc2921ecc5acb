"""EmbedDistill's losses, each a function of score or embedding tensors (reference §3-4).

Shapes: B queries in a batch, C candidate documents (their positives, hard negatives and, with
in-batch candidates, everyone else's), H the teacher's embedding width.

- ``label_loss``: "direct training", softmax cross-entropy of the student's scores against the
  labels (several positives: -log of their summed probability).
- ``score_distillation``: softmax cross-entropy between the teacher's and the student's score
  distributions over the candidates,
      L_score = -sum_d softmax(s^t(q, .) / tau_t)_d * log softmax(s^s(q, .) / tau)_d,
  or the margin-MSE alternative (common for cross-encoder teachers): the mean over (positive,
  negative) pairs of ((s^s+ - s^s-) - (s^t+ - s^t-))^2.
- ``embedding_matching``: the distance between the teacher's embedding and the student's
  (projected) one: "mse" ||e^t - P e^s||^2 (the reference's squared L2, summed over the
  dimensions, averaged over the rows), "l2" its square root, "cosine" 1 - cos.

Masks: ``allowed`` (B, C) says which candidates count for a query (all of them with in-batch
candidates, otherwise only the query's own); ``positive`` (B, C) marks its positives.
"""

from __future__ import annotations

DISTANCES = ("mse", "l2", "cosine")
SCORE_LOSSES = ("softmax", "margin-mse")
NEG = -1e4  # a masked logit (finite: a row with nothing allowed stays finite)


def _masked(scores, allowed):
    return scores.masked_fill(~allowed, NEG)


def label_loss(student_scores, positive, allowed, temperature: float):
    """Mean over the rows that have a positive of -log sum_{d+} softmax(s^s / tau)_{d+}."""
    import torch

    logits = _masked(student_scores / temperature, allowed)  # (B, C)
    rows = positive.any(dim=1)
    if not rows.any():
        return student_scores.sum() * 0.0
    log_all = torch.logsumexp(logits, dim=1)
    log_pos = torch.logsumexp(logits.masked_fill(~positive, NEG), dim=1)
    return (log_all - log_pos)[rows].mean()


def score_distillation(student_scores, teacher_scores, allowed, temperature: float,
                       teacher_temperature: float | None = None):
    """Soft cross-entropy (B, C) -> scalar, averaged over the batch."""
    import torch.nn.functional as F

    tt = teacher_temperature or temperature
    target = F.softmax(_masked(teacher_scores / tt, allowed), dim=1)
    log_student = F.log_softmax(_masked(student_scores / temperature, allowed), dim=1)
    return -(target * log_student).sum(dim=1).mean()


def margin_mse(student_scores, teacher_scores, positive, allowed):
    """Mean over (query, positive, negative) triples of the squared margin difference."""
    pos = positive.float()
    neg = (allowed & ~positive).float()
    n = pos.sum(1, keepdim=True) * neg.sum(1, keepdim=True)  # triples per row
    if float(n.sum()) == 0:
        return student_scores.sum() * 0.0
    ds = student_scores.unsqueeze(2) - student_scores.unsqueeze(1)  # (B, C+, C-)
    dt = teacher_scores.unsqueeze(2) - teacher_scores.unsqueeze(1)
    w = pos.unsqueeze(2) * neg.unsqueeze(1)
    return (w * (ds - dt) ** 2).sum() / n.sum().clamp(min=1)


def embedding_matching(student, teacher, distance: str = "mse"):
    """(N, H) student and teacher embeddings -> scalar mean distance."""
    import torch.nn.functional as F

    if distance == "mse":
        return ((teacher - student) ** 2).sum(dim=1).mean()
    if distance == "l2":
        return ((teacher - student) ** 2).sum(dim=1).clamp(min=1e-12).sqrt().mean()
    if distance == "cosine":
        return (1 - F.cosine_similarity(student, teacher, dim=1)).mean()
    raise ValueError(f"unknown distance {distance!r} (choose from {', '.join(DISTANCES)})")
