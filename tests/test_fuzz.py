"""Fuzzing every op with extreme values: +-inf, NaN, +-1e30, the float32 extremes, subnormals, signed zeros,
empty arrays and 0-d arrays.

Each op either matches NumPy's semantics (same shape, same NaN and inf positions, close finite values) or
raises a minigrad error (ValueError, IndexError, TypeError or RuntimeError) whose message starts with the
op's name, and only where the row says an error is expected (an empty max, a 0-d split, ...). Anything
else, an exception from deep inside NumPy included, fails. Backward through every op that succeeded must
run too, giving gradients of the inputs' shapes and dtypes (NaN is allowed there: it is what the maths says).

The stable functions (sigmoid, softmax, log_softmax, logsumexp, cross_entropy,
binary_cross_entropy_with_logits) stay finite, with finite gradients, for finite float32 inputs of any
magnitude whose true result is representable.
"""

import math
import re
import warnings

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg

F32 = np.float32
FMAX = float(np.finfo(F32).max)
SPECIAL = [
    math.inf, -math.inf, math.nan,
    1e30, -1e30, FMAX, -FMAX,
    float(np.finfo(F32).smallest_subnormal), -float(np.finfo(F32).smallest_subnormal),
    1e-40, 0.0, -0.0, 1.0, -1.0,
]  # fmt: skip
SPECIAL = [float(F32(v)) for v in SPECIAL]  # exactly representable in float32
VALUES = st.one_of(st.sampled_from(SPECIAL), st.floats(-10, 10, width=32))
SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3)
DOCUMENTED = (ValueError, IndexError, TypeError, RuntimeError)
FUZZ = settings(max_examples=40, deadline=None)


def arrays(shape=SHAPES):
    return hnp.arrays(F32, shape, elements=VALUES)


@pytest.fixture(autouse=True)
def _quiet_numpy():
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


# ---- the harness -------------------------------------------------------------------------------------


