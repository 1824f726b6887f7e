"""Tests of the tape (autograd.py) and the backward engine (engine.py): graph shapes, backward misuse,
mg.grad, hooks, higher-order gradients, custom Functions, graph freeing and in-place rules. Grad modes:
test_grad_mode.py."""

import gc
import weakref

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad.testing import gradcheck, gradgradcheck


def _t(values, device, requires_grad=True):
    return mg.tensor(
        np.asarray(values, dtype=np.float64), device=device, requires_grad=requires_grad
    )


# ---- graph shapes ---------------------------------------------------------------------------------


def test_node_used_twice(device):
    x = _t([1.0, -2.0, 3.0], device)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, -4.0, 6.0])

    x = _t([0.5, 1.5], device)
    a = x.tanh()
    (a * a + a).sum().backward()  # a feeds two ops and the sum
    t = np.tanh([0.5, 1.5])
    np.testing.assert_allclose(x.grad.numpy(), (2 * t + 1) * (1 - t**2))


def test_diamond(device):
    x = _t([0.3, -0.7], device)
    a = x * 2
    b, c = a.exp(), a.tanh()  # two paths from a that meet again
    (b * c).sum().backward()
    av = 2 * np.array([0.3, -0.7])
    expected = 2 * (np.exp(av) * np.tanh(av) + np.exp(av) * (1 - np.tanh(av) ** 2))
    np.testing.assert_allclose(x.grad.numpy(), expected)


def test_long_chain_has_no_recursion_limit(device):
    x = _t([1.0, 2.0], device)
    c = _t([1.00001, 1.00001], device, requires_grad=False)
    y = x
    for _ in range(100_000):
        y = y * c
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.00001**100_000] * 2, rtol=1e-9)


def test_leaf_seen_through_many_paths(device):
    x = _t([2.0], device)
    total = x
    for _ in range(50):
        total = total + x  # 51 uses of x in all
    total.sum().backward()
    assert x.grad.item() == 51.0


def test_node_reached_late_and_through_batched_matmul_terms(device):
    # The engine takes waiting nodes latest first. Here the weight node w2 gets gradient three ways:
    # matmul terms that the engine batches (h @ w2 at every step), a direct use (w2.sum()), and a
    # branch that was recorded long before its consumer (early). Compare with the dot-product check.
    def f(w, h, early):
        w2 = w * 1.5
        e = early.exp()
        for _ in range(4):
            h = mg.addmm(e, h, w2).tanh()
            h = h + (h @ w2).sigmoid()  # h waits until both of its consumers are done
        return (h * e).sum() + w2.sum() * 0.1

    w = _t(np.random.default_rng(0).normal(size=(3, 3)) * 0.5, device)
    h = _t(np.random.default_rng(1).normal(size=(2, 3)), device)
    early = _t(np.random.default_rng(2).normal(size=(2, 3)) * 0.1, device)
    assert gradcheck(f, (w, h, early))
    assert gradgradcheck(f, (w, h, early))
    # a plain backward visits every node once, after all its consumers (or it would raise, freed)
    expected = mg.grad(f(w, h, early), (w, h, early))
    f(w, h, early).backward()
    for t, g in zip((w, h, early), expected):
        np.testing.assert_allclose(t.grad.numpy(), g.numpy(), rtol=1e-12)


