"""In-place safety: version counters make backward refuse to use a saved tensor that was modified in place,
and in-place updates that would corrupt a recorded graph are refused up front."""

import numpy as np
import pytest

import minigrad as mg


def _inplace_edits():
    """Every public in-place operation, as (name, fn(t)) pairs."""
    return [
        ("+=", lambda t: t.__iadd__(1.0)),
        ("-=", lambda t: t.__isub__(1.0)),
        ("*=", lambda t: t.__imul__(2.0)),
        ("/=", lambda t: t.__itruediv__(2.0)),
        ("setitem", lambda t: t.__setitem__(0, 5.0)),
        ("copy_", lambda t: t.copy_(mg.ones(t.shape))),
        ("fill_", lambda t: t.fill_(3.0)),
        ("zero_", lambda t: t.zero_()),
    ]


@pytest.mark.parametrize("name,edit", _inplace_edits(), ids=[n for n, _ in _inplace_edits()])
def test_every_inplace_op_bumps_the_version(name, edit):
    t = mg.randn(3, 2)
    v = t._version
    edit(t)
    assert t._version == v + 1
    edit(t)
    assert t._version == v + 2


# ---- a saved input modified in place --------------------------------------------------------------

SAVED_INPUT_CASES = [
    # (op name in the message, build(x, c) -> output; c is the constant operand that gets modified)
    ("Mul", (2, 3), (2, 3), lambda x, c: x * c),
    ("MatMul", (2, 3), (3, 4), lambda x, c: x @ c),
    ("MatMul", (2, 3), (5, 2), lambda x, c: c @ x),
    ("Div", (2, 3), (2, 3), lambda x, c: x / c),
    ("Pow", (2, 3), (2, 3), lambda x, c: x**c),
]


@pytest.mark.parametrize(
    "op,xshape,cshape,build", SAVED_INPUT_CASES, ids=[c[0] for c in SAVED_INPUT_CASES]
)
@pytest.mark.parametrize("name,edit", _inplace_edits(), ids=[n for n, _ in _inplace_edits()])
def test_modified_saved_input_makes_backward_raise(op, xshape, cshape, build, name, edit):
    x = mg.rand(*xshape, requires_grad=True)
    c = (
        mg.rand(*cshape) + 0.5
    )  # does not require grad: editing it in place is allowed while recording
    out = build(x, c)
    edit(c)
    with pytest.raises(RuntimeError) as info:
        out.sum().backward()
    msg = str(info.value)
    assert msg.startswith(f"{op}:") and "modified in place" in msg
    assert f"shape {cshape}" in msg
    assert "clone()" in msg  # the fix
    assert x.grad is None  # no partial gradient reached the leaf


@pytest.mark.parametrize(
    "op,build", [("Log", mg.log), ("Pow", lambda x: x**3), ("Mul", lambda x: x * x)]
)
def test_modified_saved_leaf_under_no_grad_makes_backward_raise(op, build):
    x = mg.rand(4, 2, requires_grad=True) + 0.5
    x = x.detach().requires_grad_()
    out = build(x)
    with mg.no_grad():
        x -= 0.1  # e.g. an optimizer step between forward and backward
    with pytest.raises(RuntimeError, match=rf"^{op}: .*\(shape \(4, 2\)\) was modified in place"):
        out.sum().backward()


def test_saved_intermediate_modified_makes_backward_raise():
    x = mg.randn(3, requires_grad=True)
    h = x * 2.0  # an intermediate
    out = h * h  # Mul saves h
    with mg.no_grad():
        h += 1.0
    with pytest.raises(RuntimeError, match=r"Mul: .*saved for backward \(shape \(3,\)\)"):
        out.sum().backward()


def test_check_runs_again_on_a_retained_graph():
    x = mg.randn(3, requires_grad=True)
    c = mg.randn(3)
    out = (x * c).sum()
    out.backward(retain_graph=True)
    np.testing.assert_allclose(x.grad.numpy(), c.numpy())
    c += 1.0
    with pytest.raises(RuntimeError, match="Mul: .*modified in place"):
        out.backward()


# ---- an op's saved output modified in place ---------------------------------------------------------


@pytest.mark.parametrize(
    "op,fn",
    [
        ("Exp", mg.exp),
        ("Tanh", mg.tanh),
        ("Sigmoid", mg.sigmoid),
        ("Sqrt", mg.sqrt),
        ("Div", lambda x: 1.0 / x),
    ],
)
@pytest.mark.parametrize("name,edit", _inplace_edits(), ids=[n for n, _ in _inplace_edits()])
def test_saved_output_modified_under_no_grad_makes_backward_raise(op, fn, name, edit):
    x = mg.rand(3, 2, requires_grad=True) + 0.5
    y = fn(x)
    with mg.no_grad():
        edit(y)
    with pytest.raises(RuntimeError) as info:
        y.sum().backward()
    msg = str(info.value)
    assert msg.startswith(f"{op}:") and "output (shape (3, 2)) was modified in place" in msg
    assert "clone()" in msg


@pytest.mark.parametrize(
    "view",
    [lambda y: y.reshape(6), lambda y: y[0:2], lambda y: y.T],
    ids=["reshape", "slice", "T"],
)
@pytest.mark.parametrize("name,edit", _inplace_edits(), ids=[n for n, _ in _inplace_edits()])
def test_saved_output_modified_through_a_view_after_the_output_is_gone_makes_backward_raise(
    view, name, edit
):
    # only a view of Exp's output survives; editing it still changes what Exp's backward reads
    x = mg.rand(3, 2, requires_grad=True)
    v = view(mg.exp(x))
    loss = v.sum()
    with mg.no_grad():
        edit(v)
    with pytest.raises(RuntimeError, match=r"^Exp: its output \(shape \(3, 2\)\) was modified"):
        loss.backward()


