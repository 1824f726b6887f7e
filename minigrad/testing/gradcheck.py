"""Finite-difference checks of gradients: `gradcheck` (first order) and `gradgradcheck` (second order).

Both compare the engine's vector-Jacobian products with central differences in float64: the full
Jacobian, entry by entry, for small problems, and a dot-product test along random directions for large ones.
"""

from __future__ import annotations

from .. import autograd, backend
from ..tensor import Tensor

np = backend.cpu.xp  # the host array module (this package only reaches numpy through backend)


class GradcheckError(AssertionError):
    """Raised by `gradcheck` / `gradgradcheck` when analytic and numerical gradients disagree."""


def _as_tuple(x) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _outputs(result, who: str) -> tuple:
    outs = _as_tuple(result)
    for k, o in enumerate(outs):
        if not isinstance(o, Tensor):
            raise TypeError(
                f"{who}: fn must return a Tensor or a tuple of Tensors; output {k} is {type(o).__name__}"
            )
    return outs


def _host(t: Tensor):
    """A float64 numpy copy of a tensor's data, flattened."""
    if not backend.is_array(t.data):
        raise GradcheckError(
            f"a tensor of shape {getattr(t.data, 'shape', '?')} holds a {type(t.data).__name__}, not an array: "
            "some op or the engine wrapped a NumPy scalar (NumPy returns scalars for 0-d results; wrap them "
            "with xp.asarray)"
        )
    return np.array(backend.to_numpy(t.data), dtype=np.float64).reshape(-1)


def _check_inputs(inputs: tuple, who: str) -> list:
    """Indices of the inputs that require grad (all float64), or a clear error."""
    diff = []
    for i, t in enumerate(inputs):
        if isinstance(t, Tensor) and t.requires_grad:
            if t.dtype != backend.float64:
                raise TypeError(
                    f"{who}: input {i} (shape {t.shape}) has dtype {t.dtype}; finite differences need float64. "
                    "Create it with dtype=mg.float64 or call .double() on it before requires_grad_()."
                )
            diff.append(i)
    if not diff:
        raise ValueError(
            f"{who}: no input requires grad; create the inputs to check with requires_grad=True"
        )
    return diff


