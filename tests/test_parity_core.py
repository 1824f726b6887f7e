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


# ---- bitwise operators ------------------------------------------------------------------------------------


def test_bitwise_operators_on_integers(device):
    a, b = mg.tensor([1, 2, 12], device=device), mg.tensor([3, 3, 10], device=device)
    for out, want in [(a & b, [1, 2, 8]), (a | b, [3, 3, 14]), (a ^ b, [2, 1, 6]), (~a, [-2, -3, -13])]:
        assert out.dtype == mg.int64
        np.testing.assert_array_equal(out.numpy(), want)
    assert (mg.tensor([1, 2], dtype=mg.int32, device=device) & 3).dtype == mg.int32
    assert (mg.tensor([1], dtype=mg.uint8, device=device) | mg.tensor([3], device=device)).dtype == mg.int64
    # bools stay bool, and then the operators are the logical ones
    p, q = mg.tensor([True, True, False], device=device), mg.tensor([True, False, False], device=device)
    for out, want in [(p & q, [1, 0, 0]), (p | q, [1, 1, 0]), (p ^ q, [0, 1, 0]), (~p, [0, 0, 1])]:
        assert out.dtype == mg.bool_
        np.testing.assert_array_equal(out.numpy(), want)
    assert (p & 1).dtype == mg.int64 and (p & True).dtype == mg.bool_
    f = mg.tensor([1.0], device=device)
    for op in (lambda: f & 1, lambda: a | 1.5, lambda: f ^ f, lambda: ~f):
        with pytest.raises(TypeError, match="integer and bool"):
            op()


def test_bitwise_functions(device):
    a, b = mg.tensor([1, 2], device=device), mg.tensor([3, 3], device=device)
    np.testing.assert_array_equal(mg.ops.bitwise_and(a, b).numpy(), [1, 2])
    np.testing.assert_array_equal(mg.ops.bitwise_or(a, b).numpy(), [3, 3])
    np.testing.assert_array_equal(mg.ops.bitwise_xor(a, 3).numpy(), [2, 1])
    np.testing.assert_array_equal(mg.ops.bitwise_not(mg.tensor([1, 0], device=device)).numpy(), [-2, -1])
    with pytest.raises(TypeError, match="bitwise_not"):
        mg.ops.bitwise_not(mg.tensor([1.0], device=device))
    # the logical ops keep their meaning
    assert mg.ops.compare("and", a, b).dtype == mg.bool_
    np.testing.assert_array_equal(mg.ops.logical_not(mg.tensor([1, 0], device=device)).numpy(), [0, 1])


def test_bitwise_operators_match_torch(device):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    for dt in (np.int64, np.int32, np.uint8, np.bool_):
        xs, ys = rng.integers(0, 100, 6).astype(dt), rng.integers(0, 100, 6).astype(dt)
        x, y = mg.tensor(xs, device=device), mg.tensor(ys, device=device)
        tx, ty = torch.from_numpy(xs), torch.from_numpy(ys)
        for got, want in [(x & y, tx & ty), (x | y, tx | ty), (x ^ y, tx ^ ty), (~x, ~tx)]:
            assert str(got.dtype) == str(want.dtype).replace("torch.", "")
            np.testing.assert_array_equal(got.numpy(), want.numpy())


# ---- integer sums -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.bool_, np.uint8, np.int8, np.int16, np.int32, np.uint32, np.int64])
def test_integer_and_bool_sums_are_int64(device, dtype):
    x = mg.tensor(np.array([[1, 0], [1, 1]], dtype=dtype), device=device)
    for out in (x.sum(), x.sum(0), mg.sum(x, 1, keepdims=True)):
        assert out.dtype == mg.int64
    assert x.sum().item() == 3


def test_uint8_sum_does_not_wrap_around(device):
    x = mg.tensor(np.array([200, 100], np.uint8), device=device)
    out = x.sum() - 400
    assert out.dtype == mg.int64 and out.item() == -100