def _as_list(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


def assert_matches(got, expected, rtol=1e-5, atol=1e-30):
    """Same shape and dtype kind; same NaN positions, same infinities; finite values close."""
    if isinstance(expected, _Either):
        try:
            return assert_matches(got, expected.f32, rtol, atol)
        except AssertionError:
            return assert_matches(got, expected.f64, rtol, atol)
    got_list, exp_list = _as_list(got), _as_list(expected)
    assert len(got_list) == len(exp_list)
    for g, e in zip(got_list, exp_list):
        assert isinstance(g, mg.Tensor), f"expected a Tensor, got {type(g).__name__}"
        e = np.asarray(e)
        a = g.numpy()
        assert a.shape == e.shape, f"shape {a.shape} != NumPy's {e.shape}"
        assert a.dtype.kind == e.dtype.kind, f"dtype {a.dtype} != NumPy's {e.dtype}"
        if a.dtype.kind == "f":
            np.testing.assert_allclose(a, e.astype(a.dtype), rtol=rtol, atol=atol, equal_nan=True)
        else:
            np.testing.assert_array_equal(a, e)


def check(name, fn, ref, arrays_in, error_ok=False, rtol=1e-5, atol=1e-30, grad=True):
    """Run `fn` on tensors made from `arrays_in` and compare with `ref` on the arrays themselves."""
    tensors = [mg.tensor(a) for a in arrays_in]
    try:
        got = fn(*tensors)
    except DOCUMENTED as e:
        assert error_ok, f"{name} raised {type(e).__name__} on valid input: {e}"
        assert re.match(rf"{name}\b", str(e)), (
            f"the message does not start with the op's name {name!r}: {e}"
        )
        return
    assert not error_ok or error_ok == "maybe", f"{name} should have raised on this input"
    assert_matches(got, ref(*arrays_in), rtol=rtol, atol=atol)
    if grad:
        _check_backward(fn, arrays_in)


def _check_backward(fn, arrays_in):
    """Backward runs through whatever forward accepted, and gives gradients shaped like the inputs."""
    leaves = [mg.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays_in]
    outs = [o for o in _as_list(fn(*leaves)) if o.requires_grad]
    if not outs:
        return
    mg.autograd.backward(outs, [mg.ones_like(o) for o in outs])
    for leaf in leaves:
        if leaf.requires_grad and leaf.grad is not None:
            assert leaf.grad.shape == leaf.shape and leaf.grad.dtype == leaf.dtype


# ---- elementwise ---------------------------------------------------------------------------------------

UNARY = [
    ("neg", mg.neg, np.negative),
    ("exp", mg.exp, np.exp),
    ("log", mg.log, np.log),
    ("sqrt", mg.sqrt, np.sqrt),
    ("abs", mg.abs, np.abs),
    ("tanh", mg.tanh, np.tanh),
    ("sigmoid", mg.sigmoid, lambda a: (1.0 / (1.0 + np.exp(-a.astype(np.float64)))).astype(F32)),
    ("relu", mg.relu, lambda a: np.maximum(a, F32(0))),
    ("pow", lambda x: x**2, lambda a: a**2),
    ("pow", lambda x: x**0.5, lambda a: a ** F32(0.5)),
    ("pow", lambda x: x**-1, lambda a: a ** F32(-1)),
    ("pow", lambda x: x**0, lambda a: a**0),
    ("clip", lambda x: mg.clip(x, -1.0, 1.0), lambda a: np.clip(a, F32(-1), F32(1))),
    ("astype", lambda x: x.double(), lambda a: a.astype(np.float64)),
]


@pytest.mark.parametrize("name,fn,ref", UNARY, ids=[f"{r[0]}{i}" for i, r in enumerate(UNARY)])
@FUZZ
@given(a=arrays())
def test_unary(name, fn, ref, a):
    check(name, fn, ref, [a])


BINARY = [
    ("add", mg.add, np.add),
    ("sub", mg.sub, np.subtract),
    ("mul", mg.mul, np.multiply),
    ("div", mg.div, np.true_divide),
    ("pow", mg.pow, np.power),
    ("maximum", mg.maximum, np.maximum),
    ("minimum", mg.minimum, np.minimum),
    ("where", lambda x, y: mg.where(x > 0, x, y), lambda a, b: np.where(a > 0, a, b)),
    ("eq", lambda x, y: x == y, np.equal),
    ("lt", lambda x, y: x < y, np.less),
]


@pytest.mark.parametrize("name,fn,ref", BINARY, ids=[r[0] for r in BINARY])
@FUZZ
@given(data=st.data())
def test_binary_broadcasting(name, fn, ref, data):
    shapes = data.draw(
        hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, min_side=0, max_side=3)
    )
    a = data.draw(arrays(shapes.input_shapes[0]))
    b = data.draw(arrays(shapes.input_shapes[1]))
    check(name, fn, ref, [a, b])


@pytest.mark.parametrize(
    "name,fn", [(r[0], r[1]) for r in BINARY[:7]], ids=[r[0] for r in BINARY[:7]]
)
@FUZZ
@given(data=st.data())
def test_binary_shape_mismatch_names_the_op(name, fn, data):
    n = data.draw(st.integers(2, 4))
    m = data.draw(st.integers(2, 4).filter(lambda k: k != n))
    a, b = mg.ones(n), mg.ones(m)
    with pytest.raises(
        ValueError, match=rf"^{name}: shapes \({n},\) and \({m},\) cannot be broadcast"
    ):
        fn(a, b)


@FUZZ
@given(data=st.data())
def test_python_numbers_as_operands(data):
    a = data.draw(arrays())
    s = data.draw(st.sampled_from(SPECIAL))
    x = mg.tensor(a)
    assert_matches(x + s, a + F32(s))
    assert_matches(s * x, F32(s) * a)
    assert_matches(s - x, F32(s) - a)
    assert_matches(x / s, a / F32(s))


# ---- matmul --------------------------------------------------------------------------------------------


@st.composite
def matmul_shapes(draw):
    n, k, m = draw(st.integers(0, 3)), draw(st.integers(0, 3)), draw(st.integers(0, 3))
    batch = draw(st.sampled_from([(), (2,), (0,), (1, 2)]))
    kind = draw(st.sampled_from(["mm", "batched", "vec-mat", "mat-vec", "vec-vec"]))
    return {
        "mm": ((n, k), (k, m)),
        "batched": (batch + (n, k), (k, m) if draw(st.booleans()) else batch + (k, m)),
        "vec-mat": ((k,), (k, m)),
        "mat-vec": (batch + (n, k), (k,)),
        "vec-vec": ((k,), (k,)),
    }[kind]