class _Problem:
    """fn, its inputs and the bookkeeping shared by the numerical and analytic sides."""

    def __init__(self, fn, inputs, who):
        self.fn, self.inputs, self.who = fn, inputs, who
        self.diff = _check_inputs(inputs, who)
        with autograd.enable_grad():
            self.outputs = _outputs(fn(*inputs), who)
        self.float_out = [k for k, o in enumerate(self.outputs) if o.dtype.kind == "f"]
        for k in self.float_out:
            o = self.outputs[k]
            if o.dtype != backend.float64:
                raise TypeError(
                    f"{who}: output {k} (shape {o.shape}) has dtype {o.dtype} although the inputs are float64; "
                    "the function (or an op in it) lost precision"
                )
        if not self.float_out:
            raise ValueError(f"{who}: fn has no floating-point output to differentiate")
        self.in_sizes = [inputs[i].size for i in self.diff]
        self.out_sizes = [self.outputs[k].size for k in self.float_out]

    # ---- numerical side --------------------------------------------------------------------------
    def evaluate(self, steps):
        """fn at the inputs moved by `steps` (one flat host array per differentiable input, or None),
        as one flat float64 host array of all floating outputs. The caller's inputs are never touched.

        A tensor passed at several positions is one variable: all its aliases get the same moved copy,
        moved by the sum of their steps, as moving the tensor itself would. This matches the analytic
        side, where the gradient of each alias is the total gradient of the tensor."""
        args = list(self.inputs)
        moved = {}  # id(tensor) -> its moved copy, shared by all its aliases
        for i, step in zip(self.diff, steps):
            t = self.inputs[i]
            if id(t) not in moved:
                moved[id(t)] = Tensor._make(t.data.copy(), t.device, True, None)
            if step is not None:
                moved[id(t)].data += t.device.xp.asarray(step.reshape(t.shape))
            args[i] = moved[id(t)]
        with autograd.enable_grad():  # fn may itself differentiate (gradgradcheck)
            outs = _outputs(self.fn(*args), self.who)
        if len(outs) != len(self.outputs):
            raise ValueError(
                f"{self.who}: fn returned {len(outs)} outputs, then {len(self.outputs)}"
            )
        return np.concatenate([_host(outs[k]) for k in self.float_out])

    def numerical_jacobian(self, eps):
        """(n_out, n_in) central-difference Jacobian, columns in input order."""
        cols = []
        for n, size in enumerate(self.in_sizes):
            for j in range(size):
                e = np.zeros(size)
                e[j] = 1.0
                direction = [e if m == n else None for m in range(len(self.in_sizes))]
                cols.append(self._directional(direction, eps))
        return np.stack(cols, axis=1) if cols else np.zeros((sum(self.out_sizes), 0))

    def _directional(self, direction, eps):
        """Central-difference directional derivative J u (u given per input; None means zero)."""
        plus = self.evaluate([None if d is None else eps * d for d in direction])
        minus = self.evaluate([None if d is None else -eps * d for d in direction])
        return (plus - minus) / (2 * eps)

    # ---- analytic side ---------------------------------------------------------------------------
    def vjp(self, v):
        """VJP(v): one flat host array per differentiable input (v is one flat array over all outputs)."""
        outs, seeds = [], []
        start = 0
        for k, n in zip(self.float_out, self.out_sizes):
            o = self.outputs[k]
            if o.requires_grad:
                seed = o.device.xp.asarray(v[start : start + n].reshape(o.shape))
                outs.append(o)
                seeds.append(Tensor._make(seed, o.device, False, None))
            start += n
        xs = [self.inputs[i] for i in self.diff]
        if not outs:  # no output is connected to the inputs: the Jacobian is zero
            return [np.zeros(x.size) for x in xs]
        with autograd.enable_grad():
            grads = autograd.grad(
                outs, xs, grad_outputs=seeds, retain_graph=True, allow_unused=True
            )
        result = []
        for i, x, g in zip(self.diff, xs, grads):
            if g is None:
                result.append(np.zeros(x.size))
                continue
            if g.shape != x.shape:
                raise GradcheckError(
                    f"{self.who}: the gradient of input {i} has shape {g.shape}, expected {x.shape}"
                )
            result.append(_host(g))
        return result

    def analytic_jacobian(self):
        """(n_out, n_in) Jacobian from one VJP per output element."""
        n_out = sum(self.out_sizes)
        rows = []
        for r in range(n_out):
            v = np.zeros(n_out)
            v[r] = 1.0
            rows.append(np.concatenate(self.vjp(v)))
        return np.stack(rows) if rows else np.zeros((0, sum(self.in_sizes)))

    # ---- reporting -------------------------------------------------------------------------------
    def describe_in(self, c):
        """(input number, index within that input) of column c."""
        for i, n in zip(self.diff, self.in_sizes):
            if c < n:
                return i, np.unravel_index(c, self.inputs[i].shape)
            c -= n
        raise IndexError(c)

    def describe_out(self, r):
        for k, n in zip(self.float_out, self.out_sizes):
            if r < n:
                return k, np.unravel_index(r, self.outputs[k].shape)
            r -= n
        raise IndexError(r)


def _fmt_index(idx) -> str:
    return "(" + ", ".join(str(int(i)) for i in idx) + ("," if len(idx) == 1 else "") + ")"


def _jacobian_report(p: _Problem, analytic, numerical, bad, tol, atol, rtol, eps, limit=6) -> str:
    err = np.abs(analytic - numerical) - tol
    rows, cols = np.nonzero(bad)
    order = np.argsort(-err[rows, cols])[:limit]
    lines = [
        f"{p.who}: Jacobian mismatch in {len(rows)} of {bad.size} entries "
        f"(central differences with eps={eps:g}; allowed |analytic - numerical| <= {atol:g} + {rtol:g} * |numerical|)",
        f"  {'output[index]':<22} {'input[index]':<22} {'analytic':>14} {'numerical':>14} {'abs diff':>10}",
    ]
    for o in order:
        r, c = rows[o], cols[o]
        k, oi = p.describe_out(r)
        i, ii = p.describe_in(c)
        lines.append(
            f"  {f'output {k}{_fmt_index(oi)}':<22} {f'input {i}{_fmt_index(ii)}':<22} "
            f"{analytic[r, c]:>14.6e} {numerical[r, c]:>14.6e} {abs(analytic[r, c] - numerical[r, c]):>10.2e}"
        )
    if len(rows) > limit:
        lines.append(f"  ... and {len(rows) - limit} more")
    return "\n".join(lines)


