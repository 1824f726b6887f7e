"""Debugging the graph: anomaly detection (which op made the first NaN/Inf) and graph statistics.

Both are reached as `mg.autograd.detect_anomaly()` and `mg.autograd.graph_stats(t)`.
"""

from __future__ import annotations

import os
import traceback

from . import autograd

# Frames from files inside this package are minigrad's own; everything else is the user's code.
# NOTE: match the package folder itself, not any path containing "/minigrad/": a checkout of the
# repository is usually a folder named minigrad too (CI: /home/runner/work/minigrad/minigrad/tests/...).
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _user_frames(stack) -> list:
    """The frames of `stack` (a traceback.StackSummary) that are not inside the minigrad package."""
    return [f for f in stack if not os.path.abspath(f.filename).startswith(_PACKAGE_DIR)]


class detect_anomaly:
    """Context manager: raise as soon as an op's forward or backward produces NaN or Inf.

    The error names the op, its input shapes and the line of your code that created the op (recorded
    at forward time, so a NaN found during backward still points at your source). Off by default; when
    off it costs one flag test per op.

    Example::

        with mg.autograd.detect_anomaly():
            loss = model(x).log().sum()
            loss.backward()
    """

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan

    def __enter__(self):
        self._prev = autograd._anomaly[0]
        autograd._anomaly[0] = self.check_nan
        return self

    def __exit__(self, *exc):
        autograd._anomaly[0] = self._prev


def _where(stack) -> str:
    if stack is None:  # nodes record their creation stack only in anomaly mode
        return "  (unknown: the op was created outside detect_anomaly(); run the forward pass inside it too)"
    if not stack:
        return "  (no frame outside the minigrad package)"
    return "".join(traceback.format_list(stack[-3:])).rstrip()


def check(cls_or_node, phase: str, out, inputs) -> None:
    """Raise if `out` (an array) holds NaN or Inf; called by the engine in anomaly mode."""
    if out.dtype.kind != "f":
        return
    has_nan = bool((out != out).any())
    if has_nan or bool((abs(out) == float("inf")).any()):
        bad = "NaN" if has_nan else "Inf"
        if phase == "forward" and autograd._mode.anomaly_node is not None:
            phase, cls_or_node = "backward", autograd._mode.anomaly_node
        if phase == "forward":
            name = cls_or_node.__name__
            shapes = ", ".join(str(tuple(t.shape)) for t in inputs)
            src = _where(_user_frames(traceback.extract_stack()))
            raise RuntimeError(
                f"detect_anomaly: {name}.forward produced {bad} (input shapes {shapes}; output shape "
                f"{tuple(out.shape)}). Created at:\n{src}\nCheck the inputs' ranges (log/sqrt of non-positive "
                "values, division by zero, overflow in exp); clip or add an epsilon."
            )
        node = cls_or_node
        raise RuntimeError(
            f"detect_anomaly: {node.name()}.backward produced {bad} in a gradient (output shape {node._shape}). "
            f"The op was created at:\n{_where(getattr(node, '_stack', None))}\n"
            "Gradients blow up on exploding activations or at singular points (sqrt(0), log(0)); "
            "clip gradients (mg.nn.utils.clip_grad_norm_), lower the learning rate, or add an epsilon."
        )


def graph_stats(t) -> dict:
    """Size of the graph behind tensor `t`: {'nodes', 'saved_bytes', 'depth'}.

    nodes: recorded ops reachable from t; saved_bytes: bytes of the arrays those ops hold for backward
    (saved inputs, outputs and constants); depth: the longest chain of ops from a leaf to t.
    """
    root = t.grad_fn
    if root is None:
        return {"nodes": 0, "saved_bytes": 0, "depth": 0}
    seen = {root}
    stack = [root]
    nodes = []
    arrays = {}
    while stack:
        node = stack.pop()
        nodes.append(node)
        if node._out is not None:
            arrays[id(node._out)] = node._out.nbytes
        for item in node._saved or ():
            if isinstance(item, autograd.Tensor):
                arrays[id(item.data)] = item.data.nbytes
        for p in node._parents:
            if isinstance(p, autograd.Function) and p not in seen:
                seen.add(p)
                stack.append(p)
    depth = {}
    for node in sorted(nodes, key=lambda n: n._seq):  # parents always come earlier on the tape
        d = 0
        for p in node._parents:
            if isinstance(p, autograd.Function):
                d = max(d, depth[p])
        depth[node] = d + 1
    return {"nodes": len(nodes), "saved_bytes": sum(arrays.values()), "depth": depth[root]}
