"""Per-op overhead: a chain of 2,000 elementwise multiplies on a (16,) tensor, forward + backward.

The arrays are tiny, so the time is almost all framework overhead (op dispatch, graph recording, the
backward traversal). Two variants:
  (a) y = y * c   with c a constant (16,) tensor that does not require grad
  (b) y = y * w   with w a leaf that requires grad (w.grad accumulates 2,000 terms)
Candidates: minigrad, PyTorch (if installed), raw NumPy (the forward chain plus a hand-written
backward chain: the floor any Python-level framework is measured against), and tiny-tape: the least a
Python tape with Tensor-valued VJPs can do (one wrapper object and one node per op, then a walk back
along the chain: no topological sort since it knows the graph is a chain, no checks, hooks, version
counters, broadcasting or dtype rules). tiny-tape is not a framework; it shows
how much of the target is left for everything a framework adds. pytorch-fwd-only records the chain
without running its backward: the share of PyTorch's own time that recording takes.

    python bench/op_overhead.py [--quick] [--ops 2000]

Issue target: minigrad <= 0.4x PyTorch's time per op.
"""

from __future__ import annotations

import numpy as np
from _common import (
    add_threads_flag,
    base_parser,
    check_target,
    environment_line,
    import_torch,
    measure,
    print_table,
    set_threads,
)

SIZE = 16
# Factors this close to 1 keep a 2,000-long product finite (no overflow to inf, no denormals).


def numpy_chain(n_ops: int, leaf_w: bool):
    """Forward chain y_k = y_{k-1} * w, then the hand-written backward, as a benchmark closure."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0.9995, 1.0005, SIZE).astype(np.float32)
    w = rng.uniform(0.9995, 1.0005, SIZE).astype(np.float32)

    def step():
        ys = [x]  # each intermediate is kept for the backward, as a framework would
        y = x
        for _ in range(n_ops):
            y = y * w
            ys.append(y)
        loss = y.sum()
        g = np.ones_like(y)  # d loss / d y_n
        gw = np.zeros_like(w) if leaf_w else None
        for k in range(n_ops, 0, -1):
            if leaf_w:
                gw += g * ys[k - 1]
            g = g * w
        return loss, g, gw

    return step


class _TinyTensor:
    """tiny-tape's tensor: an array, whether it needs a gradient, the node that made it."""

    __slots__ = ("data", "needs_grad", "node", "grad")

    def __init__(self, data, needs_grad=False, node=None):
        self.data, self.needs_grad, self.node, self.grad = data, needs_grad, node, None

    def __mul__(self, other):
        out = _TinyTensor(self.data * other.data)
        if self.needs_grad or other.needs_grad:
            out.needs_grad, out.node = True, (self, other)  # the node: just the two inputs
        return out


def _tiny_backward(y):
    """Reverse walk of a chain of multiplies; each VJP makes a new (wrapped) tensor, as in a real tape."""
    g = _TinyTensor(np.ones_like(y.data))
    node = y.node
    while node is not None:
        a, b = node
        if b.needs_grad:
            gb = _TinyTensor(g.data * a.data)
            b.grad = gb if b.grad is None else _TinyTensor(b.grad.data + gb.data)
        g = _TinyTensor(g.data * b.data)
        if a.node is None:
            a.grad = g
        node = a.node


def tiny_tape_chain(n_ops: int, leaf_w: bool):
    rng = np.random.default_rng(0)
    x = _TinyTensor(rng.uniform(0.9995, 1.0005, SIZE).astype(np.float32), True)
    w = _TinyTensor(rng.uniform(0.9995, 1.0005, SIZE).astype(np.float32), leaf_w)

    def step():
        x.grad = w.grad = None
        y = x
        for _ in range(n_ops):
            y = y * w
        _tiny_backward(y)  # seeded with ones, the gradient of y.sum()
        return x.grad.data

    return step


