"""Tests of the public testing toolkit: gradcheck, gradgradcheck, the strategies and the op-check helper.

A checker is only useful if it fails on wrong gradients, so most tests feed it deliberately broken ops.
"""

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad.testing import (
    GradcheckError,
    OpSpec,
    broadcastable_shapes,
    check_op,
    gradcheck,
    gradgradcheck,
    op_test,
    shapes,
    spaced_floats,
    tensors,
    valid_axes,
)


def _x(*shape, device="cpu", seed=0):
    rng = np.random.default_rng(seed)
    return mg.tensor(rng.uniform(-1, 1, shape), dtype=mg.float64, device=device, requires_grad=True)


class ScaledWrong(mg.Function):
    """out = 2 x, but backward claims 2.1 (a wrong first derivative)."""

    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * 2.1


class ConstantTanh(mg.Function):
    """tanh whose backward reads the output as a constant: right gradient, wrong second derivative."""

    @staticmethod
    def forward(ctx, x):
        out = ctx.xp.tanh(x)
        ctx.out_constant = out
        return out

    @staticmethod
    def backward(ctx, g):
        y = mg.tensor(ctx.out_constant)  # NOTE: deliberately disconnected from the graph
        return g * (1 - y * y)


class OneWrongEntry(mg.Function):
    """Identity whose gradient is wrong only at flat index 7."""

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, g):
        mask = np.ones(g.shape)
        mask.reshape(-1)[7] = 3.0
        return g * mg.tensor(mask, device=g.device)


# ---- gradcheck ------------------------------------------------------------------------------------


def test_gradcheck_passes_for_correct_functions(device):
    x, w = _x(3, 4, device=device), _x(4, 2, device=device, seed=1)
    assert gradcheck(lambda x, w: (x @ w).tanh(), (x, w))
    assert gradcheck(lambda x: (x.exp().sum(axis=0), x.sigmoid()), x)  # tuple outputs
    assert gradcheck(lambda x: x * 2, _x(30, 40, device=device), fast_mode=True)


def test_gradcheck_full_jacobian_reports_the_wrong_entries(device):
    x = _x(3, 4, device=device)
    with pytest.raises(GradcheckError) as info:
        gradcheck(OneWrongEntry.apply, x)
    message = str(info.value)
    assert "1 of 144 entries" in message
    assert (
        "output 0(1, 3)" in message and "input 0(1, 3)" in message
    )  # flat index 7 in a (3, 4) tensor
    assert "analytic" in message and "numerical" in message
    assert "3.000000e+00" in message and "1.000000e+00" in message


def test_gradcheck_dot_product_check_catches_wrong_gradients(device):
    x = _x(
        30, 40, device=device
    )  # 1200 elements: above max_full, so the random-direction check runs
    with pytest.raises(GradcheckError, match="random-direction check") as info:
        gradcheck(ScaledWrong.apply, x)
    assert "input 0 (shape (30, 40))" in str(info.value)
    with pytest.raises(GradcheckError):
        gradcheck(OneWrongEntry.apply, _x(3, 4, device=device), fast_mode=True, n_directions=5)


def test_gradcheck_raise_exception_false_returns_false():
    assert gradcheck(ScaledWrong.apply, _x(3), raise_exception=False) is False
    assert gradcheck(ScaledWrong.apply, _x(300), raise_exception=False) is False
    assert gradcheck(lambda x: x * 2, _x(3), raise_exception=False) is True


def test_gradcheck_passes_non_differentiable_inputs_through():
    x = _x(4)
    idx = mg.tensor([0, 2, 2])
    assert gradcheck(lambda x, i, s: x[i] * s, (x, idx, 3.0))
    assert gradcheck(lambda x, c: x * c, (x, mg.tensor([1.0, 2.0, 3.0, 4.0], dtype=mg.float64)))


