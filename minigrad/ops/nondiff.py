"""Operations without a gradient: comparisons and logic, argmax/argmin and one_hot."""

from __future__ import annotations

from .. import backend
from ..tensor import Tensor

# ---- not differentiable ---------------------------------------------------------------------------------

_COMPARE = {
    "eq": "equal", "ne": "not_equal", "lt": "less", "le": "less_equal", "gt": "greater",
    "ge": "greater_equal", "and": "logical_and", "or": "logical_or", "xor": "logical_xor",
}  # fmt: skip


def compare(op: str, x, y) -> Tensor:
    """Elementwise comparison or logic (eq, ne, lt, le, gt, ge, and, or, xor): a boolean tensor."""
    if not isinstance(x, Tensor):
        x = _const(x, y)
    if not isinstance(y, Tensor):
        y = _const(y, x)
    if x.device is not y.device:
        raise RuntimeError(f"{op}: tensors on different devices ({x.device} and {y.device})")
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


def argmax(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    if axis is not None:
        _normalize_axis("argmax", axis, x.ndim)
    if x.size == 0:
        raise ValueError(f"argmax: empty tensor of shape {x.shape}")
    out = x.device.xp.asarray(x.data.argmax(axis=axis, keepdims=keepdims))
    return Tensor._make(out.astype(backend.int64), x.device, False, None)


def argmin(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    if axis is not None:
        _normalize_axis("argmin", axis, x.ndim)
    if x.size == 0:
        raise ValueError(f"argmin: empty tensor of shape {x.shape}")
    out = x.device.xp.asarray(x.data.argmin(axis=axis, keepdims=keepdims))
    return Tensor._make(out.astype(backend.int64), x.device, False, None)


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
from ._common import _broadcast_shape, _const, _normalize_axis, _result_dtype  # noqa: E402
