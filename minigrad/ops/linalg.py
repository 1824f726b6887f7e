"""Linear algebra: the matmul primitive and its NumPy-semantics wrapper (1-D promotion, batch broadcasting)."""

from __future__ import annotations

from .. import backend
from ..autograd import Function
from ..tensor import Tensor

_BIG = backend._CACHE_MIN  # larger results are written into recycled arrays (see backend.out_like)

# ---- linear algebra ------------------------------------------------------------------------------------


class MatMul(Function):
    """out = x @ y for (..., n, k) @ (..., k, m) with equal batch shapes;
    vjp: gx = g @ y^T, gy = x^T @ g"""

    array_backward = True
    # without create_graph the engine sums many x^T @ g terms for one y in one matmul
    _defers_rhs = True

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        if x.ndim != 2 or x.shape[0] * y.shape[-1] < _BIG:
            return x @ y
        return ctx.xp.matmul(x, y, out=backend.out_matmul(x, y))

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        gx = g @ y.swapaxes(-1, -2) if ctx.needs_input_grad[0] else None
        gy = x.swapaxes(-1, -2) @ g if ctx.needs_input_grad[1] else None
        return gx, gy


def matmul(x, y) -> Tensor:
    """Matrix product with NumPy semantics: 1-D operands are promoted and the extra axis removed again,
    batch axes broadcast."""
    if not isinstance(x, Tensor):
        x = _const(x, y)
    if not isinstance(y, Tensor):
        y = _const(y, x)
    if x.data.dtype.kind != y.data.dtype.kind:
        x, y = _promote(x, y)  # int32 @ float32 is float32, as for the elementwise ops (NumPy: float64)
    xs, ys = x.data.shape, y.data.shape
    if len(xs) == 2 and len(ys) == 2 and xs[1] == ys[0]:
        return MatMul.apply(x, y)  # the common case, first
    if x.ndim == 0 or y.ndim == 0:
        raise ValueError(
            f"matmul: both operands need at least 1 dimension, got shapes {x.shape} and {y.shape}"
        )
    if x.ndim > 2 and y.ndim == 2 and x.shape[-1] == y.shape[0]:
        # (..., n, k) @ (k, m) is one 2-D product: far faster than broadcasting y over the batch
        rows = 1
        for n in x.shape[:-1]:
            rows *= n  # not -1: reshape cannot infer a size from an empty tensor
        out = MatMul.apply(reshape(x, (rows, x.shape[-1])), y)
        return reshape(out, x.shape[:-1] + (y.shape[1],))
    xs = reshape(x, (1,) + x.shape) if x.ndim == 1 else x
    ys = reshape(y, y.shape + (1,)) if y.ndim == 1 else y
    if xs.shape[-1] != ys.shape[-2]:
        raise ValueError(
            f"matmul: shapes {x.shape} and {y.shape} are not aligned: "
            f"{xs.shape[-1]} (last axis of the first) != {ys.shape[-2]} (second-to-last of the second)"
        )
    batch = _broadcast_shape("matmul", xs.shape[:-2], ys.shape[:-2])
    if xs.shape[:-2] != batch:
        xs = broadcast_to(xs, batch + xs.shape[-2:])
    if ys.shape[:-2] != batch:
        ys = broadcast_to(ys, batch + ys.shape[-2:])
    out = MatMul.apply(xs, ys)
    if x.ndim == 1:
        out = reshape(out, out.shape[:-2] + out.shape[-1:])
    if y.ndim == 1:
        out = reshape(out, out.shape[:-1])
    return out


class AddMatMul(Function):
    """out = c + x @ y for 2-D x (n, k), y (k, m) and c (n, m);  vjp: gx = g @ y^T, gy = x^T @ g, gc = g
    (a primitive rather than add(c, matmul(x, y)): one node instead of two in every recurrent step, a
    measured speed-up of the small-batch RNN step; inputs ordered x, y, c so that the engine batches y's
    gradient terms exactly as for matmul)"""

    array_backward = True

    _defers_rhs = True  # see MatMul

    @staticmethod
    def forward(ctx, x, y, c, y_contiguous=None):
        ctx.save_for_backward(x, y)
        y = y if y_contiguous is None else y_contiguous
        if x.shape[0] * y.shape[1] < _BIG:
            out = x @ y
        else:
            out = ctx.xp.matmul(x, y, out=backend.out_matmul(x, y))
        out += c
        return out

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        need = ctx.needs_input_grad
        gx = g @ y.T if need[0] else None
        gy = x.T @ g if need[1] else None
        return gx, gy, (g if need[2] else None)


def addmm(c, x, y, y_contiguous=None) -> Tensor:
    """c + x @ y for 2-D x (n, k) and y (k, m), with c broadcastable to (n, m) (torch.addmm).

    y_contiguous: optionally y's values as a C-contiguous array, for a y that is a transposed view
    (W.T) multiplied at many steps: the forward product then takes BLAS's row-major path (measured 1.5x
    faster for h @ W_hh.T in float32 with OpenBLAS), while backward still uses y, whose transpose is W."""
    if not isinstance(c, Tensor):
        c = _const(c, x)
    xs, ys = x.data.shape, y.data.shape
    if len(xs) != 2 or len(ys) != 2 or xs[1] != ys[0]:
        raise ValueError(
            f"addmm: expected 2-D operands with matching inner sizes, got shapes {x.shape} and {y.shape}"
        )
    out_shape = (xs[0], ys[1])
    if c.data.shape != out_shape:
        if _broadcast_shape("addmm", c.shape, out_shape) != out_shape:
            raise ValueError(f"addmm: c of shape {c.shape} does not broadcast to {out_shape}")
        c = broadcast_to(c, out_shape)
    if c.dtype != x.dtype or y.dtype != x.dtype:
        return add(c, matmul(x, y))  # mixed dtypes: let add and matmul promote as they do
    return AddMatMul.apply(x, y, c, y_contiguous=y_contiguous)


class Linear(Function):
    """out = x @ w^T (+ b) for 2-D x (n, in), w (out, in), b (out,), as torch.nn.functional.linear;
    vjp: gx = g @ w, gw = g^T @ x, gb = g summed over the rows
    (a primitive rather than addmm(broadcast_to(b), x, transpose(w)): one node instead of three in every
    Linear layer and recurrent input projection; measured: linear(x, w, b).sum().backward() for x (25, 100)
    and w (65, 100), 90 -> 73 us)"""

    array_backward = True

    @staticmethod
    def forward(ctx, x, w, b=None):
        ctx.save_for_backward(x, w)
        if x.shape[0] * w.shape[0] < _BIG:
            out = x @ w.T
        else:
            out = ctx.xp.matmul(x, w.T, out=backend.out_matmul(x, w.T))
        if b is not None:
            out += b
        return out

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        need = ctx.needs_input_grad
        gx = g @ w if need[0] else None
        gw = g.T @ x if need[1] else None
        if len(need) == 2:
            return gx, gw
        return gx, gw, (g.sum(0) if need[2] else None)


def linear(x: Tensor, w: Tensor, b: Tensor | None = None) -> Tensor:
    """x @ w.T + b for 2-D x (n, in), w (out, in) and b (out,) or None, as one op (shapes checked by the
    caller, mg.nn.functional.linear)."""
    if b is None:
        return Linear.apply(x, w)
    return Linear.apply(x, w, b)


# Sibling modules refer to each other at call time; importing them last keeps the cycle harmless.
from ._common import _broadcast_shape, _const, _promote  # noqa: E402
from .elementwise import add  # noqa: E402
from .shape import broadcast_to, reshape  # noqa: E402
