"""Primitive ops: one `Function` subclass per op (forward and its vector-Jacobian product side by side),
each followed by its lowercase wrapper. Everything else in minigrad is composed from these.

Backward rules are written with Tensor operations on graph-connected tensors, so they are differentiable
themselves (`create_graph=True`). Binary wrappers broadcast explicitly, so `BroadcastTo.backward` is the
one place where gradients are summed back to an input's shape.
"""

from __future__ import annotations

import builtins
import contextlib
import math

from . import backend
from .autograd import Function, _share_if_view, is_grad_enabled
from .tensor import Tensor

# ---- helpers shared by the wrappers ---------------------------------------------------------------


def _const(value, like: Tensor | None) -> Tensor:
    """A Python number or array as a constant tensor on `like`'s device (numbers take like's dtype)."""
    if isinstance(value, Tensor):
        return value
    if like is None:
        from .tensor import tensor

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


# ---- elementwise arithmetic ---------------------------------------------------------------------------


class Add(Function):
    """out = x + y;  vjp: gx = g, gy = g"""

    @staticmethod
    def forward(ctx, x, y):
        return x + y

    @staticmethod
    def backward(ctx, g):
        return g, g


def add(x, y) -> Tensor:
    return _binary(Add, x, y)


class Sub(Function):
    """out = x - y;  vjp: gx = g, gy = -g
    (a primitive rather than x + (-y): one array pass instead of two; ~30% faster LSTM backward maths)"""

    @staticmethod
    def forward(ctx, x, y):
        return x - y

    @staticmethod
    def backward(ctx, g):
        return g, (-g if ctx.needs_input_grad[1] else None)


def sub(x, y) -> Tensor:
    return _binary(Sub, x, y)


class Mul(Function):
    """out = x * y;  vjp: gx = g * y, gy = g * x"""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x * y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        gx = g * y if ctx.needs_input_grad[0] else None
        gy = g * x if ctx.needs_input_grad[1] else None
        return gx, gy


def mul(x, y) -> Tensor:
    return _binary(Mul, x, y)


class Neg(Function):
    """out = -x;  vjp: gx = -g"""

    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, g):
        return -g


def neg(x: Tensor) -> Tensor:
    if x.dtype.kind == "b":
        raise TypeError("neg: negation of a bool tensor is not supported; invert a mask with ~mask")
    return Neg.apply(x)


class Div(Function):
    """out = x / y;  vjp: gx = g / y, gy = -g * out / y"""

    @staticmethod
    def forward(ctx, x, y):
        out = x / y
        ctx.save_for_backward(y, out)
        return out

    @staticmethod
    def backward(ctx, g):
        y, out = ctx.saved_tensors
        gx = g / y if ctx.needs_input_grad[0] else None
        gy = -g * out / y if ctx.needs_input_grad[1] else None
        return gx, gy


def div(x, y) -> Tensor:
    if (
        x.__class__ is Tensor
        and x.dtype.kind != "f"
        and (not isinstance(y, Tensor) or y.dtype.kind != "f")
    ):
        x = astype(
            x, backend.get_default_dtype()
        )  # true division of integers gives floats, as in NumPy
    return _binary(Div, x, y)


class Pow(Function):
    """out = x ** p (p a number);  vjp: gx = g * p * x ** (p - 1)
    out = x ** y (y a tensor);    vjp: gx = g * y * x ** (y - 1), gy = g * out * log(x)"""

    @staticmethod
    def forward(ctx, x, y=None, exponent=None):
        ctx.exponent = exponent
        if y is None:
            ctx.save_for_backward(x)
            return x**exponent
        out = x**y
        ctx.save_for_backward(x, y, out)
        return out

    @staticmethod
    def backward(ctx, g):
        if ctx.exponent is not None:
            (x,) = ctx.saved_tensors
            p = ctx.exponent
            if p == 0:
                return g * 0
            return g * p * x ** (p - 1)
        x, y, out = ctx.saved_tensors
        gx = g * y * x ** (y - 1) if ctx.needs_input_grad[0] else None
        gy = None
        if ctx.needs_input_grad[1]:
            safe_x = where(x.data == 0, 1, x)  # d/dy 0**y is taken as 0 (PyTorch does the same)
            gy = g * out * log(safe_x)
        return gx, gy


