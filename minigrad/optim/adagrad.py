"""Adagrad: per-coordinate learning rates from the sum of all past squared gradients."""

from __future__ import annotations

from .optimizer import Optimizer, _check_nonnegative, _effective_grad, _zeros_buffer


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011) with PyTorch's update rule.

    With d = grad (+ weight_decay * p) (negated when maximize) and t the step count:
    ``clr = lr / (1 + (t - 1) * lr_decay)``, ``s += d**2``, ``p -= clr * d / (sqrt(s) + eps)``,
    where s starts at initial_accumulator_value.

    Parameters
    ----------
    params : iterable of Tensors or dicts
        Parameters or parameter groups (see `Optimizer`).
    lr : float
        Learning rate (default 1e-2).
    lr_decay : float
        Learning-rate decay per step (default 0).
    weight_decay : float
        L2 penalty added to the gradient (default 0).
    initial_accumulator_value : float
        Starting value of the squared-gradient sum (default 0).
    eps : float
        Added to the denominator for stability (default 1e-10).
    maximize : bool
        Maximize the objective instead of minimizing it.
    """

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
    ):
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _check_options(self, options: dict) -> None:
        super()._check_options(options)
        for key in ("lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            if key in options:
                _check_nonnegative(self._name(), key, options[key])

    def _init_state(self, p, group: dict) -> dict:
        # NOTE: PyTorch fills this state eagerly in __init__; filling it at the first step is equivalent.
        return {"step": 0, "sum": _zeros_buffer(p, group["initial_accumulator_value"])}

    def _update(self, p, grad, state: dict, group: dict, xp) -> None:
        param = p.data
        state["step"] += 1
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        d, _ = _effective_grad(param, grad, group["weight_decay"], group["maximize"], xp)
        state_sum = state["sum"].data

        tmp = xp.multiply(d, d, out=xp.empty_like(param))
        xp.add(state_sum, tmp, out=state_sum)
        xp.sqrt(state_sum, out=tmp)
        xp.add(tmp, group["eps"], out=tmp)
        xp.divide(d, tmp, out=tmp)
        xp.multiply(tmp, -clr, out=tmp)
        xp.add(param, tmp, out=param)
