"""Compositions of primitives: no VJP of their own, so their gradients come from the ops they use.

Subtraction, means, variances, softmax and friends, and the shape helpers (squeeze, stack, split, ...).
"""

from __future__ import annotations

import builtins

from . import ops
from .ops import (  # noqa: F401  (stack re-exported)
    _as_int,
    _const,
    _normalize_axis,
    reshape,
    stack,
    transpose,
)
from .ops._common import _axis, _dims
from .ops.reduce import _finite_max
from .tensor import Tensor


_NAN = float("nan")


def minimum(x, y) -> Tensor:
    """Elementwise min, as -max(-x, -y)."""
    if not isinstance(x, Tensor):
        x = _const(x, y)
    if not isinstance(y, Tensor):
        y = _const(y, x)
    ops._broadcast_shape("minimum", x.shape, y.shape)  # name this op, not maximum, in a shape error
    if x.dtype is not y.dtype:
        x, y = ops._promote_pair(x, y)
    if x.dtype.kind != "f" and y.dtype.kind != "f":
        # NOTE: -x wraps around for unsigned ints and INT64_MIN and fails for bools; integers need no gradient
        out = x.device.xp.asarray(x.device.xp.minimum(x.data, y.data))
        return Tensor._make(out, x.device, False, None)
    return ops.neg(ops.maximum(ops.neg(x), ops.neg(y)))


def clip(x: Tensor, min=None, max=None) -> Tensor:
    """Limit values to [min, max] (numbers or tensors that broadcast), as torch.clamp: the result is max
    wherever min > max. Gradients: x's passes where min <= x <= max, min's where x < min, max's where
    x > max or min > max. A NaN in x stays NaN and sends no gradient anywhere."""
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")
    out = x
    if min is not None:
        out = ops.where(x < min, min, out)  # ties keep x's gradient
    if max is not None:
        out = ops.where(out > max, max, out)
    if x.dtype.kind == "f":
        out = ops.where(x.data != x.data, x.detach(), out)  # NaN: no gradient, as torch.clamp
    return out


