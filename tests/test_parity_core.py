"""PyTorch parity of the core ops at their edges: dtype promotion, NaN and zero gradients, empty indices and
pieces. Expected values are PyTorch's (checked against torch when it imports), except where a comment says
why minigrad differs."""

import numpy as np
import pytest

import minigrad as mg
from minigrad.testing import gradcheck, gradgradcheck

nan = float("nan")


def _t(values, device, requires_grad=True):
    return mg.tensor(
        np.asarray(values, dtype=np.float64), device=device, requires_grad=requires_grad
    )


# ---- dtype promotion ------------------------------------------------------------------------------------


@pytest.mark.parametrize("scalar", [np.float16, np.float32, np.float64])
def test_numpy_float_scalar_with_int_tensor_acts_as_a_python_float(device, scalar):
    x = mg.tensor([1, 2, 3], device=device)
    out = x * scalar(0.5)
    assert out.dtype == mg.float32
    np.testing.assert_array_equal(out.numpy(), [0.5, 1.0, 1.5])
    assert (x + scalar(0.5)).dtype == mg.float32
    assert (scalar(0.5) * x).dtype == mg.float32
    np.testing.assert_array_equal((mg.tensor([2, 3], device=device) == scalar(2.5)).numpy(), [0, 0])
    m = mg.maximum(x, scalar(2.5))
    assert m.dtype == mg.float32
    np.testing.assert_array_equal(m.numpy(), [2.5, 2.5, 3.0])
    w = mg.where(x > 1, x, scalar(0.5))
    assert w.dtype == mg.float32
    np.testing.assert_array_equal(w.numpy(), [0.5, 2.0, 3.0])
    assert (x ** scalar(0.5)).dtype == mg.float32
    # a float tensor keeps its own dtype, whatever the width of the NumPy scalar (as in torch)
    assert (mg.tensor([1.0], dtype=mg.float16, device=device) * np.float64(0.1)).dtype == mg.float16


def _i64(device):
    return mg.tensor([1, 2, 3], device=device)


def _f32(device):
    return mg.tensor([1.0, 2.0, 3.0], device=device)


def _f64(device):
    return mg.tensor(np.array([1.0, 2.0, 3.0]), device=device)


MIXED = [
    ("add", lambda a, b: a + b),
    ("sub", lambda a, b: a - b),
    ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / b),
    ("pow", lambda a, b: a**b),
    ("maximum", mg.maximum),
    ("minimum", mg.minimum),
    ("where", lambda a, b: mg.where(mg.tensor([True, False, True], device=a.device), a, b)),
    ("clip", lambda a, b: mg.clip(a, b, None)),
    ("concatenate", lambda a, b: mg.concatenate([a, b])),
    ("stack", lambda a, b: mg.stack([a, b])),
]


@pytest.mark.parametrize("name,fn", MIXED, ids=[m[0] for m in MIXED])
def test_int_with_float_tensor_takes_the_float_dtype(device, name, fn):
    i, f, d = _i64(device), _f32(device), _f64(device)
    assert fn(i, f).dtype == mg.float32  # NumPy alone would give float64
    assert fn(f, i).dtype == mg.float32
    assert fn(i, d).dtype == mg.float64
    assert fn(f, d).dtype == mg.float64  # two floats: the wider
    assert fn(mg.tensor([True, False, True], device=device), f).dtype == mg.float32


def test_mixed_dtypes_match_torch(device):
    torch = pytest.importorskip("torch")
    for name, fn in MIXED:
        if name == "clip":
            tfn = lambda a, b: torch.clamp(a, b, None)  # noqa: E731
        elif name == "concatenate":
            tfn = lambda a, b: torch.cat([a, b])  # noqa: E731
        elif name == "stack":
            tfn = lambda a, b: torch.stack([a, b])  # noqa: E731
        elif name == "where":
            tfn = lambda a, b: torch.where(torch.tensor([True, False, True]), a, b)  # noqa: E731
        elif name in ("maximum", "minimum"):
            tfn = getattr(torch, name)
        else:
            tfn = fn
        for a, b in [(_i64, _f32), (_f32, _i64), (_i64, _i64), (_f32, _f64)]:
            ma, mb = a(device), b(device)
            ta, tb = torch.from_numpy(ma.numpy()), torch.from_numpy(mb.numpy())
            want = str(tfn(ta, tb).dtype).replace("torch.", "")
            assert str(fn(ma, mb).dtype) == want, (name, ma.dtype, mb.dtype)


