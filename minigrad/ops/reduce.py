"""Reductions: sum and max over axes (mean, var, min, logsumexp are compositions in functional.py)."""

from __future__ import annotations

import builtins

from .. import backend
from ..autograd import Function
from ..tensor import Tensor

# ---- reductions --------------------------------------------------------------------------------------


class Sum(Function):
    """out = x.sum(axes, keepdims);  vjp: gx = broadcast_to(g with the summed axes kept, x.shape)"""

    @staticmethod
    def forward(ctx, x, axes=(), keepdims=False):
        ctx.shape, ctx.axes = x.shape, axes
        return x.sum(axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        return broadcast_to(reshape(g, _keep_shape(ctx.shape, ctx.axes)), ctx.shape)


def sum(x: Tensor, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
    """Sum over axis (None: all axes, an int or a tuple of ints), like torch.sum(x, dim, keepdim): the
    summed axes are dropped, or kept with size 1 when keepdims; bools and all integers sum as int64, as
    in torch (NumPy sums uint8 as uint64, where sum() - 400 wraps around). `dim` and `keepdim` are
    accepted as PyTorch spells them."""
    axis, keepdims = _dims(axis, keepdims, dim, keepdim)
    axes = _normalize_axis("sum", axis, x.ndim)
    if x.dtype.kind in "biu" and x.dtype != backend.int64:
        x = astype(x, backend.int64)
    return Sum.apply(x, axes=axes, keepdims=keepdims)


class Max(Function):
    """out = x.max(axes, keepdims);  vjp: g goes to the maximal entries (shared evenly between ties);
    a NaN is the maximum, so g goes to the NaNs (as torch's x.max(); its amax gives nan everywhere)"""

    @staticmethod
    def forward(ctx, x, axes=(), keepdims=False):
        xp = ctx.xp
        out_k = x.max(axis=axes, keepdims=True)
        mask = ((x == out_k) | (x != x)).astype(x.dtype)
        ctx.save_for_backward(mask / mask.sum(axis=axes, keepdims=True))
        ctx.shape, ctx.axes = x.shape, axes
        return out_k if keepdims else xp.squeeze(out_k, axis=axes)

    @staticmethod
    def backward(ctx, g):
        (weights,) = ctx.saved_tensors
        return broadcast_to(reshape(g, _keep_shape(ctx.shape, ctx.axes)), ctx.shape) * weights


def max(x: Tensor, axis=None, keepdims: bool = False, *, dim=None, keepdim=None) -> Tensor:
    """Maximum over axis (None: all axes, an int or a tuple of ints), like torch.amax(x, dim, keepdim):
    values only, no indices; the gradient is shared evenly between tied maxima, and a NaN is the maximum.
    An empty reduction raises ValueError (a maximum has no identity)."""
    axis, keepdims = _dims(axis, keepdims, dim, keepdim)
    axes = _normalize_axis("max", axis, x.ndim)
    if x.size == 0 and (not axes or builtins.any(x.shape[a] == 0 for a in axes)):
        raise ValueError(
            f"max: cannot reduce an empty tensor of shape {x.shape} (the maximum has no identity)"
        )
    return Max.apply(x, axes=axes, keepdims=keepdims)


def _finite_max(xp, x, axes: tuple):
    """The max of the array x along axes (kept as size-1 axes), 0 where it is not finite (all -inf, or an
    inf) and for an empty x: the shift that keeps exp() from overflowing in log_softmax and logsumexp."""
    if not x.size:
        return xp.zeros(_keep_shape(x.shape, axes), x.dtype)
    m = x.max(axis=axes, keepdims=True)
    return xp.where(xp.isfinite(m), m, 0).astype(x.dtype, copy=False)


class LogSoftmax(Function):
    """out = x - m - log(sum(exp(x - m))) along axes, m = max(x) along axes (0 where not finite);
    vjp: gx = g - exp(out) * sum(g, axes)
    (a primitive rather than the composition of sub, exp, sum, log and broadcast_to: one node instead of
    six in every cross-entropy; measured: log_softmax(x).sum().backward() for x (25, 65), 103 -> 57 us.
    NOTE: never x - logsumexp(x): for large logits m + log(n) rounds to m in float32, and
    softmax([1e8, 1e8]) would come out as [1, 1])"""

    @staticmethod
    def forward(ctx, x, axes=()):
        xp = ctx.xp
        ctx.axes = axes
        shifted = x - _finite_max(xp, x, axes)
        out = shifted - xp.log(xp.exp(shifted).sum(axis=axes, keepdims=True))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g - exp(out) * sum(g, ctx.axes, keepdims=True)


# Sibling modules refer to each other at call time; importing them last keeps the cycle harmless.
from ._common import _dims, _keep_shape, _normalize_axis  # noqa: E402
from .elementwise import astype, exp  # noqa: E402
from .shape import broadcast_to, reshape  # noqa: E402
