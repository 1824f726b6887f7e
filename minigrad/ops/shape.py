"""Shape primitives: reshape, transpose, broadcast_to (the one place gradients are summed back to a
shape), getitem and its scatter-add VJP, concatenate, stack and pad."""

from __future__ import annotations

import builtins
import math

from .. import backend
from ..autograd import Function, _share_if_view, is_grad_enabled
from ..tensor import Tensor

# ---- shape -------------------------------------------------------------------------------------------


class Reshape(Function):
    """out = x.reshape(shape);  vjp: gx = g.reshape(x.shape)"""

    array_backward = True

    _makes_views = True  # its output may share the input's memory: in-place edits show in both

    @staticmethod
    def forward(ctx, x, shape=()):
        ctx.shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape)


def reshape(x: Tensor, shape) -> Tensor:
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if shape == x.data.shape:
        return x
    if -1 not in shape and math.prod(shape) == x.data.size:
        return Reshape.apply(x, shape=shape)  # the common case, without the checks below
    known = 1
    for s in shape:
        if s != -1:
            known *= s
    if (
        shape.count(-1) > 1
        or (known != x.size and -1 not in shape)
        or (-1 in shape and (known == 0 or x.size % known))
    ):
        raise ValueError(
            f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) into {shape}"
        )
    if -1 in shape and known > 0:
        shape = tuple(x.size // known if s == -1 else s for s in shape)
        if shape == x.data.shape:
            return x  # e.g. x.reshape(-1, C) of an (N, C) tensor: no op
    try:
        return Reshape.apply(x, shape=shape)
    except (
        ValueError,
        TypeError,
    ) as e:  # e.g. a size below -1, which the count above does not catch
        raise ValueError(
            f"reshape: cannot reshape a tensor of shape {x.shape} into {shape}: {e}"
        ) from None


class Transpose(Function):
    """out = x.transpose(axes);  vjp: gx = g.transpose(inverse permutation)"""

    array_backward = True

    _makes_views = True  # its output may share the input's memory: in-place edits show in both

    @staticmethod
    def forward(ctx, x, axes=None):
        ctx.axes = axes
        return x.transpose(axes)

    @staticmethod
    def backward(ctx, g):
        inverse = [0] * len(ctx.axes)
        for i, a in enumerate(ctx.axes):
            inverse[a] = i
        return g.transpose(tuple(inverse))


def transpose(x: Tensor, axes=None) -> Tensor:
    """Permute the axes (reverse them when axes is None), like numpy.transpose."""
    if axes is None:
        if x.data.ndim == 2:
            return Transpose.apply(x, axes=(1, 0))  # the common case, without the checks below
        axes = tuple(range(x.ndim))[::-1]
    axes = tuple(a % x.ndim if isinstance(a, int) and -x.ndim <= a < x.ndim else a for a in axes)
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(
            f"transpose: axes {axes} are not a permutation of the {x.ndim} axes of shape {x.shape}"
        )
    return Transpose.apply(x, axes=axes)


class BroadcastTo(Function):
    """out = broadcast_to(x, shape);  vjp: gx = g summed over the broadcast axes (the one place this happens)"""

    array_backward = True

    _makes_views = True  # its output may share the input's memory: in-place edits show in both

    @staticmethod
    def forward(ctx, x, shape=()):
        ctx.in_shape = x.shape
        return ctx.xp.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, g):
        lead = g.ndim - len(ctx.in_shape)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, s in enumerate(ctx.in_shape) if s == 1 and g.shape[lead + i] != 1
        )
        return g.sum(axis=axes).reshape(ctx.in_shape) if axes else g.reshape(ctx.in_shape)


def broadcast_to(x: Tensor, shape) -> Tensor:
    shape = tuple(shape)
    if shape == x.shape:
        return x
    if _broadcast_shape("broadcast_to", x.shape, shape) != shape:
        raise ValueError(f"broadcast_to: cannot broadcast a tensor of shape {x.shape} to {shape}")
    return BroadcastTo.apply(x, shape=shape)


