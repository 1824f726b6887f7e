"""`mg.nn.functional` (import as F): layer maths and losses as plain functions, PyTorch's names and numerics.

Everything is composed from minigrad ops, so the gradients come from the primitives; nothing here has a
backward of its own. Loss arguments after `weight` are keyword-only: PyTorch's deprecated positional
`size_average`/`reduce` slots would otherwise silently take the wrong meaning.
"""

from __future__ import annotations

import math
import warnings

from .. import functional as _fn
from .. import ops
from ..tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")


# ---- helpers -------------------------------------------------------------------------------------------


def _const(array, like: Tensor) -> Tensor:
    """A constant (no-gradient) tensor holding `array` on like's device."""
    return Tensor._make(array, like.device, False, None)


def _as_tensor(name: str, what: str, value, like: Tensor) -> Tensor:
    """Accept a Tensor or an array for `value` (a target, a weight); arrays become constants."""
    if isinstance(value, Tensor):
        if value.device is not like.device:
            raise RuntimeError(
                f"{name}: {what} is on {value.device} but the input is on {like.device}; move it with .to()"
            )
        return value
    try:
        return _const(like.device.xp.asarray(value), like)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name}: {what} must be a Tensor or an array, got {type(value).__name__}"
        ) from None


def _check_reduction(name: str, reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        if loss.size == 0:
            # PyTorch: the mean of no elements is NaN, not an error (Tensor.mean raises here)
            return loss.sum() + _const(loss.device.xp.asarray(float("nan"), dtype=loss.dtype), loss)
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _check_float(name: str, x: Tensor) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: input must be a Tensor, got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: input must be a floating point tensor, got dtype {x.dtype}")


def _implicit_dim(name: str, ndim: int) -> int:
    # PyTorch's legacy rule for dim=None, with its deprecation warning
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X "
        "as an argument.",
        stacklevel=3,
    )
    return 0 if ndim in (0, 1, 3) else 1


# ---- layers --------------------------------------------------------------------------------------------


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = input @ weight.T + bias.

    Shapes: input (*, in_features), weight (out_features, in_features), bias (out_features,),
    result (*, out_features).
    """
    if weight.ndim != 2:
        raise ValueError(
            f"linear: weight must be 2-D (out_features, in_features), got shape {weight.shape}"
        )
    if input.ndim == 0 or input.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: input of shape {input.shape} does not match weight of shape {weight.shape}: the last "
            f"dimension of the input must be in_features={weight.shape[1]}"
        )
    if input.dtype != weight.dtype:
        raise TypeError(
            f"linear: input has dtype {input.dtype} but weight has dtype {weight.dtype}; convert one of them "
            "(e.g. input.float() or model.double())"
        )
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"linear: bias must have shape ({weight.shape[0]},), got {bias.shape}")
    if bias is not None and bias.dtype != weight.dtype:
        raise TypeError(
            f"linear: bias has dtype {bias.dtype} but weight has dtype {weight.dtype}; convert one of "
            "them (e.g. model.double())"
        )
    if input.ndim == 1:
        out = input @ weight.T
        return out if bias is None else out + bias
    lead = input.shape[:-1]
    x2 = input if input.ndim == 2 else input.reshape((math.prod(lead), input.shape[-1]))
    out = ops.linear(x2, weight, bias)  # x @ W^T + bias as one op
    return out if input.ndim == 2 else out.reshape(lead + (weight.shape[0],))


def embedding(input, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Look up rows of `weight`: result[..., :] = weight[input[...], :].

    Shapes: input (*) integer indices in [0, num_embeddings), weight (num_embeddings, embedding_dim),
    result (*, embedding_dim). Positions equal to `padding_idx` give no gradient to the weight.
    """
    if weight.ndim != 2:
        raise ValueError(
            f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape {weight.shape}"
        )
    idx = _as_tensor("embedding", "input", input, weight).data
    if idx.dtype.kind not in "iu":
        raise TypeError(
            f"embedding: indices must be an integer tensor (e.g. mg.int64), got dtype {idx.dtype}"
        )
    num = weight.shape[0]
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= num):
        bad = int(idx.min()) if int(idx.min()) < 0 else int(idx.max())
        raise IndexError(
            f"embedding: index {bad} is out of range for an embedding with {num} rows (valid: 0..{num - 1})"
        )
    out = weight[idx]
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise ValueError(
                f"embedding: padding_idx {padding_idx} is out of range for {num} rows (valid: -{num}..{num - 1})"
            )
        if padding_idx < 0:
            padding_idx += num
        is_pad = _const((idx == padding_idx)[..., None], weight)
        out = ops.where(is_pad, out.detach(), out)  # the padding row's lookups carry no gradient
    return out