def test_slice_gradients_into_one_buffer(device):
    # Without create_graph the engine scatters slice gradients into one buffer (the first one written
    # into a fresh zero buffer, the others added). Nodes run latest first, so the order in which the
    # slices are taken below decides the order in which their gradients arrive.
    rng = np.random.default_rng(0)

    def check(make_parts, shape):
        x = _t(rng.normal(size=shape), device)
        y = x * 1.0
        parts = make_parts(y)  # [(tensor, index into a dense gradient)]
        ws = [rng.normal(size=p.shape) for p, _ in parts]
        loss = sum((p * mg.tensor(w, device=device)).sum() for (p, _), w in zip(parts, ws))
        loss.backward()
        expected = np.zeros(shape)
        for (_, index), w in zip(parts, ws):
            expected[index] += w
        np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)

    e = Ellipsis
    # the four gate slices of an LSTM step, arriving out of order
    check(
        lambda y: [
            (y[..., 2:4], (e, slice(2, 4))),
            (y[..., 0:2], (e, slice(0, 2))),
            (y[..., 6:8], (e, slice(6, 8))),
            (y[..., 4:6], (e, slice(4, 6))),
        ],
        (2, 8),
    )
    # overlapping slices
    check(
        lambda y: [
            (y[..., 0:4], (e, slice(0, 4))),
            (y[..., 2:6], (e, slice(2, 6))),
            (y[..., 5:8], (e, slice(5, 8))),
        ],
        (3, 8),
    )
    # a direct use of y arrives between two slices
    check(
        lambda y: [
            (y[..., 0:4], (e, slice(0, 4))),
            (y * 2.0 / 2.0, e),
            (y[..., 4:8], (e, slice(4, 8))),
        ],
        (3, 8),
    )
    # an int index and negative bounds mixed with spans
    check(
        lambda y: [
            (y[1], 1),
            (y[..., -3:], (e, slice(-3, None))),
            (y[..., :5], (e, slice(None, 5))),
            (y[0], 0),
        ],
        (3, 8),
    )


_INDEX_FORMS = st.sampled_from(["row", "rows", "cols", "last", "col", "step", "fancy", "whole"])


@pytest.mark.parametrize("span_min", [0, 4096], ids=["tracked", "untracked"])
@given(data=st.data())
def test_slice_gradients_in_any_order_match_a_dense_sum(data, device, span_min):
    # Random mixes of the index forms the engine writes (not adds) while a buffer is still zero outside
    # what was written, with overlaps, forms it does not track (step, fancy) and direct uses between.
    # span_min=0 makes the engine track these small slices as it tracks large ones.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mg.engine, "_SPAN_MIN", span_min)
        _check_slice_gradients(data, device)


def _check_slice_gradients(data, device):
    shape = (data.draw(st.integers(1, 4), label="rows"), data.draw(st.integers(1, 5), label="cols"))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16), label="seed"))
    ints = lambda n: st.integers(-n, n - 1)  # noqa: E731
    bounds = lambda n: st.tuples(st.integers(-n, n), st.integers(-n, n))  # noqa: E731
    indices = []
    for form in data.draw(st.lists(_INDEX_FORMS, min_size=1, max_size=6), label="forms"):
        r, c = shape
        if form == "row":
            index = data.draw(ints(r))
        elif form == "rows":
            index = slice(*data.draw(bounds(r)))
        elif form == "cols":
            index = (slice(None), slice(*data.draw(bounds(c))))
        elif form == "last":
            index = (Ellipsis, slice(*data.draw(bounds(c))))
        elif form == "col":
            index = (slice(None), data.draw(ints(c)))
        elif form == "step":
            index = slice(None, None, 2)
        elif form == "fancy":
            index = np.array(data.draw(st.lists(st.integers(0, r - 1), min_size=1, max_size=3)))
        else:
            index = Ellipsis
        indices.append(index)
    x = _t(rng.normal(size=shape), device)
    y = x * 1.0
    ws = [rng.normal(size=np.zeros(shape)[index].shape) for index in indices]
    loss = sum((y[index] * mg.tensor(w, device=device)).sum() for index, w in zip(indices, ws))
    loss.backward()
    expected = np.zeros(shape)
    for index, w in zip(indices, ws):
        np.add.at(expected, index, w)
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_detach_cuts_the_graph_and_shares_data(device):
    x = _t([1.0, 2.0, 3.0], device)
    d = x.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    assert d.data is x.data  # same memory
    (x * x.detach()).sum().backward()  # the detached factor is a constant
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 2.0, 3.0])


# ---- backward -----------------------------------------------------------------------------------------


