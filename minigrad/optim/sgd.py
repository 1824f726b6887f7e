"""SGD: stochastic gradient descent with optional momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from .optimizer import Optimizer, _buffer, _check_nonnegative, _effective_grad


class SGD(Optimizer):
    """Stochastic gradient descent, with PyTorch's update rule.

    With d = grad (+ weight_decay * p) (negated when maximize):
    ``buf = d`` at the first step, then ``buf = momentum * buf + (1 - dampening) * d``;
    the step direction is ``d + momentum * buf`` (nesterov) or ``buf`` (momentum > 0) or ``d``;
    ``p -= lr * direction``.

    Parameters
    ----------
    params : iterable of Tensors or dicts
        Parameters or parameter groups (see `Optimizer`).
    lr : float
        Learning rate (default 1e-3).
    momentum : float
        Momentum factor (default 0: plain SGD).
    dampening : float
        Dampening of the momentum (default 0).
    weight_decay : float
        L2 penalty added to the gradient (default 0).
    nesterov : bool
        Nesterov momentum; needs momentum > 0 and dampening = 0.
    maximize : bool
        Maximize the objective instead of minimizing it.
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ):
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _check_options(self, options: dict) -> None:
        super()._check_options(options)
        for key in ("momentum", "weight_decay"):
            if key in options:
                _check_nonnegative(self._name(), key, options[key])
        if options.get("nesterov") and (
            options.get("momentum", 0) <= 0 or options.get("dampening", 0) != 0
        ):
            raise ValueError(
                f"{self._name()}: nesterov=True needs momentum > 0 and dampening = 0, got "
                f"momentum={options.get('momentum')}, dampening={options.get('dampening')}"
            )

    def _update(self, p, grad, state: dict, group: dict, xp) -> None:
        param = p.data
        momentum = group["momentum"]
        d, owned = _effective_grad(param, grad, group["weight_decay"], group["maximize"], xp)
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = d.copy()
                state["momentum_buffer"] = _buffer(buf, p)
            else:
                buf = buf.data
                xp.multiply(buf, momentum, out=buf)
                if group["dampening"] == 0:
                    xp.add(buf, d, out=buf)
                else:
                    buf += (1 - group["dampening"]) * d
            if group["nesterov"]:
                scaled = xp.multiply(buf, momentum, out=xp.empty_like(buf))
                xp.add(d, scaled, out=scaled)
                d, owned = scaled, True
            else:
                d, owned = buf, False
        if owned:
            step = xp.multiply(d, -group["lr"], out=d)
        else:
            step = xp.multiply(d, -group["lr"], out=xp.empty_like(param))
        xp.add(param, step, out=param)
