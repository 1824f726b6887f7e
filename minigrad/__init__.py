"""minigrad: a small tape-based reverse-mode autograd framework over N-d arrays (NumPy or CuPy)."""

__version__ = "0.1.0"

from . import autograd, backend
from .autograd import Function, enable_grad, grad, is_grad_enabled, no_grad, set_grad_enabled
from .backend import (
    Device,
    bool_,
    cuda_is_available,
    device,
    float16,
    float32,
    float64,
    get_default_dtype,
    int32,
    int64,
    manual_seed,
    set_default_dtype,
    uint8,
)
from .functional import (
    chunk,
    clip,
    expand_dims,
    flatten,
    flip,
    index_select,
    log_softmax,
    logsumexp,
    masked_fill,
    mean,
    min,
    minimum,
    permute,
    softmax,
    split,
    squeeze,
    std,
    swapaxes,
    take,
    unsqueeze,
    var,
)
from .ops import (
    abs,
    add,
    addmm,
    argmax,
    argmin,
    astype,
    broadcast_to,
    concatenate,
    div,
    exp,
    getitem,
    log,
    matmul,
    max,
    maximum,
    mul,
    neg,
    one_hot,
    pad,
    pow,
    relu,
    reshape,
    sigmoid,
    sqrt,
    stack,
    sub,
    sum,
    tanh,
    transpose,
    where,
)
from .creation import (
    arange,
    empty,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    randint,
    randn,
    randperm,
    tensor,
    uniform,
    zeros,
    zeros_like,
)
from .tensor import Tensor

cat = concatenate
clamp = clip
subtract = sub
multiply = mul
divide = div
from . import nn
from . import optim
from .serialization import save, load

from .testing import gradcheck, gradgradcheck
