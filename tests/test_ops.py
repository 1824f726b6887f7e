"""The op table: one row per primitive and composition, each checked by `minigrad.testing.check_op`.

Every row compares the forward with NumPy over drawn shapes (0-d, size-1 axes, broadcast pairs), runs
gradcheck and gradgradcheck in float64, checks that inputs are not mutated, and (when PyTorch imports)
compares forward values and gradients with PyTorch. Below the table: non-differentiable ops, numerical
stability and error messages.
"""

import math

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad.testing import OpSpec, check_op, gradcheck, gradgradcheck, shapes

# ---- helpers for drawing keyword arguments ------------------------------------------------------------


def _dims(axis, ndim):
    """A reduction's axis argument as the tuple of axes it reduces (NumPy meaning)."""
    if axis is None:
        return tuple(range(ndim))
    return (axis,) if isinstance(axis, int) else tuple(axis)


def _count(shape, axis):
    return math.prod(shape[a] for a in _dims(axis, len(shape)))


def _torch_reduce(name):
    """torch reduction with NumPy axis semantics (torch reads dim=() as 'all axes')."""

    def fn(x, axis=None, keepdims=False, **kw):
        import torch

        dims = _dims(axis, x.ndim)
        if not dims:
            return torch.zeros_like(x) * x if name == "var" else x
        return getattr(torch, name)(x, dim=dims, keepdim=keepdims, **kw)

    return fn


def _np_logsumexp(a, axis=None, keepdims=False):
    m = np.max(a, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=_dims(axis, a.ndim))


def _np_log_softmax(a, axis):
    return a - _np_logsumexp(a, axis=axis, keepdims=True)


@st.composite
def _var_kwargs(draw, shapes_):
    (shape,) = shapes_
    axis = draw(st.one_of(st.none(), hnp.valid_tuple_axes(len(shape)), *_int_axis(len(shape))))
    correction = draw(st.sampled_from([0, 1]))
    if _count(shape, axis) - correction <= 0:
        correction = 0
    return {"axis": axis, "keepdims": draw(st.booleans()), "correction": correction}


def _int_axis(ndim):
    return [st.integers(-ndim, ndim - 1)] if ndim else []


@st.composite
def _reshape_kwargs(draw, shapes_):
    (shape,) = shapes_
    factors = [1] * draw(st.integers(0, 2))
    for s in shape:
        n, p = s, 2
        while n > 1:
            while n % p == 0:
                factors.append(p)
                n //= p
            p += 1
    factors = draw(st.permutations(factors))
    cuts = sorted(draw(st.lists(st.integers(0, len(factors)), max_size=3)))
    new, start = [], 0
    for c in cuts + [len(factors)]:
        new.append(math.prod(factors[start:c]))
        start = c
    new = tuple(new) if factors else ()
    if new and draw(st.booleans()):
        i = draw(st.integers(0, len(new) - 1))
        new = new[:i] + (-1,) + new[i + 1 :]
    return {"shape": new}


@st.composite
def _squeeze_kwargs(draw, shapes_):
    (shape,) = shapes_
    ones = [i for i, s in enumerate(shape) if s == 1]
    options = [st.none()]
    if ones:
        one = st.sampled_from(ones).flatmap(lambda i: st.sampled_from([i, i - len(shape)]))
        options += [one, st.lists(st.sampled_from(ones), unique=True, min_size=1).map(tuple)]
    return {"axis": draw(st.one_of(*options))}


@st.composite
def _matmul_case(draw):
    k = draw(st.integers(1, 3))
    kind = draw(st.sampled_from(["1x1", "2x1", "1x2", "2x2", "batched"]))
    n, m = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    if kind == "1x1":
        return ((k,), (k,)), {}
    if kind == "2x1":
        return ((n, k), (k,)), {}
    if kind == "1x2":
        return ((k,), (k, m)), {}
    if kind == "2x2":
        return ((n, k), (k, m)), {}
    bx, by = draw(
        hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2, max_side=3)
    ).input_shapes
    return (bx + (n, k), by + (k, m)), {}


@st.composite
def _addmm_case(draw):
    n, k, m = (draw(st.integers(1, 3)) for _ in range(3))
    c = draw(st.sampled_from([(n, m), (m,), (1, m), (n, 1), ()]))
    return (c, (n, k), (k, m)), {}


