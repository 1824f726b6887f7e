"""Gradient clipping: clip_grad_norm_ and clip_grad_value_ against a NumPy formula (always) and PyTorch
(when installed)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad.nn.utils import clip_grad_norm_, clip_grad_value_

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(
    torch is None, reason="PyTorch is not installed (the formula tests cover this)"
)

SHAPES = [(3, 4), (5,), ()]


def _grads(seed, scale=1.0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [np.asarray(scale * rng.standard_normal(s), dtype=dtype) for s in SHAPES]


def _params(grads, device="cpu"):
    params = []
    for g in grads:
        p = mg.zeros(*g.shape, dtype=g.dtype, device=device, requires_grad=True)
        p.grad = mg.tensor(g, device=device)
        params.append(p)
    return params


def formula_norm(grads, norm_type):
    flat = np.concatenate([g.reshape(-1) for g in grads])
    if norm_type == math.inf:
        return np.abs(flat).max()
    return (np.abs(flat) ** norm_type).sum() ** (1 / norm_type)


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    scale=st.sampled_from([1e-3, 1.0, 50.0]),
    max_norm=st.floats(0.01, 20.0),
    norm_type=st.sampled_from([1.0, 2.0, 3.0, math.inf]),
)
def test_clip_grad_norm_matches_formula_and_torch(seed, scale, max_norm, norm_type):
    grads = _grads(seed, scale)
    params = _params(grads)
    total = clip_grad_norm_(params, max_norm, norm_type=norm_type)
    want_total = formula_norm(grads, norm_type)
    assert isinstance(total, mg.Tensor) and total.shape == ()
    np.testing.assert_allclose(total.item(), want_total, rtol=1e-10)
    coef = min(1.0, max_norm / (want_total + 1e-6))
    for p, g in zip(params, grads):
        np.testing.assert_allclose(p.grad.numpy(), g * coef, rtol=1e-10, atol=1e-15)
    if want_total > max_norm:
        # the clipped norm is max_norm, up to the 1e-6 that guards the division
        clipped = formula_norm([p.grad.numpy() for p in params], norm_type)
        np.testing.assert_allclose(clipped, max_norm * want_total / (want_total + 1e-6), rtol=1e-10)
        assert clipped <= max_norm
    if torch is not None:
        tparams = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
        for p, g in zip(tparams, grads):
            p.grad = torch.tensor(g)
        ttotal = torch.nn.utils.clip_grad_norm_(tparams, max_norm, norm_type=norm_type)
        np.testing.assert_allclose(total.item(), ttotal.item(), rtol=1e-10)
        for p, tp in zip(params, tparams):
            np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-10, atol=1e-15)


@needs_torch
def test_clip_grad_norm_float32_matches_torch():
    grads = _grads(3, 10.0, np.float32)
    params = _params(grads)
    total = clip_grad_norm_(params, 1.0)
    assert total.dtype == np.float32 and all(p.grad.dtype == np.float32 for p in params)
    tparams = [torch.zeros(g.shape, requires_grad=True) for g in grads]
    for p, g in zip(tparams, grads):
        p.grad = torch.tensor(g)
    ttotal = torch.nn.utils.clip_grad_norm_(tparams, 1.0)
    np.testing.assert_allclose(total.item(), ttotal.item(), rtol=1e-6)
    for p, tp in zip(params, tparams):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_clip_grad_norm_leaves_small_gradients_alone_and_skips_none():
    grads = _grads(1, 0.01)
    params = _params(grads)
    extra = mg.zeros(4, dtype=mg.float64, requires_grad=True)  # no grad: skipped
    total = clip_grad_norm_(params + [extra], max_norm=100.0)
    np.testing.assert_allclose(total.item(), formula_norm(grads, 2.0))
    for p, g in zip(params, grads):
        np.testing.assert_array_equal(p.grad.numpy(), g)
    assert extra.grad is None


def test_clip_grad_norm_single_tensor_and_generator():
    p = mg.zeros(2, dtype=mg.float64, requires_grad=True)
    p.grad = mg.tensor(np.array([3.0, 4.0]))
    assert clip_grad_norm_(p, 1.0).item() == pytest.approx(5.0)
    np.testing.assert_allclose(p.grad.numpy(), [0.6, 0.8], rtol=1e-5)
    q = mg.zeros(2, dtype=mg.float64, requires_grad=True)
    q.grad = mg.tensor(np.array([3.0, 4.0]))
    assert clip_grad_norm_((t for t in [q]), 10.0, norm_type="inf").item() == 4.0


def test_clip_grad_norm_without_gradients_returns_zero():
    p = mg.zeros(2, requires_grad=True)
    assert clip_grad_norm_([p], 1.0).item() == 0.0
    assert clip_grad_norm_([], 1.0).item() == 0.0


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_clip_grad_norm_raises_on_non_finite_norm(bad):
    grads = _grads(2)
    grads[0][1, 2] = bad
    params = _params(grads)
    with pytest.raises(RuntimeError, match="non-finite") as info:
        clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    message = str(info.value)
    assert "learning rate" in message and "error_if_nonfinite=False" in message
    np.testing.assert_array_equal(params[1].grad.numpy(), grads[1])  # nothing was scaled


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_clip_grad_norm_non_finite_when_allowed_spreads_like_torch():
    grads = _grads(2)
    grads[0][0, 0] = np.inf
    params = _params(grads)
    total = clip_grad_norm_(params, 1.0, error_if_nonfinite=False)
    assert total.item() == np.inf
    # scaled by 1 / inf = 0: finite entries become 0, the inf entry NaN (PyTorch does the same)
    assert np.all(params[1].grad.numpy() == 0) and np.isnan(params[0].grad.numpy()[0, 0])
    if torch is not None:
        t = torch.tensor(grads[0])
        p = torch.zeros(3, 4, dtype=torch.float64, requires_grad=True)
        p.grad = t
        torch.nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=False)
        np.testing.assert_array_equal(params[0].grad.numpy(), p.grad.numpy())


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_clip_grad_norm_does_not_raise_on_non_finite_norm_by_default(bad):
    grads = _grads(3)
    grads[1][0] = bad
    params = _params(grads)
    total = clip_grad_norm_(params, 1.0)  # PyTorch's default: error_if_nonfinite=False
    assert np.isnan(total.item()) if np.isnan(bad) else total.item() == np.inf
    assert np.isnan(params[1].grad.numpy()[0])  # scaled anyway: NaN spreads, as in PyTorch
    if torch is not None:
        tparams = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
        for t, g in zip(tparams, grads):
            t.grad = torch.tensor(g)
        ttotal = torch.nn.utils.clip_grad_norm_(tparams, 1.0)
        np.testing.assert_array_equal(total.numpy(), ttotal.numpy())
        for p, t in zip(params, tparams):
            np.testing.assert_array_equal(p.grad.numpy(), t.grad.numpy())


def test_clip_grad_norm_on_device(device):
    grads = _grads(5, 10.0)
    params = _params(grads, device=device)
    total = clip_grad_norm_(params, 2.0)
    assert total.device == mg.device(device)
    coef = 2.0 / (formula_norm(grads, 2.0) + 1e-6)
    for p, g in zip(params, grads):
        np.testing.assert_allclose(p.grad.numpy(), g * coef, rtol=1e-10)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**16), clip_value=st.floats(0.0, 2.0))
def test_clip_grad_value_matches_formula_and_torch(seed, clip_value):
    grads = _grads(seed)
    params = _params(grads)
    none = mg.zeros(3, requires_grad=True)
    assert clip_grad_value_(params + [none], clip_value) is None
    assert none.grad is None
    for p, g in zip(params, grads):
        np.testing.assert_array_equal(
            p.grad.numpy(), np.minimum(np.maximum(g, -clip_value), clip_value)
        )
    if torch is not None:
        for p, g in zip(params, grads):
            t = torch.zeros(g.shape, dtype=torch.float64, requires_grad=True)
            t.grad = torch.tensor(g)
            torch.nn.utils.clip_grad_value_(t, clip_value)
            np.testing.assert_array_equal(p.grad.numpy(), t.grad.numpy())


def test_clip_grad_value_single_tensor():
    p = mg.zeros(3, dtype=mg.float64, requires_grad=True)
    p.grad = mg.tensor(np.array([-5.0, 0.5, 5.0]))
    clip_grad_value_(p, 1.0)
    assert p.grad.numpy().tolist() == [-1.0, 0.5, 1.0]


def test_clipping_after_backward_and_before_step():
    w = mg.tensor(np.array([1.0, -2.0]), requires_grad=True)
    loss = (w * w * 10).sum()
    loss.backward()
    total = clip_grad_norm_([w], 1.0)
    np.testing.assert_allclose(total.item(), math.hypot(20.0, 40.0))
    np.testing.assert_allclose(np.linalg.norm(w.grad.numpy()), 1.0, rtol=1e-5)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda p: clip_grad_norm_(p, -1.0), ValueError, "max_norm"),
        (lambda p: clip_grad_value_(p, -0.5), ValueError, "clip_value"),
        (lambda p: clip_grad_norm_([p, "w"], 1.0), TypeError, r"parameters\[1\]"),
        (lambda p: clip_grad_value_([np.ones(2)], 1.0), TypeError, r"parameters\[0\]"),
    ],
)
def test_bad_arguments(call, exc, match):
    p = mg.zeros(2, requires_grad=True)
    p.grad = mg.ones(2)
    with pytest.raises(exc, match=match):
        call(p)
