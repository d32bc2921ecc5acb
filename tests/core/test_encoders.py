"""core/models/encoders.py: sentence encoders and cross-encoders from local directories."""

from __future__ import annotations

import json

import numpy as np
import pytest

from papertools.core.models.encoders import (Dense, Encoder, load_cross_encoder, load_encoder,
                                      packaged_minilm, pool, tiny_bert)
from papertools.core.errors import PapertoolsError

TEXTS = ["Return the number of bytes in the buffer.", "Open a file for reading.", "x"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_bert(tmp_path_factory.mktemp("enc") / "tiny", hidden=32, layers=1, heads=2,
                     seed=1)


@pytest.fixture(scope="module")
def minilm():
    return load_encoder("minilm")


@pytest.mark.parametrize("pooling,normalize", [("cls", False), ("max", True), ("mean", True),
                                               ("lasttoken", False)])
def test_save_load_round_trip_keeps_pooling_normalisation_and_vectors(tiny, tmp_path, pooling,
                                                                      normalize):
    enc = load_encoder(tiny, pooling=pooling, normalize=normalize)
    enc.save(tmp_path / "copy")
    again = load_encoder(str(tmp_path / "copy"))
    assert (again.pooling, again.normalize, again.dim) == (pooling, normalize, 32)
    a, b = enc.encode(TEXTS), again.encode(TEXTS)
    assert a.dtype == np.float32 and a.shape == (3, 32)
    np.testing.assert_array_equal(a, b)
    norms = np.linalg.norm(a, axis=1)
    assert np.allclose(norms, 1, atol=1e-5) == normalize
    modules = json.loads((tmp_path / "copy" / "modules.json").read_text())
    assert [m["type"].rsplit(".", 1)[1] for m in modules] == \
        ["Transformer", "Pooling"] + (["Normalize"] if normalize else [])


def test_dense_projection_round_trip(tiny, tmp_path):
    import torch

    enc = load_encoder(tiny)
    torch.manual_seed(0)
    enc.dense = Dense(torch.nn.Linear(32, 12))
    assert enc.dim == 12
    enc.save(tmp_path / "dense")
    modules = json.loads((tmp_path / "dense" / "modules.json").read_text())
    assert [m["path"] for m in modules] == ["", "1_Pooling", "2_Dense", "3_Normalize"]
    pooling = json.loads((tmp_path / "dense" / "1_Pooling" / "config.json").read_text())
    assert pooling["word_embedding_dimension"] == 32
    again = load_encoder(str(tmp_path / "dense"))
    assert again.dim == 12 and again.dense.activation is None
    np.testing.assert_array_equal(enc.encode(TEXTS), again.encode(TEXTS))
    assert np.allclose(np.linalg.norm(again.encode(TEXTS), axis=1), 1, atol=1e-5)
    # the projection really is applied between pooling and normalisation
    hidden, mask = again.token_states(TEXTS[:1])
    expected = torch.nn.functional.normalize(again.dense.linear(pool(hidden, mask, "mean")), dim=-1)
    np.testing.assert_allclose(again.encode(TEXTS[:1]), expected.detach().numpy(), atol=1e-6)
    # a tanh Dense (sentence-transformers' default) loads and is applied
    cfg = tmp_path / "dense" / "2_Dense" / "config.json"
    data = json.loads(cfg.read_text())
    data["activation_function"] = "torch.nn.modules.activation.Tanh"
    cfg.write_text(json.dumps(data))
    tanh = load_encoder(str(tmp_path / "dense"))
    assert tanh.dense.activation == "tanh"
    data["activation_function"] = "torch.nn.modules.activation.ReLU"
    cfg.write_text(json.dumps(data))
    with pytest.raises(PapertoolsError, match="not supported"):
        load_encoder(str(tmp_path / "dense"))


def test_embed_has_gradients_and_encode_keeps_order(tiny):
    enc = load_encoder(tiny)
    enc.model.train()
    out = enc.embed(TEXTS)
    out.sum().backward()
    assert any(p.grad is not None for p in enc.model.parameters())
    enc.model.eval()
    one_by_one = np.stack([enc.encode([t])[0] for t in TEXTS])
    np.testing.assert_allclose(enc.encode(TEXTS, batch_size=2), one_by_one, atol=1e-5)


def test_minilm_similarity_is_sane(minilm):
    assert minilm.dim == 384 and minilm.normalize and minilm.pooling == "mean"
    v = minilm.encode(["A man is eating food.", "A man is eating a piece of bread.",
                       "The stock market fell sharply today."])
    near, far = float(v[0] @ v[1]), float(v[0] @ v[2])
    assert near > 0.6 and far < 0.3 and near > far + 0.4


def test_cross_encoder_scores_one_float_per_pair(tmp_path):
    path = tiny_bert(tmp_path / "ce", cross_encoder=True, hidden=32, layers=1, heads=2)
    ce = load_cross_encoder(path)
    scores = ce.score(["q1", "q2", "q3"], ["a doc", "another doc", "a third"], batch_size=2)
    assert scores.shape == (3,) and scores.dtype == np.float32
    assert ce.logits(["q1"], ["a doc"]).shape == (1,)
    with pytest.raises(PapertoolsError, match="as many queries as items"):
        ce.score(["q"], ["a", "b"])


def test_errors(tmp_path, tiny):
    with pytest.raises(PapertoolsError, match="no such directory"):
        load_encoder(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(PapertoolsError, match="cannot load"):
        load_encoder(str(tmp_path / "empty"))
    enc = load_encoder(tiny)
    with pytest.raises(PapertoolsError, match="unknown pooling"):
        Encoder(enc.model, enc.tokenizer, pooling="median")
    with pytest.raises(PapertoolsError, match="unknown Dense activation"):
        Dense(None, "relu")
    assert packaged_minilm().endswith("model")