def test_true_division_of_integers_gives_the_default_float(device):
    i = _i64(device)
    for out in (i / i, i / 2, 5 / i, i / mg.tensor([True, True, True], device=device)):
        assert out.dtype == mg.float32
    np.testing.assert_allclose((i / i).numpy(), [1.0, 1.0, 1.0])


def test_mixed_dtype_gradients_come_back_in_each_inputs_dtype(device):
    x = mg.tensor([1.0, 2.0], requires_grad=True, device=device)
    y = _t([3.0, 4.0], device)
    (x * y + x * mg.tensor([1, 2], device=device)).sum().backward()
    assert x.grad.dtype == mg.float32 and y.grad.dtype == mg.float64
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 6.0])
    np.testing.assert_allclose(y.grad.numpy(), [1.0, 2.0])


def test_where_of_python_numbers_keeps_their_dtype(device):
    c = mg.tensor([True, False, True], device=device)
    out = mg.where(c, 2, 1)
    assert out.dtype == mg.int64
    np.testing.assert_array_equal(out.numpy(), [2, 1, 2])
    assert mg.where(c, 2, 1.5).dtype == mg.float32
    assert mg.where(c, True, False).dtype == mg.bool_
    assert mg.where(c, 2, True).dtype == mg.int64
    assert mg.where(c, 2.5, 1.5).dtype == mg.float32


def test_clone_keeps_the_dtype(device):
    for data, dtype in [([True, False], mg.bool_), ([1, 2], mg.uint8), ([1, 2], mg.int64)]:
        x = mg.tensor(data, dtype=dtype, device=device)
        c = x.clone()
        assert c.dtype == x.dtype
        np.testing.assert_array_equal(c.numpy(), x.numpy())
        c[0] = c[1]
        assert x.numpy()[0] == data[0]  # a copy, not a view
    x = _t([1.0, 2.0], device)
    x.clone().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])


# ---- clip -----------------------------------------------------------------------------------------------


def test_clip_tensor_bounds_get_gradients_like_torch_clamp(device):
    x = _t([-1.0, 0.0, 0.5, 1.0, 2.0], device)
    lo = _t([0.0, 0.0, 1.0, 1.0, 1.0], device)
    hi = _t([0.5] * 5, device)
    out = mg.clip(x, lo, hi)
    np.testing.assert_array_equal(out.numpy(), [0.0, 0.0, 0.5, 0.5, 0.5])
    out.backward(mg.tensor(np.arange(1.0, 6.0), device=device))
    np.testing.assert_array_equal(x.grad.numpy(), [0, 2, 0, 0, 0])  # ties keep x's gradient
    np.testing.assert_array_equal(lo.grad.numpy(), [1, 0, 0, 0, 0])
    np.testing.assert_array_equal(hi.grad.numpy(), [0, 0, 3, 4, 5])  # min > max: max everywhere
    x = _t([-1.0, 0.5, 2.0], device)
    lo = _t(0.0, device)
    hi = _t([1.0], device)
    mg.clip(x, lo, hi).sum().backward()
    assert lo.grad.item() == 1.0 and hi.grad.numpy().tolist() == [1.0]  # broadcast bounds sum back
    assert gradcheck(lambda a, b, c: mg.clip(a, b, c), (x, lo, hi))
    assert gradgradcheck(lambda a, b, c: mg.clip(a, b, c) ** 2, (x, lo, hi))