def _check_not_inplace(name: str, inplace: bool) -> None:
    if inplace:
        raise ValueError(
            f"{name}: inplace=True is not supported, because autograd cannot record an in-place "
            "update; pass inplace=False (the default): the values are the same, only the input is "
            "not overwritten"
        )


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p) (inverted dropout).

    Identity when training is False or p == 0. The mask comes from the input's device generator, so
    `mg.manual_seed` makes it reproducible. Shapes: any; the result has the input's shape.
    inplace is PyTorch's argument; only False is supported (True raises ValueError).
    """
    _check_not_inplace("dropout", inplace)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    keep = input.device.rng.random(input.shape) >= p
    mask = (keep * (1.0 / (1.0 - p))).astype(input.dtype)
    return input * _const(mask, input)


def layer_norm(
    input: Tensor,
    normalized_shape,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise over the trailing dims `normalized_shape`: (x - mean) / sqrt(var + eps) * weight + bias.

    The variance is the biased one (divides by the count), as in PyTorch. Shapes: input
    (*, *normalized_shape), weight and bias normalized_shape, result like input.
    """
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or input.ndim < k or tuple(input.shape[-k:]) != shape:
        raise ValueError(
            f"layer_norm: input of shape {input.shape} does not end with normalized_shape {shape}"
        )
    axes = tuple(range(input.ndim - k, input.ndim))
    mean = input.mean(axes, keepdims=True)
    centered = input - mean
    var = (centered * centered).mean(axes, keepdims=True)
    out = centered / (var + eps).sqrt()
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


# ---- activations ---------------------------------------------------------------------------------------


def relu(input: Tensor) -> Tensor:
    return ops.relu(input)


def tanh(input: Tensor) -> Tensor:
    return ops.tanh(input)


def sigmoid(input: Tensor) -> Tensor:
    return ops.sigmoid(input)


def softmax(input: Tensor, dim: int | None = None) -> Tensor:
    """exp(x) / sum(exp(x)) along dim; never overflows."""
    if dim is None:
        dim = _implicit_dim("softmax", input.ndim)
    return _fn.softmax(input, dim)


def log_softmax(input: Tensor, dim: int | None = None) -> Tensor:
    """x - logsumexp(x) along dim; finite for logits of any size."""
    if dim is None:
        dim = _implicit_dim("log_softmax", input.ndim)
    return _fn.log_softmax(input, dim)


# ---- losses --------------------------------------------------------------------------------------------


def _class_target(name: str, input: Tensor, target, ignore_index: int):
    """Validate class-index targets for input (N, C, d1, ...), (N, C) or (C,); return the index array."""
    t = _as_tensor(name, "target", target, input).data
    if t.dtype.kind not in "iu":
        raise TypeError(
            f"{name}: target must hold integer class indices (e.g. dtype mg.int64), got dtype {t.dtype}"
        )
    expected = input.shape[:1] + input.shape[2:] if input.ndim >= 2 else ()
    if tuple(t.shape) != expected:
        raise ValueError(
            f"{name}: for input of shape {input.shape} the target must have shape {expected} "
            f"(the input's shape without the class dimension 1), got {tuple(t.shape)}"
        )
    n_classes = input.shape[1] if input.ndim >= 2 else input.shape[0]
    valid = t != ignore_index
    if t.size and bool(((t < 0) | (t >= n_classes))[valid].any()):
        bad = t[valid & ((t < 0) | (t >= n_classes))].reshape(-1)[0]
        raise IndexError(
            f"{name}: target class index {int(bad)} is out of range for {n_classes} classes "
            f"(input shape {input.shape}); valid indices are 0..{n_classes - 1} or ignore_index={ignore_index}"
        )
    return t


