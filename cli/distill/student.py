"""Students: a smaller BERT query tower made from the teacher (or from a config).

EmbedDistill's students are ~1/10 of the teacher. Here a student is made from a BERT teacher in
five cuts, each optional:

1. **Vocabulary pruning** (``vocab_texts``): keep the WordPiece tokens that the teacher's
   tokenizer produces on the given texts (the document corpus and the training queries) at
   least ``min_count`` times, the special tokens, and every ASCII single-character piece (``a``
   and ``##a``), so unseen ASCII words still split into pieces rather than ``[UNK]``. WordPiece
   is greedy longest-match-first, so with ``min_count`` 1 a word of those texts tokenises exactly
   as before (a dropped rare token splits into shorter kept pieces); the embedding rows of the
   kept tokens are copied. Rare tokens look cheap to give up (on the benchmark's docstrings,
   tokens seen once or twice are a third of the vocabulary but under 1% of the held-out
   queries' tokens), but they sit in 11-13% of the queries, which then kept 83-87% of the
   teacher's MRR@10 against 90-95% for the rest; smaller factorised embeddings over every
   token paid better.
2. **Depth** (``layers``): the student keeps ``layers`` of the teacher's layers, evenly spaced and
   ending with the last (6 -> 2 keeps layers 2 and 5), or the indices ``layer_map`` names.
3. **Width** (``hidden`` < teacher width): the residual stream is cut to the top ``hidden``
   principal directions ``U`` (H x h) of the teacher's (kept) word embeddings, or, with
   ``basis_texts``, of the teacher's hidden states on those texts (every token, at the
   embedding output and after each kept layer: the directions the stream actually uses; on
   the benchmark's docstrings the cut student's query embeddings start at cosine 0.19 to the
   teacher's instead of 0.11). Every weight that
   reads the stream is right-multiplied by ``U``, every weight that writes it left-multiplied by
   ``U^T``; attention keeps ``hidden / head_dim`` of the heads (those with the largest weight
   norm), the feed-forward block keeps ``intermediate`` of its neurons (largest norm), and a
   LayerNorm's gain becomes diag(U^T diag(g) U). The result is the teacher seen through the
   subspace, an initialisation that training then repairs; the projection P (h -> H) that maps
   student embeddings to the teacher's space starts as ``U``.

4. **Factorised embeddings** (``embedding_size``): ALBERT's factorisation, so the vocabulary
   costs ``size`` per token instead of the width (:func:`factorise_embeddings`); the student is
   then an ALBERT model with unshared layers, which the core loader reads like any encoder.
5. **Narrow heads** (``head_size`` < the teacher's head size; with ``embedding_size``): every
   head keeps all its work but in ``head_size`` dimensions, a per-head low-rank approximation
   (:func:`narrow_head`): the query-key bilinear form and the value-output map of each head
   are truncated SVDs, whitened by the second moment of the layer's input on ``basis_texts``
   (or a sample of ``vocab_texts``) so the error is least where the stream actually lies (on
   MiniLM, all six layers at half the head size keep cosine 0.89 to the teacher's embeddings
   untrained, 0.77 unwhitened). The attention block then costs 4 x width x heads x head_size
   instead of 4 x width^2, which pays for a third layer or a wider feed-forward block at the
   teacher's full width; the student is a ``papertools-narrow-albert`` model
   (:mod:`papertools.core.models.narrow_attention`).

A parameter budget (:func:`fit_budget`; ``distill student --max-ratio``) fixes the shape
(layers, width, feed-forward, heads) and chooses the vocabulary cut and the embedding size that
meet it: the pruned vocabulary grows with the corpus (6,990 tokens on the benchmark's
docstrings, 12,109 on a corpus of 6,000 documents), so a fixed shape is a fixed size on one
corpus only. The benchmark's evidence orders the choice: every token kept with smaller
factorised embeddings paid better than rare tokens dropped with larger ones, so the budget
first keeps the vocabulary (``min_count`` as given) and takes the largest embedding size that
fits (the plain, unfactorised embeddings when they fit), down to ``MIN_EMBEDDING_SIZE`` (32;
half the width for a student narrower than 64); only
below that does it drop rare tokens (the smallest ``min_count`` that fits). Counts are
predicted exactly (:func:`predicted_counts`) and checked against the built student.

``from_config`` makes a randomly initialised BERT of a given shape instead (the "from a config"
student), with the pruned vocabulary when given.

Parameter counts (:func:`parameter_counts`) split embedding parameters (word, position and type
embeddings, their LayerNorm and, when factorised, the map up to the stream) from the rest;
BERT's unused pooler is left out of both (the students have none; the teacher's pooler is not
used by mean-pooling sentence encoders).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Sequence

from papertools.core.errors import PapertoolsError


def evenly_spaced_layers(teacher_layers: int, keep: int) -> list[int]:
    """``keep`` layer indices out of ``teacher_layers``, evenly spaced and ending with the last."""
    if not 1 <= keep <= teacher_layers:
        raise PapertoolsError(f"a student of {keep} layers cannot be cut from a teacher of "
                              f"{teacher_layers}")
    return [round((i + 1) * teacher_layers / keep) - 1 for i in range(keep)]


# ---------------------------------------------------------------------------------------------
# Vocabulary


def token_counts(tokenizer, texts: Sequence[str], max_length: int = 256):
    """How often each token id occurs in the tokenised ``texts`` (a Counter)."""
    from collections import Counter

    counts: Counter = Counter()
    for start in range(0, len(texts), 512):
        batch = tokenizer(list(texts[start:start + 512]), truncation=True, max_length=max_length)
        for ids in batch["input_ids"]:
            counts.update(ids)
    return counts


def _always_kept(tokenizer) -> set[int]:
    keep = set(tokenizer.all_special_ids)
    for token, idx in tokenizer.get_vocab().items():
        bare = token[2:] if token.startswith("##") else token
        if len(bare) == 1 and bare.isascii():
            keep.add(idx)
    return keep


def corpus_token_ids(tokenizer, texts: Sequence[str], max_length: int = 256,
                     min_count: int = 1, counts=None) -> list[int]:
    """Sorted ids of the tokens that must stay: specials, ASCII characters, and the tokens the
    texts use at least ``min_count`` times (``counts``: :func:`token_counts` of the texts,
    when already made)."""
    keep = _always_kept(tokenizer)
    if counts is None:
        counts = token_counts(tokenizer, texts, max_length)
    keep.update(idx for idx, n in counts.items() if n >= min_count)
    return sorted(keep)


# ---------------------------------------------------------------------------------------------
# A parameter budget

MIN_EMBEDDING_SIZE = 32  # below this, the budget drops rare tokens instead


def student_shape(teacher, *, layers: int | None = None, layer_map: Sequence[int] | None = None,
                  hidden: int | None = None, intermediate: int | None = None,
                  max_positions: int | None = None, head_size: int | None = None) -> dict:
    """The shape :func:`cut_student` gives for these arguments (without checking them)."""
    tconf = teacher.model.config
    H = int(tconf.hidden_size)
    head_dim = H // int(tconf.num_attention_heads)
    h = hidden or H
    return {"teacher_hidden": H, "hidden": h, "teacher_head_size": head_dim,
            "layers": len(layer_map) if layer_map else (layers or int(tconf.num_hidden_layers)),
            "intermediate": intermediate or int(tconf.intermediate_size) * h // H,
            "heads": h // head_dim, "head_size": head_size or head_dim,
            "positions": min(max_positions or int(tconf.max_position_embeddings),
                             int(tconf.max_position_embeddings)),
            "types": int(tconf.type_vocab_size)}


def predicted_counts(shape: dict, vocab_size: int, embedding_size: int | None) -> dict:
    """:func:`parameter_counts` of a cut student of ``shape`` (:func:`student_shape`) with
    ``vocab_size`` tokens and ``embedding_size`` (None: plain BERT embeddings)."""
    h, i, n, d = shape["hidden"], shape["intermediate"], shape["heads"], shape["head_size"]
    rows = vocab_size + shape["positions"] + shape["types"]
    if embedding_size and embedding_size < h:  # ALBERT: tables, LayerNorm, the map up
        e = embedding_size
        embedding = rows * e + 2 * e + e * h + h
    else:
        embedding = rows * h + 2 * h
    per_layer = (3 * (h * n * d + n * d) + (n * d * h + h) + 2 * h
                 + (h * i + i) + (i * h + h) + 2 * h)
    non_embedding = shape["layers"] * per_layer
    H = shape["teacher_hidden"]
    projection = h * H + H if h != H else 0
    return {"embedding": embedding, "non_embedding": non_embedding, "projection": projection,
            "total": embedding + non_embedding + projection}


def fit_budget(shape: dict, budget: int, *, tokenizer=None, counts=None, vocab_size: int = 0,
               min_count: int = 1, embedding_size: int | None = None) -> dict:
    """The vocabulary cut and embedding size that bring a student of ``shape`` within
    ``budget`` parameters (see the module docstring): ``{"min_count", "embedding_size"
    (None: plain embeddings), "vocab_size", "parameters"}``.

    ``counts`` (:func:`token_counts` of the vocabulary texts, with ``tokenizer``) allow the
    vocabulary to be cut; without them it is ``vocab_size`` tokens, fixed. A given
    ``embedding_size`` is kept, and only the cut is chosen."""
    h = shape["hidden"]
    floor = min(MIN_EMBEDDING_SIZE, h // 2)
    base = _always_kept(tokenizer) if counts is not None else set()
    extra = sorted(n for t, n in (counts or {}).items() if t not in base)

    def vocab(m: int) -> int:  # tokens kept at min_count m
        if counts is None:
            return vocab_size
        import bisect

        return len(base) + len(extra) - bisect.bisect_left(extra, m)

    def sizes():
        if embedding_size:
            yield embedding_size
            return
        if shape["head_size"] >= shape.get("teacher_head_size", shape["head_size"]):
            yield None  # plain embeddings, when they fit (narrow heads need factorised ones)
        yield from range(h - 1, floor - 1, -1)

    cuts = [min_count]
    if counts is not None:  # each larger cut drops the tokens seen fewest times
        cuts += sorted({n + 1 for n in extra if n >= min_count})
    for m in cuts:
        V = vocab(m)
        if predicted_counts(shape, V, embedding_size or floor)["total"] > budget:
            continue
        for e in sizes():
            total = predicted_counts(shape, V, e)["total"]
            if total <= budget:
                return {"min_count": m, "embedding_size": e, "vocab_size": V,
                        "parameters": total}
    least = predicted_counts(shape, vocab(cuts[-1]), embedding_size or floor)
    raise PapertoolsError(
        f"no student of this shape fits {budget:,} parameters: its layers and projection "
        f"alone cost {least['non_embedding'] + least['projection']:,}, and the smallest "
        f"vocabulary ({vocab(cuts[-1]):,} tokens) at embedding size "
        f"{embedding_size or floor} {least['embedding']:,} more (give fewer "
        "--layers, a smaller --intermediate or --hidden, or --head-size)")


def pruned_tokenizer(tokenizer, keep_ids: list[int]):
    """The teacher's tokenizer (same normaliser, pre-tokenizer, WordPiece settings and special
    tokens) over the kept tokens only, renumbered in their old order."""
    import json

    from tokenizers import Tokenizer

    remap = {old: new for new, old in enumerate(keep_ids)}
    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    if spec.get("model", {}).get("type") != "WordPiece":
        raise PapertoolsError("vocabulary pruning needs a WordPiece (BERT) tokenizer")
    words = {idx: tok for tok, idx in spec["model"]["vocab"].items()}
    spec["model"]["vocab"] = {words[old]: new for old, new in remap.items()}
    for added in spec.get("added_tokens") or []:
        added["id"] = remap[added["id"]]
    for special in ((spec.get("post_processor") or {}).get("special_tokens") or {}).values():
        special["ids"] = [remap[i] for i in special["ids"]]
    spec["padding"] = spec["truncation"] = None  # the wrapper pads and truncates
    new = copy.deepcopy(tokenizer)
    new._tokenizer = Tokenizer.from_str(json.dumps(spec))
    return new


# ---------------------------------------------------------------------------------------------
# Building


def _check_bert(model) -> None:
    if getattr(model.config, "model_type", "") != "bert":
        raise PapertoolsError(f"cutting a student needs a BERT teacher, not "
                              f"{model.config.model_type!r} (give --config to build one instead)")


def _principal_basis(weight, hidden: int):
    """(H, h): the top ``hidden`` right singular vectors of ``weight`` (rows = embeddings)."""
    import torch

    _, _, vh = torch.linalg.svd(weight.double(), full_matrices=False)
    return vh[:hidden].T.to(weight.dtype).contiguous()


def _activation_basis(teacher, texts: Sequence[str], chosen: Sequence[int], hidden: int):
    """(H, h): the top ``hidden`` eigenvectors of the second moment of the teacher's residual
    stream (every token of ``texts``, at the embedding output and after each kept layer)."""
    import torch

    H = int(teacher.model.config.hidden_size)
    moment = sum(m[:H, :H] for m in _layer_moments(teacher, texts, [0] + [c + 1 for c in chosen]))
    _, vectors = torch.linalg.eigh(moment)
    return vectors[:, -hidden:].flip(1).float().contiguous()


def _ln(ln, U):
    import torch

    new = torch.nn.LayerNorm(U.shape[1], eps=ln.eps)
    with torch.no_grad():
        new.weight.copy_((U * U).T @ ln.weight)  # diag(U^T diag(g) U)
        new.bias.copy_(U.T @ ln.bias)
    return new


def _linear(weight, bias):
    import torch

    layer = torch.nn.Linear(weight.shape[1], weight.shape[0])
    with torch.no_grad():
        layer.weight.copy_(weight)
        layer.bias.copy_(bias)
    return layer


def cut_student(teacher, *, layers: int | None = None, layer_map: Sequence[int] | None = None,
                hidden: int | None = None, intermediate: int | None = None,
                vocab_texts: Sequence[str] | None = None, max_positions: int | None = None,
                min_count: int = 1, dropout: float | None = None,
                basis_texts: Sequence[str] | None = None, embedding_size: int | None = None,
                head_size: int | None = None):
    """A student :class:`Encoder` cut from a BERT teacher encoder (see the module docstring).

    The student has the teacher's pooling and normalisation; when it is narrower it
    carries a Dense projection to the teacher's width, initialised with the principal basis.
    """
    import torch
    from transformers import BertConfig, BertModel

    from papertools.core.models.encoders import Dense, Encoder

    tmodel = teacher.model
    _check_bert(tmodel)
    tconf = tmodel.config
    H = int(tconf.hidden_size)
    n_heads = int(tconf.num_attention_heads)
    head_dim = H // n_heads
    n_layers = int(tconf.num_hidden_layers)
    if layer_map:
        chosen = list(layer_map)
        if any(not 0 <= i < n_layers for i in chosen):
            raise PapertoolsError(f"--layer-map {chosen}: the teacher has layers 0..{n_layers - 1}")
    else:
        chosen = evenly_spaced_layers(n_layers, layers or n_layers)
    h = hidden or H
    if h > H:
        raise PapertoolsError(f"a student {h} wide cannot be cut from a teacher {H} wide "
                              "(give --config for a wider student)")
    if h % head_dim:
        raise PapertoolsError(f"--hidden {h}: must be a multiple of the teacher's head size "
                              f"({head_dim})")
    inter = intermediate or int(tconf.intermediate_size) * h // H
    if inter > int(tconf.intermediate_size):
        raise PapertoolsError(f"--intermediate {inter}: the teacher has "
                              f"{tconf.intermediate_size}")
    positions = min(max_positions or int(tconf.max_position_embeddings),
                    int(tconf.max_position_embeddings))
    if head_size and not 0 < head_size <= head_dim:
        raise PapertoolsError(f"--head-size {head_size}: must be between 1 and the teacher's "
                              f"head size ({head_dim})")
    if head_size and head_size < head_dim and not embedding_size:
        raise PapertoolsError("--head-size needs --embedding-size (narrow heads are an ALBERT "
                              "student)")

    # 1. vocabulary
    tokenizer = teacher.tokenizer
    word = tmodel.embeddings.word_embeddings.weight.detach()
    if vocab_texts is not None:
        keep = corpus_token_ids(tokenizer, vocab_texts, teacher.max_length, min_count)
        tokenizer = pruned_tokenizer(tokenizer, keep)
        word = word[torch.tensor(keep)]
    else:
        tokenizer = copy.deepcopy(tokenizer)

    # 3. width: the principal basis of the kept word embeddings (identity when not narrower)
    if h == H:
        U = torch.eye(H, dtype=word.dtype)
    elif basis_texts:
        U = _activation_basis(teacher, basis_texts, chosen, h).to(word.dtype)
    else:
        U = _principal_basis(word, h)

    config = BertConfig(vocab_size=int(word.shape[0]), hidden_size=h, num_hidden_layers=len(chosen),
                        num_attention_heads=h // head_dim, intermediate_size=inter,
                        hidden_act=tconf.hidden_act, max_position_embeddings=positions,
                        type_vocab_size=int(tconf.type_vocab_size),
                        layer_norm_eps=float(tconf.layer_norm_eps),
                        hidden_dropout_prob=float(tconf.hidden_dropout_prob
                                                  if dropout is None else dropout),
                        attention_probs_dropout_prob=float(tconf.attention_probs_dropout_prob
                                                           if dropout is None else dropout),
                        pad_token_id=tokenizer.pad_token_id)
    student = BertModel(config, add_pooling_layer=False)
    te, se = tmodel.embeddings, student.embeddings
    with torch.no_grad():
        se.word_embeddings.weight.copy_(word @ U)
        se.position_embeddings.weight.copy_(te.position_embeddings.weight[:positions] @ U)
        se.token_type_embeddings.weight.copy_(te.token_type_embeddings.weight @ U)
    se.LayerNorm = _ln(te.LayerNorm, U)
    for s_idx, t_idx in enumerate(chosen):
        _copy_layer(tmodel.encoder.layer[t_idx], student.encoder.layer[s_idx], U, head_dim, inter)
    moments = None
    if head_size and head_size < head_dim:
        texts = basis_texts or (list(vocab_texts)[:: max(1, len(vocab_texts) // 2000)]
                                if vocab_texts else None)
        if texts:  # the second moment of each kept layer's input, seen through U
            Ua = torch.zeros(H + 1, h + 1, dtype=torch.float64)
            Ua[:H, :h], Ua[H, h] = U.double(), 1.0
            moments = [Ua.T @ m @ Ua for m in _layer_moments(teacher, texts, chosen)]
    if embedding_size:
        student = factorise_embeddings(student, embedding_size,
                                       head_size if head_size and head_size < head_dim else None,
                                       moments)
    student.eval()
    dense = None
    if h != H:
        linear = torch.nn.Linear(h, H)
        with torch.no_grad():
            linear.weight.copy_(U)  # P = U: back to the teacher's space
            linear.bias.zero_()
        dense = Dense(linear)
    return Encoder(student, tokenizer, teacher.pooling, teacher.normalize,
                   min(teacher.max_length, positions), dense=dense)


def factorise_embeddings(bert, size: int, head_size: int | None = None, moments=None):
    """The same encoder as an ALBERT model whose token, position and type embeddings live in
    ``size`` dimensions, mapped up to the stream by a linear layer (ALBERT's factorised
    embedding; layers are not shared). The embeddings are the top ``size`` principal directions
    ``V`` of the BERT student's word and position embeddings; the map is
    ``diag(g) V sqrt(h / size)`` with BERT's embedding LayerNorm gain ``g`` and bias, so that
    LayerNorm in ``size`` dimensions followed by the map approximates BERT's LayerNorm in ``h``.
    A vocabulary of V tokens then costs ``V * size + size * h`` instead of ``V * h``.

    With ``head_size`` the heads are narrowed as well (:func:`narrow_head`; ``moments``: the
    (h+1) x (h+1) second moment of each layer's input, 1 appended, or None for plain SVDs)."""
    import math

    import torch
    from transformers import AlbertConfig, AlbertModel

    from papertools.core.models.narrow_attention import NarrowAlbertConfig, NarrowAlbertModel

    bc = bert.config
    h = int(bc.hidden_size)
    if not 0 < size < h:
        raise PapertoolsError(f"--embedding-size {size}: must be below the student's width {h}")
    extra = {"attention_head_size": int(head_size)} if head_size else {}
    kind = NarrowAlbertConfig if head_size else AlbertConfig
    config = kind(vocab_size=int(bc.vocab_size), embedding_size=size, hidden_size=h,
                  num_hidden_layers=int(bc.num_hidden_layers),
                  num_hidden_groups=int(bc.num_hidden_layers), inner_group_num=1,
                  num_attention_heads=int(bc.num_attention_heads),
                  intermediate_size=int(bc.intermediate_size), hidden_act=bc.hidden_act,
                  hidden_dropout_prob=float(bc.hidden_dropout_prob),
                  attention_probs_dropout_prob=float(bc.attention_probs_dropout_prob),
                  max_position_embeddings=int(bc.max_position_embeddings),
                  type_vocab_size=int(bc.type_vocab_size),
                  layer_norm_eps=float(bc.layer_norm_eps),
                  pad_token_id=bc.pad_token_id, classifier_dropout_prob=0.0, **extra)
    albert = (NarrowAlbertModel if head_size else AlbertModel)(config, add_pooling_layer=False)
    be, ae = bert.embeddings, albert.embeddings
    word = be.word_embeddings.weight.detach()
    pos = be.position_embeddings.weight.detach()
    V = _principal_basis(torch.cat([word, pos]), size)  # (h, size)
    with torch.no_grad():
        ae.word_embeddings.weight.copy_(word @ V)
        ae.position_embeddings.weight.copy_(pos @ V)
        ae.token_type_embeddings.weight.copy_(be.token_type_embeddings.weight @ V)
        ae.LayerNorm.weight.fill_(1.0)
        ae.LayerNorm.bias.zero_()
        mapping = albert.encoder.embedding_hidden_mapping_in
        mapping.weight.copy_(be.LayerNorm.weight[:, None] * V * math.sqrt(h / size))
        mapping.bias.copy_(be.LayerNorm.bias)
        for i, (group, layer) in enumerate(zip(albert.encoder.albert_layer_groups,
                                               bert.encoder.layer)):
            a = group.albert_layers[0]
            if head_size:
                narrow_head(layer.attention, a.attention, int(bc.num_attention_heads), head_size,
                            None if moments is None else moments[i])
            else:
                for name in ("query", "key", "value"):
                    getattr(a.attention, name).load_state_dict(
                        getattr(layer.attention.self, name).state_dict())
                a.attention.dense.load_state_dict(layer.attention.output.dense.state_dict())
            a.attention.LayerNorm.load_state_dict(layer.attention.output.LayerNorm.state_dict())
            a.ffn.load_state_dict(layer.intermediate.dense.state_dict())
            a.ffn_output.load_state_dict(layer.output.dense.state_dict())
            a.full_layer_layer_norm.load_state_dict(layer.output.LayerNorm.state_dict())
    return albert


def _layer_moments(teacher, texts: Sequence[str], states: Sequence[int]):
    """Per index i of ``states``: the (H+1) x (H+1) second moment of the teacher's hidden
    states i (the input of layer i; 0 the embedding output) on every token of ``texts``, with 1
    appended for the biases."""
    import torch

    model = teacher.model
    H = int(model.config.hidden_size)
    out = [torch.zeros(H + 1, H + 1, dtype=torch.float64) for _ in states]
    count = 0
    with torch.no_grad():
        for start in range(0, len(texts), 64):
            batch = teacher.tokenize(list(texts[start:start + 64]))
            hidden = model(**batch, output_hidden_states=True).hidden_states
            mask = batch["attention_mask"].bool()
            count += int(mask.sum())
            for m, i in zip(out, states):
                x = hidden[i][mask].double()
                x = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], 1)
                m += x.T @ x
    return [m / max(1, count) for m in out]