@st.composite
def _linear_case(draw, bias: bool):
    n, d_in, d_out = draw(st.integers(0, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return ((n, d_in), (d_out, d_in)) + (((d_out,),) if bias else ()), {}


@st.composite
def _concatenate_case(draw):
    base = draw(shapes(min_dims=1, max_dims=3, max_side=3))
    axis = draw(st.integers(-len(base), len(base) - 1))
    count = draw(st.integers(1, 3))
    sizes = draw(st.lists(st.integers(1, 3), min_size=count, max_size=count))
    ax = axis % len(base)
    return tuple(base[:ax] + (s,) + base[ax + 1 :] for s in sizes), {"axis": axis}


@st.composite
def _stack_case(draw):
    shape = draw(shapes(max_dims=3, max_side=3))
    count = draw(st.integers(1, 3))
    axis = draw(st.integers(-len(shape) - 1, len(shape)))
    return (shape,) * count, {"axis": axis}


@st.composite
def _split_kwargs(draw, shapes_):
    (shape,) = shapes_
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    n = shape[axis]
    if draw(st.booleans()):
        return {"split_size_or_sections": draw(st.integers(1, n + 1)), "axis": axis}
    cuts = sorted(draw(st.lists(st.integers(1, n), max_size=2)))
    bounds = [0] + cuts + [n]
    sections = [b - a for a, b in zip(bounds, bounds[1:])]
    return {"split_size_or_sections": sections, "axis": axis}


@st.composite
def _pad_kwargs(draw, shapes_):
    (shape,) = shapes_
    width = tuple(draw(st.tuples(st.integers(0, 2), st.integers(0, 2))) for _ in shape)
    return {"pad_width": width, "value": draw(st.sampled_from([0.0, -1.5]))}


@st.composite
def _take_kwargs(draw, shapes_):
    (shape,) = shapes_
    axis = draw(st.one_of(st.none(), *_int_axis(len(shape))))
    n = math.prod(shape) if axis is None else shape[axis]
    idx = draw(
        hnp.arrays(
            np.int64,
            hnp.array_shapes(min_dims=0, max_dims=2, max_side=4),
            elements=st.integers(-n, n - 1),
        )
    )
    return {"indices": idx, "axis": axis}


@st.composite
def _index_select_kwargs(draw, shapes_):
    (shape,) = shapes_
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    index = draw(st.lists(st.integers(0, shape[axis] - 1), min_size=1, max_size=5))
    return {"axis": axis, "index": np.array(index, dtype=np.int64)}


@st.composite
def _mixed_index(draw, shapes_):
    """An integer array with repeats, alone or combined with slices, Ellipsis and None."""
    (shape,) = shapes_
    n = shape[0]
    idx = np.array(draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=6)), dtype=np.int64)
    form = draw(st.sampled_from(["alone", "with_slice", "with_ellipsis", "with_none"]))
    if form == "with_slice" and len(shape) > 1:
        return {"index": (idx, slice(None, None, draw(st.sampled_from([1, 2, -1]))))}
    if form in ("alone", "with_slice"):
        return {"index": idx}
    if form == "with_ellipsis":
        return {"index": (Ellipsis, idx) if len(shape) == 1 else (idx, Ellipsis)}
    return {"index": (None, idx)}


def _torch_index(index):
    """Convert NumPy index arrays to torch tensors (torch takes slices, None and Ellipsis as they are)."""
    import torch

    def conv(i):
        return torch.from_numpy(i) if isinstance(i, np.ndarray) else i

    return tuple(conv(i) for i in index) if isinstance(index, tuple) else conv(index)


def _tnp(*names):
    """A torch function looked up by name, imported only when called (torch is optional)."""

    def fn(*args, **kw):
        import torch

        f = torch
        for name in names:
            f = getattr(f, name)
        return f(*args, **kw)

    return fn


def _torch_pad(x, pad_width, value):
    import torch.nn.functional as tF

    flat = [p for pair in reversed(pad_width) for p in pair]
    return tF.pad(x, flat, value=value)


def _torch_flip(x, axis=None):
    import torch

    dims = _dims(axis, x.ndim)
    return torch.flip(x, dims) if dims else x


def _torch_take(x, indices, axis=None):
    import torch

    if axis is None:
        return torch.take(x, torch.from_numpy(np.asarray(indices % max(x.numel(), 1))))
    return x[
        (slice(None),) * (axis % x.ndim) + (torch.from_numpy(np.asarray(indices % x.shape[axis])),)
    ]