def test_gradients_accumulate_across_backward_calls(device):
    x = _t([1.0, 2.0], device)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3 + 2, 3 + 4])
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_leaf_gradients_are_not_shared_arrays(device):
    x, y = _t([1.0], device), _t([2.0], device)
    (x + y).sum().backward()
    x.grad.data += 1  # in-place clipping of one leaf's gradient...
    assert y.grad.item() == 1.0  # ...leaves the other alone


def test_gradient_through_views_of_an_owned_buffer(device):
    # W's gradient is summed in a buffer the engine owns, then reaches W through W.T (a view): it must
    # be right, and W.grad must be W's own array, not shared with another leaf's gradient.
    rng = np.random.default_rng(0)
    w, u = _t(rng.standard_normal((4, 3)), device), _t(rng.standard_normal((4, 3)), device)
    hs = [_t(rng.standard_normal((2, 3)), device) for _ in range(3)]
    c = mg.zeros((2, 4), dtype=mg.float64, device=device)
    total = sum((mg.addmm(c, h, w.T) * mg.addmm(c, h, u.T)).sum() for h in hs)
    total.backward()
    hs_np, u_np = [h.numpy() for h in hs], u.numpy()
    expected_w = sum((h @ u_np.T).T @ h for h in hs_np)
    np.testing.assert_allclose(w.grad.numpy(), expected_w)
    u_before = u.grad.numpy().copy()
    w.grad.data *= 0  # in-place, as an optimizer or clipping does
    np.testing.assert_array_equal(u.grad.numpy(), u_before)
    assert np.abs(u_before).sum() > 0


def test_second_backward_through_freed_graph_raises(device):
    x = _t([1.0, 2.0], device)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_retain_graph_allows_a_second_backward(device):
    x = _t([1.0, 2.0], device)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    e = np.exp([1.0, 2.0])
    np.testing.assert_allclose(x.grad.numpy(), 2 * (e + e * np.array([1.0, 2.0])))


def test_non_scalar_backward_needs_grad(device):
    x = _t([1.0, 2.0], device)
    y = x * 2
    with pytest.raises(RuntimeError, match=r"scalar.*\(2,\)"):
        y.backward()
    y.backward(grad=mg.tensor([1.0, -1.0], dtype=mg.float64, device=device))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, -2.0])


def test_backward_grad_of_wrong_shape_raises(device):
    y = _t([1.0, 2.0], device) * 2
    with pytest.raises(RuntimeError, match="shape"):
        y.backward(grad=mg.ones(3, dtype=mg.float64, device=device))


def test_backward_on_a_tensor_that_does_not_require_grad_raises(device):
    with pytest.raises(RuntimeError, match="does not require grad"):
        mg.ones(2, device=device).sum().backward()


# ---- mg.grad -----------------------------------------------------------------------------------------


def test_grad_returns_without_touching_dot_grad(device):
    x, y = _t([1.0, 2.0], device), _t([3.0, 4.0], device)
    out = x * y
    gx, gy = mg.grad(
        out, (x, y), grad_outputs=mg.tensor([1.0, 10.0], dtype=mg.float64, device=device)
    )
    np.testing.assert_allclose(gx.numpy(), [3.0, 40.0])
    np.testing.assert_allclose(gy.numpy(), [1.0, 20.0])
    assert x.grad is None and y.grad is None
    assert not gx.requires_grad  # create_graph=False


def test_grad_allow_unused(device):
    x, unused = _t([1.0], device), _t([2.0], device)
    out = (x * 2).sum()
    with pytest.raises(RuntimeError, match="allow_unused"):
        mg.grad(out, (x, unused), retain_graph=True)
    gx, gu = mg.grad(out, (x, unused), allow_unused=True)
    assert gx.item() == 2.0 and gu is None


def test_grad_of_a_non_leaf(device):
    x = _t([1.0, 2.0], device)
    h = x * 3
    out = (h * h).sum()
    (gh,) = mg.grad(out, h)
    np.testing.assert_allclose(gh.numpy(), [6.0, 12.0])


