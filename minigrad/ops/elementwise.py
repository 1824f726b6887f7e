"""Elementwise primitives: arithmetic, exp/log/tanh/sigmoid and friends, where, casts and device copies.
Each class keeps its forward and its vector-Jacobian product side by side; the wrapper follows it.
`array_backward = True` marks a rule written only in operators and methods that arrays share with
Tensors: without create_graph the engine runs it on raw arrays (see Function)."""

from __future__ import annotations

import contextlib

from .. import backend
from ..autograd import Function, is_grad_enabled
from ..tensor import Tensor

# NOTE: large float results are written into recycled arrays (see backend.out_like); small ones take
# numpy's operators, the fastest path for them
_BIG = backend._CACHE_MIN
_out = backend.out_like

# ---- elementwise arithmetic ---------------------------------------------------------------------------


class Add(Function):
    """out = x + y;  vjp: gx = g, gy = g"""

    array_backward = True

    @staticmethod
    def forward(ctx, x, y):
        if x.size < _BIG:
            return x + y
        return ctx.xp.add(x, y, out=_out(x, y))

    @staticmethod
    def backward(ctx, g):
        return g, g


def add(x, y) -> Tensor:
    """Elementwise x + y, like torch.add: the shapes broadcast, a Python number takes the tensor's dtype,
    and mixed kinds promote as in PyTorch (int64 + float32 -> float32)."""
    return _binary(Add, x, y)


class Sub(Function):
    """out = x - y;  vjp: gx = g, gy = -g
    (a primitive rather than x + (-y): one array pass instead of two; ~30% faster LSTM backward maths)"""

    array_backward = True

    @staticmethod
    def forward(ctx, x, y):
        if x.size < _BIG:
            return x - y
        return ctx.xp.subtract(x, y, out=_out(x, y))

    @staticmethod
    def backward(ctx, g):
        return g, (-g if ctx.needs_input_grad[1] else None)


def sub(x, y) -> Tensor:
    """Elementwise x - y, like torch.sub: broadcasting and dtype promotion as in `add`."""
    return _binary(Sub, x, y)


class Mul(Function):
    """out = x * y;  vjp: gx = g * y, gy = g * x"""

    array_backward = True

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        if x.size < _BIG:
            return x * y
        return ctx.xp.multiply(x, y, out=_out(x, y))

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        gx = g * y if ctx.needs_input_grad[0] else None
        gy = g * x if ctx.needs_input_grad[1] else None
        return gx, gy


def mul(x, y) -> Tensor:
    """Elementwise x * y, like torch.mul: broadcasting and dtype promotion as in `add`."""
    return _binary(Mul, x, y)


class Neg(Function):
    """out = -x;  vjp: gx = -g"""

    array_backward = True

    @staticmethod
    def forward(ctx, x):
        return -x if x.size < _BIG else ctx.xp.negative(x, out=_out(x))

    @staticmethod
    def backward(ctx, g):
        return -g


def neg(x: Tensor) -> Tensor:
    """Elementwise -x, like torch.neg; the same shape and dtype (bool tensors are refused, as in torch)."""
    if x.dtype.kind == "b":
        raise TypeError("neg: negation of a bool tensor is not supported; invert a mask with ~mask")
    return Neg.apply(x)


class Div(Function):
    """out = x / y;  vjp: gx = g / y, gy = -g * out / y"""

    array_backward = True

    @staticmethod
    def forward(ctx, x, y):
        out = x / y if x.size < _BIG else ctx.xp.divide(x, y, out=_out(x, y))
        ctx.save_for_backward(y, out)
        return out

    @staticmethod
    def backward(ctx, g):
        y, out = ctx.saved_tensors
        gx = g / y if ctx.needs_input_grad[0] else None
        gy = -g * out / y if ctx.needs_input_grad[1] else None
        return gx, gy


def div(x, y) -> Tensor:
    """Elementwise true division x / y, like torch.div: broadcasting as in `add`; two integer operands
    divide into the default float dtype (float32), as in torch."""
    if x.__class__ is not Tensor:
        x = _const(x, y if isinstance(y, Tensor) else None)
    if y.__class__ is not Tensor:
        y = _const(y, x)
    if x.dtype.kind != "f" and y.dtype.kind != "f":
        x, y = _float(x), _float(y)  # integers divide into the default float, as in torch
    return _binary(Div, x, y)