def test_integer_sums_match_torch(device):
    torch = pytest.importorskip("torch")
    for dt in (np.bool_, np.uint8, np.int8, np.int16, np.int32, np.int64):
        a = np.array([[1, 0, 1], [1, 1, 0]], dtype=dt)
        for axis in (None, 0, 1):
            got = mg.tensor(a, device=device).sum(axis)
            want = torch.from_numpy(a).sum() if axis is None else torch.from_numpy(a).sum(axis)
            assert str(got.dtype) == str(want.dtype).replace("torch.", "")
            np.testing.assert_array_equal(got.numpy(), want.numpy())


# ---- NumPy integers and 0-d integer tensors count as integers ---------------------------------------------


def test_arange_of_numpy_integers_is_int64(device):
    for args in [(np.int64(5),), (0, np.int32(4)), (np.int8(1), 7, np.int64(2)), (mg.tensor(5),)]:
        out = mg.arange(*args, device=device)
        assert out.dtype == mg.int64
    np.testing.assert_array_equal(mg.arange(mg.tensor(5), device=device).numpy(), np.arange(5))
    assert mg.arange(np.float64(2.0), device=device).dtype == mg.float32
    assert mg.arange(mg.tensor(2.0), device=device).dtype == mg.float32


def test_arange_dtypes_match_torch(device):
    torch = pytest.importorskip("torch")
    for args in [(np.int64(5),), (0, np.int32(4)), (0, np.float64(2.0)), (torch.tensor(5),)]:
        margs = tuple(mg.tensor(a.item()) if isinstance(a, torch.Tensor) else a for a in args)
        want = str(torch.arange(*args).dtype).replace("torch.", "")
        assert str(mg.arange(*margs, device=device).dtype) == want


N = np.int64


@pytest.mark.parametrize(
    "make",
    [
        lambda d: mg.zeros(N(3), device=d),
        lambda d: mg.ones(N(3), np.int32(1), device=d),
        lambda d: mg.empty((N(3),), device=d),
        lambda d: mg.full(N(3), 1.0, device=d),
        lambda d: mg.eye(N(3), device=d),
        lambda d: mg.eye(3, N(3), device=d),
        lambda d: mg.randn(N(3), device=d),
        lambda d: mg.rand(N(3), device=d),
        lambda d: mg.uniform(N(3), device=d),
        lambda d: mg.randperm(N(3), device=d),
        lambda d: mg.linspace(0, 1, N(3), device=d),
    ],
)
def test_numpy_integers_as_sizes(device, make):
    assert make(device).shape[0] == 3


def test_bools_and_floats_as_sizes_are_still_rejected(device):
    for size in (True, 3.0, np.float64(3), -1, np.int64(-1)):
        with pytest.raises(ValueError, match="sizes must be non-negative integers"):
            mg.zeros(size, device=device)


@pytest.mark.parametrize(
    "fn, shape",
    [
        (lambda x: x.sum(N(1)), (2,)),
        (lambda x: x.sum((N(0), 1)), ()),
        (lambda x: mg.sum(x, N(1)), (2,)),
        (lambda x: x.max(N(1)), (2,)),
        (lambda x: x.min(N(-1)), (2,)),
        (lambda x: x.mean(N(1)), (2,)),
        (lambda x: x.var(N(1)), (2,)),
        (lambda x: x.std(N(1)), (2,)),
        (lambda x: x.logsumexp(N(1)), (2,)),
        (lambda x: x.softmax(N(1)), (2, 3)),
        (lambda x: x.log_softmax(N(1)), (2, 3)),
        (lambda x: x.argmax(N(1)), (2,)),
        (lambda x: x.argmin(N(1)), (2,)),
        (lambda x: x.flatten(N(0)), (6,)),
        (lambda x: x.swapaxes(N(0), N(1)), (3, 2)),
        (lambda x: x.flip(N(0)), (2, 3)),
        (lambda x: x.unsqueeze(N(1)), (2, 1, 3)),
        (lambda x: x.squeeze(N(0)), (2, 3)),
        (lambda x: mg.concatenate([x, x], N(1)), (2, 6)),
        (lambda x: mg.stack([x, x], N(1)), (2, 2, 3)),
        (lambda x: x.index_select(N(1), [0]), (2, 1)),
        (lambda x: x.chunk(N(2))[0], (1, 3)),
        (lambda x: x.chunk(2, N(1))[0], (2, 2)),
        (lambda x: x.split(N(2), 1)[1], (2, 1)),
        (lambda x: x.sum(mg.tensor(1)), (2,)),
    ],
)
def test_numpy_integers_as_axes(device, fn, shape):
    x = _t(np.arange(6.0).reshape(2, 3), device)
    assert fn(x).shape == shape


