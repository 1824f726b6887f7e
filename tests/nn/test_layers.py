"""Layers: shapes from their docstrings, default initialisation, gradcheck over drawn shapes, PyTorch parity."""

import copy
import inspect
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad import nn
from minigrad.nn import functional as F
from minigrad.testing import gradcheck

from . import module_gradcheck

small = st.integers(1, 4)


def _torch():
    return pytest.importorskip("torch")


def _np(t):
    return t.numpy() if isinstance(t, mg.Tensor) else t.detach().numpy()


# ---- Linear -------------------------------------------------------------------------------------------


def test_linear_shapes_and_forward():
    lin = nn.Linear(3, 4)
    assert lin.weight.shape == (4, 3) and lin.bias.shape == (4,)
    assert lin.weight.dtype == mg.float32
    x = mg.randn(2, 5, 3)
    out = lin(x)
    assert out.shape == (2, 5, 4)
    expected = x.numpy() @ lin.weight.numpy().T + lin.bias.numpy()
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)
    assert nn.Linear(3, 4, bias=False).bias is None
    assert [n for n, _ in nn.Linear(3, 4, bias=False).named_parameters()] == ["weight"]
    assert nn.Linear(2, 2, dtype=mg.float64).weight.dtype == mg.float64


def test_linear_default_init_is_uniform_in_one_over_sqrt_fan_in():
    mg.manual_seed(0)
    lin = nn.Linear(16, 512)
    bound = 1 / math.sqrt(16)
    for p in (lin.weight, lin.bias):
        v = p.numpy()
        assert np.abs(v).max() <= bound
        assert np.abs(v).max() > 0.95 * bound  # spread over the whole interval
        assert abs(v.mean()) < 0.05 * bound * 4
        np.testing.assert_allclose(v.std(), bound / math.sqrt(3), rtol=0.1)  # std of U(-b, b)


def test_linear_rejects_wrong_input_width():
    with pytest.raises(ValueError, match=r"in_features=3"):
        nn.Linear(3, 2)(mg.zeros(4, 5))
    with pytest.raises(ValueError, match="non-negative integer"):
        nn.Linear(-1, 2)


@settings(max_examples=10, deadline=None)
@given(n=small, d=small, h=small, bias=st.booleans())
def test_linear_gradcheck(n, d, h, bias):
    mg.manual_seed(0)
    lin = nn.Linear(d, h, bias=bias, dtype=mg.float64)
    x = mg.randn(n, d, dtype=mg.float64, requires_grad=True)
    assert module_gradcheck(lin, x)


