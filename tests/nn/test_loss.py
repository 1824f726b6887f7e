"""Losses: gradcheck over drawn shapes and options, written-out NumPy formulas, PyTorch parity, extreme
logits, input validation, and the loss modules."""

import inspect
import itertools
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad import nn
from minigrad.nn import functional as F
from minigrad.testing import gradcheck, gradgradcheck

REDUCTIONS = ["mean", "sum", "none"]


def _torch():
    return pytest.importorskip("torch")


# ---- NumPy references, written out from the definitions -----------------------------------------------


def np_cross_entropy(x, t, w=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Class-index cross-entropy; x (N, C, *) or (C,), t (N, *) or ()."""
    target_shape = np.shape(t)
    if x.ndim == 1:
        x, t = x[None], np.asarray(t)[None]
    c = x.shape[1]
    flat = np.moveaxis(x, 1, -1).reshape(-1, c)
    t = np.asarray(t).reshape(-1)
    m = flat.max(axis=1, keepdims=True)
    logp = flat - m - np.log(np.exp(flat - m).sum(axis=1, keepdims=True))
    wc = np.ones(c) if w is None else w
    loss = np.zeros(len(t))
    total_weight = 0.0
    for i, k in enumerate(t):
        if k == ignore_index:
            continue
        total_weight += wc[k]
        nll = -wc[k] * logp[i, k]
        uniform = -(wc * logp[i]).sum()
        loss[i] = (1 - label_smoothing) * nll + label_smoothing / c * uniform
    if reduction == "none":
        return loss.reshape(target_shape)
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / total_weight


def np_bce_with_logits(x, y, w=None, pos_weight=None):
    """Unreduced; log(1 + exp(z)) evaluated with np.logaddexp."""
    pw = 1.0 if pos_weight is None else pos_weight
    loss = pw * y * np.logaddexp(0, -x) + (1 - y) * np.logaddexp(0, x)
    return loss if w is None else loss * w


# ---- drawing problems ---------------------------------------------------------------------------------


def _class_problem(draw_shape, n_classes, ignore, rng):
    """Logits of shape (N, C, *extra) (or (C,) when draw_shape is None) and integer targets."""
    if draw_shape is None:
        x = rng.standard_normal(n_classes)
        t = np.array(rng.integers(0, n_classes))
        return x, t
    n, extra = draw_shape
    x = rng.standard_normal((n, n_classes) + extra)
    t = rng.integers(0, n_classes, (n,) + extra)
    if ignore:
        t[rng.random(t.shape) < 0.3] = -100
        t.reshape(-1)[0] = 0  # keep at least one target so 'mean' is defined
    return x, t


layouts = st.one_of(
    st.none(),
    st.tuples(st.integers(1, 3), st.sampled_from([(), (2,), (1, 2)])),
)


@settings(max_examples=20, deadline=None)
@given(
    layout=layouts,
    n_classes=st.integers(2, 4),
    reduction=st.sampled_from(REDUCTIONS),
    weighted=st.booleans(),
    ignore=st.booleans(),
    label_smoothing=st.sampled_from([0.0, 0.1, 0.7]),
    seed=st.integers(0, 2**16),
)
def test_cross_entropy_gradcheck_and_numpy_reference(
    layout, n_classes, reduction, weighted, ignore, label_smoothing, seed
):
    rng = np.random.default_rng(seed)
    x, t = _class_problem(layout, n_classes, ignore, rng)
    w = rng.uniform(0.5, 2.0, n_classes) if weighted else None
    kwargs = dict(ignore_index=-100, reduction=reduction, label_smoothing=label_smoothing)
    xm = mg.tensor(x, requires_grad=True)
    wm = None if w is None else mg.tensor(w)
    out = F.cross_entropy(xm, mg.tensor(t), wm, **kwargs)
    expected = np_cross_entropy(x, t, w, **kwargs)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12)
    assert gradcheck(lambda x: F.cross_entropy(x, mg.tensor(t), wm, **kwargs), (xm,))


@settings(max_examples=15, deadline=None)
@given(
    n=st.integers(1, 3),
    c=st.integers(2, 4),
    reduction=st.sampled_from(REDUCTIONS),
    weighted=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_nll_loss_gradcheck(n, c, reduction, weighted, seed):
    rng = np.random.default_rng(seed)
    logp = mg.tensor(rng.standard_normal((n, c)), requires_grad=True)
    t = mg.tensor(rng.integers(0, c, n))
    w = mg.tensor(rng.uniform(0.5, 2, c)) if weighted else None
    out = F.nll_loss(logp, t, w, reduction=reduction)
    wv = np.ones(c) if w is None else w.numpy()
    per = -wv[t.numpy()] * logp.numpy()[np.arange(n), t.numpy()]
    expected = {"none": per, "sum": per.sum(), "mean": per.sum() / wv[t.numpy()].sum()}[reduction]
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)
    assert gradcheck(lambda x: F.nll_loss(x, t, w, reduction=reduction), (logp,))


shapes = st.lists(st.integers(1, 3), min_size=0, max_size=3).map(tuple)


@settings(max_examples=15, deadline=None)
@given(shape=shapes, reduction=st.sampled_from(REDUCTIONS), seed=st.integers(0, 2**16))
def test_mse_and_l1_gradcheck(shape, reduction, seed):
    rng = np.random.default_rng(seed)
    a, b = np.asarray(rng.standard_normal(shape)), np.asarray(rng.standard_normal(shape))
    x, y = mg.tensor(a, requires_grad=True), mg.tensor(b, requires_grad=True)
    reduce = {"none": lambda v: v, "sum": np.sum, "mean": np.mean}[reduction]
    np.testing.assert_allclose(
        F.mse_loss(x, y, reduction=reduction).numpy(), reduce((a - b) ** 2), rtol=1e-12
    )
    np.testing.assert_allclose(
        F.l1_loss(x, y, reduction=reduction).numpy(), reduce(np.abs(a - b)), rtol=1e-12
    )
    assert gradcheck(lambda x, y: F.mse_loss(x, y, reduction=reduction), (x, y))
    assert gradcheck(lambda x, y: F.l1_loss(x, y, reduction=reduction), (x, y))


@settings(max_examples=15, deadline=None)
@given(
    shape=shapes,
    reduction=st.sampled_from(REDUCTIONS),
    weighted=st.booleans(),
    pos=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_bce_with_logits_gradcheck(shape, reduction, weighted, pos, seed):
    rng = np.random.default_rng(seed)
    # np.asarray: numpy turns 0-d results into scalars, which mg.tensor reads as Python floats (float32)
    a = np.asarray(rng.standard_normal(shape) * 3)
    y = np.asarray(rng.uniform(0, 1, shape))
    w = np.asarray(rng.uniform(0.5, 2, shape)) if weighted else None
    pw = rng.uniform(0.5, 3, shape[-1:]) if pos else None
    x = mg.tensor(a, requires_grad=True)
    yt = mg.tensor(y, requires_grad=True)  # the target is differentiable too, as in PyTorch
    wt = None if w is None else mg.tensor(w)
    pwt = None if pw is None else mg.tensor(pw)
    reduce = {"none": lambda v: v, "sum": np.sum, "mean": np.mean}[reduction]
    out = F.binary_cross_entropy_with_logits(x, yt, wt, reduction=reduction, pos_weight=pwt)
    np.testing.assert_allclose(
        out.numpy(), reduce(np_bce_with_logits(a, y, w, pw)), rtol=1e-10, atol=1e-12
    )

    def fn(x, y):
        return F.binary_cross_entropy_with_logits(x, y, wt, reduction=reduction, pos_weight=pwt)

    assert gradcheck(fn, (x, yt))


@settings(max_examples=15, deadline=None)
@given(
    shape=shapes,
    reduction=st.sampled_from(REDUCTIONS),
    weighted=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_bce_gradcheck(shape, reduction, weighted, seed):
    rng = np.random.default_rng(seed)
    p = np.asarray(rng.uniform(0.05, 0.95, shape))
    y = np.asarray(rng.uniform(0, 1, shape))
    w = np.asarray(rng.uniform(0.5, 2, shape)) if weighted else None
    x, yt = mg.tensor(p, requires_grad=True), mg.tensor(y, requires_grad=True)
    wt = None if w is None else mg.tensor(w)
    reduce = {"none": lambda v: v, "sum": np.sum, "mean": np.mean}[reduction]
    per = -(y * np.log(p) + (1 - y) * np.log(1 - p)) * (1 if w is None else w)
    out = F.binary_cross_entropy(x, yt, wt, reduction=reduction)
    np.testing.assert_allclose(out.numpy(), reduce(per), rtol=1e-10)
    assert gradcheck(lambda x, y: F.binary_cross_entropy(x, y, wt, reduction=reduction), (x, yt))


@settings(max_examples=10, deadline=None)
@given(
    n=st.integers(1, 3),
    c=st.integers(2, 4),
    label_smoothing=st.sampled_from([0.0, 0.2]),
    seed=st.integers(0, 99),
)
def test_cross_entropy_probability_targets_gradcheck(n, c, label_smoothing, seed):
    rng = np.random.default_rng(seed)
    x = mg.tensor(rng.standard_normal((n, c)), requires_grad=True)
    p = rng.uniform(0, 1, (n, c))
    p /= p.sum(axis=1, keepdims=True)
    target = mg.tensor(p)
    out = F.cross_entropy(x, target, label_smoothing=label_smoothing)
    q = p * (1 - label_smoothing) + label_smoothing / c
    logp = x.numpy() - np.log(np.exp(x.numpy()).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(out.numpy(), -(q * logp).sum() / n, rtol=1e-10)
    assert gradcheck(lambda x: F.cross_entropy(x, target, label_smoothing=label_smoothing), (x,))


# ---- PyTorch parity -------------------------------------------------------------------------------------

LAYOUTS = {"(N,C)": (4, 5), "(N,C,d1)": (3, 4, 5), "(N,C,d1,d2)": (2, 3, 2, 4), "(C,)": (6,)}


def _compare(ours, theirs, x_ours, x_theirs, rtol=1e-5, atol=1e-6, what=""):
    torch = _torch()
    np.testing.assert_allclose(
        ours.numpy(), theirs.detach().numpy(), rtol=rtol, atol=atol, err_msg=what
    )
    g = np.random.default_rng(0).standard_normal(ours.shape).astype(ours.dtype)
    ours.backward(mg.tensor(g))
    theirs.backward(torch.tensor(g))
    np.testing.assert_allclose(
        x_ours.grad.numpy(), x_theirs.grad.numpy(), rtol=rtol, atol=atol, err_msg=what
    )


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_matches_torch(layout, reduction):
    torch = _torch()
    shape = LAYOUTS[layout]
    rng = np.random.default_rng(0)
    c = shape[1] if len(shape) > 1 else shape[0]
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    t = rng.integers(0, c, shape[:1] + shape[2:]) if len(shape) > 1 else np.array(2)
    w = rng.uniform(0.2, 3, c).astype(np.float32)
    for weighted, ignore, ls in itertools.product([False, True], [False, True], [0.0, 0.15]):
        tt = t.copy()
        if ignore and tt.ndim:
            tt.reshape(-1)[1::3] = 1  # ignore_index=1 is a real class here, as in a padding token
        what = f"{layout} {reduction} weighted={weighted} ignore={ignore} label_smoothing={ls}"
        kw = dict(ignore_index=1 if ignore else -100, reduction=reduction, label_smoothing=ls)
        xm, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ours = F.cross_entropy(xm, mg.tensor(tt), mg.tensor(w) if weighted else None, **kw)
        theirs = torch.nn.functional.cross_entropy(
            xt, torch.tensor(tt), torch.tensor(w) if weighted else None, **kw
        )
        if ignore and not tt.ndim and reduction == "mean":
            continue  # an unbatched ignored target averages 0 over 0 (NaN) in both
        if reduction == "none" and ours.size == 0:
            continue
        _compare(ours, theirs, xm, xt, what=what)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_probability_targets_match_torch(reduction):
    torch = _torch()
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4, 2)).astype(np.float32)
    p = rng.uniform(0, 1, (3, 4, 2)).astype(np.float32)
    p /= p.sum(axis=1, keepdims=True)
    w = rng.uniform(0.5, 2, 4).astype(np.float32)
    for weighted, ls in itertools.product([False, True], [0.0, 0.3]):
        xm, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        kw = dict(reduction=reduction, label_smoothing=ls)
        ours = F.cross_entropy(xm, mg.tensor(p), mg.tensor(w) if weighted else None, **kw)
        theirs = torch.nn.functional.cross_entropy(
            xt, torch.tensor(p), torch.tensor(w) if weighted else None, **kw
        )
        _compare(ours, theirs, xm, xt, what=f"weighted={weighted} ls={ls}")


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_matches_torch(reduction):
    torch = _torch()
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 3, 2)).astype(np.float32)
    t = rng.integers(0, 3, (5, 2))
    t[0, 0] = -100
    w = rng.uniform(0.5, 2, 3).astype(np.float32)
    xm, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours = F.nll_loss(xm, mg.tensor(t), mg.tensor(w), reduction=reduction)
    theirs = torch.nn.functional.nll_loss(xt, torch.tensor(t), torch.tensor(w), reduction=reduction)
    _compare(ours, theirs, xm, xt)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "name", ["mse_loss", "l1_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits"]
)
def test_elementwise_losses_match_torch(name, reduction):
    torch = _torch()
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    y = rng.uniform(0, 1, (4, 3)).astype(np.float32)
    if name == "binary_cross_entropy":
        x = 1 / (1 + np.exp(-x))
        x[0, 0], x[1, 1] = 0.0, 1.0  # the clamped logs
    if name == "binary_cross_entropy_with_logits":
        x[0, 0] = 0.0  # the kink of |x| and max(x, 0)
    xm, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours = getattr(F, name)(xm, mg.tensor(y), reduction=reduction)
    theirs = getattr(torch.nn.functional, name)(xt, torch.tensor(y), reduction=reduction)
    if name == "binary_cross_entropy":
        # PyTorch's gradient at exactly 0 and 1 is w (x - y) / max(x (1 - x), 1e-12); ours is the
        # gradient of the clamped formula, 0 there. Compare values everywhere, gradients elsewhere.
        np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-5, atol=1e-5)
        inner = np.ones(x.shape, bool)
        inner[0, 0] = inner[1, 1] = False
        (ours.sum() if ours.ndim else ours).backward()
        (theirs.sum() if theirs.ndim else theirs).backward()
        np.testing.assert_allclose(
            xm.grad.numpy()[inner], xt.grad.numpy()[inner], rtol=1e-4, atol=1e-6
        )
        return
    _compare(ours, theirs, xm, xt)


def test_weighted_binary_losses_match_torch():
    torch = _torch()
    rng = np.random.default_rng(4)
    x = rng.standard_normal((5, 3)).astype(np.float32)
    y = (rng.uniform(0, 1, (5, 3)) > 0.5).astype(np.float32)
    w = rng.uniform(0.5, 2, (5, 1)).astype(np.float32)
    pw = rng.uniform(0.5, 3, 3).astype(np.float32)
    xm, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours = F.binary_cross_entropy_with_logits(
        xm, mg.tensor(y), mg.tensor(w), pos_weight=mg.tensor(pw)
    )
    theirs = torch.nn.functional.binary_cross_entropy_with_logits(
        xt, torch.tensor(y), torch.tensor(w), pos_weight=torch.tensor(pw)
    )
    _compare(ours, theirs, xm, xt)
    p = 1 / (1 + np.exp(-x))
    xm, xt = mg.tensor(p, requires_grad=True), torch.tensor(p, requires_grad=True)
    ours = F.binary_cross_entropy(xm, mg.tensor(y), mg.tensor(w), reduction="sum")
    theirs = torch.nn.functional.binary_cross_entropy(
        xt, torch.tensor(y), torch.tensor(w), reduction="sum"
    )
    _compare(ours, theirs, xm, xt, rtol=1e-4)


# ---- extreme inputs -------------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bce_gradient_at_saturated_probabilities_matches_torch(reduction, dtype):
    # PyTorch's gradient is (x - y) / max(x (1 - x), 1e-12), also where the clamped logs are flat
    p = np.array([0.0, 1.0, 1e-15, 1 - 1e-13, 0.5, 0.9], dtype)
    y = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.25], dtype)
    x = mg.tensor(p, requires_grad=True)
    loss = F.binary_cross_entropy(x, mg.tensor(y), reduction=reduction)
    scale = 1 / len(p) if reduction == "mean" else 1.0
    expected = (p - y) / np.maximum(p * (1 - p), 1e-12) * scale
    (loss if reduction != "none" else loss.sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-5)
    with np.errstate(divide="ignore"):
        per = -(y * np.maximum(np.log(p), -100) + (1 - y) * np.maximum(np.log1p(-p), -100))
    reduced = {"none": per, "sum": per.sum(), "mean": per.mean()}[reduction]
    np.testing.assert_allclose(loss.numpy(), reduced, rtol=1e-5)
    torch = _torch()
    x, xt = mg.tensor(p, requires_grad=True), torch.tensor(p, requires_grad=True)
    theirs = torch.nn.BCELoss(reduction=reduction)(xt, torch.tensor(y))
    _compare(nn.BCELoss(reduction=reduction)(x, mg.tensor(y)), theirs, x, xt, rtol=1e-5)


def test_bce_double_backward():
    rng = np.random.default_rng(3)
    x = mg.tensor(rng.uniform(0.05, 0.95, (3, 2)), requires_grad=True)
    y = mg.tensor(rng.uniform(0, 1, (3, 2)), requires_grad=True)
    w = mg.tensor(rng.uniform(0.5, 2, (3, 2)))
    assert gradgradcheck(lambda x, y: F.binary_cross_entropy(x, y, w), (x, y))
    assert gradgradcheck(lambda x, y: F.binary_cross_entropy(x, y, reduction="none"), (x, y))


def test_losses_are_finite_for_huge_logits_in_float32():
    x = mg.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0]], requires_grad=True)
    t = mg.tensor([1, 1])
    for kw in ({}, {"label_smoothing": 0.1}, {"weight": mg.tensor([1.0, 2.0, 3.0])}):
        x.grad = None
        loss = F.cross_entropy(x, t, **kw)
        loss.backward()
        assert np.isfinite(loss.item()) and np.isfinite(x.grad.numpy()).all()
    np.testing.assert_allclose(F.cross_entropy(x, t).item(), (2e4 + 0.0) / 2, rtol=1e-6)
    logits = mg.tensor([1e4, -1e4, 1e4, -1e4, 0.0], requires_grad=True)
    y = mg.tensor([1.0, 0.0, 0.0, 1.0, 1.0])
    loss = F.binary_cross_entropy_with_logits(logits, y, reduction="none")
    np.testing.assert_allclose(loss.numpy(), [0.0, 0.0, 1e4, 1e4, np.log(2)], rtol=1e-6)
    loss.sum().backward()
    np.testing.assert_allclose(logits.grad.numpy(), [0.0, 0.0, 1.0, -1.0, -0.5], atol=1e-7)
    loss = F.binary_cross_entropy_with_logits(logits, y, pos_weight=mg.tensor([3.0]))
    assert np.isfinite(loss.item())
    probs = mg.tensor([0.0, 1.0, 0.5], requires_grad=True)
    loss = F.binary_cross_entropy(probs, mg.tensor([1.0, 0.0, 1.0]), reduction="none")
    np.testing.assert_allclose(
        loss.numpy(), [100.0, 100.0, np.log(2)], rtol=1e-6
    )  # logs clamped at -100
    loss.sum().backward()
    assert np.isfinite(probs.grad.numpy()).all()


@pytest.mark.filterwarnings("error")  # no 0 / 0 warnings from NumPy either
@pytest.mark.parametrize("weight", [None, [0.0, 1.0, 2.0]])
def test_all_targets_ignored_gives_nan_mean_and_zero_gradients_like_torch(weight):
    # PyTorch: mean over no (or only zero-weight) targets is NaN, and the gradient is zero, not NaN
    x = mg.randn(2, 3, requires_grad=True)
    target = mg.tensor([-100, -100]) if weight is None else mg.tensor([0, 0])
    w = None if weight is None else mg.tensor(weight)
    loss = F.cross_entropy(x, target, weight=w)
    assert np.isnan(loss.item())
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((2, 3), dtype=np.float32))
    total = F.cross_entropy(mg.randn(2, 3), target, weight=w, reduction="sum")
    assert total.item() == 0.0


def test_all_targets_ignored_matches_torch():
    torch = _torch()
    x = np.random.default_rng(0).standard_normal((4, 5))
    xt = torch.tensor(x, requires_grad=True)
    lt = torch.nn.functional.cross_entropy(xt, torch.tensor([-100] * 4), label_smoothing=0.1)
    lt.backward()
    xm = mg.tensor(x, requires_grad=True)
    lm = F.cross_entropy(xm, mg.tensor([-100] * 4), label_smoothing=0.1)
    lm.backward()
    assert np.isnan(lm.item()) and np.isnan(lt.item())
    np.testing.assert_array_equal(xm.grad.numpy(), xt.grad.numpy())


# ---- validation -----------------------------------------------------------------------------------------


def test_cross_entropy_validation_names_function_and_shapes():
    x = mg.randn(4, 3)
    with pytest.raises(ValueError, match=r"cross_entropy: .*\(4, 3\).*\(4,\).*\(4, 1\)"):
        F.cross_entropy(x, mg.tensor([[0], [1], [2], [0]]))
    with pytest.raises(TypeError, match="cross_entropy: target must hold integer class indices"):
        F.cross_entropy(x, mg.tensor([True, False, True, True]))
    with pytest.raises(ValueError, match="class probabilities.*input's shape"):
        F.cross_entropy(x, mg.tensor([0.0, 1.0, 2.0, 0.0]))
    with pytest.raises(
        IndexError, match=r"cross_entropy: target class index 3 is out of range for 3 classes"
    ):
        F.cross_entropy(x, mg.tensor([0, 1, 3, 0]))
    with pytest.raises(IndexError, match="index -2"):
        F.cross_entropy(x, mg.tensor([0, 1, -2, 0]))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(x, mg.tensor([0, 1, 2, 0]), reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, mg.tensor([0, 1, 2, 0]), label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\)"):
        F.cross_entropy(x, mg.tensor([0, 1, 2, 0]), mg.ones(4))
    with pytest.raises(TypeError, match="floating point"):
        F.cross_entropy(mg.tensor([[1, 2]]), mg.tensor([0]))
    with pytest.raises(ValueError, match=r"\(2, 3, 4\).*\(2, 4\)"):
        F.cross_entropy(mg.randn(2, 3, 4), mg.tensor([0, 1]))
    with pytest.raises(TypeError):
        F.cross_entropy(
            x, mg.tensor([0, 1, 2, 0]), None, -100
        )  # options after weight are keyword-only


def test_elementwise_loss_validation():
    with pytest.raises(
        ValueError, match=r"mse_loss: target shape \(4,\) differs from input shape \(4, 1\)"
    ):
        F.mse_loss(mg.randn(4, 1), mg.randn(4))
    with pytest.raises(ValueError, match="l1_loss"):
        F.l1_loss(mg.randn(2), mg.randn(3))
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(mg.tensor([1.5]), mg.tensor([1.0]))
    with pytest.raises(ValueError, match="binary_cross_entropy_with_logits: target shape"):
        F.binary_cross_entropy_with_logits(mg.randn(3), mg.randn(3, 1))
    with pytest.raises(ValueError, match="weight of shape"):
        F.binary_cross_entropy_with_logits(mg.randn(3), mg.randn(3), mg.ones(2))
    with pytest.raises(IndexError, match="nll_loss"):
        F.nll_loss(mg.randn(2, 3), mg.tensor([0, 5]))


# ---- modules --------------------------------------------------------------------------------------------


def test_loss_modules_match_functions_and_keep_weights_as_buffers():
    rng = np.random.default_rng(5)
    x = mg.tensor(rng.standard_normal((6, 4)))
    t = mg.tensor(rng.integers(0, 4, 6))
    w = mg.tensor(rng.uniform(0.5, 2, 4))
    crit = nn.CrossEntropyLoss(weight=w, ignore_index=2, label_smoothing=0.1)
    expected = F.cross_entropy(x, t, w, ignore_index=2, label_smoothing=0.1)
    assert crit(x, t).item() == expected.item()
    assert list(crit.state_dict()) == ["weight"]
    assert list(nn.CrossEntropyLoss().state_dict()) == []
    assert nn.NLLLoss(reduction="sum")(x, t).item() == F.nll_loss(x, t, reduction="sum").item()
    y = mg.tensor(rng.uniform(0, 1, (6, 4)))
    assert nn.MSELoss()(x, y).item() == F.mse_loss(x, y).item()
    assert nn.L1Loss(reduction="none")(x, y).shape == (6, 4)
    assert nn.BCELoss()(y, y).item() == F.binary_cross_entropy(y, y).item()
    pw = mg.tensor([1.0, 2.0, 3.0, 4.0])
    bce = nn.BCEWithLogitsLoss(pos_weight=pw)
    assert bce(x, y).item() == F.binary_cross_entropy_with_logits(x, y, pos_weight=pw).item()
    assert list(bce.state_dict()) == ["pos_weight"]
    assert repr(nn.MSELoss(reduction="sum")) == "MSELoss(reduction='sum')"
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")


@pytest.mark.filterwarnings("error")  # no 0 / 0 warnings from NumPy either
def test_all_targets_weighted_zero_with_label_smoothing_gives_zero_gradients():
    # the uniform (smoothing) term is nonzero for a target of weight 0; 'mean' divides by 0, so the
    # gradient must still be zero, as without smoothing (PyTorch's is NaN)
    x = mg.tensor([[1.0, 2.0, 3.0], [0.0, 1.0, 0.0]], dtype=mg.float64, requires_grad=True)
    w = mg.tensor([0.0, 1.0, 1.0], dtype=mg.float64)
    loss = F.cross_entropy(x, mg.tensor([0, 0]), weight=w, label_smoothing=0.3)
    assert np.isnan(loss.item())
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((2, 3)))


@pytest.mark.filterwarnings("error")  # no NumPy RuntimeWarnings leak out
@pytest.mark.parametrize(
    "name, make_input",
    [
        ("mse_loss", lambda: mg.zeros(0, 3)),
        ("l1_loss", lambda: mg.zeros(0, 3)),
        ("binary_cross_entropy", lambda: mg.zeros(0, 3)),
        ("binary_cross_entropy_with_logits", lambda: mg.zeros(0, 3)),
        ("cross_entropy", lambda: mg.zeros(0, 3)),  # probability targets
    ],
)
def test_mean_over_an_empty_batch_is_nan_like_torch(name, make_input):
    x = make_input().requires_grad_()
    loss = getattr(F, name)(x, mg.zeros(0, 3))
    assert loss.shape == () and np.isnan(loss.item())
    loss.backward()
    assert x.grad.shape == (0, 3)
    assert getattr(F, name)(make_input(), mg.zeros(0, 3), reduction="sum").item() == 0.0
    torch = _torch()
    assert np.isnan(getattr(torch.nn.functional, name)(torch.zeros(0, 3), torch.zeros(0, 3)).item())


@pytest.mark.parametrize("name", ["binary_cross_entropy", "binary_cross_entropy_with_logits"])
def test_bce_weight_larger_than_the_input_is_an_error(name):
    # broadcasting would silently turn a loss over 2 elements into one over 6 (PyTorch raises too)
    x, y = mg.tensor([0.25, 0.75]), mg.tensor([0.0, 1.0])
    with pytest.raises(ValueError, match=rf"{name}: weight of shape \(3, 2\) .* shape \(2,\)"):
        getattr(F, name)(x, y, mg.ones(3, 2))
    if name == "binary_cross_entropy_with_logits":
        with pytest.raises(ValueError, match=rf"{name}: pos_weight of shape \(3, 2\) .* \(2,\)"):
            F.binary_cross_entropy_with_logits(x, y, pos_weight=mg.ones(3, 2))
        with pytest.raises(ValueError, match=r"pos_weight of shape \(3,\)"):
            F.binary_cross_entropy_with_logits(x, y, pos_weight=mg.ones(3))
        # a pos_weight that broadcasts to the input, e.g. (C,) or (N, 1), is fine
        z = mg.zeros(2, 3)
        assert F.binary_cross_entropy_with_logits(z, z, pos_weight=mg.ones(3)).shape == ()
        assert F.binary_cross_entropy_with_logits(z, z, pos_weight=mg.ones(2, 1)).shape == ()
    torch = _torch()
    with pytest.raises(RuntimeError, match="broadcast shape"):
        getattr(torch.nn.functional, name)(torch.tensor([0.25, 0.75]), torch.tensor([0.0, 1.0]),
                                           torch.ones(3, 2))  # fmt: skip


LEGACY = [  # (size_average, reduce) -> the reduction PyTorch's _Reduction.legacy_get_string picks
    ((False, None), "sum"),
    ((None, False), "none"),
    ((True, False), "none"),
    ((False, True), "sum"),
    ((True, None), "mean"),
]


@pytest.mark.parametrize("legacy, expected", LEGACY)
def test_loss_modules_take_torchs_positional_order_and_legacy_flags(legacy, expected):
    size_average, reduce = legacy
    modules = {
        "CrossEntropyLoss": lambda: nn.CrossEntropyLoss(None, size_average, -100, reduce),
        "NLLLoss": lambda: nn.NLLLoss(None, size_average, -100, reduce),
        "MSELoss": lambda: nn.MSELoss(size_average, reduce),
        "L1Loss": lambda: nn.L1Loss(size_average, reduce, "mean"),
        "BCELoss": lambda: nn.BCELoss(None, size_average, reduce),
        "BCEWithLogitsLoss": lambda: nn.BCEWithLogitsLoss(None, size_average, reduce, "mean"),
    }
    for name, make in modules.items():
        with pytest.warns(UserWarning, match=f"reduction='{expected}'"):
            crit = make()
        assert crit.reduction == expected, name
    # the brief's example: False is size_average (so 'sum'), not ignore_index=0
    x = mg.tensor([[1.0, 2.0, 3.0], [0.0, 1.0, 0.0]])
    t = mg.tensor([0, 0])
    with pytest.warns(UserWarning):
        got = nn.CrossEntropyLoss(None, False)(x, t)
    assert got.item() == F.cross_entropy(x, t, reduction="sum").item()


def test_loss_module_signatures_match_torch():
    torch = _torch()
    names = ["CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss"]
    for name in names:
        ours = list(inspect.signature(getattr(nn, name)).parameters)
        theirs = list(inspect.signature(getattr(torch.nn, name)).parameters)
        assert ours == theirs, name
        for size_average, reduce in [(False, None), (None, False), (0, None)]:
            with pytest.warns(UserWarning):
                want = getattr(torch.nn, name)(size_average=size_average, reduce=reduce).reduction
            with pytest.warns(UserWarning):
                got = getattr(nn, name)(size_average=size_average, reduce=reduce).reduction
            assert got == want, (name, size_average, reduce)


def test_loss_modules_without_legacy_flags_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert nn.CrossEntropyLoss(reduction="none").reduction == "none"
        assert nn.MSELoss().reduction == "mean"