def _class_weight(name: str, weight, n_classes: int, input: Tensor):
    """The per-class weight as an array of the input's dtype, shape (C,), or None."""
    if weight is None:
        return None
    w = _as_tensor(name, "weight", weight, input).data
    if tuple(w.shape) != (n_classes,):
        raise ValueError(
            f"{name}: weight must have shape ({n_classes},), one entry per class, got {tuple(w.shape)}"
        )
    return w.astype(input.dtype)


def _classes_last(x: Tensor) -> Tensor:
    """(N, C, d1, ..., dk) -> (N * d1 * ... * dk, C); (N, C) stays; (C,) -> (1, C)."""
    if x.ndim == 1:
        return x.reshape(1, x.shape[0])
    if x.ndim > 2:
        x = ops.transpose(x, (0,) + tuple(range(2, x.ndim)) + (1,))
    return x.reshape(-1, x.shape[-1])


def _nll(
    logp: Tensor, target, w, ignore_index: int, reduction: str, label_smoothing: float = 0.0
) -> Tensor:
    """Negative log-likelihood of log-probabilities logp at class indices target (already validated)."""
    xp = logp.device.xp
    n_classes = logp.shape[1] if logp.ndim >= 2 else logp.shape[0]
    lp = _classes_last(logp)  # (M, C)
    t = target.reshape(-1)  # (M,)
    valid = t != ignore_index
    safe = xp.where(valid, t, 0)  # ignored positions read class 0, then get weight 0
    picked = lp[xp.arange(t.shape[0]), safe]  # (M,)
    wt = w[safe] if w is not None else xp.ones(t.shape, dtype=logp.dtype)
    wt = (wt * valid).astype(logp.dtype)
    # no class weights and no ignored target: every weight is 1, so skip that multiply (one node less)
    plain = w is None and bool(valid.all())
    loss = -picked if plain else -picked * _const(wt, logp)
    if label_smoothing > 0.0:
        # the uniform part of the smoothed target: -sum_c w_c log p_c, zero where ignored
        wc = _const(w if w is not None else xp.ones((n_classes,), dtype=logp.dtype), logp)
        smooth = -(lp * wc).sum(axis=1) * _const(valid.astype(logp.dtype), logp)
        loss = loss * (1.0 - label_smoothing) + smooth * (label_smoothing / n_classes)
    if reduction == "none":
        return loss.reshape(target.shape)
    if reduction == "sum":
        return loss.sum()
    # mean: divide by the total weight of the non-ignored targets (their count without weights)
    total = xp.asarray(wt.sum(), dtype=logp.dtype)
    if not bool(total):
        # every target ignored (or weighted 0): a NaN loss, as in PyTorch, but zero gradients rather
        # than 0 / 0 ones, so that an optimizer step on a padding-only batch leaves the weights
        # intact. NOTE: * 0.0, as label_smoothing's uniform term is nonzero for a 0-weight target
        return loss.sum() * 0.0 + _const(xp.asarray(float("nan"), dtype=logp.dtype), logp)
    return loss.sum() / _const(total, logp)


def nll_loss(
    input: Tensor, target, weight=None, *, ignore_index: int = -100, reduction: str = "mean"
) -> Tensor:
    """Negative log-likelihood loss of log-probabilities: loss_i = -weight[t_i] * input[i, t_i].

    Shapes: input (N, C), (N, C, d1, ...) or (C,); target (N,), (N, d1, ...) or () integer class indices;
    weight (C,). 'mean' divides by the summed weights of the non-ignored targets; 'none' returns the
    target's shape. Targets equal to ignore_index contribute nothing.
    """
    _check_float("nll_loss", input)
    _check_reduction("nll_loss", reduction)
    if input.ndim == 0:
        raise ValueError("nll_loss: input must have a class dimension, got a 0-d tensor")
    t = _class_target("nll_loss", input, target, ignore_index)
    n_classes = input.shape[1] if input.ndim >= 2 else input.shape[0]
    w = _class_weight("nll_loss", weight, n_classes, input)
    return _nll(input, t, w, ignore_index, reduction)