def test_gradcheck_sees_outputs_that_ignore_the_inputs():
    x = _x(3)
    # the output does not depend on x at all: both Jacobians are zero, which is correct
    assert gradcheck(lambda x: mg.ones(3, dtype=mg.float64), x)

    def forgets_to_record(x):
        return mg.tensor(
            x.data * 2
        )  # depends on x, but is cut from the graph: analytic 0, numerical 2

    with pytest.raises(GradcheckError):
        gradcheck(forgets_to_record, x)


def test_gradcheck_does_not_modify_inputs():
    x = _x(5)
    before = x.numpy().copy()
    gradcheck(lambda x: x.exp(), x)
    np.testing.assert_array_equal(x.numpy(), before)
    assert x.grad is None  # analytic gradients come from mg.grad, not .grad


def test_gradcheck_rejects_float32_and_missing_requires_grad():
    with pytest.raises(TypeError, match="float64"):
        gradcheck(lambda x: x * 2, mg.ones(3, requires_grad=True))
    with pytest.raises(ValueError, match="requires grad"):
        gradcheck(lambda x: x * 2, mg.ones(3, dtype=mg.float64))


def test_gradcheck_rejects_bad_outputs():
    with pytest.raises(TypeError, match="Tensor"):
        gradcheck(lambda x: x.numpy(), _x(3))
    with pytest.raises(TypeError, match="lost precision"):
        gradcheck(lambda x: x.float(), _x(3))