def test_clip_with_min_above_max_gives_max_and_no_gradient_to_x(device):
    x = _t([-1.0, 0.0, 0.5, 1.0, 2.0], device)
    out = x.clip(1.0, 0.0)
    np.testing.assert_array_equal(out.numpy(), np.zeros(5))
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros(5))


def test_clip_nan_stays_nan_without_gradient(device):
    x = _t([nan, 0.5], device)
    lo = _t([0.0, 2.0], device)
    out = mg.clip(x, lo)
    assert np.isnan(out.numpy()[0]) and out.numpy()[1] == 2.0
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])
    np.testing.assert_array_equal(lo.grad.numpy(), [0.0, 1.0])
    assert mg.clip(mg.tensor([1, 2, 3], device=device), 1.5, 2.5).dtype == mg.float32


def test_clip_matches_torch_clamp(device):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    xs, los, his = (rng.integers(-2, 3, 12).astype(float) for _ in range(3))
    x, lo, hi = (_t(v, device) for v in (xs, los, his))
    tx, tlo, thi = (torch.tensor(v, requires_grad=True) for v in (xs, los, his))
    g = rng.standard_normal(12)
    mg.clip(x, lo, hi).backward(mg.tensor(g, device=device))
    torch.clamp(tx, tlo, thi).backward(torch.tensor(g))
    np.testing.assert_allclose(mg.clip(x, lo, hi).numpy(), torch.clamp(tx, tlo, thi).detach())
    np.testing.assert_allclose(x.grad.numpy(), tx.grad)
    # torch gives max's gradient nowhere where min == max and x < min; minigrad gives it to min
    keep = ~((los == his) & (xs < los))
    np.testing.assert_allclose(lo.grad.numpy()[keep], tlo.grad[keep])
    np.testing.assert_allclose(hi.grad.numpy()[keep], thi.grad[keep])
    np.testing.assert_allclose((lo.grad + hi.grad).numpy()[~keep], g[~keep])


# ---- gradients at singular points -----------------------------------------------------------------------


# 0 ** -1 = inf and log(0) = -inf are the point of these tests: NumPy warns about them
@pytest.mark.filterwarnings(
    "ignore:divide by zero:RuntimeWarning", "ignore:invalid value:RuntimeWarning"
)
def test_pow_tensor_exponent_gradients_at_zero(device):
    x = _t([0.0, 0.0, 0.0, -2.0, 3.0], device)
    y = _t([0.0, -1.0, 2.0, 2.0, 0.5], device)
    gx, gy = mg.grad((x**y).sum(), (x, y))
    # torch: d/dx is 0 where y == 0; d/dy is 0 where x == 0 and y >= 0, else out * log(x)
    np.testing.assert_allclose(gx.numpy(), [0.0, -np.inf, 0.0, -4.0, 0.5 / np.sqrt(3)])
    np.testing.assert_allclose(
        gy.numpy()[[0, 1, 2, 4]], [0.0, -np.inf, 0.0, np.sqrt(3) * np.log(3)]
    )
    assert np.isnan(gy.numpy()[3])  # log of a negative base, as in torch
    # second order stays finite at x == y == 0 (torch gives nan there)
    x0, y0 = _t([0.0, 1.5], device), _t([0.0, 2.0], device)
    gx, gy = mg.grad((x0**y0).sum(), (x0, y0), create_graph=True)
    ggx, ggy = mg.grad((gx + gy).sum(), (x0, y0))
    assert np.isfinite(ggx.numpy()).all() and np.isfinite(ggy.numpy()).all()
    assert gradgradcheck(lambda a, b: a**b, (_t([0.5, 1.5], device), _t([-1.0, 2.0], device)))


@pytest.mark.filterwarnings(
    "ignore:divide by zero:RuntimeWarning", "ignore:invalid value:RuntimeWarning"
)
def test_pow_tensor_exponent_gradients_match_torch(device):
    torch = pytest.importorskip("torch")
    xs = np.array([0.0, 0.0, 0.0, 3.0, 0.0, 1.0])
    ys = np.array([0.0, -1.0, 2.0, 0.5, 1.0, 0.0])
    x, y = _t(xs, device), _t(ys, device)
    tx, ty = (torch.tensor(v, requires_grad=True) for v in (xs, ys))
    (x**y).sum().backward()
    (tx**ty).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad)
    np.testing.assert_allclose(y.grad.numpy(), ty.grad)


