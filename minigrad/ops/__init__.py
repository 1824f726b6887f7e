"""Primitive ops: one `Function` subclass per op (forward and its vector-Jacobian product side by side),
each followed by its lowercase wrapper, grouped by family. Everything else in minigrad is composed from these.

Backward rules are written with Tensor operations on graph-connected tensors, so they are differentiable
themselves (`create_graph=True`). Binary wrappers broadcast explicitly, so `BroadcastTo.backward` (shape.py)
is the one place where gradients are summed back to an input's shape.
"""

from ._common import (
    _const,
    _broadcast_shape,
    _broadcast,
    _binary,
    _promote,
    _result_dtype,
    _normalize_axis,
    _keep_shape,
)
from .elementwise import (
    Add,
    add,
    Sub,
    sub,
    Mul,
    mul,
    Neg,
    neg,
    Div,
    div,
    Pow,
    _check_int_pow,
    pow,
    Exp,
    exp,
    Log,
    log,
    Sqrt,
    sqrt,
    Abs,
    abs,
    Tanh,
    tanh,
    Sigmoid,
    _quiet_overflow,
    sigmoid,
    Relu,
    relu,
    Maximum,
    maximum,
    Where,
    where,
    Cast,
    astype,
    ToDevice,
    to_device,
    _float,
)
from .linalg import (
    MatMul,
    matmul,
    AddMatMul,
    addmm,
    Linear,
    linear,
)
from .reduce import (
    Sum,
    sum,
    Max,
    max,
    LogSoftmax,
)
from .shape import (
    Reshape,
    reshape,
    Transpose,
    transpose,
    BroadcastTo,
    broadcast_to,
    _index_data,
    _is_basic,
    GetItem,
    IndexAdd,
    getitem,
    backend_wrap,
    Concatenate,
    concatenate,
    Stack,
    stack,
    Pad,
    pad,
)
from .nondiff import (
    compare,
    logical_not,
    argmax,
    argmin,
    one_hot,
)
