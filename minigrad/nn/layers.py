"""Embedding, Dropout, LayerNorm and Flatten."""

from __future__ import annotations

from .. import backend
from ..creation import ones, zeros
from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter


class Embedding(Module):
    """A lookup table: row i of `weight` is the vector for index i.

    Parameters
    ----------
    num_embeddings : int
        Size of the vocabulary (V).
    embedding_dim : int
        Size of each vector (D).
    padding_idx : int, optional
        This row starts at zero and receives no gradient (negative values count from the end).

    Shapes: input (*) integer indices, output (*, D); weight (V, D), initialised N(0, 1).
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 device=None, dtype=None, _weight: Tensor | None = None):  # fmt: skip
        super().__init__()
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(
                    f"Embedding: padding_idx {padding_idx} must be within num_embeddings ({num_embeddings})"
                )
            if padding_idx < 0:
                padding_idx += num_embeddings
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = padding_idx
        if _weight is None:
            dtype = backend.as_dtype(dtype)
            self.weight = Parameter(
                zeros(num_embeddings, embedding_dim, dtype=dtype, device=device)
            )
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ValueError(
                    f"Embedding: _weight must have shape ({num_embeddings}, {embedding_dim}), got {_weight.shape}"
                )
            self.weight = Parameter(_weight)

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    @classmethod
    def from_pretrained(
        cls, embeddings: Tensor, freeze: bool = True, padding_idx: int | None = None
    ) -> Embedding:
        """An Embedding whose weight is `embeddings` (V, D); frozen (requires_grad=False) by default."""
        if embeddings.ndim != 2:
            raise ValueError(
                f"Embedding.from_pretrained: embeddings must be 2-D (V, D), got shape {embeddings.shape}"
            )
        emb = cls(
            embeddings.shape[0], embeddings.shape[1], padding_idx=padding_idx, _weight=embeddings
        )
        emb.weight.requires_grad = not freeze
        return emb

    def forward(self, input) -> Tensor:
        return F.embedding(input, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s


class Dropout(Module):
    """During training, zero each element with probability p and scale the rest by 1/(1-p); in eval
    mode, pass the input through. The mask comes from the seeded device generator (mg.manual_seed).

    Parameters
    ----------
    p : float
        Probability of zeroing an element (default 0.5).
    inplace : bool
        PyTorch's option to overwrite the input; only False is supported (True raises ValueError),
        since autograd cannot record an in-place update.

    Shapes: input (*), output (*).
    """

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: probability has to be between 0 and 1, but got {p}")
        F._check_not_inplace("Dropout", inplace)
        self.p = p
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class LayerNorm(Module):
    """Normalise each sample over its trailing dimensions, then scale and shift elementwise.

    Parameters
    ----------
    normalized_shape : int or tuple
        The trailing shape to normalise over, e.g. H for inputs (N, T, H).
    eps : float
        Added to the (biased) variance for stability.
    elementwise_affine : bool
        Learn `weight` (ones) and `bias` (zeros), both of shape normalized_shape.
    bias : bool
        Learn the bias (only with elementwise_affine).

    Shapes: input (*, *normalized_shape), output like the input.
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 device=None, dtype=None):  # fmt: skip
        super().__init__()
        shape = (
            (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        )
        self.normalized_shape = shape
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        dtype = backend.as_dtype(dtype)
        if elementwise_affine:
            self.weight = Parameter(ones(shape, dtype=dtype, device=device))
            self.bias = Parameter(zeros(shape, dtype=dtype, device=device)) if bias else None
        else:
            self.weight = None
            self.bias = None

    def forward(self, input: Tensor) -> Tensor:
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
            f"bias={self.bias is not None}"
        )


class Flatten(Module):
    """Merge dimensions start_dim..end_dim into one, e.g. (N, C, H, W) -> (N, C*H*W) by default.

    Shapes: input (*, S_start, ..., S_end, *), output (*, S_start * ... * S_end, *).
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