def test_bools_and_floats_as_axes_are_still_rejected(device):
    x = mg.zeros(2, 3, device=device)
    for axis in (True, np.bool_(True), 1.0, np.float64(1)):
        for fn in (x.sum, x.mean, x.argmax, x.flip, lambda a: mg.stack([x, x], a)):
            with pytest.raises(TypeError, match="axis must be an int"):
                fn(axis)


# ---- squeeze --------------------------------------------------------------------------------------------


def test_squeeze_of_an_axis_that_is_not_of_size_1_is_a_no_op(device):
    x = _t(np.zeros((2, 1, 3)), device)
    assert x.squeeze(0).shape == (2, 1, 3)
    assert mg.squeeze(x, (0, 1)).shape == (2, 3)  # only the size-1 axes go
    assert mg.squeeze(x, -1).shape == (2, 1, 3)
    x.squeeze(0).sum().backward()
    assert x.grad.shape == (2, 1, 3)
    with pytest.raises(IndexError, match="squeeze"):
        x.squeeze(3)  # out of range is still an error


def test_squeeze_matches_torch(device):
    torch = pytest.importorskip("torch")
    t = torch.zeros(2, 1, 3, 1)
    x = mg.zeros(2, 1, 3, 1, device=device)
    for axis in (0, 1, 2, 3, -1, (0, 1), (0, 2), (1, 3)):
        assert mg.squeeze(x, axis).shape == tuple(t.squeeze(axis).shape)


# ---- degenerate reductions ---------------------------------------------------------------------------------


@pytest.mark.filterwarnings("error")  # and no NumPy RuntimeWarning leaks out
def test_mean_of_no_elements_is_nan(device):
    assert np.isnan(mg.zeros(0, device=device).mean().item())
    out = mg.zeros(2, 0, device=device).mean(1)
    assert out.shape == (2,) and np.isnan(out.numpy()).all()
    assert mg.zeros(2, 0, device=device).mean(0).shape == (0,)
    x = _t(np.zeros((2, 0)), device)
    x.mean().backward()
    assert x.grad.shape == (2, 0)
    x = _t(np.zeros((2, 0)), device)
    x.mean(1).sum().backward()
    assert x.grad.shape == (2, 0)


@pytest.mark.filterwarnings("error")
def test_var_and_std_without_degrees_of_freedom_are_nan(device):
    for fn in (mg.var, mg.std):
        assert np.isnan(fn(_t([1.0], device)).item())
        assert np.isnan(fn(_t([], device)).item())
        assert np.isnan(fn(_t([1.0, 2.0], device), correction=2).item())  # NOTE: torch gives inf here
        out = fn(_t([[1.0], [2.0]], device), axis=1)
        assert out.shape == (2,) and np.isnan(out.numpy()).all()
        x = _t([3.0], device)
        fn(x).backward()
        assert x.grad.shape == (1,)


def test_argmax_of_an_empty_tensor_along_a_non_empty_axis(device):
    z = mg.zeros(2, 0, device=device)
    for fn in (mg.argmax, mg.argmin):
        out = fn(z, 0)
        assert out.shape == (0,) and out.dtype == mg.int64
        assert fn(z, 0, keepdims=True).shape == (1, 0)
        for axis in (1, None):  # the reduced part is empty: an error, as in torch
            with pytest.raises(ValueError, match="empty"):
                fn(z, axis)
    assert mg.argmax(mg.tensor(2.0, device=device), 0).item() == 0


