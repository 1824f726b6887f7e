"""nn.functional layer maths (linear, embedding, dropout, softmax, activations, layer_norm): NumPy references,
gradcheck over drawn shapes, PyTorch parity, input validation. Losses are in test_loss.py."""

import inspect
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad.nn import functional as F
from minigrad.testing import gradcheck

lead_shapes = st.lists(st.integers(1, 3), min_size=0, max_size=2).map(tuple)


def _f64(rng, shape, requires_grad=True):
    return mg.tensor(np.asarray(rng.standard_normal(shape)), requires_grad=requires_grad)


def test_module_is_reachable_both_ways():
    import minigrad.nn.functional as F2

    assert mg.nn.functional is F2 is F


@settings(max_examples=15, deadline=None)
@given(
    lead=lead_shapes,
    d=st.integers(1, 3),
    h=st.integers(1, 3),
    bias=st.booleans(),
    seed=st.integers(0, 99),
)
def test_linear_reference_and_gradcheck(lead, d, h, bias, seed):
    rng = np.random.default_rng(seed)
    x, w = _f64(rng, lead + (d,)), _f64(rng, (h, d))
    b = _f64(rng, (h,)) if bias else None
    out = F.linear(x, w, b)
    expected = x.numpy() @ w.numpy().T + (b.numpy() if bias else 0)
    assert out.shape == lead + (h,)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)
    inputs = (x, w, b) if bias else (x, w)
    assert gradcheck(lambda *a: F.linear(*a), inputs)


def test_linear_validation():
    with pytest.raises(
        ValueError, match=r"linear: input of shape \(2, 4\) .* weight of shape \(3, 5\)"
    ):
        F.linear(mg.zeros(2, 4), mg.zeros(3, 5))
    with pytest.raises(ValueError, match="2-D"):
        F.linear(mg.zeros(2, 4), mg.zeros(4))
    with pytest.raises(ValueError, match=r"bias must have shape \(3,\)"):
        F.linear(mg.zeros(2, 4), mg.zeros(3, 4), mg.zeros(4))
    with pytest.raises(TypeError, match="bias has dtype float64 but weight has dtype float32"):
        F.linear(mg.zeros(2, 4), mg.zeros(3, 4), mg.zeros(3, dtype=mg.float64))


def test_linear_matches_torch_with_batch_dims():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    w = rng.standard_normal((5, 4)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    ours = F.linear(mg.tensor(x), mg.tensor(w), mg.tensor(b))
    theirs = torch.nn.functional.linear(torch.tensor(x), torch.tensor(w), torch.tensor(b))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-5)


def test_embedding_functional_and_padding():
    w = mg.tensor(np.arange(12.0).reshape(4, 3), requires_grad=True)
    idx = np.array([[3, 0], [0, 1]])
    out = F.embedding(mg.tensor(idx), w, padding_idx=0)
    np.testing.assert_array_equal(
        out.numpy(), np.arange(12.0).reshape(4, 3)[idx]
    )  # forward reads the row
    out.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy()[:, 0], [0.0, 1.0, 0.0, 1.0])
    out = F.embedding(idx, w)  # a numpy index array works too
    assert out.shape == (2, 2, 3)
    out = F.embedding(mg.tensor(2), w)  # a 0-d index gives one row
    np.testing.assert_array_equal(out.numpy(), [6.0, 7.0, 8.0])


def test_dropout_functional():
    x = mg.ones(50, 50)
    assert F.dropout(x, 0.5, training=False) is x
    mg.manual_seed(1)
    out = F.dropout(x, 0.2).numpy()
    assert set(np.unique(out)) <= {0.0, np.float32(1 / 0.8)}
    assert abs((out == 0).mean() - 0.2) < 0.03
    with pytest.raises(ValueError, match="dropout: probability"):
        F.dropout(x, -0.1)
    xd = mg.ones(4, dtype=mg.float64)
    assert F.dropout(xd, 0.5).dtype == mg.float64


def test_dropout_functional_takes_torchs_inplace_argument():
    # PyTorch: dropout(input, p=0.5, training=True, inplace=False)
    x = mg.ones(2, 3)
    assert F.dropout(x, 0.5, False, False) is x
    with pytest.raises(ValueError, match="dropout: inplace=True is not supported"):
        F.dropout(x, 0.5, True, True)
    torch = pytest.importorskip("torch")
    assert list(inspect.signature(F.dropout).parameters) == list(
        inspect.signature(torch.nn.functional.dropout).parameters
    )