def _index_data(index):
    """Replace Tensors inside an index with their arrays."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        for i in index:  # NOTE: a loop that finds no Tensor is 3x faster than building a new tuple
            if isinstance(i, Tensor):
                return tuple(i.data if isinstance(i, Tensor) else i for i in index)
        return index
    if isinstance(index, list):
        arr = backend.cpu.xp.asarray(index)
        # [] is an empty integer index (NumPy would make it a float array and refuse it)
        return arr.astype(backend.int64) if arr.size == 0 else arr
    return index


def _copy(i):
    return i.copy() if backend.is_array(i) else i


def _is_basic(index) -> bool:
    if index.__class__ is int or index.__class__ is slice:
        return True  # x[t] and x[a:b], the common cases, without the loop below
    for i in index if isinstance(index, tuple) else (index,):
        if not (i is None or i is Ellipsis or isinstance(i, (int, slice))):
            return False
    return True


_FULL = slice(None)


class GetItem(Function):
    """out = x[index];  vjp: gx = zeros_like(x) with g added at index (repeated indices add up)"""

    _makes_views = True  # its output may share the input's memory: in-place edits show in both

    _scatters = True  # without create_graph the engine adds g straight into x's gradient buffer

    @staticmethod
    def forward(ctx, x, index=None):
        ctx.basic = _is_basic(index)
        if not ctx.basic:  # backward reads the index later: keep a private copy of its arrays
            index = tuple(_copy(i) for i in index) if isinstance(index, tuple) else _copy(index)
        ctx.shape, ctx.index = x.shape, index
        return x[index]

    def _span(ctx):
        """(axis, start, stop) when the index selects one contiguous range along one axis (x[t],
        x[a:b], x[..., a:b], x[:, a:b]), else None: what the engine's slice-gradient buffer tracks."""
        index = ctx.index if ctx.index.__class__ is tuple else (ctx.index,)
        if not ctx.basic or not index or None in index:
            return None
        if index[0] is Ellipsis and len(index) == 2:
            axis = len(ctx.shape) - 1
        elif builtins.all(i == _FULL for i in index[:-1]):
            axis = len(index) - 1
        else:
            return None
        last = index[-1]
        if axis >= len(ctx.shape) or last is Ellipsis:
            return None
        n = ctx.shape[axis]
        if last.__class__ is slice:
            start, stop, step = last.indices(n)
            return (axis, start, stop) if step == 1 and start < stop else None
        if last.__class__ is not int:  # (a bool is an int to _is_basic, but adds an axis)
            return None
        return (axis, last % n, last % n + 1)  # (basic indexing checked its range)

    def _scatter_into(ctx, buf, g, fresh: bool = False) -> None:
        """buf[index] += g (the engine's shortcut for backward without create_graph; `fresh`: buf is
        zero where index points, so a basic index may simply be written)."""
        if ctx.basic:
            if fresh:
                buf[ctx.index] = g
            else:
                buf[ctx.index] += g
        else:
            ctx.xp.add.at(buf, ctx.index, g)

    @staticmethod
    def backward(ctx, g):
        return IndexAdd.apply(g, index=ctx.index, shape=ctx.shape)


class IndexAdd(Function):
    """out = zeros(shape); out[index] += g, repeats accumulating (the VJP of getitem);  vjp: gg = gout[index]"""

    @staticmethod
    def forward(ctx, g, index=None, shape=()):
        ctx.index = index
        out = ctx.xp.zeros(shape, dtype=g.dtype)
        if _is_basic(index):
            out[index] = g
        else:
            ctx.xp.add.at(out, index, g)
        return out

    @staticmethod
    def backward(ctx, gout):
        return GetItem.apply(gout, index=ctx.index)


def getitem(x: Tensor, index) -> Tensor:
    """x[index] with ints, slices, Ellipsis, None, integer arrays and boolean masks (NumPy rules)."""
    if index.__class__ is not int:
        index = _index_data(index)
    if x.device.type != "cpu":
        index = (
            tuple(x.device.xp.asarray(i) if backend.is_array(i) else i for i in index)
            if isinstance(index, tuple)
            else (x.device.xp.asarray(index) if backend.is_array(index) else index)
        )
    try:
        if not x.requires_grad or not is_grad_enabled():
            out = Tensor._make(backend_wrap(x.data[index], x), x.device, False, None)
            _share_if_view(out, x)
            return out
        return GetItem.apply(x, index=index)
    except IndexError as e:
        raise IndexError(f"getitem: bad index for a tensor of shape {x.shape}: {e}") from None


def backend_wrap(a, like: Tensor):
    return a if a.__class__ is like.device.array_type else like.device.xp.asarray(a)


class Concatenate(Function):
    """out = concatenate(xs, axis);  vjp: g split back into the inputs' slices along axis"""

    array_backward = True

    @staticmethod
    def forward(ctx, *xs, axis=0):
        ctx.axis = axis
        ctx.sizes = [x.shape[axis] for x in xs]
        return ctx.xp.concatenate(xs, axis=axis)

    @staticmethod
    def backward(ctx, g):
        grads, start = [], 0
        lead = (slice(None),) * ctx.axis
        for need, n in zip(ctx.needs_input_grad, ctx.sizes):
            grads.append(g[lead + (slice(start, start + n),)] if need else None)
            start += n
        return tuple(grads)