def test_std_of_constant_input_has_zero_gradient(device):
    x = _t([2.0, 2.0, 2.0], device)
    s = x.std()
    assert s.item() == 0.0
    s.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0])
    x = _t([[1.0, 1.0], [1.0, 3.0]], device)
    x.std(axis=1).sum().backward()  # only the constant row is masked
    np.testing.assert_allclose(x.grad.numpy(), [[0.0, 0.0], [-np.sqrt(0.5), np.sqrt(0.5)]])
    assert gradgradcheck(
        lambda t: mg.std(t, axis=1), _t([[1.0, 2.0, 4.0], [0.5, 0.1, 3.0]], device)
    )


def test_max_with_nan_sends_the_gradient_to_the_nan(device):
    x = _t([1.0, nan, 2.0, nan], device)
    x.max().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.5, 0.0, 0.5])  # shared, as torch's max()
    x = _t([[1.0, nan], [2.0, 3.0]], device)
    # NOTE: torch's amax gives nan everywhere here, its max(dim) sends g to the NaN's index
    x.max(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 1.0], [0.0, 1.0]])
    x = _t([1.0, nan, 2.0], device)
    x.min().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 0.0])


def test_maximum_with_nan_sends_the_gradient_to_the_nan_operand(device):
    # NOTE: torch gives the full gradient to both operands when either is NaN (their sum is then 2 g);
    # minigrad treats a NaN as the larger value, the one the output came from (both NaN: a tie, split)
    x = _t([nan, 2.0, nan, 1.0], device)
    y = _t([1.0, nan, nan, 1.0], device)
    mg.maximum(x, y).backward(mg.tensor(np.array([1.0, 10.0, 100.0, 1000.0]), device=device))
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 0.0, 50.0, 500.0])
    np.testing.assert_array_equal(y.grad.numpy(), [0.0, 10.0, 50.0, 500.0])
    x, y = _t([nan, 2.0], device), _t([1.0, nan], device)
    mg.minimum(x, y).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 0.0])
    np.testing.assert_array_equal(y.grad.numpy(), [0.0, 1.0])


# ---- empty indices and pieces -----------------------------------------------------------------------------


def test_getitem_with_an_empty_list(device):
    x = _t(np.arange(12.0).reshape(3, 4), device)
    out = x[[]]
    assert out.shape == (0, 4)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((3, 4)))
    assert x[[], 1].shape == (0,)
    assert x[:, []].shape == (3, 0)


def test_chunk_and_split_of_an_empty_axis(device):
    z = mg.zeros(0, device=device)
    assert [p.shape for p in z.chunk(3)] == [(0,), (0,), (0,)]  # torch: `chunks` empty pieces
    assert [p.shape for p in z.chunk(1)] == [(0,)]
    assert [p.shape for p in z.split(2)] == [(0,)]  # torch: one empty piece
    assert [p.shape for p in mg.zeros(2, 0, device=device).chunk(2, axis=1)] == [(2, 0), (2, 0)]
    x = _t(np.zeros((0, 2)), device)
    mg.concatenate(x.split(3) + x.chunk(2)).sum().backward()
    assert x.grad.shape == (0, 2)


def test_empty_pieces_match_torch(device):
    torch = pytest.importorskip("torch")
    for shape, axis in [((0,), 0), ((0, 3), 0), ((3, 0), 1)]:
        for n in (1, 2, 3, 5):
            t = torch.zeros(shape)
            z = mg.zeros(shape, device=device)
            assert [p.shape for p in z.chunk(n, axis)] == [tuple(p.shape) for p in t.chunk(n, axis)]
            assert [p.shape for p in z.split(n, axis)] == [tuple(p.shape) for p in t.split(n, axis)]