def _np_flatten(a, start_dim=0, end_dim=-1):
    if a.ndim == 0:
        return a.reshape(1)
    s, e = start_dim % a.ndim, end_dim % a.ndim
    return a.reshape(a.shape[:s] + (-1,) + a.shape[e + 1 :])


@st.composite
def _flatten_kwargs(draw, shapes_):
    (shape,) = shapes_
    if not shape:
        return {}
    s = draw(st.integers(0, len(shape) - 1))
    e = draw(st.integers(s, len(shape) - 1))
    return {"start_dim": s - draw(st.sampled_from([0, len(shape)])), "end_dim": e}


def _np_split(a, split_size_or_sections, axis):
    n = a.shape[axis]
    if isinstance(split_size_or_sections, int):
        cuts = list(range(split_size_or_sections, n, split_size_or_sections))
    else:
        cuts = list(np.cumsum(split_size_or_sections)[:-1])
    return np.split(a, cuts, axis=axis)


def _np_chunk(a, chunks, axis):
    size = -(-a.shape[axis] // chunks)
    return _np_split(a, size, axis)


def _np_take(a, indices, axis=None):
    return np.take(a, indices, axis=axis)


def _perm_kwargs(shapes_):
    (shape,) = shapes_
    return st.one_of(st.permutations(range(len(shape))).map(tuple), st.none()).map(
        lambda p: {"axes": p}
    )


def _swap_kwargs(shapes_):
    nd = len(shapes_[0])
    ax = st.integers(-nd, nd - 1)
    return st.fixed_dictionaries({"axis1": ax, "axis2": ax})


def _broadcast_to_kwargs(shapes_):
    (shape,) = shapes_
    other = hnp.broadcastable_shapes(shape, max_dims=4, max_side=3)
    return other.map(lambda o: {"shape": np.broadcast_shapes(shape, o)})


def _where_kwargs(shapes_):
    target = np.broadcast_shapes(*shapes_)
    cond_shape = hnp.broadcastable_shapes(target, max_dims=len(target), max_side=3)
    cond_shape = cond_shape.filter(lambda s: np.broadcast_shapes(s, target) == target)
    return cond_shape.flatmap(lambda s: hnp.arrays(np.bool_, s)).map(lambda c: {"cond": c})


def _basic_index_kwargs(shapes_):
    (shape,) = shapes_
    return hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True).map(
        lambda i: {"index": i}
    )


def _int_array_index_kwargs(shapes_):
    (shape,) = shapes_
    result = hnp.array_shapes(min_dims=0, max_dims=2, max_side=4)
    return hnp.integer_array_indices(shape, result_shape=result).map(lambda i: {"index": i})


@st.composite
def _mask_kwargs(draw, shapes_):
    (shape,) = shapes_
    k = draw(st.integers(1, len(shape)))
    return {"mask": draw(hnp.arrays(np.bool_, shape[:k]))}


CLIP_BOUNDS = st.sampled_from([(-1.1, 1.3), (None, 0.7), (-0.6, None)])
POSITIVE = (0.3, 3.0)
# Two grids offset by less than a cell: x == y never happens, so maximum/minimum stay away from their kink.
OFFSET = ((-3.0, 3.0), (-2.99, 3.01))

# ---- the table ------------------------------------------------------------------------------------------