def _whitening(moment, n: int):
    """(L, L^-1) with L L^T = the moment (eigenvalues floored), or identities when None."""
    import torch

    if moment is None:
        eye = torch.eye(n, dtype=torch.float64)
        return eye, eye
    values, vectors = torch.linalg.eigh(moment.double())
    root = values.clamp_min(values.max() * 1e-8).sqrt()
    return vectors * root, (vectors / root).T


def narrow_head(bert_attention, albert_attention, heads: int, size: int, moment=None) -> None:
    """Copy a BERT attention block into a narrow-head ALBERT one, each head through rank-``size``
    truncated SVDs: of its query-key bilinear form M = [Wq bq]^T [Wk bk] (scores are
    x~^T M y~ / sqrt(d)) and of its value-output map N = Wo_h [Wv bv], both whitened by
    ``moment`` (E[x~ x~^T] of the layer's input x~ = [x; 1]) so that the approximation is
    best on the inputs the layer sees. Scores keep their scale under the narrower
    1 / sqrt(size)."""
    import torch

    sa, so = bert_attention.self, bert_attention.output
    h = int(sa.query.weight.shape[1])
    d = int(sa.query.weight.shape[0]) // heads
    L, Linv = _whitening(moment, h + 1)

    def augmented(linear):
        return torch.cat([linear.weight, linear.bias[:, None]], 1).double()

    Wq, Wk, Wv = augmented(sa.query), augmented(sa.key), augmented(sa.value)
    Wo = so.dense.weight.double()
    q, k, v = (torch.zeros(heads * size, h + 1, dtype=torch.float64) for _ in range(3))
    o = torch.zeros(h, heads * size, dtype=torch.float64)
    scale = (size / d) ** 0.25  # (q'.k') / sqrt(size) = (q.k) / sqrt(d)
    for i in range(heads):
        old, new = slice(i * d, (i + 1) * d), slice(i * size, (i + 1) * size)
        u, s, vh = torch.linalg.svd(L.T @ Wq[old].T @ Wk[old] @ L)
        root = s[:size].sqrt()
        q[new] = scale * (Linv.T @ (u[:, :size] * root)).T
        k[new] = scale * (Linv.T @ (vh[:size].T * root)).T
        u, s, vh = torch.linalg.svd(Wo[:, old] @ Wv[old] @ L, full_matrices=False)
        root = s[:size].sqrt()
        o[:, new] = u[:, :size] * root
        v[new] = (root[:, None] * vh[:size]) @ Linv
    aa = albert_attention
    with torch.no_grad():
        for linear, w in ((aa.query, q), (aa.key, k), (aa.value, v)):
            linear.weight.copy_(w[:, :h])
            linear.bias.copy_(w[:, h])
        aa.dense.weight.copy_(o)
        aa.dense.bias.copy_(so.dense.bias)


