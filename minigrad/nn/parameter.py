"""Parameter: a Tensor that a Module treats as one of its learnable weights."""

from __future__ import annotations

from .. import backend
from ..creation import tensor
from ..tensor import Tensor


class Parameter(Tensor):
    """A leaf Tensor that requires grad and is registered by the Module it is assigned to.

    `Parameter(data)` shares `data`'s array when `data` is a Tensor (like `torch.nn.Parameter`) and copies
    anything else (lists, numpy arrays). Operations on a Parameter give plain Tensors.

    Parameters
    ----------
    data : Tensor, array or nested list
        The initial values (any shape).
    requires_grad : bool
        Whether the optimizer should see a gradient for it (default True).
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = backend.cpu.xp.zeros((0,), dtype=backend.get_default_dtype())
        if not isinstance(data, Tensor):
            data = tensor(data)
        if requires_grad and data.dtype.kind != "f":
            raise TypeError(
                f"Parameter: only floating point tensors can require gradients, got dtype {data.dtype}; "
                "pass float data or requires_grad=False"
            )
        self.data = data.data  # NOTE: shared, not copied, as in PyTorch
        self.device = data.device
        self.requires_grad = bool(requires_grad)
        self.grad_fn = None
        self.grad = None
        self._vbox = None
        self._hooks = None

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo) -> Parameter:
        """A copy of the values and requires_grad, without .grad (as torch's Parameter.__deepcopy__)."""
        if id(self) not in memo:
            data = Tensor._make(self.data.copy(), self.device, False, None)
            memo[id(self)] = Parameter(data, self.requires_grad)
        return memo[id(self)]
