"""Operations without a gradient: comparisons and logic, bitwise ops, argmax/argmin and one_hot."""

from __future__ import annotations

from .. import backend
from ..tensor import Tensor

# ---- not differentiable ---------------------------------------------------------------------------------

_COMPARE = {
    "eq": "equal", "ne": "not_equal", "lt": "less", "le": "less_equal", "gt": "greater",
    "ge": "greater_equal", "and": "logical_and", "or": "logical_or", "xor": "logical_xor",
}  # fmt: skip


def _operands(name: str, x, y) -> tuple:
    """x and y as tensors on one device (numbers become constants of the other's dtype)."""
    if not isinstance(x, Tensor):
        x = _const(x, y)
    if not isinstance(y, Tensor):
        y = _const(y, x)
    if x.device is not y.device:
        raise RuntimeError(f"{name}: tensors on different devices ({x.device} and {y.device})")
    return x, y


def compare(op: str, x, y) -> Tensor:
    """Elementwise comparison or logic (eq, ne, lt, le, gt, ge, and, or, xor): a boolean tensor.
    (The operators &, | and ^ are bitwise: see bitwise_and.)"""
    x, y = _operands(op, x, y)
    _broadcast_shape(op, x.shape, y.shape)
    a, b = x.data, y.data
    if a.dtype.kind != b.dtype.kind:  # int64 == float32 compares in float32, as in PyTorch
        dtype = _result_dtype(a.dtype, b.dtype)
        a, b = a.astype(dtype, copy=False), b.astype(dtype, copy=False)
    fn = getattr(x.device.xp, _COMPARE[op])
    return Tensor._make(x.device.xp.asarray(fn(a, b)), x.device, False, None)


def logical_not(x: Tensor) -> Tensor:
    # asarray: numpy gives a scalar for 0-d input
    out = x.device.xp.asarray(x.device.xp.logical_not(x.data))
    return Tensor._make(out, x.device, False, None)


def _bitwise(name: str, fn: str, x, y) -> Tensor:
    x, y = _operands(name, x, y)
    for t in (x, y):
        if t.dtype.kind not in "biu":
            raise TypeError(f"{name}: only integer and bool tensors are supported, got {t.dtype}")
    _broadcast_shape(name, x.shape, y.shape)
    out = getattr(x.device.xp, fn)(x.data, y.data)  # integers promote as in torch; bool stays bool
    return Tensor._make(x.device.xp.asarray(out), x.device, False, None)


def bitwise_and(x, y) -> Tensor:
    """x & y elementwise, for integer and bool tensors (bools: logical and), like torch.bitwise_and."""
    return _bitwise("bitwise_and", "bitwise_and", x, y)


def bitwise_or(x, y) -> Tensor:
    """x | y elementwise, for integer and bool tensors (bools: logical or), like torch.bitwise_or."""
    return _bitwise("bitwise_or", "bitwise_or", x, y)


def bitwise_xor(x, y) -> Tensor:
    """x ^ y elementwise, for integer and bool tensors (bools: logical xor), like torch.bitwise_xor."""
    return _bitwise("bitwise_xor", "bitwise_xor", x, y)


def bitwise_not(x: Tensor) -> Tensor:
    """~x elementwise, for integer and bool tensors (~1 == -2; bools: logical not), like
    torch.bitwise_not."""
    if x.dtype.kind not in "biu":
        raise TypeError(f"bitwise_not: only integer and bool tensors are supported, got {x.dtype}")
    return Tensor._make(x.device.xp.asarray(x.device.xp.invert(x.data)), x.device, False, None)


def _arg(name: str, x: Tensor, axis, keepdims: bool) -> Tensor:
    """argmax or argmin: int64 indices; an error only where the reduced part is empty (as in torch)."""
    if axis is not None:
        if _as_int(axis) is None:
            raise TypeError(f"{name}: axis must be an int, got {axis!r}")
        axis = (_normalize_axis(name, axis, x.ndim) or (None,))[0]  # (a 0-d tensor has one element)
    if x.size == 0 and (axis is None or x.shape[axis] == 0):
        raise ValueError(f"{name}: cannot reduce an empty axis of a tensor of shape {x.shape}")
    out = getattr(x.data, name)(axis=axis, keepdims=keepdims)
    return Tensor._make(x.device.xp.asarray(out).astype(backend.int64), x.device, False, None)


def argmax(x: Tensor, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
    """Index of the maximum (of the flattened tensor when axis is None), int64, like torch.argmax."""
    return _arg("argmax", x, *_dims(axis, keepdims, dim, keepdim))


def argmin(x: Tensor, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
    """Index of the minimum (of the flattened tensor when axis is None), int64, like torch.argmin."""
    return _arg("argmin", x, *_dims(axis, keepdims, dim, keepdim))


def one_hot(indices: Tensor, num_classes: int = -1, dtype=None) -> Tensor:
    """(...,) integer class indices -> (..., num_classes) one-hot (float32 unless dtype is given)."""
    if not isinstance(indices, Tensor):
        indices = Tensor._make(backend.cpu.xp.asarray(indices), backend.cpu, False, None)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"one_hot: indices must be integers, got {indices.dtype}")
    xp = indices.device.xp
    if num_classes < 0:
        num_classes = int(indices.data.max()) + 1 if indices.size else 0
    if indices.size and (int(indices.data.min()) < 0 or int(indices.data.max()) >= num_classes):
        raise ValueError(
            f"one_hot: indices must lie in [0, {num_classes}), got values up to {int(indices.data.max())}"
        )
    eye = xp.eye(num_classes, dtype=backend.as_dtype(dtype) or backend.get_default_dtype())
    return Tensor._make(eye[indices.data], indices.device, False, None)


# Sibling modules refer to each other at call time; importing them last keeps the cycle harmless.
from ._common import _as_int, _broadcast_shape, _const, _dims, _normalize_axis, _result_dtype  # noqa: E402