OPS = [
    # elementwise, binary (broadcasting)
    OpSpec("add", mg.add, np.add, arity=2, broadcast=True, torch_fn=_tnp("add")),
    OpSpec("sub", mg.sub, np.subtract, arity=2, broadcast=True, torch_fn=_tnp("sub")),
    OpSpec("mul", mg.mul, np.multiply, arity=2, broadcast=True, torch_fn=_tnp("mul")),
    OpSpec(
        "div",
        mg.div,
        np.divide,
        arity=2,
        broadcast=True,
        domain=((-3, 3), (0.5, 3)),
        torch_fn=_tnp("div"),
    ),
    OpSpec(
        "div_negative", mg.div, np.divide, arity=2, broadcast=True, domain=((-3, 3), (-3, -0.5))
    ),
    OpSpec(
        "pow_tensor",
        mg.pow,
        np.power,
        arity=2,
        broadcast=True,
        domain=((0.5, 2.5), (-2, 2)),
        torch_fn=_tnp("pow"),
    ),
    OpSpec(
        "maximum",
        mg.maximum,
        np.maximum,
        arity=2,
        broadcast=True,
        domain=OFFSET,
        torch_fn=_tnp("maximum"),
    ),
    OpSpec(
        "minimum",
        mg.minimum,
        np.minimum,
        arity=2,
        broadcast=True,
        domain=OFFSET,
        torch_fn=_tnp("minimum"),
    ),
    OpSpec(
        "where",
        lambda x, y, cond: mg.where(cond, x, y),
        lambda a, b, cond: np.where(cond, a, b),
        arity=2,
        broadcast=True,
        kwargs=_where_kwargs,
        torch_fn=lambda x, y, cond: _tnp("where")(_torch_index(cond), x, y),
    ),
    # elementwise, unary
    OpSpec("neg", mg.neg, np.negative, torch_fn=_tnp("neg")),
    OpSpec(
        "pow_int_scalar",
        mg.pow,
        lambda a, exponent: np.power(a, exponent),
        kwargs=lambda s: st.fixed_dictionaries({"exponent": st.sampled_from([0, 1, 2, 3])}),
        torch_fn=_tnp("pow"),
    ),
    OpSpec(
        "pow_real_scalar",
        mg.pow,
        lambda a, exponent: np.power(a, exponent),
        domain=POSITIVE,
        kwargs=lambda s: st.fixed_dictionaries(
            {"exponent": st.sampled_from([-1.5, -1.0, 0.5, 2.5])}
        ),
        torch_fn=_tnp("pow"),
    ),
    OpSpec("exp", mg.exp, np.exp, torch_fn=_tnp("exp")),
    OpSpec("log", mg.log, np.log, domain=POSITIVE, torch_fn=_tnp("log")),
    OpSpec("sqrt", mg.sqrt, np.sqrt, domain=POSITIVE, torch_fn=_tnp("sqrt")),
    OpSpec("abs", mg.abs, np.abs, torch_fn=_tnp("abs")),
    OpSpec("tanh", mg.tanh, np.tanh, torch_fn=_tnp("tanh")),
    OpSpec(
        "sigmoid",
        mg.sigmoid,
        lambda a: 1 / (1 + np.exp(-a)),
        domain=(-6, 6),
        torch_fn=_tnp("sigmoid"),
    ),
    OpSpec("relu", mg.relu, lambda a: np.maximum(a, 0), torch_fn=_tnp("relu")),
    OpSpec(
        "clip",
        lambda x, bounds: mg.clip(x, *bounds),
        lambda a, bounds: np.clip(a, *bounds),
        kwargs=lambda s: st.fixed_dictionaries({"bounds": CLIP_BOUNDS}),
        torch_fn=lambda x, bounds: _tnp("clamp")(x, *bounds),
    ),
    # linear algebra
    OpSpec("matmul", mg.matmul, np.matmul, arity=2, cases=_matmul_case(), torch_fn=_tnp("matmul")),
    OpSpec(
        "addmm",
        mg.addmm,
        lambda c, x, y: c + x @ y,
        arity=3,
        cases=_addmm_case(),
        torch_fn=_tnp("addmm"),
    ),
    OpSpec(
        "linear",
        mg.nn.functional.linear,
        lambda x, w, b: x @ w.T + b,
        arity=3,
        cases=_linear_case(True),
        torch_fn=_tnp("nn", "functional", "linear"),
    ),
    OpSpec(
        "linear_no_bias",
        mg.nn.functional.linear,
        lambda x, w: x @ w.T,
        arity=2,
        cases=_linear_case(False),
        torch_fn=_tnp("nn", "functional", "linear"),
    ),
    # reductions
    OpSpec("sum", mg.sum, np.sum, axis="reduce", torch_fn=_torch_reduce("sum")),
    OpSpec("mean", mg.mean, np.mean, axis="reduce", torch_fn=_torch_reduce("mean")),
    OpSpec("max", mg.max, np.max, axis="reduce", unique=True, torch_fn=_torch_reduce("amax")),
    OpSpec("min", mg.min, np.min, axis="reduce", unique=True, torch_fn=_torch_reduce("amin")),
    OpSpec(
        "var",
        mg.var,
        lambda a, axis, keepdims, correction: np.var(
            a, axis=axis, keepdims=keepdims, ddof=correction
        ),
        kwargs=_var_kwargs,
        torch_fn=_torch_reduce("var"),
    ),
    OpSpec(
        "logsumexp", mg.logsumexp, _np_logsumexp, axis="reduce", torch_fn=_torch_reduce("logsumexp")
    ),
    OpSpec(
        "softmax",
        mg.softmax,
        lambda a, axis: np.exp(_np_log_softmax(a, axis)),
        axis="int",
        min_dims=1,
        torch_fn=lambda x, axis: _tnp("softmax")(x, dim=axis),
    ),
    OpSpec(
        "log_softmax",
        mg.log_softmax,
        _np_log_softmax,
        axis="int",
        min_dims=1,
        torch_fn=lambda x, axis: _tnp("log_softmax")(x, dim=axis),
    ),
    # shape
    OpSpec("reshape", mg.reshape, np.reshape, kwargs=_reshape_kwargs, torch_fn=_tnp("reshape")),
    OpSpec(
        "transpose",
        mg.transpose,
        np.transpose,
        kwargs=_perm_kwargs,
        torch_fn=lambda x, axes: x.permute(
            tuple(axes if axes is not None else range(x.ndim)[::-1])
        ),
    ),
    OpSpec(
        "permute",
        lambda x, axes: x.permute(*axes),
        lambda a, axes: np.transpose(a, axes),
        kwargs=lambda s: st.permutations(range(len(s[0]))).map(lambda p: {"axes": tuple(p)}),
        torch_fn=lambda x, axes: x.permute(tuple(axes)),
    ),
    OpSpec(
        "swapaxes",
        mg.swapaxes,
        np.swapaxes,
        min_dims=1,
        kwargs=_swap_kwargs,
        torch_fn=lambda x, axis1, axis2: x.swapaxes(axis1, axis2),
    ),
    OpSpec(
        "squeeze",
        mg.squeeze,
        np.squeeze,
        kwargs=_squeeze_kwargs,
        torch_fn=lambda x, axis: x.squeeze() if axis is None else x.squeeze(axis),
    ),
    OpSpec(
        "unsqueeze",
        mg.unsqueeze,
        np.expand_dims,
        kwargs=lambda s: st.integers(-len(s[0]) - 1, len(s[0])).map(lambda a: {"axis": a}),
        torch_fn=lambda x, axis: x.unsqueeze(axis),
    ),
    OpSpec(
        "broadcast_to",
        mg.broadcast_to,
        np.broadcast_to,
        kwargs=_broadcast_to_kwargs,
        torch_fn=lambda x, shape: x.broadcast_to(shape),
    ),
    OpSpec("flatten", mg.flatten, _np_flatten, kwargs=_flatten_kwargs, torch_fn=_tnp("flatten")),
    OpSpec(
        "getitem_basic",
        mg.getitem,
        lambda a, index: a[index],
        kwargs=_basic_index_kwargs,
    ),
    OpSpec(
        "getitem_int_arrays",
        mg.getitem,
        lambda a, index: a[index],
        min_dims=1,
        kwargs=_int_array_index_kwargs,
        torch_fn=lambda x, index: x[_torch_index(index)],
    ),
    OpSpec(
        "getitem_repeats",
        mg.getitem,
        lambda a, index: a[index],
        min_dims=1,
        kwargs=_mixed_index,
    ),
    OpSpec(
        "getitem_mask",
        lambda x, mask: x[mask],
        lambda a, mask: a[mask],
        min_dims=1,
        kwargs=_mask_kwargs,
        torch_fn=lambda x, mask: x[_torch_index(mask)],
    ),
    OpSpec(
        "concatenate",
        lambda *xs, axis: mg.concatenate(xs, axis),
        lambda *a, axis: np.concatenate(a, axis),
        cases=_concatenate_case(),
        torch_fn=lambda *xs, axis: _tnp("cat")(xs, axis),
    ),
    OpSpec(
        "stack",
        lambda *xs, axis: mg.stack(xs, axis),
        lambda *a, axis: np.stack(a, axis),
        cases=_stack_case(),
        torch_fn=lambda *xs, axis: _tnp("stack")(xs, axis),
    ),
    OpSpec(
        "split",
        mg.split,
        _np_split,
        min_dims=1,
        kwargs=_split_kwargs,
        torch_fn=lambda x, split_size_or_sections, axis: x.split(split_size_or_sections, dim=axis),
    ),
    OpSpec(
        "chunk",
        mg.chunk,
        _np_chunk,
        min_dims=1,
        kwargs=lambda s: st.fixed_dictionaries(
            {"chunks": st.integers(1, 4), "axis": st.integers(-len(s[0]), len(s[0]) - 1)}
        ),
        torch_fn=lambda x, chunks, axis: x.chunk(chunks, dim=axis),
    ),
    OpSpec(
        "pad",
        mg.pad,
        lambda a, pad_width, value: np.pad(a, pad_width, constant_values=value),
        min_dims=1,
        kwargs=_pad_kwargs,
        torch_fn=_torch_pad,
    ),
    OpSpec(
        "flip",
        mg.flip,
        lambda a, axis: np.flip(a, axis) if axis != () else a,
        kwargs=lambda s: st.fixed_dictionaries(
            {"axis": st.one_of(st.none(), hnp.valid_tuple_axes(len(s[0])))}
        ),
        torch_fn=_torch_flip,
    ),
    OpSpec("take", mg.take, _np_take, kwargs=_take_kwargs, torch_fn=_torch_take),
    OpSpec(
        "index_select",
        mg.index_select,
        lambda a, axis, index: np.take(a, index, axis=axis),
        min_dims=1,
        kwargs=_index_select_kwargs,
        torch_fn=lambda x, axis, index: _tnp("index_select")(x, axis, _torch_index(index)),
    ),
]


