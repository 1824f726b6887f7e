"""The Optimizer base class: parameter groups, per-parameter state, zero_grad, state_dict round trips.

Subclasses (SGD, Adam, ...) only say how one parameter is updated from its gradient; they write into
`p.data` with in-place `xp` calls (no Tensors, no graph), because `step()` runs on every parameter of the
model at every training step.
"""

from __future__ import annotations

import numbers

from .. import backend
from ..autograd import enable_grad, no_grad
from ..tensor import Tensor


class Optimizer:
    """Base class of all optimizers, shaped like `torch.optim.Optimizer`.

    Parameters
    ----------
    params : iterable of Tensors, or iterable of dicts
        The tensors to optimize (e.g. ``model.parameters()``), or parameter groups: dicts with a
        ``'params'`` entry plus per-group options (``{'params': head.parameters(), 'lr': 1e-2}``) that
        override ``defaults`` for that group.
    defaults : dict
        The default options (lr, momentum, ...) of every group.

    Attributes
    ----------
    param_groups : list of dict
        One dict per group: ``'params'`` (a list of Tensors) and every option. Schedulers edit ``'lr'`` here.
    state : dict
        Tensor -> dict of that parameter's buffers (``'step'``, ``'exp_avg'``, ...), filled lazily at its
        first update.
    """

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self._check_options(self.defaults)
        self.state: dict = {}
        self.param_groups: list[dict] = []
        if isinstance(params, Tensor):
            raise TypeError(
                f"{self._name()}: params must be an iterable of Tensors or dicts, got a single Tensor of "
                f"shape {params.shape}; wrap it in a list: [tensor]"
            )
        if isinstance(params, dict):
            params = [params]
        try:
            groups = list(params)
        except TypeError:
            raise TypeError(
                f"{self._name()}: params must be an iterable of Tensors or dicts, got {type(params).__name__}"
            ) from None
        if len(groups) == 0:
            raise ValueError(f"{self._name()}: optimizer got an empty parameter list (params)")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def _name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        lines = [f"{self._name()} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)

    # ---- groups -------------------------------------------------------------------------------
    def _check_options(self, options: dict) -> None:
        """Raise ValueError naming the option when a hyperparameter is out of range (subclasses extend)."""
        if "lr" in options:
            _check_nonnegative(self._name(), "lr", options["lr"])

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters (a dict with 'params' and optional options) to optimize.

        Options missing from the group take the optimizer's defaults. Raises ValueError for a parameter
        that is not a Tensor, is not a leaf, or already belongs to a group. Parameters that do not
        require grad (a frozen layer) are accepted, as in PyTorch: having no gradient, step() skips
        them.
        """
        if not isinstance(param_group, dict):
            raise TypeError(
                f"{self._name()}.add_param_group: expected a dict, got {type(param_group).__name__}"
            )
        if "params" not in param_group:
            raise ValueError(
                f"{self._name()}.add_param_group: the group dict needs a 'params' entry"
            )
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(
                f"{self._name()}: params must be an ordered collection (list, tuple, generator), not a set, "
                "so that state_dict indices are reproducible"
            )
        else:
            params = list(params)

        known = {id(p) for group in self.param_groups for p in group["params"]}
        seen = set()
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise ValueError(
                    f"{self._name()}: params[{i}] is a {type(p).__name__}, not a Tensor; "
                    "pass model.parameters() or a list of tensors created with requires_grad=True"
                )
            if p.grad_fn is not None:
                raise ValueError(
                    f"{self._name()}: params[{i}] (shape {p.shape}) is not a leaf (it was computed by "
                    f"{p.grad_fn!r}); optimize the leaf tensors it was computed from"
                )
            if id(p) in seen:
                raise ValueError(
                    f"{self._name()}: params[{i}] (shape {p.shape}) appears twice in params"
                )
            if id(p) in known:
                raise ValueError(
                    f"{self._name()}: params[{i}] (shape {p.shape}) already belongs to another parameter group"
                )
            seen.add(id(p))

        group = dict(param_group)
        group["params"] = params
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._check_options(group)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's gradient: to None (default, frees memory) or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad = p.grad.detach()
                    p.grad.data.fill(0)

    # ---- the update ---------------------------------------------------------------------------
    def step(self, closure=None):
        """Update every parameter that has a gradient (those with ``grad is None`` are skipped).

        ``closure``, if given, re-evaluates the model and returns the loss (it runs with grad enabled);
        step returns that loss, or None.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        # check every gradient before updating any parameter: a bad one must not leave a half step
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.device is not p.device:
                    raise RuntimeError(
                        f"{self._name()}.step: parameter of shape {p.shape} is on {p.device} but its "
                        f"gradient is on {p.grad.device}; move the gradient with .to(device)"
                    )
                if p.grad.data.shape != p.data.shape:
                    raise RuntimeError(
                        f"{self._name()}.step: parameter of shape {p.shape} has a gradient of shape "
                        f"{p.grad.shape}; gradients must match their parameter's shape"
                    )
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    g = p.grad.data
                    state = self.state.get(p)
                    if state is None:
                        state = self.state[p] = self._init_state(p, group)
                    self._update(p, g, state, group, p.device.xp)
                    p._version += 1  # an in-place change, as for any in-place op
        return loss

    def _init_state(self, p: Tensor, group: dict) -> dict:
        """The fresh per-parameter state, created at the parameter's first update."""
        return {}

    def _update(self, p: Tensor, grad, state: dict, group: dict, xp) -> None:
        """Update `p.data` in place from the array `grad` (never written to) and `state`."""
        raise NotImplementedError(f"{self._name()} must implement _update")

    # ---- checkpoints --------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """The optimizer's state as ``{'state': {index: {...}}, 'param_groups': [{..., 'params': [index]}]}``.

        Parameters are numbered 0, 1, ... across the groups in order, as in PyTorch. Buffers are copied
        Tensors and ``'step'`` is an int, so `mg.save` can store the result.
        NOTE: unlike PyTorch, the buffers are snapshots, not references: later steps do not change them.
        """
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {key: value for key, value in group.items() if key != "params"}
            packed["params"] = []
            for p in group["params"]:
                index[id(p)] = len(index)
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {}
        for p, buffers in self.state.items():
            state[index[id(p)]] = {key: _snapshot(value) for key, value in buffers.items()}
        return {"state": dict(sorted(state.items())), "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a state saved by `state_dict()` (possibly after `mg.save`/`mg.load`).

        The saved groups must have the same number of parameters as this optimizer's groups, and every
        buffer the shape of its parameter. Everything is checked first: on a ValueError nothing changed.
        Buffers are copied, cast to their parameter's dtype and moved to its device.
        """
        name = f"{self._name()}.load_state_dict"
        if (
            not isinstance(state_dict, dict)
            or "state" not in state_dict
            or "param_groups" not in state_dict
        ):
            raise ValueError(
                f"{name}: expected a dict with 'state' and 'param_groups' (from state_dict())"
            )
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}: the loaded state dict has {len(saved_groups)} parameter group(s) but this "
                f"optimizer has {len(self.param_groups)}"
            )
        id_map = {}
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if not isinstance(saved, dict) or "params" not in saved:
                raise ValueError(f"{name}: param_groups[{i}] must be a dict with a 'params' list")
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"{name}: param_groups[{i}] holds {len(saved['params'])} parameter(s) in the loaded "
                    f"state dict but {len(group['params'])} in this optimizer"
                )
            for key, p in zip(saved["params"], group["params"]):
                id_map[_index_key(name, key)] = p

        new_groups = []
        for group, saved in zip(self.param_groups, saved_groups):
            new_group = dict(group)
            for key, value in saved.items():
                if key == "params":
                    continue
                if isinstance(group.get(key), tuple) and isinstance(value, list):
                    value = tuple(value)  # betas come back from a checkpoint as a list
                new_group[key] = value
            self._check_options(new_group)
            new_groups.append(new_group)

        new_state = {}
        for key, buffers in state_dict["state"].items():
            k = _index_key(name, key)
            if k not in id_map:
                raise ValueError(
                    f"{name}: state entry {key!r} refers to no parameter (indices 0..{len(id_map) - 1})"
                )
            if not isinstance(buffers, dict):
                raise ValueError(
                    f"{name}: state[{key!r}] must be a dict, got {type(buffers).__name__}"
                )
            p = id_map[k]
            new_state[p] = {b: _restore(name, k, b, value, p) for b, value in buffers.items()}

        # everything checked: commit
        for group, new_group in zip(self.param_groups, new_groups):
            group.clear()
            group.update(new_group)
        self.state = new_state