def mean(x: Tensor, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
    """Mean over axis (None: all axes, an int or a tuple of ints), like torch.mean(x, dim, keepdim): the
    reduced axes are dropped, or kept with size 1 when keepdims. The mean of no elements is nan."""
    axis, keepdims = _dims(axis, keepdims, dim, keepdim)
    axes, n = _count("mean", x, axis)
    x = ops._float(x)
    return ops.sum(x, axes, keepdims) * (1.0 / n if n else _NAN)  # 0 * nan: no NumPy warning


def var(
    x: Tensor,
    axis=None,
    keepdims: bool = False,
    correction: int = 1,
    *,
    dim=None,
    keepdim=None,
    unbiased=None,
) -> Tensor:
    """Variance with PyTorch's default Bessel correction (correction=1); correction=0 gives NumPy's
    (torch's older `unbiased=False` is accepted too). With no degrees of freedom left (n <= correction,
    e.g. one element) it is nan, as in torch.
    NOTE: torch gives inf there when the squares do not sum to 0 (possible only for correction > 1)."""
    axis, keepdims = _dims(axis, keepdims, dim, keepdim)
    if unbiased is not None:
        correction = int(bool(unbiased))
    axes, n = _count("var", x, axis)
    x = ops._float(x)
    centered = x - mean(x, axes, keepdims=True)
    scale = 1.0 / (n - correction) if n > correction else _NAN
    return ops.sum(centered * centered, axes, keepdims) * scale


def _count(name: str, x: Tensor, axis) -> tuple:
    """(axes, n): the reduced axes and their element count."""
    axes = _normalize_axis(name, axis, x.ndim)
    n = 1
    for a in axes:
        n *= x.shape[a]
    return axes, n


def std(
    x: Tensor,
    axis=None,
    keepdims: bool = False,
    correction: int = 1,
    *,
    dim=None,
    keepdim=None,
    unbiased=None,
) -> Tensor:
    """sqrt(var) (the same arguments); where the variance is 0 the gradient is 0 (as PyTorch), not
    0 * inf = nan."""
    axis, keepdims = _dims(axis, keepdims, dim, keepdim)
    _normalize_axis("std", axis, x.ndim)  # so that an error names std, not var
    v = var(x, axis, keepdims, correction, unbiased=unbiased)
    zero = v.data == 0
    return ops.where(zero, 0, ops.sqrt(ops.where(zero, 1, v)))


def min(x: Tensor, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
    """Minimum over axis, like torch.amin(x, dim, keepdim); floats as -max(-x) (see max for ties and NaN)."""
    axis, keepdims = _dims(axis, keepdims, dim, keepdim)
    axes = _normalize_axis("min", axis, x.ndim)
    if x.size == 0 and (not axes or builtins.any(x.shape[a] == 0 for a in axes)):
        raise ValueError(
            f"min: cannot reduce an empty tensor of shape {x.shape} (the minimum has no identity)"
        )
    if (
        x.dtype.kind != "f"
    ):  # -x wraps around for unsigned ints and INT64_MIN; integers need no gradient
        out = x.device.xp.asarray(x.data.min(axis=axes, keepdims=keepdims))
        return Tensor._make(out, x.device, False, None)
    return ops.neg(ops.max(ops.neg(x), axis, keepdims))


def _max_shift(x: Tensor, axes: tuple) -> Tensor:
    """The max of x along axes (kept as size-1 axes), as a constant: subtracting it keeps exp() from
    overflowing, and it cancels exactly in the gradient. Non-finite maxima shift by 0 instead."""
    return Tensor._make(_finite_max(x.device.xp, x.data, axes), x.device, False, None)


def logsumexp(x: Tensor, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
    """log(sum(exp(x))) without overflow: the max is subtracted first (as a constant; it cancels exactly)."""
    axis, keepdims = _dims(axis, keepdims, dim, keepdim)
    axes = _normalize_axis("logsumexp", axis, x.ndim)
    x = ops._float(x)
    shift = _max_shift(x, axes)
    out = ops.log(ops.sum(ops.exp(x - shift), axes, keepdims=True)) + shift
    return out if keepdims else reshape(out, _drop(out.shape, axes))


def softmax(x: Tensor, axis: int = -1, *, dim=None) -> Tensor:
    """exp(x) / sum(exp(x)) along axis, computed as exp(log_softmax(x)) so it never overflows."""
    axis = _axis(axis, dim)
    _normalize_axis("softmax", axis, x.ndim)
    return ops.exp(log_softmax(x, axis))


def log_softmax(x: Tensor, axis: int = -1, *, dim=None) -> Tensor:
    """x - logsumexp(x) along axis; finite for logits of any size (the primitive ops.LogSoftmax)."""
    axes = _normalize_axis("log_softmax", _axis(axis, dim), x.ndim)
    return ops.LogSoftmax.apply(ops._float(x), axes=axes)


def _drop(shape, axes):
    return tuple(s for i, s in enumerate(shape) if i not in axes)


# ---- shape helpers ---------------------------------------------------------------------------------


def _at_least_1d(name: str, x: Tensor) -> None:
    if x.ndim == 0:
        raise ValueError(f"{name}: expected a tensor with at least 1 dimension, got a 0-d tensor")


def squeeze(x: Tensor, axis=None, *, dim=None) -> Tensor:
    """Remove size-1 axes (all of them, or those of the given ones that have size 1: as in torch, and
    unlike NumPy, a given axis of another size is left alone)."""
    axis = _axis(axis, dim)
    if axis is None:
        return reshape(x, tuple(s for s in x.shape if s != 1))
    axes = _normalize_axis("squeeze", axis, x.ndim)
    return reshape(x, _drop(x.shape, [a for a in axes if x.shape[a] == 1]))


def unsqueeze(x: Tensor, axis: int | None = None, *, dim=None) -> Tensor:
    """Insert a size-1 axis at position `axis` (negative counts from the end of the result)."""
    nd = x.ndim + 1
    axis = _axis(axis, dim)
    ax = _as_int(axis)
    if ax is None:
        raise TypeError(f"unsqueeze: axis must be an int, got {axis!r}")
    if not -nd <= ax < nd:
        raise IndexError(
            f"unsqueeze: axis {axis} is out of range for a result with {nd} dimensions"
        )
    ax %= nd
    return reshape(x, x.shape[:ax] + (1,) + x.shape[ax:])


expand_dims = unsqueeze


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    if x.ndim == 0:
        return reshape(x, (1,))
    s, e = (
        _normalize_axis("flatten", (start_dim,), x.ndim)[0],
        _normalize_axis("flatten", (end_dim,), x.ndim)[0],
    )
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    n = 1
    for d in x.shape[s : e + 1]:
        n *= d
    return reshape(x, x.shape[:s] + (n,) + x.shape[e + 1 :])


def swapaxes(x: Tensor, axis1: int, axis2: int) -> Tensor:
    if x.ndim == 0:
        for a in (axis1, axis2):
            _normalize_axis("swapaxes", a, 0)  # only 0 and -1 exist
        return x  # like torch: axes 0 and -1 of a 0-d tensor are the tensor itself
    a1, a2 = (_normalize_axis("swapaxes", (a,), x.ndim)[0] for a in (axis1, axis2))
    axes = list(range(x.ndim))
    axes[a1], axes[a2] = axes[a2], axes[a1]
    return transpose(x, tuple(axes))


def permute(x: Tensor, *axes) -> Tensor:
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    return transpose(x, axes)


def split(x: Tensor, split_size_or_sections, axis: int = 0, *, dim=None) -> list:
    """PyTorch's split: an int gives chunks of that size (the last may be smaller); a list gives sizes."""
    _at_least_1d("split", x)
    (ax,) = _normalize_axis("split", _axis(axis, dim), x.ndim)
    n = x.shape[ax]
    size = _as_int(split_size_or_sections)
    if size is not None:
        if size <= 0:
            raise ValueError(f"split: split size must be positive, got {size}")
        # an empty axis gives one empty piece, as in torch
        sizes = [builtins.min(size, n - i) for i in range(0, n, size)] or [0]
    else:
        sizes = list(split_size_or_sections)
        if builtins.sum(sizes) != n:
            raise ValueError(
                f"split: sizes {sizes} do not add up to {n}, the length of axis {ax} of shape {x.shape}"
            )
    out, start = [], 0
    lead = (slice(None),) * ax
    for s in sizes:
        out.append(x[lead + (slice(start, start + s),)])
        start += s
    return out


def chunk(x: Tensor, chunks: int, axis: int = 0, *, dim=None) -> list:
    """Split into `chunks` pieces of equal size (the last may be smaller), like torch.chunk."""
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    _at_least_1d("chunk", x)
    (ax,) = _normalize_axis("chunk", _axis(axis, dim), x.ndim)
    n = x.shape[ax]
    if n == 0:
        return split(x, [0] * chunks, ax)  # torch gives `chunks` empty pieces
    return split(x, -(-n // chunks), ax)


def flip(x: Tensor, axis=None, *, dims=None) -> Tensor:
    """Reverse the order of elements along the given axes (all when None; torch spells them `dims`)."""
    axes = _normalize_axis("flip", _axis(axis, dims), x.ndim)
    index = tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(x.ndim))
    return x[index]


def index_select(x: Tensor, axis: int | None = None, index=None, *, dim=None) -> Tensor:
    """Pick entries along one axis with a 1-D integer index (repeats allowed: their gradients add)."""
    _at_least_1d("index_select", x)
    axis = _axis(axis, dim)
    if axis is None or index is None:
        raise TypeError("index_select: needs an axis (dim) and an index")
    (ax,) = _normalize_axis("index_select", axis, x.ndim)
    idx = index.data if isinstance(index, Tensor) else x.device.xp.asarray(index)
    if idx.ndim != 1 or idx.dtype.kind not in "iu":
        raise ValueError(
            f"index_select: index must be a 1-D integer array, got shape {idx.shape} dtype {idx.dtype}"
        )
    return _pick("index_select", x, (slice(None),) * ax + (idx,))


def _pick(name: str, x: Tensor, index) -> Tensor:
    """x[index], with an out-of-range index reported under the public op's name."""
    try:
        return x[index]
    except IndexError as e:
        raise IndexError(f"{name}: {e}") from None


def take(x: Tensor, indices, axis=None) -> Tensor:
    """numpy.take: along `axis`, or into the flattened tensor when axis is None."""
    idx = indices.data if isinstance(indices, Tensor) else x.device.xp.asarray(indices)
    if axis is None:
        return _pick("take", reshape(x, (-1,)), idx)
    _at_least_1d("take", x)
    (ax,) = _normalize_axis("take", axis, x.ndim)
    return _pick("take", x, (slice(None),) * ax + (idx,))


def masked_fill(x: Tensor, mask, value) -> Tensor:
    """Return x with `value` where mask is True (mask broadcasts against x)."""
    fill = _const(value, x) if not isinstance(value, Tensor) else value
    # name this op in a shape error
    ops._broadcast_shape("masked_fill", getattr(mask, "shape", ()), x.shape)
    return ops.where(mask, fill, x)


def maximum(x, y) -> Tensor:
    return ops.maximum(x, y)