@FUZZ
@given(data=st.data())
def test_matmul(data):
    sa, sb = data.draw(matmul_shapes())
    a, b = data.draw(arrays(sa)), data.draw(arrays(sb))
    check("matmul", mg.matmul, np.matmul, [a, b])


@FUZZ
@given(data=st.data())
def test_matmul_bad_shapes_name_the_op(data):
    k = data.draw(st.integers(1, 3))
    j = data.draw(st.integers(1, 3).filter(lambda v: v != k))
    a = data.draw(arrays((2, k)))
    b = data.draw(arrays((j, 2)))
    check("matmul", mg.matmul, np.matmul, [a, b], error_ok=True)
    check("matmul", mg.matmul, np.matmul, [a[0, 0], b], error_ok=True)  # a 0-d operand


# ---- reductions ------------------------------------------------------------------------------------------


@st.composite
def array_and_axis(draw):
    a = draw(arrays())
    if a.ndim == 0:
        return a, None
    axis = draw(
        st.one_of(
            st.none(),
            st.integers(-a.ndim, a.ndim - 1),
            st.lists(st.integers(0, a.ndim - 1), min_size=1, max_size=a.ndim, unique=True).map(
                tuple
            ),
        )
    )
    return a, axis


def _ref_logsumexp(a, axis, keepdims):
    """log(sum(exp(a))) in float64: shifted by the max where that is finite, else the plain formula."""
    a = a.astype(np.float64)
    if a.size == 0:
        return np.log(np.sum(np.exp(a), axis=axis, keepdims=keepdims)).astype(F32)
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    if not keepdims:
        out = np.squeeze(out, axis=axis) if axis is not None else out.reshape(())
    return out.astype(F32)


REDUCTIONS = [
    # name, fn(x, axis, keepdims), ref(a, axis, keepdims), error expected when
    ("sum", lambda x, ax, k: mg.sum(x, ax, k), lambda a, ax, k: np.sum(a, ax, keepdims=k), lambda a, ax: False),
    ("mean", lambda x, ax, k: mg.mean(x, ax, k), lambda a, ax, k: np.mean(a, ax, keepdims=k), lambda a, ax: False),  # empty: NaN, as torch and NumPy
    ("max", lambda x, ax, k: mg.max(x, ax, k), lambda a, ax, k: np.max(a, ax, keepdims=k), lambda a, ax: a.size == 0),
    ("min", lambda x, ax, k: mg.min(x, ax, k), lambda a, ax, k: np.min(a, ax, keepdims=k), lambda a, ax: a.size == 0),
    ("var", lambda x, ax, k: mg.var(x, ax, k), lambda a, ax, k: np.var(a, ax, ddof=1, keepdims=k), lambda a, ax: False),  # < 2 values: NaN
    ("std", lambda x, ax, k: mg.std(x, ax, k), lambda a, ax, k: np.std(a, ax, ddof=1, keepdims=k), lambda a, ax: False),  # < 2 values: NaN
    ("logsumexp", lambda x, ax, k: mg.logsumexp(x, ax, k), _ref_logsumexp, lambda a, ax: False),
    ("argmax", lambda x, ax, k: x.argmax(ax if ax is None or isinstance(ax, int) else ax[0], k),
     lambda a, ax, k: np.argmax(a, ax if ax is None or isinstance(ax, int) else ax[0], keepdims=k), lambda a, ax: a.size == 0),
    ("argmin", lambda x, ax, k: x.argmin(ax if ax is None or isinstance(ax, int) else ax[0], k),
     lambda a, ax, k: np.argmin(a, ax if ax is None or isinstance(ax, int) else ax[0], keepdims=k), lambda a, ax: a.size == 0),
]  # fmt: skip