def test_degenerate_reductions_match_torch(device):
    torch = pytest.importorskip("torch")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns about the degrees of freedom
        for shape, axis in [((0,), None), ((2, 0), 1), ((2, 0), 0), ((1, 3), 0), ((3, 1), 1)]:
            t, x = torch.zeros(shape), mg.zeros(shape, device=device)
            for name in ("mean", "var", "std"):
                want = getattr(t, name)() if axis is None else getattr(t, name)(axis)
                got = getattr(x, name)(axis)
                assert got.shape == tuple(want.shape)
                np.testing.assert_array_equal(got.numpy(), want.numpy())  # (nan == nan here)
        t, x = torch.zeros(2, 0), mg.zeros(2, 0, device=device)
        assert x.argmax(0).shape == tuple(t.argmax(0).shape)


# ---- matmul promotion --------------------------------------------------------------------------------------


def test_matmul_of_int_and_float_takes_the_float_dtype(device):
    i32 = mg.tensor([[1, 2], [3, 4]], dtype=mg.int32, device=device)
    f32 = mg.tensor([[1.0], [0.5]], device=device)
    for out in (i32 @ f32, mg.matmul(f32.T, i32), i32 @ f32[:, 0], mg.tensor([[1, 2]], device=device) @ f32):
        assert out.dtype == mg.float32
    np.testing.assert_array_equal((i32 @ f32).numpy(), [[2.0], [5.0]])
    assert (i32 @ _t([[1.0], [0.5]], device)).dtype == mg.float64
    assert (i32 @ i32).dtype == mg.int32
    w = mg.tensor([[1.0], [0.5]], device=device, requires_grad=True)
    (i32 @ w).sum().backward()
    assert w.grad.dtype == mg.float32
    np.testing.assert_array_equal(w.grad.numpy(), [[4.0], [6.0]])


# ---- values that do not fit an integer dtype ---------------------------------------------------------------


def test_creation_refuses_values_that_do_not_fit_an_integer_dtype(device):
    for make in (
        lambda: mg.tensor(2**63, device=device),
        lambda: mg.tensor([2**63], device=device),
        lambda: mg.tensor(nan, dtype=mg.int64, device=device),
        lambda: mg.tensor([1.0, float("inf")], dtype=mg.int32, device=device),
        lambda: mg.tensor(300, dtype=mg.uint8, device=device),
        lambda: mg.full((2,), nan, dtype=mg.int64, device=device),
        lambda: mg.full_like(mg.zeros(2, dtype=mg.int64, device=device), nan),
    ):
        with pytest.raises(ValueError, match="cannot be converted to"):
            make()
    assert mg.tensor(2**63 - 1, device=device).item() == 2**63 - 1
    assert mg.tensor(-(2**63), device=device).item() == -(2**63)
    assert mg.tensor(2.7, dtype=mg.int64, device=device).item() == 2  # truncated, as in torch
    assert mg.full((2,), 255, dtype=mg.uint8, device=device).tolist() == [255, 255]


# ---- dim= and keepdim= at module level ---------------------------------------------------------------------


def test_module_level_functions_take_dim_and_keepdim(device):
    a = np.arange(6.0).reshape(2, 3)
    x = _t(a, device)
    for fn in (mg.sum, mg.mean, mg.max, mg.min, mg.var, mg.std, mg.logsumexp):
        np.testing.assert_allclose(fn(x, dim=1, keepdim=True).numpy(), fn(x, 1, True).numpy())
        assert fn(x, dim=0).shape == (3,)
    for fn in (mg.argmax, mg.argmin):
        assert fn(x, dim=1, keepdim=True).shape == (2, 1)
    for fn in (mg.softmax, mg.log_softmax):
        np.testing.assert_allclose(fn(x, dim=0).numpy(), fn(x, 0).numpy())
    assert mg.cat([x, x], dim=1).shape == (2, 6)
    assert mg.concatenate([x, x], dim=1).shape == (2, 6)
    assert mg.stack([x, x], dim=2).shape == (2, 3, 2)
    assert [p.shape for p in mg.split(x, 2, dim=1)] == [(2, 2), (2, 1)]
    assert [p.shape for p in mg.chunk(x, 3, dim=1)] == [(2, 1)] * 3
    assert mg.squeeze(mg.unsqueeze(x, dim=1), dim=1).shape == (2, 3)
    assert mg.index_select(x, dim=1, index=[2, 0]).tolist() == [[2.0, 0.0], [5.0, 3.0]]
    assert mg.flip(x, dims=(1,)).tolist() == [[2.0, 1.0, 0.0], [5.0, 4.0, 3.0]]


