"""Adam and AdamW: adaptive moment estimation, with L2 (Adam) or decoupled (AdamW) weight decay."""

from __future__ import annotations

import math
import numbers

from .optimizer import Optimizer, _check_nonnegative, _effective_grad, _zeros_buffer


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with PyTorch's update rule.

    With d = grad (+ weight_decay * p for Adam) (negated when maximize) and t the step count:
    ``m = beta1 * m + (1 - beta1) * d``, ``v = beta2 * v + (1 - beta2) * d**2``
    (amsgrad: ``v_max = max(v_max, v)`` is used in place of v),
    ``p -= lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)``.

    Parameters
    ----------
    params : iterable of Tensors or dicts
        Parameters or parameter groups (see `Optimizer`).
    lr : float
        Learning rate (default 1e-3).
    betas : (float, float)
        Decay rates of the first and second moment averages, each in [0, 1) (default (0.9, 0.999)).
    eps : float
        Added to the denominator for stability (default 1e-8).
    weight_decay : float
        L2 penalty added to the gradient (default 0).
    amsgrad : bool
        Use the running maximum of the second moment (AMSGrad).
    maximize : bool
        Maximize the objective instead of minimizing it.
    """

    _decoupled_weight_decay = False

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ):
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _check_options(self, options: dict) -> None:
        super()._check_options(options)
        for key in ("eps", "weight_decay"):
            if key in options:
                _check_nonnegative(self._name(), key, options[key])
        if "betas" in options:
            betas = options["betas"]
            if not isinstance(betas, (tuple, list)) or len(betas) != 2:
                raise ValueError(
                    f"{self._name()}: betas must be a pair (beta1, beta2), got {betas!r}"
                )
            for i, beta in enumerate(betas):
                if (
                    isinstance(beta, bool)
                    or not isinstance(beta, numbers.Real)
                    or not 0.0 <= beta < 1.0
                ):
                    raise ValueError(
                        f"{self._name()}: invalid betas[{i}]={beta!r}; each beta must be in [0, 1)"
                    )

    def _init_state(self, p, group: dict) -> dict:
        state = {"step": 0, "exp_avg": _zeros_buffer(p), "exp_avg_sq": _zeros_buffer(p)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = _zeros_buffer(p)
        return state

    def _update(self, p, grad, state: dict, group: dict, xp) -> None:
        param = p.data
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        weight_decay = group["weight_decay"]
        state["step"] += 1
        step = state["step"]
        if self._decoupled_weight_decay:
            if weight_decay != 0:
                xp.multiply(param, 1 - lr * weight_decay, out=param)
            weight_decay = 0
        d, _ = _effective_grad(param, grad, weight_decay, group["maximize"], xp)
        exp_avg = state["exp_avg"].data
        exp_avg_sq = state["exp_avg_sq"].data

        # m += (1 - beta1) * (d - m), the form of torch's lerp_
        tmp = xp.subtract(d, exp_avg, out=xp.empty_like(param))
        xp.multiply(tmp, 1 - beta1, out=tmp)
        xp.add(exp_avg, tmp, out=exp_avg)
        # v = beta2 * v + (1 - beta2) * d * d
        xp.multiply(exp_avg_sq, beta2, out=exp_avg_sq)
        xp.multiply(d, d, out=tmp)
        xp.multiply(tmp, 1 - beta2, out=tmp)
        xp.add(exp_avg_sq, tmp, out=exp_avg_sq)

        bias_correction1 = 1 - beta1**step
        bias_correction2_sqrt = math.sqrt(1 - beta2**step)
        step_size = lr / bias_correction1
        second = exp_avg_sq
        if group["amsgrad"]:
            second = state["max_exp_avg_sq"].data
            xp.maximum(second, exp_avg_sq, out=second)
        # denominator sqrt(v) / sqrt(bc2) + eps, then p -= step_size * m / denominator
        xp.sqrt(second, out=tmp)
        xp.divide(tmp, bias_correction2_sqrt, out=tmp)
        xp.add(tmp, eps, out=tmp)
        xp.divide(exp_avg, tmp, out=tmp)
        xp.multiply(tmp, -step_size, out=tmp)
        xp.add(param, tmp, out=param)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019), PyTorch's update rule.

    Each step first shrinks the weights, ``p *= 1 - lr * weight_decay``, then applies the Adam update
    without any L2 term in the gradient. Same parameters as `Adam`, but weight_decay defaults to 1e-2.
    """

    _decoupled_weight_decay = True

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)