def test_output_of_an_op_that_does_not_save_it_may_be_modified():
    x = mg.randn(3, requires_grad=True)
    y = x + 1.0  # Add saves nothing
    with mg.no_grad():
        y *= 5.0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(3, np.float32))


def test_clone_before_editing_is_the_fix():
    x = mg.rand(3, requires_grad=True)
    y = mg.exp(x)
    z = y.clone()
    with mg.no_grad():
        z += 1.0
    (y * 2.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2.0 * np.exp(x.numpy()), rtol=1e-6)


# ---- in-place edits refused while recording ----------------------------------------------------------


@pytest.mark.parametrize("name,edit", _inplace_edits(), ids=[n for n, _ in _inplace_edits()])
def test_inplace_on_a_leaf_that_requires_grad_is_refused_while_recording(name, edit):
    w = mg.randn(3, 2, requires_grad=True)
    before = w.numpy().copy()
    with pytest.raises(RuntimeError) as info:
        edit(w)
    msg = str(info.value)
    assert "leaf that requires grad" in msg and "shape (3, 2)" in msg
    assert "mg.no_grad()" in msg and "x = x + y" in msg  # both fixes
    np.testing.assert_array_equal(w.numpy(), before)  # nothing changed
    assert w._version == 0


@pytest.mark.parametrize("name,edit", _inplace_edits(), ids=[n for n, _ in _inplace_edits()])
def test_inplace_on_a_leaf_is_allowed_under_no_grad(name, edit):
    w = mg.randn(3, 2, requires_grad=True)
    expected = w.numpy().copy()
    with mg.no_grad():
        edit(w)
    {
        "+=": lambda a: a.__iadd__(1.0),
        "-=": lambda a: a.__isub__(1.0),
        "*=": lambda a: a.__imul__(2.0),
        "/=": lambda a: a.__itruediv__(2.0),
        "setitem": lambda a: a.__setitem__(0, 5.0),
        "copy_": lambda a: a.__setitem__(Ellipsis, 1.0),
        "fill_": lambda a: a.__setitem__(Ellipsis, 3.0),
        "zero_": lambda a: a.__setitem__(Ellipsis, 0.0),
    }[name](expected)
    np.testing.assert_allclose(w.numpy(), expected, rtol=1e-6)
    assert w.requires_grad and w.is_leaf and w.grad_fn is None


def test_inplace_on_a_graph_tensor_is_refused_while_recording():
    x = mg.randn(3, requires_grad=True)
    y = mg.tanh(x)
    with pytest.raises(
        RuntimeError,
        match=r"\+=: in-place update of a tensor that is part of a graph \(shape \(3,\)\)",
    ):
        y += 1.0


def test_writing_a_tensor_that_requires_grad_into_a_constant_is_refused():
    buf = mg.zeros(2, 3)
    x = mg.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"__setitem__: .*would drop its gradient.*mg\.stack"):
        buf[0] = x
    with pytest.raises(RuntimeError, match="copy_: .*would drop its gradient"):
        buf.copy_(x)
    assert buf._version == 0 and not buf.numpy().any()
    with mg.no_grad():
        buf[0] = x  # explicit: the user asked for values only
    np.testing.assert_array_equal(buf.numpy()[0], x.numpy())


def test_optimizer_style_update_then_new_forward_is_fine():
    w = mg.randn(3, requires_grad=True)
    w0 = w.numpy().copy()
    for _ in range(3):
        loss = (w * w).sum()
        loss.backward()
        with mg.no_grad():
            w -= 0.1 * w.grad
        w.grad = None
    np.testing.assert_allclose(w.numpy(), w0 * 0.8**3, rtol=1e-5)  # w -= 0.1 * 2w, three times
    assert w._version == 3


# ---- memory shared with another tensor ----------------------------------------------------------------


def test_edit_through_a_detached_alias_is_detected():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x
    d = x.detach()  # shares x's memory
    d += 1.0
    with pytest.raises(RuntimeError, match="modified in place"):
        y.sum().backward()


def test_edit_through_a_slice_view_is_detected():
    x = mg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    c = mg.tensor([[1.0, 1.0], [1.0, 1.0]])
    y = x * c  # Mul saves c
    row = c[0]  # a view of c's memory
    row += 10.0
    with pytest.raises(RuntimeError, match="modified in place"):
        y.sum().backward()


def test_edit_of_an_index_tensor_after_use_does_not_move_the_gradient():
    # getitem keeps its own copy of an index array, so the gradient matches the forward that ran
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    idx = mg.tensor([0, 0, 1])
    y = x[idx]
    idx[0] = 2
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 1.0, 0.0])


def test_optimizer_step_before_a_second_backward_through_a_retained_graph_is_detected():
    mg.manual_seed(0)
    lin = mg.nn.Linear(3, 3)
    opt = mg.optim.SGD(lin.parameters(), lr=0.1)
    loss = mg.tanh(lin(mg.randn(2, 3))).sum()
    loss.backward(retain_graph=True)
    opt.step()  # changes lin.weight in place
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()  # PyTorch raises here; the saved weights are stale