@pytest.mark.parametrize("spec", OPS, ids=lambda s: s.name)
@given(data=st.data())
def test_op_table(spec, data, device):
    check_op(spec, data, device)


def test_table_has_unique_names():
    names = [spec.name for spec in OPS]
    assert len(names) == len(set(names))


# ---- non-differentiable ops --------------------------------------------------------------------------


@given(data=st.data())
def test_argmax_argmin_match_numpy(data, device):
    a = data.draw(
        hnp.arrays(np.float64, shapes(max_side=4), elements=st.integers(-5, 5).map(float))
    )
    axis = data.draw(
        st.one_of(st.none(), st.integers(-a.ndim, a.ndim - 1)) if a.ndim else st.none()
    )
    keepdims = data.draw(st.booleans())
    x = mg.tensor(a, device=device, requires_grad=True)
    for ours, theirs in [(mg.argmax, np.argmax), (mg.argmin, np.argmin)]:
        out = ours(x, axis=axis, keepdims=keepdims)
        assert out.dtype == mg.int64 and not out.requires_grad
        np.testing.assert_array_equal(out.numpy(), theirs(a, axis=axis, keepdims=keepdims))


def test_argmax_method_accepts_dim(device):
    x = mg.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]], device=device)
    assert x.argmax(dim=1).tolist() == [1, 0]
    assert x.argmin(dim=0, keepdim=True).tolist() == [[0, 1, 0]]