def _copy_layer(t, s, U, head_dim: int, inter: int) -> None:
    """Teacher layer ``t`` seen through the basis ``U`` into the student layer ``s``."""
    import torch

    ta, sa = t.attention, s.attention
    H, h = U.shape
    n_keep = h // head_dim
    q, k, v = ta.self.query.weight, ta.self.key.weight, ta.self.value.weight
    o = ta.output.dense.weight  # (H, H): heads -> stream
    # head importance: the norm of everything the head reads and writes
    norms = torch.stack([
        sum(w[i * head_dim:(i + 1) * head_dim].norm() ** 2 for w in (q, k, v))
        + o[:, i * head_dim:(i + 1) * head_dim].norm() ** 2
        for i in range(H // head_dim)])
    heads = sorted(torch.argsort(norms, descending=True)[:n_keep].tolist())
    rows = torch.tensor([i * head_dim + j for i in heads for j in range(head_dim)])
    with torch.no_grad():
        for name in ("query", "key", "value"):
            src = getattr(ta.self, name)
            setattr(sa.self, name, _linear(src.weight[rows] @ U, src.bias[rows]))
        sa.output.dense = _linear(U.T @ o[:, rows], U.T @ ta.output.dense.bias)
        sa.output.LayerNorm = _ln(ta.output.LayerNorm, U)
        w1, w2 = t.intermediate.dense, t.output.dense
        importance = w1.weight.norm(dim=1) * w2.weight.norm(dim=0)
        neurons = torch.sort(torch.argsort(importance, descending=True)[:inter]).values
        s.intermediate.dense = _linear(w1.weight[neurons] @ U, w1.bias[neurons])
        s.output.dense = _linear(U.T @ w2.weight[:, neurons], U.T @ w2.bias)
        s.output.LayerNorm = _ln(t.output.LayerNorm, U)


def from_config(config_path: str, teacher, *, vocab_texts: Sequence[str] | None = None,
                seed: int = 0, projection: bool = True, min_count: int = 1):
    """A randomly initialised BERT student of the shape a config.json gives."""
    import json

    import torch
    from transformers import BertConfig, BertModel

    from papertools.core.models.encoders import Dense, Encoder

    path = Path(config_path)
    try:
        raw = json.loads(path.read_text())
        config = BertConfig(**{k: v for k, v in raw.items() if k != "model_type"})
    except (OSError, ValueError, TypeError) as exc:
        raise PapertoolsError(f"--config {config_path}: not a BERT config ({exc})") from None
    tokenizer = teacher.tokenizer
    if vocab_texts is not None:
        keep = corpus_token_ids(tokenizer, vocab_texts, teacher.max_length, min_count)
        tokenizer = pruned_tokenizer(tokenizer, keep)
    config.vocab_size = len(tokenizer)
    config.pad_token_id = tokenizer.pad_token_id
    torch.manual_seed(seed)
    model = BertModel(config, add_pooling_layer=False).eval()
    dense = None
    if projection and int(config.hidden_size) != teacher.dim:
        dense = Dense(torch.nn.Linear(int(config.hidden_size), teacher.dim))
    return Encoder(model, tokenizer, teacher.pooling, teacher.normalize,
                   min(teacher.max_length, int(config.max_position_embeddings)), dense=dense)


def parameter_counts(encoder) -> dict:
    """Embedding, non-embedding (transformer layers) and projection parameters of an encoder's
    query path; BERT's pooler (unused by pooled sentence encoders) is excluded."""
    model = encoder.model
    embedding = non_embedding = 0
    for name, p in model.named_parameters():
        if name.startswith("pooler."):
            continue
        if name.startswith("embeddings.") or "embedding_hidden_mapping_in" in name:
            embedding += p.numel()
        else:
            non_embedding += p.numel()
    projection = 0
    if getattr(encoder, "dense", None) is not None:
        projection = sum(p.numel() for p in encoder.dense.linear.parameters())
    return {"embedding": embedding, "non_embedding": non_embedding, "projection": projection,
            "total": embedding + non_embedding + projection,
            "vocab_size": int(model.config.vocab_size), "hidden": int(model.config.hidden_size),
            "layers": int(model.config.num_hidden_layers)}