class Pow(Function):
    """out = x ** p (p a number);  vjp: gx = g * p * x ** (p - 1)
    out = x ** y (y a tensor);    vjp: gx = g * y * x ** (y - 1), gy = g * out * log(x)
    (as PyTorch: gx is 0 where y == 0, gy is 0 where x == 0 and y >= 0, so 0 ** 0 gives no nan)"""

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
        gx = gy = None
        if ctx.needs_input_grad[0]:
            safe_y = where(y.data == 0, 1, y)  # y == 0: g * 0 * x ** 0, not 0 * 0 ** -1 = nan
            gx = g * y * x ** (safe_y - 1)
        if ctx.needs_input_grad[1]:
            safe_x = where((x.data == 0) & (y.data >= 0), 1, x)  # d/dy 0 ** y is 0 for y >= 0
            gy = g * out * log(safe_x)  # (and out * log(0) = -inf for y < 0)
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
    """Elementwise x ** exponent, like torch.pow; exponent is a number or a tensor (broadcast with x).
    An integer tensor to a float number becomes the default float; integers to negative integer powers
    raise ValueError (torch raises too)."""
    if isinstance(x, Tensor) and backend.is_scalar(exponent):
        if isinstance(exponent, backend.cpu.xp.generic):
            exponent = exponent.item()  # a NumPy scalar counts as the Python number it holds
        _check_int_pow(x, exponent)
        if x.dtype.kind != "f" and isinstance(exponent, float):
            x = astype(x, backend.get_default_dtype())
        return Pow.apply(x, exponent=exponent)
    if not isinstance(x, Tensor):
        x = _const(x, exponent)
    if not isinstance(exponent, Tensor):
        exponent = _const(exponent, x)
    if x.dtype is not exponent.dtype:
        x, exponent = _promote_pair(x, exponent)
    _check_int_pow(x, exponent)
    if x.shape != exponent.shape:
        x, exponent = _broadcast("pow", x, exponent)
    return Pow.apply(x, exponent)


# ---- elementwise functions -----------------------------------------------------------------------------


class Exp(Function):
    """out = exp(x);  vjp: gx = g * out"""

    array_backward = True

    @staticmethod
    def forward(ctx, x):
        out = ctx.xp.exp(x, out=_out(x) if x.size >= _BIG else None)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * out


def exp(x: Tensor) -> Tensor:
    """Elementwise e ** x, like torch.exp; same shape, integer inputs become the default float."""
    return Exp.apply(_float(x))


class Log(Function):
    """out = log(x);  vjp: gx = g / x"""

    array_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.xp.log(x, out=_out(x) if x.size >= _BIG else None)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / x


def log(x: Tensor) -> Tensor:
    """Elementwise natural logarithm, like torch.log: -inf at 0, nan below; integers become the default
    float."""
    return Log.apply(_float(x))


class Sqrt(Function):
    """out = sqrt(x);  vjp: gx = g * 0.5 / out"""

    array_backward = True

    @staticmethod
    def forward(ctx, x):
        out = ctx.xp.sqrt(x, out=_out(x) if x.size >= _BIG else None)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * 0.5 / out


def sqrt(x: Tensor) -> Tensor:
    """Elementwise square root, like torch.sqrt (nan below 0); integers become the default float."""
    return Sqrt.apply(_float(x))


class Abs(Function):
    """out = |x|;  vjp: gx = g * sign(x)  (sign is piecewise constant: no second-order term)"""

    array_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(ctx.xp.sign(x))
        return ctx.xp.abs(x)

    @staticmethod
    def backward(ctx, g):
        (sign,) = ctx.saved_tensors
        return g * sign


def abs(x: Tensor) -> Tensor:
    """Elementwise |x|, like torch.abs; same shape and dtype (the gradient at 0 is 0)."""
    if x.dtype.kind == "b":
        raise TypeError("abs: not defined for a bool tensor (as in torch); convert it first, e.g. x.long()")
    return Abs.apply(x)


class Tanh(Function):
    """out = tanh(x);  vjp: gx = g * (1 - out**2)"""

    array_backward = True

    @staticmethod
    def forward(ctx, x):
        out = ctx.xp.tanh(x) if x.size < _BIG else ctx.xp.tanh(x, out=_out(x))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * (1 - out * out)


def tanh(x: Tensor) -> Tensor:
    """Elementwise hyperbolic tangent, like torch.tanh; integers become the default float."""
    return Tanh.apply(_float(x))


class Sigmoid(Function):
    """out = 1 / (1 + exp(-x));  vjp: gx = g * out * (1 - out)"""

    array_backward = True

    @staticmethod
    def forward(ctx, x):
        xp = ctx.xp
        # NOTE: exp(-x) overflows to inf for very negative x, and 1 / (1 + inf) = 0 is the right limit:
        # silence the warning rather than pay for a branch-free two-sided formula (35% slower).
        e = xp.negative(x) if x.size < _BIG else xp.negative(x, out=_out(x))
        if e.__class__ is not x.__class__:
            e = xp.asarray(e)  # numpy returns a scalar for 0-d input
        with _quiet_overflow(xp):
            xp.exp(e, out=e)
        e += 1
        out = xp.reciprocal(e, out=e)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * out * (1 - out)