def test_one_hot(device):
    idx = mg.tensor([[0, 2], [1, 2]], device=device)
    out = mg.one_hot(idx, 4)
    assert out.shape == (2, 2, 4) and out.dtype == mg.float32 and not out.requires_grad
    np.testing.assert_array_equal(out.numpy(), np.eye(4, dtype=np.float32)[[[0, 2], [1, 2]]])
    assert mg.one_hot(mg.tensor([1, 0], device=device)).shape == (
        2,
        2,
    )  # classes inferred from the max
    assert mg.one_hot(idx, 3, dtype=mg.float64).dtype == mg.float64


def test_one_hot_rejects_bad_indices():
    with pytest.raises(TypeError, match="integers"):
        mg.one_hot(mg.tensor([0.0, 1.0]), 2)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        mg.one_hot(mg.tensor([0, 3]), 3)


@given(shapes_=hnp.mutually_broadcastable_shapes(num_shapes=2, max_side=3), data=st.data())
def test_comparisons_match_numpy(shapes_, data, device):
    sa, sb = shapes_.input_shapes
    ints = st.integers(-2, 2).map(float)  # small integers: equality happens often
    a = data.draw(hnp.arrays(np.float64, sa, elements=ints))
    b = data.draw(hnp.arrays(np.float64, sb, elements=ints))
    x = mg.tensor(a, device=device, requires_grad=True)
    y = mg.tensor(b, device=device)
    pairs = [
        (x == y, a == b),
        (x != y, a != b),
        (x < y, a < b),
        (x <= y, a <= b),
        (x > y, a > b),
        (x >= y, a >= b),
        (x > 0.5, a > 0.5),
        (1.0 < x, 1.0 < a),  # reflected: becomes x > 1.0
        ((x > 0) & (y > 0), (a > 0) & (b > 0)),
        ((x > 0) | (y > 0), (a > 0) | (b > 0)),
        ((x > 0) ^ (y > 0), (a > 0) ^ (b > 0)),
        (~(x > 0), ~(a > 0)),
    ]
    for ours, expected in pairs:
        assert ours.dtype == mg.bool_ and not ours.requires_grad and ours.grad_fn is None
        np.testing.assert_array_equal(ours.numpy(), expected)


