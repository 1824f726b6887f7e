"""RMSprop: divide the gradient by a running root mean square of recent gradients (Hinton's lecture 6e)."""

from __future__ import annotations

from .optimizer import Optimizer, _check_nonnegative, _effective_grad, _zeros_buffer


class RMSprop(Optimizer):
    """RMSprop with PyTorch's update rule.

    With d = grad (+ weight_decay * p) (negated when maximize):
    ``v = alpha * v + (1 - alpha) * d**2``; ``avg = sqrt(v) + eps``, or when centered
    ``g_avg = alpha * g_avg + (1 - alpha) * d`` and ``avg = sqrt(v - g_avg**2) + eps``;
    then ``buf = momentum * buf + d / avg; p -= lr * buf`` (momentum > 0) or ``p -= lr * d / avg``.

    Parameters
    ----------
    params : iterable of Tensors or dicts
        Parameters or parameter groups (see `Optimizer`).
    lr : float
        Learning rate (default 1e-2).
    alpha : float
        Smoothing constant of the squared-gradient average (default 0.99).
    eps : float
        Added to the denominator for stability (default 1e-8).
    weight_decay : float
        L2 penalty added to the gradient (default 0).
    momentum : float
        Momentum factor (default 0).
    centered : bool
        Normalize by an estimate of the gradient's variance instead of its second moment.
    maximize : bool
        Maximize the objective instead of minimizing it.
    """

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ):
        defaults = dict(
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _check_options(self, options: dict) -> None:
        super()._check_options(options)
        for key in ("alpha", "eps", "weight_decay", "momentum"):
            if key in options:
                _check_nonnegative(self._name(), key, options[key])

    def _init_state(self, p, group: dict) -> dict:
        state = {"step": 0, "square_avg": _zeros_buffer(p)}
        if group["momentum"] > 0:
            state["momentum_buffer"] = _zeros_buffer(p)
        if group["centered"]:
            state["grad_avg"] = _zeros_buffer(p)
        return state

    def _update(self, p, grad, state: dict, group: dict, xp) -> None:
        param = p.data
        alpha = group["alpha"]
        state["step"] += 1
        d, _ = _effective_grad(param, grad, group["weight_decay"], group["maximize"], xp)
        square_avg = state["square_avg"].data

        tmp = xp.multiply(d, d, out=xp.empty_like(param))
        xp.multiply(tmp, 1 - alpha, out=tmp)
        xp.multiply(square_avg, alpha, out=square_avg)
        xp.add(square_avg, tmp, out=square_avg)
        if group["centered"]:
            grad_avg = state["grad_avg"].data
            # g_avg += (1 - alpha) * (d - g_avg), the form of torch's lerp_
            xp.subtract(d, grad_avg, out=tmp)
            xp.multiply(tmp, 1 - alpha, out=tmp)
            xp.add(grad_avg, tmp, out=grad_avg)
            xp.multiply(grad_avg, grad_avg, out=tmp)
            xp.subtract(square_avg, tmp, out=tmp)
            xp.sqrt(tmp, out=tmp)
        else:
            xp.sqrt(square_avg, out=tmp)
        xp.add(tmp, group["eps"], out=tmp)

        xp.divide(d, tmp, out=tmp)
        if group["momentum"] > 0:
            buf = state["momentum_buffer"].data
            xp.multiply(buf, group["momentum"], out=buf)
            xp.add(buf, tmp, out=buf)
            xp.multiply(buf, -group["lr"], out=tmp)
        else:
            xp.multiply(tmp, -group["lr"], out=tmp)
        xp.add(param, tmp, out=param)
