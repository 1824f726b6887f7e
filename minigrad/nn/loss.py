"""Loss modules: each stores its options and calls the matching function in `nn.functional`.

Class weights are buffers, so they move with `.to()` and are saved in `state_dict()`, as in PyTorch.
Constructors take PyTorch's positional order, with its deprecated `size_average`/`reduce` slots.
"""

from __future__ import annotations

import warnings

from ..tensor import Tensor
from . import functional as F
from .module import Module


def _buffer_or_none(module: Module, name: str, value) -> None:
    if value is not None and not isinstance(value, Tensor):
        raise TypeError(
            f"{type(module).__name__}: {name} must be a Tensor or None, got {type(value).__name__}"
        )
    module.register_buffer(name, value)


def _legacy_reduction(size_average, reduce, reduction: str, stacklevel: int) -> str:
    """PyTorch's rule for the deprecated flags: when either is given, it overrides reduction."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    legacy = "mean" if size_average and reduce else "sum" if reduce else "none"
    warnings.warn(
        f"size_average and reduce args will be deprecated, please use reduction='{legacy}' "
        "instead.",
        stacklevel=stacklevel,
    )
    return legacy


class _Loss(Module):
    """Base of the loss modules: stores `reduction` ('mean', 'sum' or 'none').

    size_average and reduce are PyTorch's deprecated flags, kept in its positional slots so that
    ported code means the same: when either is given it overrides reduction ('none' if reduce is
    false, else 'sum' if size_average is false, else 'mean'), with PyTorch's UserWarning.
    """

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__()
        # warn at the user's line: above this __init__, and the subclass's one if it has its own
        own_init = type(self).__init__ is not _Loss.__init__
        reduction = _legacy_reduction(size_average, reduce, reduction, 4 if own_init else 3)
        F._check_reduction(type(self).__name__, reduction)
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}" if self.reduction != "mean" else ""


class CrossEntropyLoss(_Loss):
    """Cross-entropy of logits against class indices (or probabilities); see F.cross_entropy.

    Shapes: input (N, C), (N, C, d1, ...) or (C,); target (N,), (N, d1, ...) or () integer indices (or
    the input's shape, as probabilities); weight (C,); output a scalar, or the target's shape for 'none'.
    """

    def __init__(self, weight: Tensor | None = None, size_average=None, ignore_index: int = -100,
                 reduce=None, reduction: str = "mean", label_smoothing: float = 0.0):  # fmt: skip
        super().__init__(size_average, reduce, reduction)
        _buffer_or_none(self, "weight", weight)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target) -> Tensor:
        return F.cross_entropy(input, target, self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)  # fmt: skip


class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities (e.g. LogSoftmax output); see F.nll_loss.

    Shapes: as CrossEntropyLoss with class-index targets.
    """

    def __init__(self, weight: Tensor | None = None, size_average=None, ignore_index: int = -100,
                 reduce=None, reduction: str = "mean"):  # fmt: skip
        super().__init__(size_average, reduce, reduction)
        _buffer_or_none(self, "weight", weight)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target) -> Tensor:
        return F.nll_loss(
            input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction
        )


class MSELoss(_Loss):
    """Mean squared error. Shapes: input and target the same (*); output a scalar, or (*) for 'none'."""

    def forward(self, input: Tensor, target) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error. Shapes: input and target the same (*); output a scalar, or (*) for 'none'."""

    def forward(self, input: Tensor, target) -> Tensor:
        return F.l1_loss(input, target, reduction=self.reduction)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities in [0, 1]; see F.binary_cross_entropy.

    Shapes: input and target the same (*); weight broadcasts to them; output a scalar, or (*) for 'none'.
    """

    def __init__(self, weight: Tensor | None = None, size_average=None, reduce=None,
                 reduction: str = "mean"):  # fmt: skip
        super().__init__(size_average, reduce, reduction)
        _buffer_or_none(self, "weight", weight)

    def forward(self, input: Tensor, target) -> Tensor:
        return F.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on logits, computed stably; see F.binary_cross_entropy_with_logits.

    Shapes: input and target the same (*); weight broadcasts to them; pos_weight broadcasts along the last
    dimension, e.g. (C,); output a scalar, or (*) for 'none'.
    """

    def __init__(self, weight: Tensor | None = None, size_average=None, reduce=None,
                 reduction: str = "mean", pos_weight: Tensor | None = None):  # fmt: skip
        super().__init__(size_average, reduce, reduction)
        _buffer_or_none(self, "weight", weight)
        _buffer_or_none(self, "pos_weight", pos_weight)

    def forward(self, input: Tensor, target) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)  # fmt: skip