def test_grad_create_graph_gives_differentiable_gradients(device):
    x = _t([0.5, -1.0], device)
    (g,) = mg.grad((x**3).sum(), x, create_graph=True)
    assert g.requires_grad
    np.testing.assert_allclose(g.numpy(), 3 * np.array([0.5, -1.0]) ** 2)
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * np.array([0.5, -1.0]))


def test_grad_rejects_inputs_that_do_not_require_grad(device):
    x = _t([1.0], device)
    with pytest.raises(RuntimeError, match="requires_grad"):
        mg.grad((x * 2).sum(), mg.ones(1, device=device))


# ---- hooks and retain_grad -------------------------------------------------------------------------------


def test_hook_on_a_leaf_can_replace_the_gradient(device):
    x = _t([1.0, 2.0], device)
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()))
    x.register_hook(lambda g: g * 10)
    (x * x).sum().backward()
    np.testing.assert_allclose(seen[0], [2.0, 4.0])
    np.testing.assert_allclose(x.grad.numpy(), [20.0, 40.0])


def test_hook_on_a_non_leaf_changes_what_flows_upstream(device):
    x = _t([1.0, 2.0], device)
    h = x * 3
    h.register_hook(lambda g: g * 0 + 1)  # replace dL/dh by ones
    (h * h).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_hook_on_tensor_without_grad_raises(device):
    with pytest.raises(RuntimeError, match="require grad"):
        mg.ones(2, device=device).register_hook(lambda g: g)


def test_retain_grad_keeps_non_leaf_gradients(device):
    x = _t([1.0, 2.0], device)
    h = x * 3
    h.retain_grad()
    other = x * 4  # no retain_grad: keeps no .grad
    (h * h + other).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), [6.0, 12.0])
    assert other.grad is None
    assert not h.is_leaf and x.is_leaf


# ---- higher order ------------------------------------------------------------------------------------------


def test_third_derivative_of_x_to_the_fourth(device):
    x = _t([0.5, -2.0, 3.0], device)
    y = (x**4).sum()
    (g1,) = mg.grad(y, x, create_graph=True)
    (g2,) = mg.grad(g1.sum(), x, create_graph=True)
    (g3,) = mg.grad(g2.sum(), x)
    xv = np.array([0.5, -2.0, 3.0])
    np.testing.assert_allclose(g1.numpy(), 4 * xv**3)
    np.testing.assert_allclose(g2.numpy(), 12 * xv**2)
    np.testing.assert_allclose(g3.numpy(), 24 * xv)


def test_higher_order_through_tanh_and_exp(device):
    x = _t([0.3], device)
    (g1,) = mg.grad(x.tanh().sum(), x, create_graph=True)
    (g2,) = mg.grad(g1.sum(), x, create_graph=True)
    (g3,) = mg.grad(g2.sum(), x)
    t = np.tanh(0.3)
    assert g2.item() == pytest.approx(-2 * t * (1 - t**2))
    assert g3.item() == pytest.approx(-2 * (1 - t**2) ** 2 + 4 * t**2 * (1 - t**2))


def test_mixed_second_derivative(device):
    x, y = _t([1.5], device), _t([-0.5], device)
    (gx,) = mg.grad((x * x * y).sum(), x, create_graph=True)  # 2xy
    (gxy,) = mg.grad(gx.sum(), y)  # 2x
    assert gxy.item() == pytest.approx(3.0)


# ---- custom Function worked example --------------------------------------------------------------------


class Softplus(mg.Function):
    """out = log(1 + exp(x)), computed stably;  vjp: gx = g * sigmoid(x)

    The worked example of a user-defined op: forward uses raw arrays through ctx.xp, backward uses
    Tensor ops on the graph-connected input, so second derivatives work too.
    """

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        xp = ctx.xp
        return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x.sigmoid()


