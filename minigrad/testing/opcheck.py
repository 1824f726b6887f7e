"""The op-check helper: testing an op is one `OpSpec` row (function, NumPy reference, input domain).

`check_op(spec, data)` draws shapes (0-d, size-1 and broadcast pairs included) and values, then checks
the forward against the reference, the backward with `gradcheck` (and `gradgradcheck`), that gradients
without create_graph equal those with it (so an `array_backward` rule gives the same on arrays and
Tensors), that the inputs are not mutated, that float32 stays float32, that `no_grad` records nothing and, when PyTorch is installed and
the row has a `torch_fn`, forward values and gradients against PyTorch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import hypothesis.extra.numpy as hnp
from hypothesis import given
from hypothesis import strategies as st

from .. import autograd, backend
from ..creation import tensor
from ..tensor import Tensor
from .gradcheck import gradcheck, gradgradcheck
from .strategies import broadcastable_shapes, shapes, spaced_floats, valid_axes

np = backend.cpu.xp

__all__ = ["OpSpec", "check_op", "op_test"]


@dataclass
class OpSpec:
    """One row of an op table.

    Parameters
    ----------
    name : str
        Test id.
    fn : callable
        ``fn(*tensors, **kwargs)`` -> Tensor or sequence of Tensors: the minigrad op under test.
    reference : callable
        ``reference(*arrays, **kwargs)`` -> array or sequence of arrays: the same maths in NumPy.
    arity : int
        Number of tensor inputs (each differentiated).
    domain : (low, high) or a sequence of them (one per input)
        Interval the input values are drawn from (see `spaced_floats`: no ties, no values on round numbers).
    broadcast : bool
        For arity >= 2: draw mutually broadcastable shapes instead of equal ones.
    axis : None, "reduce" or "int"
        "reduce" adds ``axis`` (None, int or tuple, see `valid_axes`) and ``keepdims`` keywords;
        "int" adds a single integer ``axis`` (then min_dims must be >= 1).
    kwargs : callable, optional
        ``kwargs(shapes)`` -> strategy of a dict of extra keyword arguments (hyperparameters, indices).
    cases : strategy, optional
        Strategy of ``(shapes, kwargs)`` pairs that replaces all the shape and keyword drawing above
        (for ops whose shapes must fit together, like matmul or concatenate).
    min_dims, max_dims, max_side : int
        Bounds of the drawn shapes.
    unique : bool
        No repeated values within an input (for max/min, whose gradient is split between ties).
    grad, gradgrad : bool
        Run gradcheck / gradgradcheck.
    torch_fn : callable, optional
        ``torch_fn(*torch_tensors, **kwargs)``: the op in PyTorch, for a cross-check when torch imports.
    rtol, atol : float
        Forward tolerance against the reference (float64).
    """

    name: str
    fn: Callable
    reference: Callable
    arity: int = 1
    domain: tuple = (-3.0, 3.0)
    broadcast: bool = False
    axis: str | None = None
    kwargs: Callable | None = None
    cases: st.SearchStrategy | None = None
    min_dims: int = 0
    max_dims: int = 4
    max_side: int = 3
    unique: bool = False
    grad: bool = True
    gradgrad: bool = True
    torch_fn: Callable | None = None
    rtol: float = 1e-7
    atol: float = 1e-10

    def __repr__(self) -> str:
        return f"OpSpec({self.name!r})"

    def domains(self, n: int) -> list:
        """The (low, high) interval of each of `n` inputs."""
        if len(self.domain) == 2 and all(isinstance(d, (int, float)) for d in self.domain):
            return [tuple(self.domain)] * n
        if len(self.domain) != n:
            raise ValueError(f"OpSpec {self.name}: {len(self.domain)} domains for {n} inputs")
        return [tuple(d) for d in self.domain]


@st.composite
def _reduce_kwargs(draw, shape):
    return {"axis": draw(valid_axes(len(shape))), "keepdims": draw(st.booleans())}


def _draw_case(spec: OpSpec, data) -> tuple:
    if spec.cases is not None:
        in_shapes, kwargs = data.draw(spec.cases, label="case")
        return tuple(tuple(s) for s in in_shapes), dict(kwargs)
    dims = {"min_dims": spec.min_dims, "max_dims": spec.max_dims, "max_side": spec.max_side}
    if spec.arity == 1:
        in_shapes = (data.draw(shapes(**dims), label="shape"),)
    elif spec.broadcast:
        in_shapes = data.draw(broadcastable_shapes(num_shapes=spec.arity, **dims), label="shapes")
    else:
        in_shapes = (data.draw(shapes(**dims), label="shape"),) * spec.arity
    kwargs = {}
    if spec.axis == "reduce":
        kwargs.update(data.draw(_reduce_kwargs(in_shapes[0]), label="axis"))
    elif spec.axis == "int":
        kwargs["axis"] = data.draw(
            valid_axes(len(in_shapes[0]), allow_none=False, allow_tuple=False), label="axis"
        )
    if spec.kwargs is not None:
        kwargs.update(data.draw(spec.kwargs(in_shapes), label="kwargs"))
    return in_shapes, kwargs


def _as_list(result) -> list:
    return list(result) if isinstance(result, (list, tuple)) else [result]


def _snapshot(value):
    if isinstance(value, Tensor):
        return backend.to_numpy(value.data).copy()
    if backend.is_array(value):
        return backend.to_numpy(value).copy()
    return None


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def check_op(spec: OpSpec, data, device="cpu") -> None:
    """Run every check of `spec` on one drawn case; `data` is hypothesis's ``st.data()`` object.

    Raises AssertionError (or `GradcheckError`) describing the first failure.
    """
    in_shapes, kwargs = _draw_case(spec, data)
    arrays = []
    for k, (shape, (lo, hi)) in enumerate(zip(in_shapes, spec.domains(len(in_shapes)))):
        elems = spaced_floats(lo, hi)
        arrays.append(
            data.draw(
                hnp.arrays(np.float64, shape, elements=elems, unique=spec.unique), label=f"x{k}"
            )
        )
    xs = [tensor(a, dtype=backend.float64, device=device, requires_grad=spec.grad) for a in arrays]
    before = [a.copy() for a in arrays]
    kw_before = {key: _snapshot(v) for key, v in kwargs.items()}

    # forward against the NumPy reference
    outs = _as_list(spec.fn(*xs, **kwargs))
    refs = _as_list(spec.reference(*[a.copy() for a in arrays], **kwargs))
    assert len(outs) == len(refs), (
        f"{spec.name}: {len(outs)} outputs, the reference gives {len(refs)}"
    )
    for k, (out, ref) in enumerate(zip(outs, refs)):
        ref = np.asarray(ref)
        assert isinstance(out, Tensor), (
            f"{spec.name}: output {k} is a {type(out).__name__}, not a Tensor"
        )
        assert out.shape == ref.shape, (
            f"{spec.name}: output {k} has shape {out.shape}, reference {ref.shape}"
        )
        assert out.dtype == backend.float64, (
            f"{spec.name}: float64 inputs gave a {out.dtype} output {k}"
        )
        np.testing.assert_allclose(
            out.numpy(),
            ref,
            rtol=spec.rtol,
            atol=spec.atol,
            err_msg=f"{spec.name}: forward output {k}",
        )

    # float32 stays float32; no_grad records nothing
    xs32 = [
        tensor(a, dtype=backend.float32, device=device, requires_grad=spec.grad) for a in arrays
    ]
    with autograd.no_grad():
        outs32 = _as_list(spec.fn(*xs32, **kwargs))
    for k, (out, ref) in enumerate(zip(outs32, refs)):
        assert out.dtype == backend.float32, (
            f"{spec.name}: float32 inputs gave a {out.dtype} output {k}"
        )
        # a no-op (reshape to the same shape) may hand back its input itself
        recorded = out.grad_fn is not None or (
            out.requires_grad and not any(out is x for x in xs32)
        )
        assert not recorded, f"{spec.name}: output {k} recorded under no_grad"
        np.testing.assert_allclose(
            out.numpy(),
            np.asarray(ref),
            rtol=1e-4,
            atol=1e-5,
            err_msg=f"{spec.name}: float32 forward output {k}",
        )

    if spec.grad:
        for k, out in enumerate(outs):
            assert out.requires_grad, (
                f"{spec.name}: output {k} does not require grad although its inputs do"
            )

        def f(*ts):
            return tuple(_as_list(spec.fn(*ts, **kwargs)))

        gradcheck(f, tuple(xs))
        if spec.gradgrad:
            gradgradcheck(f, tuple(xs))
        _check_both_modes(spec, f, xs)

    for k, (x, a) in enumerate(zip(xs, before)):
        assert np.array_equal(x.numpy(), a), f"{spec.name}: input {k} was modified by the op"
    for key, snap in kw_before.items():
        if snap is not None:
            assert np.array_equal(_snapshot(kwargs[key]), snap), (
                f"{spec.name}: keyword {key} was modified"
            )

    torch = _torch() if spec.torch_fn is not None else None
    if torch is not None:
        _check_against_torch(spec, torch, xs, arrays, kwargs)


def _check_both_modes(spec: OpSpec, f, xs) -> None:
    """Gradients without create_graph (rules marked `array_backward` then run on raw arrays) equal those
    with it (every rule runs on Tensors)."""
    outs = [o for o in f(*xs) if o.requires_grad]
    if not outs:
        return
    rng = np.random.default_rng(1)
    seeds = [tensor(rng.standard_normal(o.shape), dtype=o.dtype, device=o.device) for o in outs]
    fast = autograd.grad(outs, xs, grad_outputs=seeds, retain_graph=True, allow_unused=True)
    graph = autograd.grad(outs, xs, grad_outputs=seeds, create_graph=True, allow_unused=True)
    for k, (a, b) in enumerate(zip(fast, graph)):
        assert (a is None) == (b is None), (
            f"{spec.name}: input {k} gets a gradient in one mode only"
        )
        if a is not None:
            assert a.dtype == b.dtype and a.shape == b.shape, (
                f"{spec.name}: input {k}: gradient {a.dtype} {a.shape} without create_graph, "
                f"{b.dtype} {b.shape} with it"
            )
            np.testing.assert_allclose(
                a.numpy(),
                b.numpy(),
                rtol=1e-12,
                atol=1e-14,
                err_msg=f"{spec.name}: gradient of input {k} without vs with create_graph",
            )


def _check_against_torch(spec: OpSpec, torch, xs, arrays, kwargs) -> None:
    txs = [torch.tensor(a, dtype=torch.float64, requires_grad=spec.grad) for a in arrays]
    touts = _as_list(spec.torch_fn(*txs, **kwargs))
    outs = _as_list(spec.fn(*xs, **kwargs))
    assert len(touts) == len(outs), (
        f"{spec.name}: torch gives {len(touts)} outputs, minigrad {len(outs)}"
    )
    for out, tout in zip(outs, touts):
        expected = tout.detach().numpy()
        assert out.shape == tuple(expected.shape), (
            f"{spec.name}: shape {out.shape}, torch {tuple(expected.shape)}"
        )
        np.testing.assert_allclose(
            out.numpy(), expected, rtol=1e-7, atol=1e-10, err_msg=f"{spec.name} vs torch"
        )
    if not spec.grad:
        return
    rng = np.random.default_rng(0)
    vs = [rng.standard_normal(out.shape) for out in outs]
    pairs = [(o, t, v) for o, t, v in zip(outs, touts, vs) if t.requires_grad]
    if not pairs:
        return
    tgrads = torch.autograd.grad(
        [t for _, t, _ in pairs], txs, [torch.tensor(v) for _, _, v in pairs], allow_unused=True
    )
    seeds = [tensor(v, dtype=backend.float64, device=xs[0].device) for _, _, v in pairs]
    grads = autograd.grad([o for o, _, _ in pairs], xs, grad_outputs=seeds, allow_unused=True)
    for k, (g, tg, a) in enumerate(zip(grads, tgrads, arrays)):
        got = np.zeros(a.shape) if g is None else g.numpy()
        expected = np.zeros(a.shape) if tg is None else tg.numpy()
        np.testing.assert_allclose(
            got, expected, rtol=1e-7, atol=1e-10, err_msg=f"{spec.name}: grad of input {k} vs torch"
        )


def op_test(spec: OpSpec, device="cpu"):
    """A hypothesis test function for one row: ``test_exp = op_test(OpSpec("exp", mg.exp, np.exp))``."""

    @given(data=st.data())
    def test(data):
        check_op(spec, data, device)

    test.__name__ = f"test_{spec.name}"
    return test