def concatenate(tensors, axis: int = 0, *, dim=None) -> Tensor:
    """Join tensors along an existing axis (torch.cat; `dim` is accepted as PyTorch spells it)."""
    axis = _axis(axis, dim)
    tensors = list(tensors)
    if not tensors:
        raise ValueError("concatenate: expected a non-empty sequence of tensors")
    first = next((t for t in tensors if isinstance(t, Tensor)), None)
    if first is None:
        raise TypeError("concatenate: expected Tensors")
    tensors = [_const(t, first) for t in tensors]
    if len({t.dtype.kind for t in tensors}) > 1:
        tensors = _promote(*tensors)
    nd = first.ndim
    if nd == 0:
        raise ValueError("concatenate: zero-dimensional tensors cannot be concatenated; use stack")
    (ax,) = _normalize_axis("concatenate", axis, nd)
    for t in tensors:
        if (
            t.ndim != nd
            or t.shape[:ax] + t.shape[ax + 1 :] != first.shape[:ax] + first.shape[ax + 1 :]
        ):
            shapes = ", ".join(str(t.shape) for t in tensors)
            raise ValueError(f"concatenate: shapes {shapes} must match except along axis {ax}")
    return Concatenate.apply(*tensors, axis=ax)


class Stack(Function):
    """out = stack(xs, axis);  vjp: gx_i = g[..., i, ...] (the slice at position i along axis)"""

    array_backward = True

    @staticmethod
    def forward(ctx, *xs, axis=0):
        ctx.axis = axis
        return ctx.xp.stack(xs, axis=axis)

    @staticmethod
    def backward(ctx, g):
        lead = (slice(None),) * ctx.axis
        return tuple(g[lead + (i,)] if n else None for i, n in enumerate(ctx.needs_input_grad))


def stack(tensors, axis: int = 0, *, dim=None) -> Tensor:
    """Join same-shaped tensors along a new axis (`dim` is accepted as PyTorch spells it)."""
    axis = _axis(axis, dim)
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty sequence of tensors")
    first = next((t for t in tensors if isinstance(t, Tensor)), None)
    if first is None:
        raise TypeError("stack: expected Tensors")
    tensors = [_const(t, first) for t in tensors]
    if len({t.dtype.kind for t in tensors}) > 1:
        tensors = _promote(*tensors)
    shape = first.shape
    for t in tensors:
        if t.shape != shape:
            raise ValueError(
                f"stack: all tensors must have the same shape, got {shape} and {t.shape}"
            )
    nd = len(shape) + 1
    ax = _as_int(axis)
    if ax is None:
        raise TypeError(f"stack: axis must be an int, got {axis!r}")
    if not -nd <= ax < nd:
        raise IndexError(f"stack: axis {axis} is out of range for a result with {nd} dimensions")
    return Stack.apply(*tensors, axis=ax % nd)


class Pad(Function):
    """out = pad(x, pad_width, constant value);  vjp: gx = g[the slices that hold x]"""

    array_backward = True

    @staticmethod
    def forward(ctx, x, pad_width=(), value=0.0):
        ctx.slices = tuple(slice(lo, lo + n) for (lo, _), n in zip(pad_width, x.shape))
        return ctx.xp.pad(x, pad_width, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, g):
        return g[ctx.slices]


def pad(x: Tensor, pad_width, value: float = 0.0) -> Tensor:
    """Constant padding, NumPy style: pad_width is ((before, after),) per axis, or one (before, after)
    pair / one int for every axis."""
    if isinstance(pad_width, int):
        pad_width = ((pad_width, pad_width),) * x.ndim
    pad_width = tuple(pad_width)
    if len(pad_width) == 2 and builtins.all(isinstance(p, int) for p in pad_width):
        pad_width = (tuple(pad_width),) * x.ndim
    pad_width = tuple(tuple(p) for p in pad_width)
    if len(pad_width) != x.ndim or builtins.any(
        len(p) != 2 or builtins.min(p) < 0 for p in pad_width
    ):
        raise ValueError(
            f"pad: pad_width {pad_width} must give a non-negative (before, after) for each of the {x.ndim} axes"
        )
    if x.ndim == 0:
        return x  # a 0-d tensor has no axis to pad (numpy returns it unchanged)
    return Pad.apply(x, pad_width=pad_width, value=value)


# Sibling modules refer to each other at call time; importing them last keeps the cycle harmless.
from ._common import _as_int, _axis, _broadcast_shape, _const, _normalize_axis, _promote  # noqa: E402