@pytest.mark.parametrize("name,fn,ref,raises", REDUCTIONS, ids=[r[0] for r in REDUCTIONS])
@FUZZ
@given(case=array_and_axis(), keepdims=st.booleans())
def test_reductions(name, fn, ref, raises, case, keepdims):
    a, axis = case
    # NOTE: an empty max/min/argmax is an error only when the reduced part is empty; with numpy's rules
    # (max over a non-empty axis of an empty array is fine) whatever numpy accepts must work.
    error_ok = raises(a, axis)
    if error_ok and name in ("max", "min"):
        error_ok = "maybe"
    if name.startswith("arg") and axis is not None and not isinstance(axis, int):
        axis = axis[0]
    if error_ok and name.startswith("arg") and axis is not None and a.shape[axis] != 0:
        error_ok = "maybe"
    # mean, var and std round differently from numpy (sum * (1/n) versus sum / n): allow an error of a few
    # ulps of the inputs' magnitude (squared for var), which matters where the result is near 0
    finite = np.abs(a[np.isfinite(a)]).astype(np.float64)
    scale = float(finite.max()) if finite.size else 1.0
    atol = min(1e-6 * (scale * scale if name == "var" else scale), FMAX)
    if name in ("var", "std"):
        # the squares of float32 rounding errors can overflow in one implementation and not the other
        # (var of many equal 1e30s is exactly 0, or inf): accept numpy's float32 or its exact answer
        ref = _either(ref)
    check(
        name,
        lambda x: fn(x, axis, keepdims),
        lambda b: ref(b, axis, keepdims),
        [a],
        error_ok,
        1e-4,
        atol,
    )


class _Either:
    """A reference with two acceptable answers, float32 NumPy and float64 NumPy cast to float32."""

    def __init__(self, f32, f64):
        self.f32, self.f64 = f32, f64


def _either(ref):
    return lambda a, axis, keepdims: _Either(
        ref(a, axis, keepdims), ref(a.astype(np.float64), axis, keepdims)
    )


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "var", "std", "logsumexp"])
def test_reductions_reject_bad_axes_naming_the_op(name):
    x = mg.ones(2, 3)
    fn = getattr(mg, name)
    with pytest.raises(IndexError, match=rf"^{name}: axis 2 is out of range for a tensor with 2"):
        fn(x, 2)
    with pytest.raises(ValueError, match=rf"^{name}: repeated axis"):
        fn(x, (0, 0))
    with pytest.raises(TypeError, match=rf"^{name}: axis must be an int"):
        fn(x, 1.0)


# ---- shape ops -----------------------------------------------------------------------------------------