def test_linear_matches_torch():
    torch = _torch()
    lin = nn.Linear(3, 2)
    ref = torch.nn.Linear(3, 2)
    ref.load_state_dict({k: torch.tensor(v.numpy()) for k, v in lin.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    xm = mg.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    out, ref_out = lin(xm), ref(xt)
    np.testing.assert_allclose(_np(out), _np(ref_out), rtol=1e-5, atol=1e-6)
    g = np.random.default_rng(1).standard_normal((5, 2)).astype(np.float32)
    out.backward(mg.tensor(g))
    ref_out.backward(torch.tensor(g))
    np.testing.assert_allclose(_np(xm.grad), _np(xt.grad), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_np(lin.weight.grad), _np(ref.weight.grad), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_np(lin.bias.grad), _np(ref.bias.grad), rtol=1e-5, atol=1e-6)


# ---- Embedding ----------------------------------------------------------------------------------------


def test_embedding_shapes_init_and_padding_row():
    mg.manual_seed(0)
    emb = nn.Embedding(200, 50, padding_idx=3)
    assert emb.weight.shape == (200, 50)
    w = emb.weight.numpy()
    np.testing.assert_array_equal(w[3], np.zeros(50, np.float32))
    others = np.delete(w, 3, axis=0)
    assert abs(others.mean()) < 0.05 and abs(others.std() - 1.0) < 0.05  # N(0, 1)
    idx = mg.tensor([[1, 3, 3], [0, 2, 199]])
    out = emb(idx)
    assert out.shape == (2, 3, 50)
    np.testing.assert_array_equal(out.numpy(), w[idx.numpy()])
    out.sum().backward()
    grad = emb.weight.grad.numpy()
    np.testing.assert_array_equal(grad[3], np.zeros(50, np.float32))  # padding row gets no gradient
    np.testing.assert_array_equal(grad[1], np.ones(50, np.float32))
    np.testing.assert_array_equal(grad[5], np.zeros(50, np.float32))
    assert nn.Embedding(5, 2, padding_idx=-1).padding_idx == 4


def test_embedding_errors():
    emb = nn.Embedding(4, 2)
    with pytest.raises(IndexError, match=r"index 4 .* 4 rows"):
        emb(mg.tensor([0, 4]))
    with pytest.raises(IndexError, match="index -1"):
        emb(mg.tensor([-1]))
    with pytest.raises(TypeError, match="integer"):
        emb(mg.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(4, 2, padding_idx=4)


def test_embedding_from_pretrained():
    w = mg.tensor([[1.0, 2.0], [3.0, 4.0]])
    emb = nn.Embedding.from_pretrained(w)
    assert not emb.weight.requires_grad
    np.testing.assert_array_equal(emb(mg.tensor([1, 0])).numpy(), [[3.0, 4.0], [1.0, 2.0]])
    assert nn.Embedding.from_pretrained(w, freeze=False).weight.requires_grad


@settings(max_examples=10, deadline=None)
@given(v=st.integers(2, 5), d=small, shape=st.lists(st.integers(1, 3), min_size=1, max_size=2))
def test_embedding_gradcheck(v, d, shape):
    mg.manual_seed(0)
    emb = nn.Embedding(v, d, dtype=mg.float64)
    idx = mg.randint(0, v, tuple(shape))
    assert module_gradcheck(emb, idx)


@settings(max_examples=10, deadline=None)
@given(v=st.integers(2, 5), d=small, shape=st.lists(st.integers(1, 3), min_size=1, max_size=2))
def test_embedding_gradcheck_with_padding(v, d, shape):
    # The padding row deliberately gets no gradient, so check the other rows with row 0 held constant.
    mg.manual_seed(0)
    idx = mg.randint(0, v, tuple(shape))
    rest = mg.randn(v - 1, d, dtype=mg.float64, requires_grad=True)
    pad_row = mg.zeros(1, d, dtype=mg.float64)

    def fn(rest):
        return F.embedding(idx, mg.concatenate([pad_row, rest]), padding_idx=0)

    assert gradcheck(fn, (rest,))


def test_embedding_matches_torch():
    torch = _torch()
    emb = nn.Embedding(6, 3, padding_idx=2)
    ref = torch.nn.Embedding(6, 3, padding_idx=2)
    ref.load_state_dict({"weight": torch.tensor(emb.weight.numpy())})
    idx = np.array([[0, 2, 5], [2, 2, 1]])
    out, ref_out = emb(mg.tensor(idx)), ref(torch.tensor(idx))
    np.testing.assert_array_equal(_np(out), _np(ref_out))
    g = np.random.default_rng(0).standard_normal((2, 3, 3)).astype(np.float32)
    out.backward(mg.tensor(g))
    ref_out.backward(torch.tensor(g))
    np.testing.assert_allclose(_np(emb.weight.grad), _np(ref.weight.grad), rtol=1e-6, atol=1e-6)


# ---- Dropout ------------------------------------------------------------------------------------------


def test_dropout_train_masks_and_scales_eval_is_identity():
    mg.manual_seed(0)
    drop = nn.Dropout(0.25)
    x = mg.ones(200, 100)
    out = drop(x).numpy()
    zeros = out == 0
    assert abs(zeros.mean() - 0.25) < 0.02
    np.testing.assert_allclose(out[~zeros], 1 / 0.75, rtol=1e-6)
    drop.eval()
    assert drop(x) is x


def test_dropout_is_reproducible_and_gradient_is_the_mask():
    x = mg.randn(10, 10, requires_grad=True)
    mg.manual_seed(7)
    a = nn.Dropout(0.5)(x)
    mg.manual_seed(7)
    b = nn.Dropout(0.5)(x)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    a.sum().backward()
    mask = (a.numpy() != 0) * 2.0
    np.testing.assert_array_equal(x.grad.numpy(), mask)


def test_dropout_extremes_and_errors():
    x = mg.randn(3, 3)
    assert nn.Dropout(0.0)(x) is x
    np.testing.assert_array_equal(nn.Dropout(1.0)(x).numpy(), np.zeros((3, 3), np.float32))
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


def test_dropout_takes_torchs_positional_inplace_and_refuses_true():
    # PyTorch: Dropout(p=0.5, inplace=False); in-place cannot be recorded by autograd here
    x = mg.ones(2, 3)
    drop = nn.Dropout(0.5, False)
    assert drop.p == 0.5 and drop.inplace is False
    assert drop.eval()(x) is x
    with pytest.raises(ValueError, match="Dropout: inplace=True is not supported.*inplace=False"):
        nn.Dropout(0.5, True)
    torch = _torch()
    assert list(inspect.signature(nn.Dropout).parameters) == list(
        inspect.signature(torch.nn.Dropout).parameters
    )



@settings(max_examples=10, deadline=None)
@given(shape=st.lists(small, min_size=1, max_size=3), p=st.sampled_from([0.1, 0.5, 0.9]))
def test_dropout_gradcheck_with_a_fixed_mask(shape, p):
    mg.manual_seed(0)
    drop = nn.Dropout(p)
    x = mg.randn(*shape, dtype=mg.float64, requires_grad=True)

    def fn(x):
        mg.manual_seed(3)  # the same mask on every call
        return drop(x)

    assert gradcheck(fn, (x,))


# ---- LayerNorm ----------------------------------------------------------------------------------------


def test_layernorm_shapes_and_normalisation():
    ln = nn.LayerNorm((3, 4))
    assert ln.weight.shape == (3, 4) and ln.bias.shape == (3, 4)
    np.testing.assert_array_equal(ln.weight.numpy(), np.ones((3, 4), np.float32))
    x = mg.randn(2, 3, 4) * 5 + 3
    out = ln(x).numpy()
    assert out.shape == (2, 3, 4)
    np.testing.assert_allclose(out.mean(axis=(1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(out.var(axis=(1, 2)), 1, rtol=1e-3)  # biased variance
    assert [n for n, _ in nn.LayerNorm(4, elementwise_affine=False).named_parameters()] == []
    assert nn.LayerNorm(4, bias=False).bias is None
    with pytest.raises(ValueError, match=r"does not end with normalized_shape \(4,\)"):
        nn.LayerNorm(4)(mg.zeros(2, 3))


@settings(max_examples=10, deadline=None)
@given(n=small, d=st.integers(2, 4), affine=st.booleans())
def test_layernorm_gradcheck(n, d, affine):
    mg.manual_seed(0)
    ln = nn.LayerNorm(d, elementwise_affine=affine, dtype=mg.float64)
    if affine:
        with mg.no_grad():  # away from the identity, so weight and bias gradients are not trivial
            nn.init.normal_(ln.weight)
            nn.init.normal_(ln.bias)
    x = mg.randn(n, d, dtype=mg.float64, requires_grad=True)
    assert module_gradcheck(ln, x)


def test_layernorm_matches_torch():
    torch = _torch()
    ln = nn.LayerNorm(5)
    nn.init.normal_(ln.weight)
    nn.init.normal_(ln.bias)
    ref = torch.nn.LayerNorm(5)
    ref.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ln.state_dict().items()})
    x = (np.random.default_rng(0).standard_normal((3, 4, 5)) * 3).astype(np.float32)
    xm, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, ref_out = ln(xm), ref(xt)
    np.testing.assert_allclose(_np(out), _np(ref_out), rtol=1e-4, atol=1e-5)
    g = np.random.default_rng(1).standard_normal(x.shape).astype(np.float32)
    out.backward(mg.tensor(g))
    ref_out.backward(torch.tensor(g))
    for ours, theirs in (
        (xm.grad, xt.grad),
        (ln.weight.grad, ref.weight.grad),
        (ln.bias.grad, ref.bias.grad),
    ):
        np.testing.assert_allclose(_np(ours), _np(theirs), rtol=1e-4, atol=1e-4)


# ---- shape-only layers and activations ---------------------------------------------------------------


def test_flatten_and_identity():
    x = mg.randn(2, 3, 4, 5)
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 5)
    assert nn.Flatten(1, 2)(x).shape == (2, 12, 5)
    assert nn.Identity(3, foo=1)(x) is x
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"


ACTIVATIONS = [
    (nn.ReLU(), lambda a: np.maximum(a, 0)),
    (nn.Tanh(), np.tanh),
    (nn.Sigmoid(), lambda a: 1 / (1 + np.exp(-a))),
    (nn.Softmax(dim=1), lambda a: np.exp(a) / np.exp(a).sum(axis=1, keepdims=True)),
    (nn.LogSoftmax(dim=-1), lambda a: a - np.log(np.exp(a).sum(axis=-1, keepdims=True))),
]


@pytest.mark.parametrize(
    "layer, reference", ACTIVATIONS, ids=[type(m).__name__ for m, _ in ACTIVATIONS]
)
def test_activation_forward_and_gradcheck(layer, reference):
    a = np.random.default_rng(0).standard_normal((3, 4))
    a[np.abs(a) < 1e-3] = 0.5  # keep ReLU away from its kink
    x = mg.tensor(a, requires_grad=True)
    out = layer(x)
    assert out.shape == (3, 4)
    np.testing.assert_allclose(out.numpy(), reference(a), rtol=1e-10, atol=1e-12)
    assert gradcheck(layer, (x,))


def test_softmax_layer_finite_for_huge_logits_and_implicit_dim_warns():
    x = mg.tensor([[1e4, -1e4, 0.0]])
    out = nn.Softmax(dim=1)(x).numpy()
    np.testing.assert_allclose(out, [[1.0, 0.0, 0.0]])
    assert np.isfinite(nn.LogSoftmax(dim=1)(x).numpy()).all()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = nn.Softmax()(mg.randn(2, 3))  # legacy rule: dim 1 for 2-D input
    assert any("Implicit dimension" in str(w.message) for w in caught)
    np.testing.assert_allclose(out.numpy().sum(axis=1), 1.0, rtol=1e-6)


@settings(max_examples=10, deadline=None)
@given(n=small, d=small, h=small)
def test_mlp_gradcheck_through_sequential(n, d, h):
    mg.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(d, h), nn.Tanh(), nn.LayerNorm(h), nn.Linear(h, 2), nn.LogSoftmax(dim=1)
    )
    model.double()
    x = mg.randn(n, d, dtype=mg.float64, requires_grad=True)
    assert module_gradcheck(model, x)


def test_layers_and_loss_run_on_each_device(device):
    mg.manual_seed(0)
    cpu_model = nn.Sequential(
        nn.Embedding(7, 4, padding_idx=0), nn.LayerNorm(4), nn.Linear(4, 5), nn.Dropout(0.3)
    )
    model = copy.deepcopy(cpu_model).to(device)
    assert all(p.device == mg.device(device) for p in model.parameters())
    idx = [[1, 0, 3], [6, 2, 0]]
    target = [[0, 1, 4], [2, -100, 3]]
    grads = []
    for m, dev in ((cpu_model.eval(), "cpu"), (model.eval(), device)):
        logits = m(mg.tensor(idx, device=dev))  # (N, T, C)
        loss = F.cross_entropy(
            logits.permute(0, 2, 1), mg.tensor(target, device=dev), label_smoothing=0.1
        )
        loss.backward()
        grads.append([p.grad.numpy() for p in m.parameters()])
        assert loss.device == mg.device(dev)
    for g_cpu, g_dev in zip(*grads):
        np.testing.assert_allclose(g_dev, g_cpu, rtol=1e-5, atol=1e-6)
    model.train()
    out = model(mg.tensor(idx, device=device))  # dropout draws its mask on the device
    assert out.shape == (2, 3, 5) and out.device == mg.device(device)