def _check_int_pow(x: Tensor, exponent) -> None:
    """NumPy refuses integer ** negative integer: say so in minigrad's words, naming the op."""
    e = exponent.data if isinstance(exponent, Tensor) else exponent
    if x.dtype.kind not in "iu":
        return
    kind = e.dtype.kind if hasattr(e, "dtype") else ("i" if isinstance(e, int) else "f")
    if kind in "iu" and bool((e < 0).any() if hasattr(e, "any") else e < 0):
        raise ValueError(
            "pow: integers to negative integer powers are not allowed; make the base a float tensor "
            "first (x.float() ** -1)"
        )


def pow(x, exponent) -> Tensor:
    if isinstance(x, Tensor) and backend.is_scalar(exponent):
        _check_int_pow(x, exponent)
        if x.dtype.kind != "f" and isinstance(exponent, float):
            x = astype(x, backend.get_default_dtype())
        return Pow.apply(x, exponent=exponent)
    if not isinstance(x, Tensor):
        x = _const(x, exponent)
    if not isinstance(exponent, Tensor):
        exponent = _const(exponent, x)
    _check_int_pow(x, exponent)
    if x.shape != exponent.shape:
        x, exponent = _broadcast("pow", x, exponent)
    return Pow.apply(x, exponent)


# ---- elementwise functions -----------------------------------------------------------------------------