def framework_chain(lib, n_ops: int, leaf_w: bool):
    """The chain in minigrad or PyTorch (`lib` is the module: both spell it the same way)."""
    rng = np.random.default_rng(0)
    x = lib.tensor(rng.uniform(0.9995, 1.0005, SIZE).astype(np.float32), requires_grad=True)
    w = lib.tensor(rng.uniform(0.9995, 1.0005, SIZE).astype(np.float32), requires_grad=leaf_w)

    def step():
        x.grad = None
        w.grad = None
        y = x
        for _ in range(n_ops):
            y = y * w
        y.sum().backward()
        return x.grad

    return step


def framework_forward_only(lib, n_ops: int, leaf_w: bool):
    """The same chain without its backward: what recording alone costs (for information)."""
    rng = np.random.default_rng(0)
    x = lib.tensor(rng.uniform(0.9995, 1.0005, SIZE).astype(np.float32), requires_grad=True)
    w = lib.tensor(rng.uniform(0.9995, 1.0005, SIZE).astype(np.float32), requires_grad=leaf_w)

    def step():
        y = x
        for _ in range(n_ops):
            y = y * w
        return y

    return step


def check_same_gradients(candidates_by_name: dict, leaf_w: bool) -> None:
    """All candidates compute d(sum of the chain)/dx for the same data: compare before timing."""
    results = {name: fn() for name, fn in candidates_by_name.items()}
    ref = results["numpy"][1]
    for name, out in results.items():
        if name == "numpy":
            continue
        got = np.asarray(out.detach().numpy() if hasattr(out, "detach") else out)
        if not np.allclose(got, ref, rtol=1e-4, atol=1e-6):
            raise AssertionError(
                f"{name}: dx differs from the NumPy chain's (max |diff| {np.abs(got - ref).max()})"
            )


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=2000, help="length of the multiply chain")
    add_threads_flag(parser)
    args = parser.parse_args()
    repeats = args.repeats or (5 if args.quick else 25)

    import minigrad as mg

    torch = import_torch()
    set_threads(args.threads, torch)
    print(environment_line())
    print(
        f"chain of {args.ops} multiplies on a ({SIZE},) float32 tensor, forward + backward; time per op"
    )

    summary = {}
    for leaf_w, label in (
        (False, "(a) y = y * c, c constant"),
        (True, "(b) y = y * w, w leaf requires grad"),
    ):
        cands = {"minigrad": framework_chain(mg, args.ops, leaf_w)}
        if torch is not None:
            cands["pytorch"] = framework_chain(torch, args.ops, leaf_w)
        cands["numpy"] = numpy_chain(args.ops, leaf_w)
        cands["tiny-tape"] = tiny_tape_chain(args.ops, leaf_w)
        check_same_gradients(cands, leaf_w)
        if torch is not None:
            cands["pytorch-fwd-only"] = framework_forward_only(torch, args.ops, leaf_w)
        times = measure(cands, repeats=repeats, warmup=2)
        summary[label] = print_table(
            label, times, ["pytorch", "numpy"], unit="us", stat=args.stat, per=args.ops
        )

    print("\nTargets (issue 2):")
    for label, t in summary.items():
        if "pytorch" in t:
            check_target(f"{label[:3]} minigrad / pytorch", t["minigrad"] / t["pytorch"], 0.4)
        print(
            f"  {label[:3] + ' minigrad / numpy':<42} {t['minigrad'] / t['numpy']:6.2f}x   (information)"
        )
        if "pytorch" in t:
            floor = t["tiny-tape"] / t["pytorch"]
            print(f"  {label[:3] + ' tiny-tape / pytorch':<42} {floor:6.2f}x   (information)")
            fwd = t["pytorch-fwd-only"] / t["pytorch"]
            print(
                f"  {label[:3] + ' pytorch forward alone / pytorch':<42} {fwd:6.2f}x   (information)"
            )


if __name__ == "__main__":
    main()