def _fail(message: str, raise_exception: bool) -> bool:
    if raise_exception:
        raise GradcheckError(message)
    return False


def gradcheck(
    fn,
    inputs,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    nondet_tol: float = 0.0,
    *,
    fast_mode: bool | None = None,
    max_full: int = 200,
    n_directions: int = 3,
    seed: int = 0,
) -> bool:
    """Check the gradients of `fn` at `inputs` against central finite differences (float64).

    Parameters
    ----------
    fn : callable
        ``fn(*inputs)`` returning a Tensor or a tuple of Tensors. Only floating outputs are checked.
    inputs : Tensor or tuple
        The arguments of ``fn``. Those with ``requires_grad=True`` are differentiated and must be float64;
        anything else (integer tensors, numbers) is passed through unchanged.
    eps : float
        Finite-difference step.
    atol, rtol : float
        An entry passes when ``|analytic - numerical| <= atol + rtol * |numerical|``.
    raise_exception : bool
        Raise `GradcheckError` on a mismatch (default) or return False.
    nondet_tol : float
        Largest difference allowed between two backward passes with the same upstream gradient.
    fast_mode : bool or None
        True: always use the random-direction check; False: always the full Jacobian; None (default):
        the full Jacobian when inputs and outputs each have at most `max_full` elements.
    n_directions : int
        Number of random direction pairs (u, v) for the dot-product check.
    seed : int
        Seed of the random directions (the check is deterministic).

    The full check builds the (outputs x inputs) Jacobian twice: numerically, one column per input
    element by central differences, and analytically, one row per output element as a vector-Jacobian
    product. The dot-product check draws unit vectors u (over the inputs) and v (over the outputs) and
    compares ``<u, VJP(v)>`` with ``<v, J u>``, where ``J u`` is a central-difference directional derivative.

    Returns
    -------
    bool
        True when the gradients agree. On a mismatch raises `GradcheckError` listing the worst entries
        (output index, input index, analytic and numerical values), or returns False.
    """
    return _check(
        fn,
        _as_tuple(inputs),
        "gradcheck",
        eps,
        atol,
        rtol,
        raise_exception,
        nondet_tol,
        fast_mode,
        max_full,
        n_directions,
        seed,
    )


def _check(
    fn,
    inputs,
    who,
    eps,
    atol,
    rtol,
    raise_exception,
    nondet_tol,
    fast_mode,
    max_full,
    n_directions,
    seed,
):
    p = _Problem(fn, inputs, who)
    n_in, n_out = sum(p.in_sizes), sum(p.out_sizes)
    rng = np.random.default_rng(seed)

    # Reentrancy: two backward passes with the same seed must agree.
    v = rng.standard_normal(n_out)
    first, second = np.concatenate(p.vjp(v)), np.concatenate(p.vjp(v))
    worst = float(np.max(np.abs(first - second), initial=0.0))
    if worst > nondet_tol:
        return _fail(
            f"{who}: backward is not deterministic: two passes with the same grad_outputs differ by up to "
            f"{worst:.3e} (nondet_tol={nondet_tol:g})",
            raise_exception,
        )

    full = (n_in <= max_full and n_out <= max_full) if fast_mode is None else not fast_mode
    if full:
        numerical = p.numerical_jacobian(eps)
        analytic = p.analytic_jacobian()
        tol = atol + rtol * np.abs(numerical)
        bad = ~(np.abs(analytic - numerical) <= tol)  # NaN counts as a mismatch
        if bad.any():
            return _fail(
                _jacobian_report(p, analytic, numerical, bad, tol, atol, rtol, eps), raise_exception
            )
        return True

    for d in range(n_directions):
        u = rng.standard_normal(n_in)
        u /= np.linalg.norm(u) or 1.0
        v = rng.standard_normal(n_out)
        v /= np.linalg.norm(v) or 1.0
        u_parts = np.split(u, np.cumsum(p.in_sizes)[:-1])
        numerical = float(v @ p._directional(u_parts, eps))
        vjps = p.vjp(v)
        analytic = float(sum(a @ b for a, b in zip(u_parts, vjps)))
        if not abs(analytic - numerical) <= atol + rtol * abs(numerical):
            lines = [
                f"{who}: random-direction check {d} failed ({n_in} input and {n_out} output elements; "
                f"eps={eps:g}, atol={atol:g}, rtol={rtol:g}):",
                f"  <u, VJP(v)> = {analytic:.6e} (analytic)   <v, J u> = {numerical:.6e} (numerical)",
                "  per input (u restricted to that input):",
            ]
            for n, (i, ui, gi) in enumerate(zip(p.diff, u_parts, vjps)):
                only = [ui if m == n else None for m in range(len(p.diff))]
                num_i = float(v @ p._directional(only, eps))
                lines.append(
                    f"    input {i} (shape {p.inputs[i].shape}): analytic {float(ui @ gi):.6e}  numerical {num_i:.6e}"
                )
            return _fail("\n".join(lines), raise_exception)
    return True