def _chunk_ref(a, chunks):
    n = a.shape[0]
    if n == 0:  # torch.chunk of an empty axis: `chunks` empty pieces
        return [a] * chunks
    size = -(-n // chunks)
    return [a[i : i + size] for i in range(0, n, size)]


SHAPE_OPS = [
    # name, fn, ref, error expected when
    ("reshape", lambda x: x.reshape(-1), lambda a: a.reshape(-1), lambda a: False),
    ("reshape", lambda x: x.reshape(x.shape + (1,)), lambda a: a.reshape(a.shape + (1,)), lambda a: False),
    ("transpose", lambda x: x.T, lambda a: a.T, lambda a: False),
    ("swapaxes", lambda x: mg.swapaxes(x, 0, -1), lambda a: a if a.ndim == 0 else np.swapaxes(a, 0, -1), lambda a: False),
    ("flip", mg.flip, np.flip, lambda a: False),
    ("squeeze", mg.squeeze, np.squeeze, lambda a: False),
    ("unsqueeze", lambda x: mg.unsqueeze(x, 0), lambda a: np.expand_dims(a, 0), lambda a: False),
    ("unsqueeze", lambda x: mg.unsqueeze(x, -1), lambda a: np.expand_dims(a, -1), lambda a: False),
    ("flatten", mg.flatten, lambda a: a.reshape(-1), lambda a: False),
    ("broadcast_to", lambda x: mg.broadcast_to(x, (2,) + x.shape), lambda a: np.broadcast_to(a, (2,) + a.shape), lambda a: False),
    ("pad", lambda x: mg.pad(x, 1, value=-2.0), lambda a: np.pad(a, 1, constant_values=-2.0), lambda a: False),
    ("getitem", lambda x: x[..., None], lambda a: a[..., None], lambda a: False),
    ("getitem", lambda x: x[::-1], lambda a: a[::-1], lambda a: a.ndim == 0),
    ("getitem", lambda x: x[x > 0], lambda a: a[a > 0], lambda a: False),
    ("getitem", lambda x: x[0], lambda a: a[0], lambda a: a.ndim == 0 or a.shape[0] == 0),
    ("concatenate", lambda x: mg.concatenate([x, x], 0), lambda a: np.concatenate([a, a], 0), lambda a: a.ndim == 0),
    ("stack", lambda x: mg.stack([x, x], -1), lambda a: np.stack([a, a], -1), lambda a: False),
    ("split", lambda x: mg.split(x, 1), lambda a: [a[i : i + 1] for i in range(a.shape[0])] or [a], lambda a: a.ndim == 0),
    ("chunk", lambda x: mg.chunk(x, 2), lambda a: _chunk_ref(a, 2), lambda a: a.ndim == 0),
    ("index_select", lambda x: mg.index_select(x, 0, [0, 0]), lambda a: a[[0, 0]], lambda a: a.ndim == 0 or a.shape[0] == 0),
    ("take", lambda x: mg.take(x, [0, -1]), lambda a: np.take(a, [0, -1]), lambda a: a.size == 0),
    ("masked_fill", lambda x: mg.masked_fill(x, x > 0, -1.0), lambda a: np.where(a > 0, F32(-1), a), lambda a: False),
]  # fmt: skip


@pytest.mark.parametrize(
    "name,fn,ref,raises", SHAPE_OPS, ids=[f"{r[0]}{i}" for i, r in enumerate(SHAPE_OPS)]
)
@FUZZ
@given(a=arrays())
def test_shape_ops(name, fn, ref, raises, a):
    check(name, fn, ref, [a], error_ok=raises(a))


@FUZZ
@given(a=arrays(hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=3)), data=st.data())
def test_reshape_to_an_impossible_shape_names_the_op(a, data):
    bad = data.draw(st.integers(1, 7).filter(lambda n: n != a.size))
    check("reshape", lambda x: x.reshape(bad), None, [a], error_ok=True)
    check("reshape", lambda x: x.reshape(-1, -1), None, [a], error_ok=True)
    check("reshape", lambda x: x.reshape(-3, 1), None, [a], error_ok=True)


@FUZZ
@given(a=arrays(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3)), data=st.data())
def test_out_of_range_index_names_the_op(a, data):
    i = data.draw(st.integers(a.shape[0], a.shape[0] + 3))
    check("getitem", lambda x: x[i], None, [a], error_ok=True)
    check("getitem", lambda x: x[(0,) * (a.ndim + 1)], None, [a], error_ok=True)  # too many indices


# ---- softmax family --------------------------------------------------------------------------------------


def _ref_log_softmax(a, axis):
    a64 = a.astype(np.float64)
    m = np.max(a64, axis=axis, keepdims=True) if a.size else np.zeros(())
    m = np.where(np.isfinite(m), m, 0.0)
    shifted = a64 - m
    return (shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))).astype(F32)


@pytest.mark.parametrize(
    "name,fn,ref",
    [
        ("log_softmax", mg.log_softmax, _ref_log_softmax),
        (
            "softmax",
            mg.softmax,
            lambda a, ax: np.exp(_ref_log_softmax(a, ax).astype(np.float64)).astype(F32),
        ),
    ],
)
@FUZZ
@given(a=arrays(hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4)), data=st.data())
def test_softmax_family(name, fn, ref, a, data):
    axis = data.draw(st.integers(-a.ndim, a.ndim - 1))
    # atol: log(sum(exp(shifted))) near 0 carries float32's absolute error of about 1e-7 (no log1p)
    check(name, lambda x: fn(x, axis), lambda b: ref(b, axis), [a], rtol=1e-4, atol=1e-6)


def test_softmax_of_equal_huge_logits_is_uniform():
    # max + log(n) rounds to max in float32: log_softmax must not be computed as x - logsumexp(x)
    for v in (1e8, 1e30, FMAX):
        np.testing.assert_allclose(mg.softmax(mg.tensor([v, v]), -1).numpy(), [0.5, 0.5], rtol=1e-6)
        np.testing.assert_allclose(
            mg.log_softmax(mg.tensor([v, v, v, v]), -1).numpy(), [-math.log(4)] * 4, rtol=1e-6
        )