def softplus(x):
    return Softplus.apply(x)


def test_custom_function_forward_and_gradients(device):
    x = _t([-30.0, -1.0, 0.0, 2.0, 40.0], device)
    out = softplus(x)
    np.testing.assert_allclose(out.numpy(), np.logaddexp(0, [-30.0, -1.0, 0.0, 2.0, 40.0]))
    assert out.grad_fn.name() == "Softplus" and out.requires_grad
    out.sum().backward()
    np.testing.assert_allclose(
        x.grad.numpy(), 1 / (1 + np.exp(-np.array([-30.0, -1.0, 0.0, 2.0, 40.0])))
    )


def test_custom_function_passes_gradcheck_and_gradgradcheck(device):
    x = _t(np.linspace(-3, 3, 7).reshape(7, 1), device)
    assert gradcheck(softplus, x)
    assert gradgradcheck(softplus, x)
    assert gradgradcheck(lambda a: softplus(a * a), _t([[0.5, -1.2]], device))


def test_custom_function_with_two_inputs_and_needs_input_grad(device):
    flags = []

    class ScaledAdd(mg.Function):
        """out = x + alpha * y;  vjp: gx = g, gy = alpha * g"""

        @staticmethod
        def forward(ctx, x, y, alpha=1.0):
            ctx.alpha = alpha
            return x + alpha * y

        @staticmethod
        def backward(ctx, g):
            flags.append(ctx.needs_input_grad)
            gy = g * ctx.alpha if ctx.needs_input_grad[1] else None
            return g, gy

    x, y = _t([1.0, 2.0], device), _t([3.0, 4.0], device, requires_grad=False)
    out = ScaledAdd.apply(x, y, alpha=2.0)
    np.testing.assert_allclose(out.numpy(), [7.0, 10.0])
    out.sum().backward()
    assert flags == [(True, False)]
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 1.0])
    assert gradcheck(
        lambda a, b: ScaledAdd.apply(a, b, alpha=-0.5), (_t([1.0], device), _t([2.0], device))
    )


def test_custom_function_returning_wrong_number_of_gradients(device):
    class Broken(mg.Function):
        @staticmethod
        def forward(ctx, x, y):
            return x + y

        @staticmethod
        def backward(ctx, g):
            return (g,)

    out = Broken.apply(_t([1.0], device), _t([2.0], device))
    with pytest.raises(RuntimeError, match="Broken"):
        out.sum().backward()


class Cube(mg.Function):
    """y = x**3, with a rule written in operators only (array_backward); records what backward got."""

    array_backward = True
    seen: list = []

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        Cube.seen.append((type(g), type(x)))
        return g * 3 * x * x


def test_array_backward_rule_runs_on_arrays_without_create_graph(device):
    x = _t([1.0, -2.0], device)
    array_type = x.device.array_type
    Cube.seen.clear()
    Cube.apply(x).sum().backward()
    assert Cube.seen == [(array_type, array_type)]
    assert isinstance(x.grad, mg.Tensor)
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 12.0])
    Cube.seen.clear()
    (g,) = mg.grad(Cube.apply(x).sum(), x, create_graph=True)
    assert Cube.seen == [(mg.Tensor, mg.Tensor)] and g.requires_grad
    (gg,) = mg.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), [6.0, -12.0])
    assert gradcheck(Cube.apply, x) and gradgradcheck(Cube.apply, x)


def test_graph_kept_by_an_array_pass_gives_tensors_to_create_graph(device):
    # retain_graph keeps the nodes; the next backward, with create_graph, must hand them Tensors again
    x = _t([0.3, -0.7], device)
    out = (x.tanh() * x).sum()
    (g1,) = mg.grad(out, x, retain_graph=True)
    (g2,) = mg.grad(out, x, create_graph=True)
    np.testing.assert_allclose(g1.numpy(), g2.numpy())
    assert g2.requires_grad and not g1.requires_grad
    (gg,) = mg.grad(g2.sum(), x)
    t = np.tanh([0.3, -0.7])
    expected = 2 * (1 - t**2) - 2 * np.array([0.3, -0.7]) * t * (1 - t**2)
    np.testing.assert_allclose(gg.numpy(), expected)