def gradgradcheck(
    fn,
    inputs,
    grad_outputs=None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    nondet_tol: float = 0.0,
    *,
    fast_mode: bool | None = None,
    max_full: int = 200,
    n_directions: int = 3,
    seed: int = 0,
) -> bool:
    """Check second derivatives: gradcheck the map ``(inputs, v) -> VJP(v)`` built with ``create_graph=True``.

    Parameters
    ----------
    fn, inputs, eps, atol, rtol, raise_exception, nondet_tol, fast_mode, max_full, n_directions, seed
        As in `gradcheck`.
    grad_outputs : Tensor or tuple, optional
        The upstream gradients v, one per floating output of ``fn`` that requires grad. When None, random
        float64 tensors (seeded by `seed`) are used, and the check differentiates with respect to them too.

    A backward rule that reads a graph-disconnected copy of a tensor (say, the output of tanh taken as a
    constant) passes `gradcheck` but fails here, because its second derivative is missing a term.
    """
    inputs = _as_tuple(inputs)
    who = "gradgradcheck"
    diff = _check_inputs(inputs, who)
    with autograd.enable_grad():
        outputs = _outputs(fn(*inputs), who)
    connected = [k for k, o in enumerate(outputs) if o.dtype.kind == "f" and o.requires_grad]
    if not connected:
        raise ValueError(f"{who}: no floating output of fn depends on the inputs that require grad")
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        grad_outputs = tuple(
            Tensor._make(
                outputs[k].device.xp.asarray(rng.standard_normal(outputs[k].shape)),
                outputs[k].device,
                True,
                None,
            )
            for k in connected
        )
    grad_outputs = _as_tuple(grad_outputs)
    if len(grad_outputs) != len(connected):
        raise ValueError(
            f"{who}: got {len(grad_outputs)} grad_outputs for {len(connected)} differentiable outputs of fn"
        )
    n = len(inputs)

    def vjp_fn(*args):
        xs, vs = args[:n], args[n:]
        outs = _outputs(fn(*xs), who)
        wrt = [xs[i] for i in diff]
        grads = autograd.grad(
            [outs[k] for k in connected],
            wrt,
            grad_outputs=list(vs),
            create_graph=True,
            allow_unused=True,
        )
        return tuple(
            g
            if g is not None
            else Tensor._make(x.device.xp.zeros(x.shape, dtype=x.dtype), x.device, False, None)
            for g, x in zip(grads, wrt)
        )

    who = (
        f"gradgradcheck (checking the map (inputs, grad_outputs) -> VJP; inputs {n}.. are the grad_outputs, "
        f"its outputs are the gradients of inputs {tuple(diff)})"
    )
    return _check(
        vjp_fn,
        inputs + grad_outputs,
        who,
        eps,
        atol,
        rtol,
        raise_exception,
        nondet_tol,
        fast_mode,
        max_full,
        n_directions,
        seed,
    )