# ---- stable functions stay finite ------------------------------------------------------------------------

HUGE = 1e37  # beyond this even the true log_softmax / summed loss of a few logits overflows float32


def finite_arrays(shape, bound=FMAX):
    exps = st.integers(-45, int(math.log10(bound)))
    mags = st.one_of(st.floats(0, 10, width=32), exps.map(lambda e: float(F32(10.0**e))))
    vals = st.tuples(mags, st.booleans()).map(lambda t: -t[0] if t[1] else t[0])
    return hnp.arrays(F32, shape, elements=vals.filter(lambda v: abs(v) <= bound))


def _finite_with_finite_grad(fn, a):
    x = mg.tensor(a, requires_grad=True)
    out = fn(x)
    assert np.isfinite(out.numpy()).all(), f"non-finite output {out.numpy()} for input {a}"
    out.backward(mg.ones_like(out))
    assert np.isfinite(x.grad.numpy()).all(), f"non-finite gradient {x.grad.numpy()} for input {a}"
    return out


@FUZZ
@given(a=finite_arrays(hnp.array_shapes(min_dims=0, max_dims=2, max_side=4)))
def test_sigmoid_is_finite_and_in_range(a):
    out = _finite_with_finite_grad(mg.sigmoid, a)
    assert ((out.numpy() >= 0) & (out.numpy() <= 1)).all()


@FUZZ
@given(a=finite_arrays(hnp.array_shapes(min_dims=1, max_dims=2, max_side=4)))
def test_softmax_is_finite_and_normalised(a):
    out = _finite_with_finite_grad(lambda x: mg.softmax(x, -1), a)
    np.testing.assert_allclose(out.numpy().sum(-1), 1.0, rtol=1e-5)


@FUZZ
@given(a=finite_arrays(hnp.array_shapes(min_dims=1, max_dims=2, max_side=4), bound=HUGE))
def test_log_softmax_is_finite(a):
    out = _finite_with_finite_grad(lambda x: mg.log_softmax(x, -1), a)
    assert (out.numpy() <= 0).all()


@FUZZ
@given(a=finite_arrays(hnp.array_shapes(min_dims=1, max_dims=2, max_side=4)))
def test_logsumexp_is_finite(a):
    out = _finite_with_finite_grad(lambda x: mg.logsumexp(x, -1), a)
    assert (out.numpy() >= a.max(-1) - 1e-6 * np.abs(a.max(-1))).all()  # never below the max


@FUZZ
@given(data=st.data())
def test_cross_entropy_is_finite(data):
    n, c = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 5))
    logits = data.draw(finite_arrays((n, c), bound=HUGE))
    target = mg.tensor(data.draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, c - 1))))
    smoothing = data.draw(st.sampled_from([0.0, 0.1]))
    out = _finite_with_finite_grad(
        lambda x: mg.nn.functional.cross_entropy(x, target, label_smoothing=smoothing), logits
    )
    assert out.item() >= 0


@FUZZ
@given(data=st.data())
def test_binary_cross_entropy_with_logits_is_finite(data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=2, max_side=4))
    logits = data.draw(finite_arrays(shape, bound=HUGE))
    target = mg.tensor(
        data.draw(hnp.arrays(F32, shape, elements=st.sampled_from([0.0, 0.25, 1.0])))
    )
    out = _finite_with_finite_grad(
        lambda x: mg.nn.functional.binary_cross_entropy_with_logits(x, target), logits
    )
    assert out.item() >= 0


def test_signed_zero_constants_keep_their_sign():
    # constants made from Python numbers may be cached; -0.0 == 0.0 must not share an entry
    x = mg.tensor([1.0, -2.0])
    for _ in range(2):
        np.testing.assert_array_equal((x / -0.0).numpy(), [-np.inf, np.inf])
        np.testing.assert_array_equal((x / 0.0).numpy(), [np.inf, -np.inf])
        assert np.isnan((x * math.nan).numpy()).all()