def _check_nonnegative(opt: str, name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ValueError(f"{opt}: invalid {name}={value!r}; {name} must be a number >= 0")


def _index_key(name: str, key) -> int:
    if isinstance(key, str) and key.isdigit():
        return int(key)  # a checkpoint format that keeps only string keys
    if isinstance(key, bool) or not isinstance(key, int):
        raise ValueError(f"{name}: parameter indices must be ints, got {key!r}")
    return key


def _snapshot(value):
    if isinstance(value, Tensor):
        return Tensor._make(value.data.copy(), value.device, False, None)
    return value


def _restore(name: str, index: int, key: str, value, p: Tensor):
    """A loaded buffer as this optimizer keeps it: 'step' as an int, arrays as Tensors shaped like p."""
    if key == "step":
        if isinstance(value, Tensor) or backend.is_array(value) or hasattr(value, "__array__"):
            value = float(value)  # PyTorch keeps step as a 0-d tensor
        return int(value)
    if isinstance(value, Tensor):
        arr = value.data
    elif backend.is_array(value) or hasattr(value, "__array__"):
        arr = backend.cpu.xp.asarray(value)
    else:
        return value
    if tuple(arr.shape) != tuple(p.shape):
        raise ValueError(
            f"{name}: state[{index}][{key!r}] has shape {tuple(arr.shape)} but its parameter has shape "
            f"{p.shape}; was the state dict saved from a different model?"
        )
    dtype = p.dtype if arr.dtype.kind == "f" else arr.dtype
    if p.device.type == "cpu":
        arr = backend.to_numpy(arr)
    return Tensor._make(p.device.xp.array(arr, dtype=dtype, copy=True), p.device, False, None)


def _buffer(array, p: Tensor) -> Tensor:
    """Wrap a state array (exp_avg, momentum_buffer, ...) as a Tensor on p's device."""
    return Tensor._make(array, p.device, False, None)


def _zeros_buffer(p: Tensor, fill_value: float = 0.0) -> Tensor:
    return _buffer(p.device.xp.full(p.shape, fill_value, dtype=p.dtype), p)


def _effective_grad(param, grad, weight_decay: float, maximize: bool, xp):
    """(d, owned): -grad if maximize, plus weight_decay * param; `owned` says d is a fresh array.

    NOTE: every ufunc here and in the optimizers writes into `out=` arrays: without it, numpy returns a
    scalar, not an array, for 0-d parameters.
    """
    if weight_decay != 0:
        d = xp.multiply(param, weight_decay, out=xp.empty_like(param))
        if maximize:
            xp.subtract(d, grad, out=d)
        else:
            xp.add(d, grad, out=d)
        return d, True
    if maximize:
        return xp.negative(grad, out=xp.empty_like(grad)), True
    return grad, False
