"""Gradient clipping: rescale (`clip_grad_norm_`) or clamp (`clip_grad_value_`) gradients in place.

They work on the `.grad` arrays directly (no graph, no backward), like the optimizers' `step()`.
"""

from __future__ import annotations

import math

from ... import backend
from ...tensor import Tensor


def _grads(parameters, name: str) -> list:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    grads = []
    for i, p in enumerate(parameters):
        if not isinstance(p, Tensor):
            raise TypeError(f"{name}: parameters[{i}] is a {type(p).__name__}, not a Tensor")
        if p.grad is not None:
            grads.append(p.grad)
    if grads and any(g.device is not grads[0].device for g in grads):
        devices = sorted({str(g.device) for g in grads})
        raise RuntimeError(
            f"{name}: gradients live on several devices ({devices}); clip each device's separately"
        )
    return grads


def _vector_norm(xp, array, norm_type: float):
    flat = array.reshape(-1)
    if flat.size == 0:
        return xp.zeros((), dtype=array.dtype)
    return xp.linalg.norm(flat, ord=norm_type)


def clip_grad_norm_(
    parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False
) -> Tensor:
    """Scale all gradients together so that their joint norm is at most max_norm; return that norm.

    The total norm is the `norm_type`-norm of the vector of every gradient's norm (the same as the norm
    of all gradients concatenated). When it exceeds max_norm, every gradient is multiplied by
    ``max_norm / (total_norm + 1e-6)`` in place, as in PyTorch.

    Parameters
    ----------
    parameters : Tensor or iterable of Tensors
        The parameters whose `.grad` is clipped; those with ``grad is None`` are skipped.
    max_norm : float
        The largest allowed total norm (>= 0).
    norm_type : float
        The order of the norm: 2.0 (default), 1.0, any p > 0, or ``float('inf')`` for the max-abs norm.
    error_if_nonfinite : bool
        Raise RuntimeError when the total norm is inf or NaN, leaving the gradients untouched. By default
        (False, as in PyTorch) they are scaled anyway, which turns them into zeros and NaNs; pass True to
        catch exploding gradients where they happen.

    Returns
    -------
    Tensor
        The total norm before clipping, a 0-d tensor on the gradients' device (0.0 without gradients).
    """
    name = "clip_grad_norm_"
    max_norm = float(max_norm)
    norm_type = float(norm_type)
    if not max_norm >= 0:
        raise ValueError(f"{name}: max_norm must be >= 0, got {max_norm}")
    grads = _grads(parameters, name)
    if not grads:
        return Tensor._make(
            backend.cpu.xp.zeros((), dtype=backend.get_default_dtype()), backend.cpu, False, None
        )
    dev = grads[0].device
    xp = dev.xp
    norms = xp.stack([_vector_norm(xp, g.data, norm_type) for g in grads])
    total = _vector_norm(xp, norms, norm_type)
    total_value = float(total)
    if error_if_nonfinite and not math.isfinite(total_value):
        raise RuntimeError(
            f"{name}: the total norm of order {norm_type} of the gradients is non-finite ({total_value}), so "
            "they cannot be clipped: the gradients have exploded or contain NaN/inf. Lower the learning "
            "rate, clip to a smaller value (or clip earlier), or check the loss for NaN; pass "
            "error_if_nonfinite=False to scale by the non-finite norm anyway."
        )
    coef = max_norm / (total_value + 1e-6)
    if (
        not coef >= 1.0
    ):  # NOTE: also true for NaN, which then spreads into the gradients, as in PyTorch
        for g in grads:
            xp.multiply(g.data, coef, out=g.data)
            g._version += 1
    return Tensor._make(xp.asarray(total), dev, False, None)


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clamp every gradient element into [-clip_value, clip_value] in place.

    Parameters
    ----------
    parameters : Tensor or iterable of Tensors
        The parameters whose `.grad` is clipped; those with ``grad is None`` are skipped.
    clip_value : float
        The largest allowed absolute value of a gradient element (>= 0).
    """
    name = "clip_grad_value_"
    clip_value = float(clip_value)
    if not clip_value >= 0:
        raise ValueError(f"{name}: clip_value must be >= 0, got {clip_value}")
    for g in _grads(parameters, name):
        g.device.xp.clip(g.data, -clip_value, clip_value, out=g.data)
        g._version += 1