# ---- numerical stability (float32, |x| = 1e4) -------------------------------------------------------


def _finite_grad(fn, values, device):
    x = mg.tensor(values, dtype=mg.float32, device=device, requires_grad=True)
    out = fn(x)
    (
        out
        * mg.tensor(
            np.linspace(0.5, 1.5, out.size).reshape(out.shape), dtype=mg.float32, device=device
        )
    ).sum().backward()
    assert out.dtype == mg.float32
    assert np.isfinite(out.numpy()).all(), out
    assert np.isfinite(x.grad.numpy()).all(), x.grad
    return out.numpy(), x.grad.numpy()


def test_addmm_with_a_row_major_copy_of_y(device):
    """addmm(c, x, W.T, y_contiguous=W.T copied row-major): the same values and gradients as without the
    copy (the copy only changes which BLAS path the forward product takes)."""
    rng = np.random.default_rng(0)
    c, x, w = (
        mg.tensor(rng.standard_normal(s), device=device, requires_grad=True)
        for s in ((3, 5), (3, 4), (5, 4))
    )

    def f(c, x, w, rows):
        y = w.T
        return mg.addmm(c, x, y, y.device.xp.ascontiguousarray(y.data) if rows else None)

    with_rows, plain = f(c, x, w, True), f(c, x, w, False)
    np.testing.assert_array_equal(with_rows.numpy(), plain.numpy())
    grads = [mg.grad((out * out).sum(), (c, x, w)) for out in (with_rows, plain)]
    for a, b in zip(*grads):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)
    assert gradcheck(lambda c, x, w: f(c, x, w, True), (c, x, w))
    assert gradgradcheck(lambda c, x, w: f(c, x, w, True), (c, x, w))


def test_sigmoid_is_stable(device):
    out, grad = _finite_grad(mg.sigmoid, [-1e4, -50.0, 0.0, 50.0, 1e4], device)
    np.testing.assert_allclose(out, [0.0, 1.9287e-22, 0.5, 1.0, 1.0], rtol=1e-4)
    assert grad[2] == pytest.approx(0.25 * 1.0) and grad[0] == 0.0 and grad[-1] == 0.0


def test_softmax_and_log_softmax_are_stable(device):
    logits = [[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]]
    # NOTE: float32 spacing at 1e4 is ~1e-3, so results are exact only up to about that much
    out, _ = _finite_grad(lambda x: mg.softmax(x, axis=-1), logits, device)
    np.testing.assert_allclose(out, [[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]], atol=1e-3)
    out, grad = _finite_grad(lambda x: mg.log_softmax(x, axis=-1), logits, device)
    np.testing.assert_allclose(out, [[0.0, -2e4, -1e4], [-np.log(3)] * 3], atol=2e-3)
    # d/dx of sum_j w_j log_softmax(x)_j = w - softmax(x) * sum(w): rows of the gradient sum to 0
    np.testing.assert_allclose(grad.sum(axis=-1), [0.0, 0.0], atol=1e-5)


def test_logsumexp_is_stable(device):
    out, grad = _finite_grad(lambda x: mg.logsumexp(x, axis=-1), [[1e4, 1e4], [-1e4, -1e4]], device)
    np.testing.assert_allclose(out, [1e4 + np.log(2), -1e4 + np.log(2)], rtol=1e-6)
    np.testing.assert_allclose(grad, [[0.25, 0.25], [0.75, 0.75]], rtol=1e-6)


