"""Weight initialisers with PyTorch's names and formulas; each fills a tensor in place and returns it.

Samples come from the tensor's device generator (seeded by `mg.manual_seed`), so runs are reproducible.
The writes go straight to the array under `no_grad`, so initialising a Parameter records nothing.
"""

from __future__ import annotations

import math

from .. import backend
from ..autograd import no_grad
from ..tensor import Tensor


def _check(name: str, tensor) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(
            f"{name}: expected a Tensor (e.g. a Parameter), got {type(tensor).__name__}"
        )


def _fill(tensor: Tensor, values) -> Tensor:
    """Write an array of values (any float dtype, same shape) into tensor, in place."""
    with no_grad():
        # 0-d draws may come back as scalars
        values = tensor.device.xp.asarray(values, dtype=tensor.dtype)
        tensor.copy_(Tensor._make(values, tensor.device, False, None))
    return tensor


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended gain for an activation: 1 for linear/sigmoid, 5/3 for tanh, sqrt(2) for relu,
    sqrt(2 / (1 + negative_slope**2)) for leaky_relu (slope `param`, default 0.01), 3/4 for selu."""
    linear_like = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                   "conv_transpose3d", "sigmoid")  # fmt: skip
    if nonlinearity in linear_like:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple:
    """fan_in = shape[1] * receptive field, fan_out = shape[0] * receptive field (weight is (out, in, ...))."""
    _check("init", tensor)
    if tensor.ndim < 2:
        raise ValueError(
            f"init: fan in and fan out cannot be computed for a tensor with fewer than 2 dimensions "
            f"(shape {tensor.shape})"
        )
    receptive = 1
    for s in tensor.shape[2:]:
        receptive *= s
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"init: mode {mode!r} not supported, use 'fan_in' or 'fan_out'")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with samples from U(a, b)."""
    _check("uniform_", tensor)
    if not a <= b:
        raise ValueError(f"uniform_: need a <= b, got a={a}, b={b}")
    return _fill(tensor, tensor.device.rng.uniform(a, b, tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with samples from N(mean, std**2)."""
    _check("normal_", tensor)
    if std < 0:
        raise ValueError(f"normal_: std must be non-negative, got {std}")
    return _fill(tensor, tensor.device.rng.standard_normal(tensor.shape) * std + mean)


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with the value val."""
    _check("constant_", tensor)
    return _fill(tensor, tensor.device.xp.full(tensor.shape, val, dtype=backend.float64))


def zeros_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot uniform: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot normal: N(0, std**2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std)


def kaiming_uniform_(
    tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Tensor:
    """He uniform: U(-bound, bound) with bound = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a).

    PyTorch's default for Linear weights is a=sqrt(5), which gives bound = 1 / sqrt(fan_in).
    """
    if 0 in tensor.shape:
        return tensor  # nothing to fill (PyTorch warns and returns)
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(
    tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"
) -> Tensor:
    """He normal: N(0, std**2) with std = gain / sqrt(fan), gain = calculate_gain(nonlinearity, a)."""
    if 0 in tensor.shape:
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std)


def orthogonal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Fill with a (semi-)orthogonal matrix: rows (or columns, whichever are fewer) orthonormal, times gain.

    Dimensions after the first are flattened, as in PyTorch. Uses the QR decomposition of a Gaussian
    matrix with the signs fixed so the result is uniformly distributed.
    """
    _check("orthogonal_", tensor)
    if tensor.ndim < 2:
        raise ValueError(
            f"orthogonal_: only tensors with 2 or more dimensions are supported, got shape {tensor.shape}"
        )
    if tensor.size == 0:
        return tensor
    xp = tensor.device.xp
    rows = tensor.shape[0]
    cols = tensor.size // rows
    flat = tensor.device.rng.standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = xp.linalg.qr(flat)
    q = q * xp.sign(xp.diagonal(r))  # make the decomposition unique (otherwise Q is not uniform)
    if rows < cols:
        q = q.T
    return _fill(tensor, (gain * q).reshape(tensor.shape))


def trunc_normal_(
    tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0
) -> Tensor:
    """Fill with N(mean, std**2) samples redrawn until they lie in [a, b]."""
    _check("trunc_normal_", tensor)
    if not a < b:
        raise ValueError(f"trunc_normal_: need a < b, got a={a}, b={b}")
    rng = tensor.device.rng
    xp = tensor.device.xp
    values = rng.standard_normal(tensor.shape) * std + mean
    bad = (values < a) | (values > b)
    while bool(bad.any()):
        values = xp.where(bad, rng.standard_normal(tensor.shape) * std + mean, values)
        bad = (values < a) | (values > b)
    return _fill(tensor, values)


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D tensor with the identity matrix (ones on the diagonal)."""
    _check("eye_", tensor)
    if tensor.ndim != 2:
        raise ValueError(f"eye_: only 2-D tensors are supported, got shape {tensor.shape}")
    return _fill(tensor, tensor.device.xp.eye(*tensor.shape, dtype=backend.float64))