class Exp(Function):
    """out = exp(x);  vjp: gx = g * out"""

    @staticmethod
    def forward(ctx, x):
        out = ctx.xp.exp(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * out


def exp(x: Tensor) -> Tensor:
    return Exp.apply(_float(x))


class Log(Function):
    """out = log(x);  vjp: gx = g / x"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.xp.log(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / x


def log(x: Tensor) -> Tensor:
    return Log.apply(_float(x))


class Sqrt(Function):
    """out = sqrt(x);  vjp: gx = g * 0.5 / out"""

    @staticmethod
    def forward(ctx, x):
        out = ctx.xp.sqrt(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * 0.5 / out


def sqrt(x: Tensor) -> Tensor:
    return Sqrt.apply(_float(x))


class Abs(Function):
    """out = |x|;  vjp: gx = g * sign(x)  (sign is piecewise constant: no second-order term)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(ctx.xp.sign(x))
        return ctx.xp.abs(x)

    @staticmethod
    def backward(ctx, g):
        (sign,) = ctx.saved_tensors
        return g * sign


def abs(x: Tensor) -> Tensor:
    return Abs.apply(x)


class Tanh(Function):
    """out = tanh(x);  vjp: gx = g * (1 - out**2)"""

    @staticmethod
    def forward(ctx, x):
        out = ctx.xp.tanh(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return TanhGrad.apply(g, out)


class TanhGrad(Function):
    """gx = g * (1 - out**2), the VJP of tanh as one op (a measured speed-up: one dispatch instead of
    three in every LSTM/GRU/RNN step);  vjp: gg = gx_bar * (1 - out**2), gout = -2 * gx_bar * g * out"""

    @staticmethod
    def forward(ctx, g, out):
        ctx.save_for_backward(g, out)
        return g * (1 - out * out)

    @staticmethod
    def backward(ctx, gbar):
        g, out = ctx.saved_tensors
        gg = gbar * (1 - out * out) if ctx.needs_input_grad[0] else None
        gout = gbar * g * out * -2 if ctx.needs_input_grad[1] else None
        return gg, gout


def tanh(x: Tensor) -> Tensor:
    return Tanh.apply(_float(x))


class Sigmoid(Function):
    """out = 1 / (1 + exp(-x));  vjp: gx = g * out * (1 - out)"""

    @staticmethod
    def forward(ctx, x):
        xp = ctx.xp
        # NOTE: exp(-x) overflows to inf for very negative x, and 1 / (1 + inf) = 0 is the right limit:
        # silence the warning rather than pay for a branch-free two-sided formula (35% slower).
        with _quiet_overflow(xp):
            e = xp.exp(-x)
        if e.__class__ is not x.__class__:
            e = xp.asarray(e)  # numpy returns a scalar for 0-d input
        e += 1
        out = xp.reciprocal(e, out=e)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return SigmoidGrad.apply(g, out)


class SigmoidGrad(Function):
    """gx = g * out * (1 - out), the VJP of sigmoid as one op (a measured speed-up, as TanhGrad);
    vjp: gg = gx_bar * out * (1 - out), gout = gx_bar * g * (1 - 2 * out)"""

    @staticmethod
    def forward(ctx, g, out):
        ctx.save_for_backward(g, out)
        return g * out * (1 - out)

    @staticmethod
    def backward(ctx, gbar):
        g, out = ctx.saved_tensors
        gg = gbar * (out * (1 - out)) if ctx.needs_input_grad[0] else None
        gout = gbar * g * (1 - 2 * out) if ctx.needs_input_grad[1] else None
        return gg, gout


def _quiet_overflow(xp):
    errstate = getattr(xp, "errstate", None)  # numpy has it; cupy never warns
    return errstate(over="ignore") if errstate is not None else contextlib.nullcontext()


def sigmoid(x: Tensor) -> Tensor:
    return Sigmoid.apply(_float(x))


class Relu(Function):
    """out = max(x, 0);  vjp: gx = g * (x > 0)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward((x > 0).astype(x.dtype))
        return ctx.xp.maximum(x, 0)

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        return g * mask


def relu(x: Tensor) -> Tensor:
    return Relu.apply(x)


class Maximum(Function):
    """out = max(x, y) elementwise;  vjp: g goes to the larger input (split evenly on ties, as PyTorch)"""

    @staticmethod
    def forward(ctx, x, y):
        xp = ctx.xp
        wx = (x > y).astype(x.dtype) + 0.5 * (x == y)
        ctx.save_for_backward(wx.astype(ctx.xp.result_type(x, y)))
        return xp.maximum(x, y)

    @staticmethod
    def backward(ctx, g):
        (wx,) = ctx.saved_tensors
        gx = g * wx if ctx.needs_input_grad[0] else None
        gy = g * (1 - wx) if ctx.needs_input_grad[1] else None
        return gx, gy


def maximum(x, y) -> Tensor:
    return _binary(Maximum, x, y)


class Where(Function):
    """out = where(cond, x, y);  vjp: gx = where(cond, g, 0), gy = where(cond, 0, g); cond gets none"""

    @staticmethod
    def forward(ctx, cond, x, y):
        ctx.save_for_backward(cond)
        return ctx.xp.where(cond, x, y)

    @staticmethod
    def backward(ctx, g):
        (cond,) = ctx.saved_tensors
        zero = Tensor._make(g.device.xp.zeros((), dtype=g.dtype), g.device, False, None)
        gx = where(cond, g, zero) if ctx.needs_input_grad[1] else None
        gy = where(cond, zero, g) if ctx.needs_input_grad[2] else None
        return None, gx, gy


def where(cond, x, y) -> Tensor:
    """Elementwise `x if cond else y`; cond is a boolean tensor or array (not differentiated)."""
    like = x if isinstance(x, Tensor) else y if isinstance(y, Tensor) else None
    if like is None:
        like = Tensor._make(
            backend.cpu.xp.zeros((), dtype=backend.get_default_dtype()), backend.cpu, False, None
        )
        if isinstance(cond, Tensor):
            like = Tensor._make(
                cond.device.xp.zeros((), dtype=backend.get_default_dtype()),
                cond.device,
                False,
                None,
            )
    cond = _const(cond, like)
    if cond.dtype.kind != "b":
        cond = Tensor._make(cond.data.astype(bool), cond.device, False, None)
    x = _const(x, like)
    y = _const(y, like)
    if not (cond.shape == x.shape == y.shape):
        cond, x, y = _broadcast("where", cond, x, y)
    return Where.apply(cond, x, y)


class Cast(Function):
    """out = x.astype(dtype);  vjp: gx = g.astype(x.dtype)"""

    @staticmethod
    def forward(ctx, x, dtype=None):
        ctx.in_dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return astype(g, ctx.in_dtype)


def astype(x: Tensor, dtype) -> Tensor:
    dtype = backend.as_dtype(dtype)
    if dtype == x.dtype:
        return x
    if x.requires_grad and dtype.kind != "f" and is_grad_enabled():
        return Tensor._make(
            x.data.astype(dtype), x.device, False, None
        )  # integer results: no gradient
    return Cast.apply(x, dtype=dtype)


class ToDevice(Function):
    """out = x copied to another device;  vjp: gx = g copied back"""

    @staticmethod
    def forward(ctx, x, device=None):
        ctx.src = backend.device_of(x)
        if device.type == "cpu":
            return backend.to_numpy(x)
        with device.xp.cuda.Device(device.index):
            return device.xp.asarray(x)

    @staticmethod
    def backward(ctx, g):
        return to_device(g, ctx.src)

    @classmethod
    def apply(
        cls, x, device=None
    ):  # NOTE: the one op whose output lives on another device than its input
        t = super().apply(x, device=device)
        t.device = device
        return t


def to_device(x: Tensor, device) -> Tensor:
    return ToDevice.apply(x, device=backend.device(device))


def _float(x: Tensor) -> Tensor:
    return x if x.dtype.kind == "f" else astype(x, backend.get_default_dtype())


# ---- linear algebra ------------------------------------------------------------------------------------


class MatMul(Function):
    """out = x @ y for (..., n, k) @ (..., k, m) with equal batch shapes;
    vjp: gx = g @ y^T, gy = x^T @ g"""

    _defers_rhs = (
        True  # without create_graph the engine sums many x^T @ g terms for one y in one matmul
    )

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x @ y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        gx = matmul(g, _swap_last(y)) if ctx.needs_input_grad[0] else None
        gy = matmul(_swap_last(x), g) if ctx.needs_input_grad[1] else None
        return gx, gy


def _swap_last(x: Tensor) -> Tensor:
    if x.data.ndim == 2:
        return Transpose.apply(x, axes=(1, 0))
    axes = list(range(x.ndim))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return transpose(x, tuple(axes))


def matmul(x, y) -> Tensor:
    """Matrix product with NumPy semantics: 1-D operands are promoted and the extra axis removed again,
    batch axes broadcast."""
    if not isinstance(x, Tensor):
        x = _const(x, y)
    if not isinstance(y, Tensor):
        y = _const(y, x)
    if x.ndim == 2 and y.ndim == 2 and x.shape[1] == y.shape[0]:
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


def sum(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    axes = _normalize_axis("sum", axis, x.ndim)
    if x.dtype.kind == "b":
        x = astype(x, backend.int64)
    return Sum.apply(x, axes=axes, keepdims=keepdims)


class Max(Function):
    """out = x.max(axes, keepdims);  vjp: g goes to the maximal entries (shared evenly between ties)"""

    @staticmethod
    def forward(ctx, x, axes=(), keepdims=False):
        xp = ctx.xp
        out_k = x.max(axis=axes, keepdims=True)
        mask = (x == out_k).astype(x.dtype)
        ctx.save_for_backward(mask / mask.sum(axis=axes, keepdims=True))
        ctx.shape, ctx.axes = x.shape, axes
        return out_k if keepdims else xp.squeeze(out_k, axis=axes)

    @staticmethod
    def backward(ctx, g):
        (weights,) = ctx.saved_tensors
        return broadcast_to(reshape(g, _keep_shape(ctx.shape, ctx.axes)), ctx.shape) * weights


def max(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    axes = _normalize_axis("max", axis, x.ndim)
    if x.size == 0 and (not axes or builtins.any(x.shape[a] == 0 for a in axes)):
        raise ValueError(
            f"max: cannot reduce an empty tensor of shape {x.shape} (the maximum has no identity)"
        )
    return Max.apply(x, axes=axes, keepdims=keepdims)


# ---- shape -------------------------------------------------------------------------------------------


class Reshape(Function):
    """out = x.reshape(shape);  vjp: gx = g.reshape(x.shape)"""

    _makes_views = True  # its output may share the input's memory: in-place edits show in both

    @staticmethod
    def forward(ctx, x, shape=()):
        ctx.shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return reshape(g, ctx.shape)


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
        return transpose(g, tuple(inverse))


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
        return reshape(sum(g, axes), ctx.in_shape) if axes else reshape(g, ctx.in_shape)


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
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    if isinstance(index, list):
        return backend.cpu.xp.asarray(index)
    return index


def _is_basic(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return builtins.all(i is None or i is Ellipsis or isinstance(i, (int, slice)) for i in items)


class GetItem(Function):
    """out = x[index];  vjp: gx = zeros_like(x) with g added at index (repeated indices add up)"""

    _makes_views = True  # its output may share the input's memory: in-place edits show in both

    _scatters = True  # without create_graph the engine adds g straight into x's gradient buffer

    @staticmethod
    def forward(ctx, x, index=None):
        ctx.shape, ctx.index = x.shape, index
        ctx.basic = _is_basic(index)
        return x[index]

    def _scatter_into(ctx, buf, g) -> None:
        if ctx.basic:
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
        if not _is_basic(
            index
        ):  # backward reads the index later: keep a private copy of its arrays
            index = (
                tuple(i.copy() if backend.is_array(i) else i for i in index)
                if isinstance(index, tuple)
                else index.copy()
            )
        return GetItem.apply(x, index=index)
    except IndexError as e:
        raise IndexError(f"getitem: bad index for a tensor of shape {x.shape}: {e}") from None


def backend_wrap(a, like: Tensor):
    return a if a.__class__ is like.device.array_type else like.device.xp.asarray(a)


class Concatenate(Function):
    """out = concatenate(xs, axis);  vjp: g split back into the inputs' slices along axis"""

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
            grads.append(getitem(g, lead + (slice(start, start + n),)) if need else None)
            start += n
        return tuple(grads)


def concatenate(tensors, axis: int = 0) -> Tensor:
    tensors = list(tensors)
    if not tensors:
        raise ValueError("concatenate: expected a non-empty sequence of tensors")
    first = next((t for t in tensors if isinstance(t, Tensor)), None)
    if first is None:
        raise TypeError("concatenate: expected Tensors")
    tensors = [_const(t, first) for t in tensors]
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

    @staticmethod
    def forward(ctx, *xs, axis=0):
        ctx.axis = axis
        return ctx.xp.stack(xs, axis=axis)

    @staticmethod
    def backward(ctx, g):
        lead = (slice(None),) * ctx.axis
        return tuple(
            getitem(g, lead + (i,)) if need else None for i, need in enumerate(ctx.needs_input_grad)
        )


def stack(tensors, axis: int = 0) -> Tensor:
    """Join same-shaped tensors along a new axis."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty sequence of tensors")
    first = next((t for t in tensors if isinstance(t, Tensor)), None)
    if first is None:
        raise TypeError("stack: expected Tensors")
    tensors = [_const(t, first) for t in tensors]
    shape = first.shape
    for t in tensors:
        if t.shape != shape:
            raise ValueError(
                f"stack: all tensors must have the same shape, got {shape} and {t.shape}"
            )
    nd = len(shape) + 1
    if not -nd <= axis < nd:
        raise IndexError(f"stack: axis {axis} is out of range for a result with {nd} dimensions")
    return Stack.apply(*tensors, axis=axis % nd)


class Pad(Function):
    """out = pad(x, pad_width, constant value);  vjp: gx = g[the slices that hold x]"""

    @staticmethod
    def forward(ctx, x, pad_width=(), value=0.0):
        ctx.slices = tuple(slice(lo, lo + n) for (lo, _), n in zip(pad_width, x.shape))
        return ctx.xp.pad(x, pad_width, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, g):
        return getitem(g, ctx.slices)


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
    fn = getattr(x.device.xp, _COMPARE[op])
    return Tensor._make(x.device.xp.asarray(fn(x.data, y.data)), x.device, False, None)


def logical_not(x: Tensor) -> Tensor:
    out = x.device.xp.asarray(
        x.device.xp.logical_not(x.data)
    )  # asarray: numpy gives a scalar for 0-d input
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