# ---- errors: type and message ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "op, name",
    [(mg.add, "add"), (mg.mul, "mul"), (mg.sub, "sub"), (mg.div, "div"), (mg.maximum, "maximum")],
)
def test_shape_mismatch_names_op_and_shapes(op, name, device):
    x, y = mg.ones(2, 3, device=device), mg.ones(4, device=device)
    with pytest.raises(ValueError) as info:
        op(x, y)
    message = str(info.value)
    assert name in message and "(2, 3)" in message and "(4,)" in message


def test_matmul_shape_mismatch(device):
    with pytest.raises(ValueError, match=r"matmul.*\(2, 3\).*\(4, 5\)"):
        mg.ones(2, 3, device=device) @ mg.ones(4, 5, device=device)
    with pytest.raises(ValueError, match="matmul"):
        mg.matmul(mg.ones((), device=device), mg.ones(3, device=device))


def test_concatenate_and_stack_shape_mismatch(device):
    a, b = mg.ones(2, 3, device=device), mg.ones(2, 4, device=device)
    with pytest.raises(ValueError, match=r"concatenate.*\(2, 3\).*\(2, 4\)"):
        mg.concatenate([a, b], axis=0)
    with pytest.raises(ValueError, match=r"stack.*\(2, 3\).*\(2, 4\)"):
        mg.stack([a, b])


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda x: x.sum(axis=2), "sum"),
        (lambda x: x.mean(axis=-3), "mean"),
        (lambda x: x.max(axis=(0, 5)), "max"),
        (lambda x: mg.softmax(x, axis=2), "softmax"),
        (lambda x: mg.squeeze(x, 4), "squeeze"),
        (lambda x: mg.unsqueeze(x, 4), "unsqueeze"),
        (lambda x: mg.stack([x, x], axis=4), "stack"),
        (lambda x: mg.argmax(x, axis=2), "argmax"),
    ],
)
def test_axis_out_of_range(call, name, device):
    x = mg.ones(2, 3, device=device)
    with pytest.raises(IndexError) as info:
        call(x)
    assert name in str(info.value) and "out of range" in str(info.value)


def test_requires_grad_on_integer_data():
    with pytest.raises(TypeError, match="floating point"):
        mg.tensor([1, 2, 3], requires_grad=True)
    with pytest.raises(TypeError, match="floating point"):
        mg.arange(3, requires_grad=True)
    with pytest.raises(TypeError, match="floating point"):
        mg.tensor([1, 2]).requires_grad_()


def test_unknown_dtype_and_device_strings():
    with pytest.raises(TypeError, match="unknown dtype 'float8'"):
        mg.tensor([1.0], dtype="float8")
    with pytest.raises(TypeError, match="unknown dtype"):
        mg.zeros(2, dtype="complex")
    with pytest.raises(ValueError, match="unknown device 'tpu'.*'cpu', 'cuda'"):
        mg.tensor([1.0], device="tpu")
    with pytest.raises(ValueError, match="cuda:x"):
        mg.zeros(2, device="cuda:x")


@pytest.mark.skipif(
    mg.cuda_is_available(), reason="checks the message shown when CuPy/GPU is missing"
)
def test_to_cuda_without_cupy_says_what_to_install():
    with pytest.raises(RuntimeError) as info:
        mg.tensor([1.0]).to("cuda")
    message = str(info.value)
    assert "cuda" in message and ("pip install" in message or "GPU" in message)


@pytest.mark.skipif(not mg.cuda_is_available(), reason="needs CuPy and a CUDA GPU")
def test_mixing_devices_names_both():
    x, y = mg.ones(3), mg.ones(3, device="cuda")
    for op in (mg.add, mg.mul, mg.maximum):
        with pytest.raises(RuntimeError) as info:
            op(x, y)
        assert "cpu" in str(info.value) and "cuda" in str(info.value)
    z = x.to("cuda") + y  # an explicit move works, and is differentiable
    assert z.device == "cuda"


def test_binary_wrappers_accept_two_python_numbers():
    # both operands are numbers: the first becomes a tensor with the default dtype rules
    out = mg.add(1, 2.5)
    assert isinstance(out, mg.Tensor) and out.dtype == mg.float32 and out.item() == 3.5
    assert mg.mul(2, 3).dtype == mg.int64 and mg.mul(2, 3).item() == 6