@settings(max_examples=15, deadline=None)
@given(shape=st.lists(st.integers(1, 3), min_size=1, max_size=3).map(tuple), data=st.data())
def test_softmax_and_log_softmax(shape, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    rng = np.random.default_rng(0)
    x = _f64(rng, shape)
    a = x.numpy()
    e = np.exp(a - a.max(axis=dim, keepdims=True))
    ref = e / e.sum(axis=dim, keepdims=True)
    np.testing.assert_allclose(F.softmax(x, dim).numpy(), ref, rtol=1e-12)
    np.testing.assert_allclose(
        F.log_softmax(x, dim=dim).numpy(), np.log(ref), rtol=1e-10, atol=1e-12
    )
    assert gradcheck(lambda x: F.log_softmax(x, dim), (x,))
    assert gradcheck(lambda x: F.softmax(x, dim), (x,))


def test_softmax_implicit_dim_follows_torch_legacy_rule():
    x = mg.randn(2, 3, 4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = F.softmax(x)  # 3-D: dim 0
        out2 = F.log_softmax(mg.randn(2, 3))  # 2-D: dim 1
    assert len(caught) == 2 and "dim=X" in str(caught[0].message)
    np.testing.assert_allclose(out.numpy().sum(axis=0), 1.0, rtol=1e-6)
    np.testing.assert_allclose(np.exp(out2.numpy()).sum(axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize(
    "fn, ref",
    [
        (F.relu, lambda a: np.maximum(a, 0)),
        (F.tanh, np.tanh),
        (F.sigmoid, lambda a: 1 / (1 + np.exp(-a))),
    ],
    ids=["relu", "tanh", "sigmoid"],
)
def test_activations(fn, ref):
    a = np.array([[-2.0, -0.5, 0.3], [0.7, 1.5, 3.0]])
    x = mg.tensor(a, requires_grad=True)
    np.testing.assert_allclose(fn(x).numpy(), ref(a), rtol=1e-12)
    assert gradcheck(fn, (x,))


def test_sigmoid_is_finite_for_huge_inputs():
    out = F.sigmoid(mg.tensor([-1e4, 1e4]))
    np.testing.assert_array_equal(out.numpy(), [0.0, 1.0])


@settings(max_examples=15, deadline=None)
@given(
    lead=st.lists(st.integers(1, 2), min_size=1, max_size=2).map(tuple),
    norm=st.lists(st.integers(2, 3), min_size=1, max_size=2).map(tuple),
    affine=st.booleans(),
    seed=st.integers(0, 99),
)
def test_layer_norm_reference_and_gradcheck(lead, norm, affine, seed):
    rng = np.random.default_rng(seed)
    x = _f64(rng, lead + norm)
    w, b = (_f64(rng, norm), _f64(rng, norm)) if affine else (None, None)
    axes = tuple(range(len(lead), len(lead) + len(norm)))
    a = x.numpy()
    ref = (a - a.mean(axis=axes, keepdims=True)) / np.sqrt(a.var(axis=axes, keepdims=True) + 1e-5)
    if affine:
        ref = ref * w.numpy() + b.numpy()
    out = F.layer_norm(x, norm, w, b)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-10, atol=1e-12)
    if affine:
        assert gradcheck(lambda x, w, b: F.layer_norm(x, norm, w, b), (x, w, b))
    else:
        assert gradcheck(lambda x: F.layer_norm(x, norm), (x,))


def test_layer_norm_matches_torch_over_two_dims():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((2, 3, 4)) * 4 + 1).astype(np.float32)
    w = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal((3, 4)).astype(np.float32)
    xm, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours = F.layer_norm(xm, (3, 4), mg.tensor(w), mg.tensor(b), eps=1e-3)
    theirs = torch.nn.functional.layer_norm(xt, (3, 4), torch.tensor(w), torch.tensor(b), eps=1e-3)
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-4, atol=1e-5)
    (ours * ours).sum().backward()
    (theirs * theirs).sum().backward()
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-3, atol=1e-4)


def test_layer_norm_validation():
    with pytest.raises(
        ValueError,
        match=r"layer_norm: input of shape \(2, 3\) does not end with normalized_shape \(2,\)",
    ):
        F.layer_norm(mg.zeros(2, 3), 2)


def test_embedding_padding_idx_out_of_range_is_an_error():
    w = mg.ones((3, 2))
    with pytest.raises(ValueError, match="padding_idx 10 is out of range for 3 rows"):
        F.embedding(mg.tensor([0, 1]), w, padding_idx=10)  # torch asserts; before, silently ignored
    assert F.embedding(mg.tensor([0, 2]), w, padding_idx=-1).shape == (2, 2)