def _quiet_overflow(xp):
    errstate = getattr(xp, "errstate", None)  # numpy has it; cupy never warns
    return errstate(over="ignore") if errstate is not None else contextlib.nullcontext()


def sigmoid(x: Tensor) -> Tensor:
    """Elementwise 1 / (1 + exp(-x)), like torch.sigmoid (0 without a warning for very negative x);
    integers become the default float."""
    return Sigmoid.apply(_float(x))


class Relu(Function):
    """out = max(x, 0);  vjp: gx = g * (x > 0)"""

    array_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward((x > 0).astype(x.dtype))
        return ctx.xp.maximum(x, 0, out=_out(x) if x.size >= _BIG else None)

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        return g * mask


def relu(x: Tensor) -> Tensor:
    """Elementwise max(x, 0), like torch.relu; same shape and dtype (the gradient at 0 is 0)."""
    return Relu.apply(x)


class Maximum(Function):
    """out = max(x, y) elementwise;  vjp: g goes to the larger input (split evenly on ties, as PyTorch).
    A NaN counts as the larger value: it propagates, and g follows it (PyTorch gives g to both inputs)."""

    array_backward = True

    @staticmethod
    def forward(ctx, x, y):
        xn, yn = x != x, y != y
        wx = ((x > y) | (xn & ~yn)).astype(x.dtype) + 0.5 * ((x == y) | (xn & yn))
        ctx.save_for_backward(wx.astype(ctx.xp.result_type(x, y)))
        return ctx.xp.maximum(x, y)

    @staticmethod
    def backward(ctx, g):
        (wx,) = ctx.saved_tensors
        gx = g * wx if ctx.needs_input_grad[0] else None
        gy = g * (1 - wx) if ctx.needs_input_grad[1] else None
        return gx, gy


def maximum(x, y) -> Tensor:
    """Elementwise max of x and y, like torch.maximum: broadcasting and dtype promotion as in `add`; a NaN
    in either input gives NaN."""
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
    """Elementwise `x if cond else y`; cond is a boolean tensor or array (not differentiated). x and y are
    promoted to one dtype (see _result_dtype); two numbers keep theirs: where(c, 2, 1) is int64, as in torch."""
    if not isinstance(x, Tensor):
        if isinstance(y, Tensor):
            x = _const(x, y)
        else:
            from ..creation import tensor

            x = tensor(x, device=cond.device if isinstance(cond, Tensor) else None)
    y = _const(y, x)
    if x.dtype is not y.dtype:
        x, y = _promote_pair(x, y)
    cond = _const(cond, x)
    if cond.dtype.kind != "b":
        cond = Tensor._make(cond.data.astype(bool), cond.device, False, None)
    if not (cond.shape == x.shape == y.shape):
        cond, x, y = _broadcast("where", cond, x, y)
    return Where.apply(cond, x, y)


class Cast(Function):
    """out = x.astype(dtype);  vjp: gx = g.astype(x.dtype)"""

    array_backward = True

    @staticmethod
    def forward(ctx, x, dtype=None):
        ctx.in_dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return g.astype(ctx.in_dtype)


def astype(x: Tensor, dtype) -> Tensor:
    """x cast to dtype, like torch's x.to(dtype); x itself when it has that dtype already. A cast to an
    integer or bool dtype carries no gradient."""
    dtype = backend.as_dtype(dtype)
    if dtype == x.dtype:
        return x
    if x.requires_grad and dtype.kind != "f" and is_grad_enabled():
        # integer results carry no gradient
        return Tensor._make(x.data.astype(dtype), x.device, False, None)
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
    def apply(cls, x, device=None):
        # NOTE: the one op whose output lives on another device than its input
        t = super().apply(x, device=device)
        t.device = device
        return t


def to_device(x: Tensor, device) -> Tensor:
    """x copied to device ("cpu", "cuda", "cuda:N" or a Device), like x.to(device); differentiable."""
    return ToDevice.apply(x, device=backend.device(device))


def _float(x: Tensor) -> Tensor:
    return x if x.dtype.kind == "f" else astype(x, backend.get_default_dtype())


# Sibling modules refer to each other at call time; importing them last keeps the cycle harmless.
from ._common import _binary, _broadcast, _const, _promote_pair  # noqa: E402
