"""Helpers shared by the op wrappers: constants for Python numbers, explicit broadcasting,
axis normalisation."""

from __future__ import annotations

import builtins

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
        x = _promote_int(_const(x, y if isinstance(y, Tensor) else None), y)
        y = _promote_int(y, x)
    if y.__class__ is not Tensor:
        y = _promote_int(_const(y, x), x)
        x = _promote_int(x, y)
    if x.data.shape != y.data.shape:
        x, y = _broadcast(cls.__name__.lower(), x, y)
    return cls.apply(x, y)


def _promote_int(t, other):
    """An integer tensor meeting a float constant becomes the default float dtype (int64 * 1.5 -> float32,
    as in PyTorch; NumPy alone would give float64)."""
    if (
        isinstance(t, Tensor)
        and isinstance(other, Tensor)
        and t.dtype.kind in "iub"
        and other.dtype.kind == "f"
    ):
        return astype(t, other.dtype)
    return t


def _normalize_axis(name: str, axis, ndim: int) -> tuple:
    """axis (None, int or tuple) -> a sorted tuple of non-negative axes, or a clear IndexError."""
    if axis is None:
        return tuple(range(ndim))
    if not isinstance(axis, (int, tuple, list)):
        raise TypeError(f"{name}: axis must be an int or a tuple of ints, got {axis!r}")
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not isinstance(a, int) or isinstance(a, bool):
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