def test_module_level_dim_matches_torch(device):
    torch = pytest.importorskip("torch")
    a = np.arange(6.0).reshape(2, 3)
    x, t = _t(a, device), torch.tensor(a)
    for name in ("sum", "mean", "var", "std", "logsumexp", "argmax", "argmin"):
        want = getattr(torch, name)(t, dim=1, keepdim=True)
        np.testing.assert_allclose(getattr(mg, name)(x, dim=1, keepdim=True).numpy(), want.numpy())
    for name in ("softmax", "log_softmax"):
        np.testing.assert_allclose(getattr(mg, name)(x, dim=0).numpy(), getattr(torch, name)(t, dim=0))
    np.testing.assert_array_equal(mg.flip(x, dims=(0, 1)).numpy(), torch.flip(t, dims=(0, 1)))
    np.testing.assert_array_equal(mg.cat([x, x], dim=1).numpy(), torch.cat([t, t], dim=1))


@pytest.mark.parametrize(
    "a, a_dtype, b, b_dtype, expected",
    [
        ([1.0, 2.0], "float32", 1.0, "float64", "float32"),  # a 0-d float64 counts like a Python float
        ([1, 2], "int32", 5, "int64", "int32"),
        ([1.0], "float16", 2.0, "float32", "float16"),
        ([1], "uint8", 5, "int64", "uint8"),
        ([1, 2], "int64", 1.5, "float64", "float64"),  # a higher category: the 0-d tensor's dtype
        ([True], "bool", 5, "int32", "int32"),
    ],
)
def test_a_0d_tensor_promotes_like_a_number(a, a_dtype, b, b_dtype, expected):
    x = mg.tensor(np.array(a, dtype=a_dtype))
    s = mg.tensor(np.array(b, dtype=b_dtype))  # 0-d
    for result in (x + s, s * x, mg.where(mg.tensor(True), x, s), x**s if a_dtype != "bool" else x + s):
        assert result.dtype == np.dtype(expected)
    if a_dtype != "bool":
        assert mg.maximum(x, s).dtype == np.dtype(expected)
        assert mg.minimum(s, x).dtype == np.dtype(expected)
    torch = pytest.importorskip("torch")
    t = torch.tensor(np.array(a, dtype=a_dtype)) + torch.tensor(np.array(b, dtype=b_dtype))
    assert str(t.dtype) == f"torch.{expected}"


def test_expand_copy_and_abs_edge_cases_are_clear():
    x = mg.ones((2, 1))
    assert x.expand(4, -1, 3).shape == (4, 2, 3)
    with pytest.raises(ValueError, match="-1 is not allowed for the new leading axes"):
        x.expand(-1, 2, 3)  # torch refuses; before, the -1 silently took the last axis's size
    i = mg.zeros(2, dtype=mg.int64)
    i.copy_(mg.tensor([1.5, 2.5]))  # torch casts into the destination's dtype
    assert i.tolist() == [1, 2]
    with pytest.raises(RuntimeError, match=r"copy_: the source of shape \(4,\) does not broadcast"):
        mg.zeros((2, 3)).copy_(mg.ones(4))
    with pytest.raises(TypeError, match="abs: not defined for a bool tensor"):
        mg.tensor([True]).abs()