def test_rule_returning_the_wrong_kind_is_named(device):
    class ArrayOut(mg.Function):  # not array_backward, yet returns a raw array
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g.data * 2

    class TensorOut(mg.Function):  # array_backward, yet makes a Tensor
        array_backward = True

        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return mg.tensor([2.0, 2.0], device=x.device) * 1

    x = _t([1.0, 2.0], device)
    with pytest.raises(TypeError, match="ArrayOut.backward must return Tensors"):
        ArrayOut.apply(x).sum().backward()
    with pytest.raises(TypeError, match="TensorOut.backward must return arrays"):
        TensorOut.apply(x).sum().backward()


# ---- the graph frees itself -----------------------------------------------------------------------------


def test_graph_is_freed_without_the_garbage_collector(device):
    gc.collect()
    gc.disable()
    try:
        x = _t(np.ones((3, 3)), device)
        h = x.tanh()  # saves its output for backward
        mid = h * x.exp()
        out = mid.sum()
        refs = [weakref.ref(h), weakref.ref(mid), weakref.ref(out), weakref.ref(h.grad_fn)]
        out.backward()
        del h, mid, out
        assert all(r() is None for r in refs), [r() for r in refs]
        assert x.grad is not None
    finally:
        gc.enable()


def test_graph_without_backward_is_freed_too(device):
    gc.collect()
    gc.disable()
    try:
        x = _t(np.ones(4), device)
        y = x.sigmoid() * x
        ref, node_ref = weakref.ref(y), weakref.ref(y.grad_fn)
        del y
        assert ref() is None and node_ref() is None
    finally:
        gc.enable()


# ---- in-place rules ------------------------------------------------------------------------------------


def test_inplace_on_leaf_requiring_grad_raises(device):
    x = _t([1.0, 2.0], device)
    with pytest.raises(RuntimeError, match=r"in-place.*no_grad"):
        x += 1
    with pytest.raises(RuntimeError, match="in-place"):
        x[0] = 5.0
    np.testing.assert_allclose(x.numpy(), [1.0, 2.0])


def test_inplace_inside_no_grad_is_allowed(device):
    x = _t([1.0, 2.0], device)
    (x * x).sum().backward()
    with mg.no_grad():
        x -= 0.5 * x.grad  # an optimizer step
        x *= 2
        x[1] = 7.0
    np.testing.assert_allclose(x.numpy(), [0.0, 7.0])
    assert x.requires_grad and x.is_leaf


def test_setitem_on_a_tensor_without_grad(device):
    t = mg.zeros(2, 3, device=device)
    t[0] = 1.0
    t[:, 2] = mg.tensor([5.0, 6.0], device=device)
    t[t > 5.5] = -1.0
    np.testing.assert_allclose(t.numpy(), [[1, 1, 5], [0, 0, -1]])


def test_inplace_on_non_leaf_raises_while_recording(device):
    h = _t([1.0], device) * 2
    with pytest.raises(RuntimeError, match="part of a graph"):
        h += 1


def test_writing_a_grad_tensor_into_a_plain_one_raises(device):
    t = mg.zeros(2, dtype=mg.float64, device=device)
    with pytest.raises(RuntimeError, match="drop its gradient"):
        t[0] = _t([1.0], device)[0]


def test_modifying_a_saved_tensor_makes_backward_raise(device):
    x = _t([1.0, 2.0], device)
    y = x * 1.0  # a plain tensor that will be saved by Mul below
    w = mg.tensor([3.0, 4.0], dtype=mg.float64, device=device)
    out = (x * w).sum()  # Mul saves w
    w += 1  # allowed: w does not require grad, but Mul saved it
    with pytest.raises(RuntimeError, match=r"Mul.*modified in place"):
        out.backward()
    del y