def test_gradcheck_catches_nondeterministic_backward():
    calls = []

    class Drifting(mg.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1.0

        @staticmethod
        def backward(ctx, g):
            calls.append(1)
            return g * (1 + 1e-3 * len(calls))

    with pytest.raises(GradcheckError, match="not deterministic"):
        gradcheck(Drifting.apply, _x(3))
    calls.clear()
    assert gradcheck(Drifting.apply, _x(3), nondet_tol=1.0, atol=1.0, rtol=1.0)


# ---- gradgradcheck ----------------------------------------------------------------------------------


def test_gradgradcheck_passes_for_correct_functions(device):
    x, w = _x(3, 4, device=device), _x(4, 2, device=device, seed=1)
    assert gradgradcheck(lambda x, w: (x @ w).tanh(), (x, w))
    assert gradgradcheck(lambda x: x.sigmoid() * x, _x(30, 40, device=device))  # dot-product mode


def test_gradgradcheck_catches_a_backward_that_reads_a_constant():
    x = _x(4)
    assert gradcheck(ConstantTanh.apply, x)  # first order is right
    with pytest.raises(GradcheckError, match="gradgradcheck"):
        gradgradcheck(ConstantTanh.apply, x)
    assert gradgradcheck(ConstantTanh.apply, x, raise_exception=False) is False


def test_gradgradcheck_with_given_grad_outputs():
    x = _x(3)
    v = mg.tensor(
        [1.0, -2.0, 0.5], dtype=mg.float64
    )  # not requiring grad: only x is differentiated
    assert gradgradcheck(lambda x: x**3, x, grad_outputs=v)
    with pytest.raises(ValueError, match="grad_outputs"):
        gradgradcheck(lambda x: x**3, x, grad_outputs=(v, v))


def test_gradgradcheck_of_linear_function_is_zero_and_passes():
    assert gradgradcheck(lambda x, y: 3 * x - y, (_x(3), _x(3, seed=2)))


@pytest.mark.parametrize("fast_mode", [False, True])
def test_checks_move_aliased_inputs_together(fast_mode):
    # The same tensor passed twice is one variable: the analytic side returns its total gradient for each
    # alias, so the numerical side must perturb every alias at once (as torch's in-place perturbation does).
    x, y = _x(3), _x(3, seed=2)
    assert gradcheck(lambda a, b: a * b, (x, x), fast_mode=fast_mode)
    assert gradcheck(lambda a, b, c: a * b + c * a, (x, y, x), fast_mode=fast_mode)
    assert gradgradcheck(lambda a, b: a * b * b, (x, x), fast_mode=fast_mode)
    with pytest.raises(GradcheckError):  # aliasing does not hide a wrong gradient
        gradcheck(lambda a, b: ScaledWrong.apply(a) * b, (x, x), fast_mode=fast_mode)


# ---- strategies ---------------------------------------------------------------------------------------


@given(shape=shapes(min_dims=1, max_dims=3, min_side=2, max_side=4))
def test_shapes_respect_bounds(shape):
    assert 1 <= len(shape) <= 3 and all(2 <= s <= 4 for s in shape)


@given(data=st.data())
def test_shapes_default_reaches_0d_and_size_1(data):
    shape = data.draw(shapes(max_dims=0))
    assert shape == ()
    shape = data.draw(shapes(min_dims=2, max_dims=2, max_side=1))
    assert shape == (1, 1)


@given(pair=broadcastable_shapes(num_shapes=3))
def test_broadcastable_shapes_broadcast(pair):
    assert len(pair) == 3
    np.broadcast_shapes(*pair)  # raises if they do not


@given(pair=broadcastable_shapes((2, 1, 3)))
def test_broadcastable_shapes_with_fixed_first(pair):
    assert pair[0] == (2, 1, 3)
    np.broadcast_shapes(*pair)


@given(t=tensors(shape=(2, 3), elements=(-0.5, 0.25), requires_grad=True))
def test_tensors_respect_shape_domain_and_flags(t):
    assert t.shape == (2, 3) and t.dtype == mg.float64 and t.requires_grad
    assert (t.numpy() >= -0.5).all() and (t.numpy() <= 0.25).all()


@given(
    t=tensors(
        dtype=mg.int64,
        elements=(0, 4),
        unique=True,
        shape=shapes(min_dims=1, max_dims=1, max_side=5),
    )
)
def test_tensors_integer_unique(t):
    assert t.dtype == mg.int64
    assert len(set(t.tolist() if t.ndim else [t.item()])) == t.size
    assert (t.numpy() >= 0).all() and (t.numpy() <= 4).all()


@given(t=tensors(dtype=mg.float32, device="cpu"))
def test_tensors_float32(t):
    assert t.dtype == mg.float32 and t.device == "cpu" and not t.requires_grad


@given(
    t=tensors(dtype=mg.uint8, shape=(4,)),
    i=tensors(dtype=mg.int32, elements=(-(2**40), 2**40)),
    h=tensors(dtype=mg.float16, elements=(-1e6, 1e6)),
)
def test_tensors_clip_the_domain_to_the_dtype(t, i, h):
    assert (
        t.dtype == mg.uint8 and (t.numpy() <= 3).all()
    )  # the default (-3, 3) becomes (0, 3) for uint8
    assert i.dtype == mg.int32 and h.dtype == mg.float16 and np.isfinite(h.numpy()).all()


def test_tensors_reject_requires_grad_for_non_float_dtypes_at_construction():
    for dtype in (mg.int64, mg.bool_):
        with pytest.raises(ValueError, match="requires_grad.*floating.*dtype=mg.float64"):
            tensors(dtype=dtype, requires_grad=True)
    with pytest.raises(ValueError, match="empty"):
        tensors(dtype=mg.uint8, elements=(-5, -1))


@given(data=st.data(), shape=shapes(max_dims=4))
def test_valid_axes_are_accepted_by_numpy(data, shape):
    axis = data.draw(valid_axes(len(shape)))
    a = np.zeros(shape)
    a.sum(axis=axis)  # numpy accepts every drawn axis
    assert mg.sum(mg.tensor(a), axis=axis).shape == a.sum(axis=axis).shape


def test_valid_axes_needs_an_option():
    with pytest.raises(ValueError, match="ndim=0"):
        valid_axes(0, allow_none=False, allow_tuple=False)


@given(values=st.lists(spaced_floats(-1.0, 1.0, steps=8), min_size=1))
def test_spaced_floats_stay_off_the_grid(values):
    for v in values:
        assert -1 < v < 1
        assert abs((v + 1) / 0.25 % 1 - 0.5) < 1e-12  # always the middle of a cell


# ---- the op-check helper ----------------------------------------------------------------------------

GOOD = OpSpec("tanh", mg.tanh, np.tanh, min_dims=1, torch_fn=lambda x: x.tanh())


@given(data=st.data())
def test_check_op_passes_a_correct_row(data):
    check_op(GOOD, data)


test_op_test_builds_a_test = op_test(
    OpSpec("exp_via_op_test", mg.exp, np.exp, min_dims=1, max_dims=2)
)


def _run(spec):
    """Run check_op on a few drawn cases and return the error it raised (or None)."""
    errors = []

    @given(data=st.data())
    def t(data):
        check_op(spec, data)

    try:
        t()
    except Exception as e:  # hypothesis re-raises the (shrunk) failure
        errors.append(e)
    return errors[0] if errors else None


class MutatingExp(mg.Function):
    @staticmethod
    def forward(ctx, x):
        out = ctx.xp.exp(x)
        x += 1.0  # NOTE: the bug under test
        return out

    @staticmethod
    def backward(ctx, g):
        return g * 0.0


def test_check_op_catches_a_wrong_reference():
    err = _run(OpSpec("bad_reference", mg.exp, np.exp2, min_dims=1, max_dims=1))
    assert isinstance(err, AssertionError) and "forward output 0" in str(err)


def test_check_op_catches_a_wrong_gradient():
    err = _run(
        OpSpec("bad_grad", lambda x: ScaledWrong.apply(x), lambda a: 2 * a, min_dims=1, max_dims=1)
    )
    assert isinstance(err, GradcheckError)


def test_check_op_catches_a_wrong_second_derivative():
    err = _run(OpSpec("bad_gradgrad", ConstantTanh.apply, np.tanh, min_dims=1, max_dims=1))
    assert isinstance(err, GradcheckError) and "gradgradcheck" in str(err)


def test_check_op_catches_mutated_inputs():
    def f(x):
        with mg.no_grad():
            out = x * 1.0
            x.data += 1.0  # mutate behind the engine's back
        return out + x - x.detach()

    err = _run(OpSpec("mutates", f, lambda a: a, min_dims=1, max_dims=1, grad=False))
    assert isinstance(err, AssertionError) and "modified" in str(err)


def test_check_op_catches_dtype_loss():
    err = _run(
        OpSpec("downcast", lambda x: x.float(), lambda a: a, min_dims=1, max_dims=1, grad=False)
    )
    assert isinstance(err, AssertionError) and "float64 inputs gave a float32 output" in str(err)


def test_check_op_catches_a_torch_mismatch():
    pytest.importorskip("torch")
    err = _run(
        OpSpec("bad_torch", mg.exp, np.exp, min_dims=1, max_dims=1, torch_fn=lambda x: x.exp() + 1)
    )
    assert isinstance(err, AssertionError) and "torch" in str(err)


def test_op_spec_domains():
    assert OpSpec("a", mg.add, np.add, arity=2).domains(2) == [(-3.0, 3.0), (-3.0, 3.0)]
    assert OpSpec("d", mg.div, np.divide, arity=2, domain=((0, 1), (2, 3))).domains(2) == [
        (0, 1),
        (2, 3),
    ]
    with pytest.raises(ValueError, match="3 inputs"):
        OpSpec("d", mg.div, np.divide, arity=2, domain=((0, 1), (2, 3))).domains(3)


@given(a=hnp.arrays(np.float64, (3,), elements=spaced_floats(-3, 3), unique=True))
def test_spaced_unique_arrays_have_no_ties(a):
    assert len(set(a.tolist())) == 3