def cross_entropy(
    input: Tensor,
    target,
    weight=None,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy between logits and class indices (or class probabilities), PyTorch's numerics.

    Shapes: input (N, C) logits, (N, C, d1, ...) or (C,) unbatched; target (N,), (N, d1, ...) or ()
    integer class indices, or a float tensor of the input's shape holding class probabilities;
    weight (C,). With class indices, targets equal to ignore_index are skipped and 'mean' divides by
    the summed weights of the others (NaN when every target is ignored or weighted 0, as in
    PyTorch, but with zero gradients, label_smoothing or not). label_smoothing in [0, 1] mixes the
    target with the uniform distribution over the C classes. Finite for logits of any size
    (log_softmax subtracts the max).
    """
    name = "cross_entropy"
    _check_float(name, input)
    _check_reduction(name, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(
            f"{name}: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}"
        )
    if input.ndim == 0:
        raise ValueError(f"{name}: input must have a class dimension, got a 0-d tensor")
    class_dim = 1 if input.ndim >= 2 else 0
    n_classes = input.shape[class_dim]
    logp = _fn.log_softmax(input, class_dim)
    w = _class_weight(name, weight, n_classes, input)
    t = _as_tensor(name, "target", target, input)
    if t.dtype.kind == "f":
        return _soft_cross_entropy(logp, t, w, reduction, label_smoothing)
    t = _class_target(name, input, t, ignore_index)
    return _nll(logp, t, w, ignore_index, reduction, label_smoothing)


def _soft_cross_entropy(
    logp: Tensor, target: Tensor, w, reduction: str, label_smoothing: float
) -> Tensor:
    """Cross-entropy with class-probability targets of logp's shape; 'mean' averages over the samples."""
    if target.shape != logp.shape:
        raise ValueError(
            f"cross_entropy: a floating point target holds class probabilities and must have the input's "
            f"shape {logp.shape}, got {target.shape}; for class indices use an integer target"
        )
    class_dim = 1 if logp.ndim >= 2 else 0
    n_classes = logp.shape[class_dim]
    if label_smoothing > 0.0:
        target = target * (1.0 - label_smoothing) + label_smoothing / n_classes
    prod = logp * target
    if w is not None:
        shape = [1] * logp.ndim
        shape[class_dim] = n_classes
        prod = prod * _const(w.reshape(shape), logp)
    loss = -prod.sum(axis=class_dim)
    return _reduce(loss, reduction)


def _same_shape(name: str, input: Tensor, target: Tensor) -> None:
    # NOTE: PyTorch warns and broadcasts here; a mismatch such as (N, 1) vs (N,) is almost always a bug
    if input.shape != target.shape:
        raise ValueError(
            f"{name}: target shape {target.shape} differs from input shape {input.shape}; "
            "reshape one of them (e.g. target.reshape(input.shape))"
        )


def mse_loss(input: Tensor, target, *, reduction: str = "mean") -> Tensor:
    """Squared error (input - target)**2, averaged ('mean'), summed ('sum') or elementwise ('none').

    Shapes: input and target the same shape (any); 'none' keeps it. As in PyTorch, 'mean' of an
    empty input is NaN (for every loss here), not an error.
    """
    _check_float("mse_loss", input)
    _check_reduction("mse_loss", reduction)
    target = _as_tensor("mse_loss", "target", target, input)
    _same_shape("mse_loss", input, target)
    diff = input - target
    return _reduce(diff * diff, reduction)


def l1_loss(input: Tensor, target, *, reduction: str = "mean") -> Tensor:
    """Absolute error |input - target|, reduced like mse_loss. Shapes: input and target the same."""
    _check_float("l1_loss", input)
    _check_reduction("l1_loss", reduction)
    target = _as_tensor("l1_loss", "target", target, input)
    _same_shape("l1_loss", input, target)
    return _reduce((input - target).abs(), reduction)


def _elementwise_weight(name: str, weight, input: Tensor, what: str = "weight"):
    """weight (or pos_weight), which must broadcast to the input's shape without enlarging it."""
    if weight is None:
        return None
    w = _as_tensor(name, what, weight, input)
    try:
        fits = ops._broadcast_shape(name, w.shape, input.shape) == tuple(input.shape)
    except ValueError:
        fits = False
    if not fits:
        # NOTE: a larger weight, e.g. (3, 2) for an input (2,), would broadcast the loss to (3, 2)
        raise ValueError(
            f"{name}: {what} of shape {w.shape} does not broadcast to the input shape "
            f"{input.shape}; give it the input's shape, or one with size-1 or missing leading dims"
        )
    return w


def binary_cross_entropy(input: Tensor, target, weight=None, *, reduction: str = "mean") -> Tensor:
    """-w * (y * log(x) + (1 - y) * log(1 - x)) for probabilities x in [0, 1].

    Each log is clamped at -100, as in PyTorch, so x = 0 or 1 gives a large finite loss, and the gradient
    with respect to x is PyTorch's w * (x - y) / max(x * (1 - x), 1e-12), large but finite there. Prefer
    binary_cross_entropy_with_logits on logits: it is stable without clamping. Shapes: input and target
    the same; weight broadcasts to them.
    """
    name = "binary_cross_entropy"
    _check_float(name, input)
    _check_reduction(name, reduction)
    target = _as_tensor(name, "target", target, input)
    _same_shape(name, input, target)
    x = input.data
    if x.size and not bool(((x >= 0) & (x <= 1)).all()):
        raise ValueError(
            f"{name}: all elements of input should be between 0 and 1 (apply sigmoid first, or use "
            "binary_cross_entropy_with_logits)"
        )
    # Where x (1 - x) >= eps the exact loss has exactly PyTorch's gradient (x - y) / (x (1 - x)), and
    # its logs are > -28, so need no clamp. Elsewhere (x within ~eps of 0 or 1) the value is the clamped
    # loss at a detached x, plus a term that is 0 but has PyTorch's gradient there, (x - y) / eps.
    eps = 1e-12
    saturated = _const(x * (1 - x) < eps, input)
    safe = ops.where(saturated, 0.5, input)
    exact = -(target * ops.log(safe) + (1.0 - target) * ops.log(1.0 - safe))
    x0, one_minus = input.detach(), 1.0 - input.detach()
    clamped = -(target * _clamped_log(x0, x > 0) + (1.0 - target) * _clamped_log(one_minus, x < 1))
    edge = clamped + (input - x0) * ((x0 - target) / eps)
    loss = ops.where(saturated, edge, exact)
    w = _elementwise_weight(name, weight, input)
    if w is not None:
        loss = loss * w
    return _reduce(loss, reduction)


def _clamped_log(x: Tensor, positive) -> Tensor:
    """max(log(x), -100), with no NaN gradient at x == 0 (log reads 1 there and the result is -100)."""
    safe = ops.where(_const(positive, x), x, 1.0)
    return ops.where(_const(positive, x), _fn.clip(ops.log(safe), min=-100.0), -100.0)


def binary_cross_entropy_with_logits(
    input: Tensor, target, weight=None, *, reduction: str = "mean", pos_weight=None
) -> Tensor:
    """Binary cross-entropy of sigmoid(input) against target, computed stably from the logits.

    loss = (1 - y) * x + (1 + (pos_weight - 1) * y) * softplus(-x), with softplus(-x) written as
    max(-x, 0) + log(1 + exp(-|x|)), which never overflows. Without pos_weight this is
    max(x, 0) - x * y + log(1 + exp(-|x|)). Shapes: input and target the same; weight broadcasts to them;
    pos_weight broadcasts along the last (class) dimension, e.g. (C,).
    """
    name = "binary_cross_entropy_with_logits"
    _check_float(name, input)
    _check_reduction(name, reduction)
    target = _as_tensor(name, "target", target, input)
    _same_shape(name, input, target)
    # NOTE: both kinks take the x >= 0 branch at x == 0, so the gradient there is exactly sigmoid(0) - y
    nonneg = _const(input.data >= 0, input)
    abs_x = ops.where(nonneg, input, -input)
    relu_neg_x = ops.where(nonneg, 0.0, -input)
    softplus_neg_x = relu_neg_x + ops.log(1.0 + ops.exp(-abs_x))
    if pos_weight is None:
        loss = (1.0 - target) * input + softplus_neg_x
    else:
        pw = _elementwise_weight(name, pos_weight, input, "pos_weight")
        loss = (1.0 - target) * input + (1.0 + (pw - 1.0) * target) * softplus_neg_x
    w = _elementwise_weight(name, weight, input)
    if w is not None:
        loss = loss * w
    return _reduce(loss, reduction)