def test_modifying_a_saved_output_makes_backward_raise(device):
    x = _t([0.1, 0.2], device)
    y = x.exp()  # Exp saves its output
    out = y.sum()  # Sum saves nothing, so Exp is the first to notice
    with mg.no_grad():
        y += 1
    with pytest.raises(RuntimeError, match=r"Exp.*in place"):
        out.backward()


# ---- 0-d tensors (NumPy turns 0-d results into scalars; the engine must keep arrays) ---------------------


def test_zero_dim_gradients_are_arrays(device):
    x = _t(2.0, device)
    (x * x).backward()  # two contributions to one leaf are summed
    assert x.grad.shape == () and x.grad.item() == 4.0
    assert isinstance(x.grad.numpy(), np.ndarray)
    v = _t(0.3, device)
    (gv,) = mg.grad([v, -v], [v], grad_outputs=[_t(1.0, device, False), _t(2.0, device, False)])
    assert isinstance(gv.numpy(), np.ndarray) and gv.item() == pytest.approx(-1.0)


@pytest.mark.parametrize(
    "op, second", [(mg.exp, np.exp), (mg.tanh, lambda a: -2 * np.tanh(a) * (1 - np.tanh(a) ** 2))]
)
def test_zero_dim_second_derivative(op, second, device):
    x = _t(0.5, device)
    (g,) = mg.grad(op(x), x, create_graph=True)
    assert g.requires_grad  # the saved output must stay connected to the graph for 0-d tensors too
    (gg,) = mg.grad(g, x)
    assert gg.item() == pytest.approx(second(0.5))


@pytest.mark.parametrize("op", ["tanh", "sigmoid"])
def test_third_derivative_of_activations(op):
    # the VJPs of tanh / sigmoid read their own output: check the second derivative's gradient (which
    # differentiates through that saved output twice) against finite differences.
    x = mg.tensor(np.linspace(-2.0, 2.0, 7), dtype=mg.float64, requires_grad=True)

    def second(x):
        (g,) = mg.grad(getattr(x, op)().sum(), x, create_graph=True)
        (h,) = mg.grad(g.sum(), x, create_graph=True)
        return h

    assert mg.gradcheck(second, (x,))


def test_no_outputs_is_not_a_crash(device):
    x = _t([1.0], device)
    mg.autograd.backward([])  # nothing to differentiate: nothing happens
    assert x.grad is None
    with pytest.raises(RuntimeError, match="was not used"):
        mg.grad([], [x])


# ---- audited against torch (2026-12-07): each of these failed before its fix --------------------------


def test_hook_may_not_change_the_gradients_shape_or_dtype(device):
    # torch: "hook '<lambda>' has changed the size of value"; before, minigrad silently used it
    x = _t([1.0, 2.0], device)
    y = x * _t([3.0, 4.0], device, requires_grad=False)
    y.register_hook(lambda g: g.sum())
    with pytest.raises(RuntimeError, match="hook '<lambda>' has changed the shape"):
        (y * _t([1.0, 10.0], device, requires_grad=False)).sum().backward()

    x = _t([1.0, 2.0], device)
    x.register_hook(lambda g: g.astype(mg.float32))  # float64 leaf
    with pytest.raises(RuntimeError, match="changed the dtype"):
        (x * x).sum().backward()
    assert x.grad is None


def test_register_hook_returns_a_handle_that_removes_it(device):
    for leaf in (True, False):
        x = _t([1.0, 2.0], device)
        t = x if leaf else x * 1
        handle = t.register_hook(lambda g: g * 10)
        handle.remove()
        handle.remove()  # a second remove does nothing, as in torch
        (t * t).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


def test_grad_accumulates_in_place_into_an_existing_grad(device):
    x = _t([1.0, 2.0], device)
    (x * 2).sum().backward()
    first = x.grad
    (x * 3).sum().backward()
    assert x.grad is first  # a reference held to .grad stays current, as in torch
    np.testing.assert_allclose(first.numpy(), [5.0, 5.0])


