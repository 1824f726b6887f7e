"""Helpers shared by the op wrappers: constants for Python numbers, explicit broadcasting,
axis normalisation."""

from __future__ import annotations

import builtins
import operator

from .. import backend
from ..autograd import is_grad_enabled
from ..tensor import Tensor

# ---- helpers shared by the wrappers ---------------------------------------------------------------


def _const(value, like: Tensor | None) -> Tensor:
    """A Python number or array as a constant tensor on `like`'s device (numbers take like's dtype)."""
    if isinstance(value, Tensor):
        return value
    if like is None:
        from ..creation import tensor

        return tensor(value)
    dev = like.device
    if backend.is_scalar(value):
        if isinstance(value, backend.cpu.xp.generic):
            value = value.item()  # a NumPy scalar counts as the number it holds, as in torch
        if like.dtype.kind == "f" or not isinstance(value, float):
            dtype = (
                like.dtype if not (like.dtype.kind == "b" and not isinstance(value, bool)) else None
            )
        else:
            dtype = backend.get_default_dtype()  # int tensor with a float: promote like PyTorch
        key = (value.__class__, value, dtype, dev)
        arr = _scalar_cache.get(key)
        if arr is None:
            arr = dev.xp.asarray(value, dtype=dtype)
            # the 1 in `1 - out` recurs on every backward: make it once. NOTE: not zeros or NaN, whose
            # keys collide (-0.0 == 0.0, and x / -0.0 must stay -inf) or never match (nan != nan)
            if len(_scalar_cache) < 256 and value != 0 and value == value:
                _scalar_cache[key] = arr
        return Tensor._make(arr, dev, False, None)
    if backend.is_array(value) or isinstance(value, (list, tuple)):
        arr = dev.xp.asarray(value)
        if arr.dtype.kind == "f" and not backend.is_array(value):
            arr = arr.astype(like.dtype if like.dtype.kind == "f" else backend.get_default_dtype())
        return Tensor._make(arr, dev, False, None)
    raise TypeError(f"expected a Tensor, number or array, got {type(value).__name__}")


_shape_cache: dict = {}
_scalar_cache: dict = {}


def _broadcast_shape(name: str, *shapes) -> tuple:
    key = shapes
    out = _shape_cache.get(key)
    if out is None:
        try:
            out = backend.broadcast_shapes(*shapes)
        except ValueError:
            pretty = " and ".join(str(tuple(s)) for s in shapes)
            raise ValueError(f"{name}: shapes {pretty} cannot be broadcast together") from None
        if len(_shape_cache) < 4096:
            _shape_cache[key] = out
    return out


def _broadcast(name: str, *ts: Tensor) -> tuple:
    """Broadcast the operands that need a gradient to the common shape (others broadcast inside numpy)."""
    shape = _broadcast_shape(name, *(t.shape for t in ts))
    grad = is_grad_enabled()
    return tuple(
        broadcast_to(t, shape) if (grad and t.requires_grad and t.shape != shape) else t for t in ts
    )


def _binary(cls, x, y):
    if x.__class__ is not Tensor:
        x = _const(x, y if isinstance(y, Tensor) else None)
    if y.__class__ is not Tensor:
        y = _const(y, x)
    dx, dy = x.data.dtype, y.data.dtype
    if dx is not dy:
        x, y = _promote_pair(x, y)
    if x.data.shape != y.data.shape:
        x, y = _broadcast(cls.__name__.lower(), x, y)
    return cls.apply(x, y)


def _result_dtype(*dtypes):
    """PyTorch's type promotion between tensors: integers and bools meeting a float take the float's dtype
    (int64 + float32 -> float32, where NumPy gives float64); otherwise NumPy's rule, which is PyTorch's (the
    wider float, the wider integer). Numbers were made tensors of the other operand's dtype (see _const)."""
    floats = [d for d in dtypes if d.kind == "f"]
    return backend.cpu.xp.result_type(*(floats or dtypes))


def _promote(*ts) -> tuple:
    """The tensors, those of another kind than their common dtype (_result_dtype) cast to it; the one place
    operands are promoted. (Within a kind NumPy widens the same way, and without a temporary copy.)"""
    dtype = _result_dtype(*(t.dtype for t in ts))
    return tuple(t if t.dtype.kind == dtype.kind else astype(t, dtype) for t in ts)


_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}  # bool < integer < float


def _promote_pair(x, y) -> tuple:
    """Two operands of an elementwise op promoted as in torch: a 0-d tensor beside one with dimensions
    counts only by its category, like a Python number (float32 * 0-d float64 stays float32, int32 + 0-d
    int64 stays int32), unless its category is higher (int64 + 0-d float64 is float64). Else _promote."""
    if (x.data.ndim == 0) != (y.data.ndim == 0):
        small, big = (x, y) if x.data.ndim == 0 else (y, x)
        keep = _CATEGORY[small.dtype.kind] <= _CATEGORY[big.dtype.kind]
        dtype = big.dtype if keep else small.dtype
        return tuple(t if t.dtype == dtype else astype(t, dtype) for t in (x, y))
    if x.dtype.kind != y.dtype.kind:
        return _promote(x, y)
    return x, y  # the same kind: NumPy widens as torch does


def _as_int(v):
    """v as a Python int when it is an integer: an int, a NumPy integer or a one-element integer tensor
    (anything with __index__), else None. A bool is not an integer here, as in torch."""
    if v.__class__ is int:
        return v
    if isinstance(v, bool):
        return None
    try:
        return operator.index(v)
    except TypeError:
        return None


def _axis(axis, dim):
    """Accept PyTorch's `dim=` wherever NumPy's `axis=` is the primary spelling."""
    return axis if dim is None else dim


def _dims(axis, keepdims: bool, dim, keepdim) -> tuple:
    """(axis, keepdims) of a reduction, from NumPy's spelling or PyTorch's `dim=`/`keepdim=`."""
    return (axis if dim is None else dim), (keepdims if keepdim is None else keepdim)


def _normalize_axis(name: str, axis, ndim: int) -> tuple:
    """axis (None, an integer or a tuple of them) -> a sorted tuple of non-negative axes, or a clear
    TypeError or IndexError."""
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for a in axes:
        a = a if a.__class__ is int else _as_int(a)
        if a is None:
            raise TypeError(f"{name}: axis must be an int or a tuple of ints, got {axis!r}")
        if (
            not -builtins.max(ndim, 1) <= a < builtins.max(ndim, 1)
        ):  # a 0-d tensor accepts 0 and -1, as in torch
            raise IndexError(
                f"{name}: axis {a} is out of range for a tensor with {ndim} dimension(s)"
            )
        out.append(a % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: repeated axis in {axis!r}")
    return tuple(sorted(out)) if ndim else ()


def _keep_shape(shape: tuple, axes: tuple) -> tuple:
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


# Sibling modules refer to each other at call time; importing them last keeps the cycle harmless.
from .elementwise import astype  # noqa: E402
from .shape import broadcast_to  # noqa: E402