def test_an_assigned_grad_of_the_wrong_shape_or_dtype_is_an_error(device):
    x = _t([1.0, 2.0], device)
    x.grad = mg.zeros((3, 2), dtype=mg.float64, device=device)
    with pytest.raises(RuntimeError, match=r"shape \(3, 2\).*assign a gradient"):
        (x * 2).sum().backward()
    x.grad = mg.zeros(2, dtype=mg.float32, device=device)
    with pytest.raises(RuntimeError, match="dtype float32"):
        (x * 2).sum().backward()


def test_grad_runs_only_the_graph_between_outputs_and_inputs(device):
    x, w = _t([1.0, 2.0], device), _t([3.0, 4.0], device)
    fired = []
    w.register_hook(lambda g: fired.append("w"))
    h = w * 1
    h.retain_grad()
    (gx,) = mg.grad((x * h).sum(), [x])
    np.testing.assert_allclose(gx.numpy(), [3.0, 4.0])
    assert fired == [] and h.grad is None and w.grad is None

    # the graph below a non-leaf input is neither run nor freed: a later backward through it works
    y = x * 2
    (gy,) = mg.grad((y * 3).sum(), [y])
    np.testing.assert_allclose(gy.numpy(), [3.0, 3.0])
    assert x.grad is None
    (y * 1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])


def test_grad_with_no_inputs_is_an_error(device):
    x = _t([1.0], device)
    with pytest.raises(RuntimeError, match="cannot be empty"):
        mg.grad(x.sum(), [])


def test_backward_takes_torchs_gradient_keyword(device):
    x = _t([1.0, 2.0], device)
    (x * x).backward(gradient=_t([1.0, 10.0], device, requires_grad=False))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 40.0])
    with pytest.raises(TypeError, match="not both"):
        (x * x).backward(_t([1.0, 1.0], device, False), gradient=_t([1.0, 1.0], device, False))


def test_a_custom_function_with_an_integer_result_records_nothing(device):
    class ArgSort(mg.Function):
        @staticmethod
        def forward(ctx, x):
            return ctx.xp.argsort(x)

        @staticmethod
        def backward(ctx, g):
            return None

    r = ArgSort.apply(_t([3.0, 1.0, 2.0], device))
    assert not r.requires_grad and r.grad_fn is None  # torch: integer outputs are not differentiable
    assert r.tolist() == [1, 2, 0]


def test_tensor_to_takes_a_dtype_or_a_tensor_first_and_none_comparisons(device):
    x = mg.ones(2, device=device)
    assert x.to(mg.float64).dtype == mg.float64
    assert x.to("float64").dtype == mg.float64
    assert x.to(mg.zeros(1, dtype=mg.float64, device=device)).dtype == mg.float64
    assert x.to(device, mg.float64).dtype == mg.float64
    assert (x == None) is False and (x != None) is True  # noqa: E711  (torch's answer)
    v = _t([1.0, 2.0, 4.0], device)
    np.testing.assert_allclose(v.var(unbiased=False).item(), np.var([1.0, 2.0, 4.0]))
    np.testing.assert_allclose(v.std(unbiased=True).item(), np.std([1.0, 2.0, 4.0], ddof=1))


def test_a_node_that_saved_nothing_may_backward_again(device):
    # torch frees only saved tensors: add, sum and basic slices can be replayed; mul cannot
    x = _t([1.0, 2.0], device)
    y = (x + 1).sum()
    y.backward()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])

    x = _t([1.0, 2.0], device)
    h = x[0] + x  # a basic slice and an add, shared by two later graphs
    (h * 2).sum().backward()
    (h * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [15.0, 5.0])

    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()
    h = x[[0, 0]]  # an integer-array index is saved: freed like torch's
    (h * 2).sum().backward()
    with pytest.raises(RuntimeError, match="second time"):
        (h * 3).sum().backward()
