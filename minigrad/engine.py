"""The reverse-mode engine: `backward` and `grad` replay the tape that `Function.apply` recorded.

`backward` visits the nodes that receive a gradient in reverse sequence order (a heap of waiting nodes,
no recursion), calls each node's `backward` with the gradient of its output, and sums what comes back
into the parents' gradients with `+`. Without create_graph nothing records, so gradients travel as raw
arrays and the rules marked `array_backward` run on them directly (no Tensor, no op dispatch per
operation); with create_graph every gradient is a Tensor and every rule records. Without create_graph,
three more measured shortcuts keep long unrolled sequences fast (each marked NOTE below): gradient
buffers this pass allocated are updated in place, slice gradients are scattered into one buffer, and a
weight's matmul gradients over all time steps become a few large matmuls.
"""

from __future__ import annotations

import heapq

from .autograd import _anomaly, _check_anomaly, _freed_error, _mode
from .backend import cpu as _cpu
from .backend import device_of as _device_of
from .backend import is_array as _is_array
from .backend import is_scalar as _is_scalar
from .backend import out_concat as _out_concat
from .backend import zeros as _zeros
from .tensor import Tensor


def _as_tuple(x):
    if x is None:
        return ()
    return tuple(x) if isinstance(x, (list, tuple)) else (x,)


def _seed_grads(outputs, grad_outputs):
    seeds = []
    grad_outputs = _as_tuple(grad_outputs) or (None,) * len(outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"got {len(outputs)} outputs but {len(grad_outputs)} grad_outputs")
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if not isinstance(out, Tensor):
            raise TypeError(f"backward: outputs must be Tensors, got {type(out).__name__}")
        if not out.requires_grad:
            raise RuntimeError(
                f"element {i} of the outputs does not require grad and has no grad_fn: nothing to "
                "differentiate. Create the inputs with requires_grad=True and do not compute under no_grad()."
            )
        if g is None:
            if out.size != 1:
                raise RuntimeError(
                    f"backward: grad can be implicitly created only for scalar outputs, but the output has "
                    f"shape {out.shape}; reduce it first (e.g. .sum()) or pass grad= of shape {out.shape}"
                )
            g = Tensor._make(
                out.device.xp.ones(out.shape, dtype=out.dtype), out.device, False, None
            )
        elif not isinstance(g, Tensor):
            g = Tensor._make(out.device.xp.asarray(g, dtype=out.dtype), out.device, False, None)
        if g.shape != out.shape:
            raise RuntimeError(
                f"backward: grad has shape {g.shape} but the output has shape {out.shape}"
            )
        seeds.append((out, g))
    return seeds


def _run_backward(seeds, retain_graph, create_graph, capture=None):
    """Propagate gradients from (output, grad) seeds. With `capture` (a dict key -> None) gradients of those
    keys (leaf tensors by id, or nodes) are returned instead of accumulated into leaves' .grad.

    Without create_graph nothing records, so gradients travel as raw arrays (`fast`): a node whose class
    has `array_backward` runs its rule on them directly, any other node gets its gradient wrapped in a
    Tensor and its results unwrapped. With create_graph every gradient is a Tensor."""
    fast = not create_graph
    grads = {}  # node -> gradient of its output so far
    leaf_grads = {}  # id(leaf) -> [leaf, gradient]
    # ids of gradient arrays this pass allocated itself, safe to update in place -> None, or for a slice
    # gradient buffer that is still zero outside the slices written so far, their span (see _scatter)
    owned = {}
    for out, g in seeds:
        _accumulate(out.grad_fn or out, g.data if fast else g, grads, leaf_grads, owned, fast)
    # what a gradient is: an array of the seeds' device, or a Tensor
    gtype = seeds[0][0].device.array_type if fast and seeds else Tensor
    heap = [(-node._seq, node) for node in grads]  # the nodes that have some gradient and wait
    heapq.heapify(heap)

    # Replay the tape backwards, without recursion: always take the waiting node with the highest
    # sequence number. Every consumer of a node ran after it, so by then all its gradient has arrived.
    prev = _mode.enabled
    _mode.enabled = create_graph
    anomaly = _anomaly[0]
    plain = fast and capture is None and not anomaly  # most nodes need nothing but their backward
    # grad(): only the nodes between the outputs and the inputs run (the rest keep their saved tensors)
    needed = _nodes_leading_to(seeds, capture) if capture is not None else None
    push, pop = heapq.heappush, heapq.heappop
    try:
        # y's node, or id(y) for a leaf -> _Terms: the x^T @ g terms of a matmul's right operand y,
        # summed in a few large matmuls instead of one thin matmul each
        pending = {}
        # a node that just got its first gradient; it skips the heap when it is the latest
        nxt = None
        while True:
            if nxt is not None and (not heap or heap[0][0] > -nxt._seq):
                node = nxt  # NOTE: the common case in a chain of ops: no heap traffic at all
            else:
                if nxt is not None:
                    push(heap, (-nxt._seq, nxt))
                if not heap:
                    break
                node = pop(heap)[1]
            nxt = None
            g = grads.pop(node, None)
            if pending and node in pending:
                g = pending.pop(node).flush(g, node._dtype, owned)
            if g is None:
                continue
            mine = id(g) in owned
            if mine:
                del owned[id(g)]  # from here on g may be shared (Add.backward returns it twice)
            if node._special or not plain:  # the rare cases, all behind this one test
                if needed is not None and node not in needed:
                    if node in capture:  # a non-leaf input: its gradient is all grad() wants of it
                        _node_extras(node, g, capture, fast)
                    continue
                if node._freed:
                    raise _freed_error(node)
                if node._hooks is not None or node._retained is not None or capture is not None:
                    g = _node_extras(node, g, capture, fast)
                if anomaly:
                    _mode.anomaly_node = node  # lets a NaN raised inside backward name this node
                if fast and node._scatters:
                    # NOTE: x[t] in a loop over t would otherwise build one full-size zero gradient per
                    # slice (quadratic in sequence length); scatter every slice into one buffer instead.
                    p = _scatter(node, g, grads, leaf_grads, owned)
                    if p is not None and p not in pending:
                        nxt = p
                    if not retain_graph and not node.basic:
                        node._freed = True  # (only an integer-array index is saved, as in torch)
                    continue
                if (
                    fast
                    and node._defers_rhs
                    and node.needs_input_grad[1]
                    and _defer_rhs(node, g, pending, grads, heap)
                ):
                    # NOTE: W used at every time step gets sum_t h_t^T g_t as a few matmuls of the stacked
                    # terms (see _Terms), instead of T thin matmuls and T - 1 additions.
                    need = node.needs_input_grad
                    node.needs_input_grad = (need[0], False) + need[2:]
                    gins = _vjp(node, g, fast)
                    node.needs_input_grad = need
                else:
                    gins = _vjp(node, g, fast)
            elif node.array_backward:  # NOTE: the common case, inline
                node._arrays = True
                gins = type(node).backward(node, g)
                if mine and gins.__class__ is not tuple and gins is not None:
                    # NOTE: a view of a buffer this pass owned (reshape, transpose) is the only way
                    # to its memory now: owned too, so W_hh's gradient, reached through W_hh.T,
                    # becomes W_hh.grad without a copy (1 MB per LSTM step)
                    base = g if g.base is None else g.base
                    if gins is g or gins.base is base:
                        owned[id(gins)] = None
            else:
                gins = _vjp(node, g, fast)
            if gins.__class__ is not tuple:
                gins = (gins,)
            parents = node._parents
            if len(gins) != len(parents):
                raise RuntimeError(
                    f"{node.name()}.backward returned {len(gins)} gradients but the op has "
                    f"{len(parents)} inputs; return one per input (None where none flows)"
                )
            for p, gi in zip(parents, gins):
                if p is None or gi is None:
                    continue
                if p._is_node:
                    if (
                        gi.__class__ is not gtype
                        or gi.shape != p._shape
                        or gi.dtype is not p._dtype
                    ):
                        gi = _check_grad(node, gi, p._shape, p._dtype, fast)
                    old = grads.get(p)
                    if old is not None:
                        grads[p] = _add(old, gi, owned, fast)
                    else:
                        grads[p] = gi
                        if not (pending and p in pending):  # (else it waits for matmul terms)
                            if nxt is None:
                                nxt = p
                            else:
                                push(heap, (-p._seq, p))
                else:  # a leaf
                    data = p.data
                    if (
                        gi.__class__ is not gtype
                        or gi.shape != data.shape
                        or gi.dtype is not data.dtype
                    ):
                        gi = _check_grad(node, gi, data.shape, data.dtype, fast)
                    entry = leaf_grads.get(id(p))
                    if entry is None:
                        leaf_grads[id(p)] = [p, gi]
                    else:
                        entry[1] = _add(entry[1], gi, owned, fast)
                if anomaly:
                    _check_anomaly(node, "backward", gi if fast else gi.data, ())
            if not retain_graph and node._saved is not None:
                # a node that saved nothing (add, sum, reshape, ...) may run again, as in torch
                node._saved = node._raw = node._out = None
                node._freed = node._special = True
            else:
                node._arrays = False  # the graph stays: a later backward may want Tensors
        for key, terms in pending.items():  # what is left belongs to leaves
            entry = leaf_grads.get(key)
            leaf = terms.leaf
            total = terms.flush(entry[1] if entry is not None else None, leaf.dtype, owned)
            leaf_grads[key] = [leaf, total]
        for leaf, g in leaf_grads.values():
            if capture is not None and id(leaf) not in capture:
                continue  # grad() leaves other leaves alone (their hooks too)
            # NOTE: copy (unless this pass allocated it), so that two leaves never share one gradient
            # array: optimizers and clipping update .grad in place.
            copy = fast and id(g) not in owned
            if fast:
                g = Tensor._make(g, leaf.device, False, None)
            if leaf._hooks:
                for hook in leaf._hooks:
                    r = hook(g)
                    if r is not None:
                        g, copy = _checked_hook_result(hook, g, r), fast  # (it may be shared too)
            if capture is not None:
                capture[id(leaf)] = g
                continue
            old = leaf.grad
            if old is None:
                if copy:
                    g = Tensor._make(g.data.copy(), g.device, False, None)
                leaf.grad = g
                continue
            if not isinstance(old, Tensor) or old.shape != g.shape or old.dtype != g.dtype:
                raise _assigned_grad_error(leaf, old)
            if fast and not old.requires_grad and getattr(old.data.flags, "writeable", True):
                # like torch: accumulate into the existing .grad in place (a reference to it stays current)
                old.data += g.data
                old._version += 1
            else:
                leaf.grad = old + g
    finally:
        _mode.enabled = prev
        _mode.anomaly_node = None


def _vjp(node, g, fast):
    """node's backward; in fast mode g and the results are arrays (an `array_backward` rule takes them
    as they are; any other rule gets g as a Tensor and its Tensors are unwrapped)."""
    if not fast:
        node._arrays = False  # (a pass without create_graph may have set it, then kept the graph)
        return type(node).backward(node, g)
    if node.array_backward:
        node._arrays = True
        return type(node).backward(node, g)
    gins = type(node).backward(node, Tensor._make(g, _device_of(g), False, None))
    if gins.__class__ is not tuple:
        gins = (gins,)
    out = []
    for gi in gins:
        if gi is not None and not isinstance(gi, Tensor):
            raise _not_tensor_error(node, gi)
        out.append(None if gi is None else gi.data)
    return tuple(out)


def _add(old, g, owned, fast):
    """old + g; without create_graph the sum lands in an array this pass owns, reused in place.

    NOTE: a weight used at every time step would otherwise allocate a new gradient array per step."""
    if not fast:
        return old + g
    if id(old) in owned:
        old += g
        owned[id(old)] = None  # (no longer zero outside any slices)
        return old
    total = old + g
    if total.__class__ is not old.__class__:
        # numpy turns the sum of two 0-d arrays into a scalar
        total = _device_of(old).xp.asarray(total)
    owned[id(total)] = None
    return total


class _Terms:
    """The queued x^T @ g terms of one matmul right operand y (a weight used at every time step).

    NOTE: every _FOLD_ROWS rows of terms are folded into the running total with one matmul of the
    concatenated terms, so the queue never holds more than that: an LSTM's 64 (N, 4H) gate gradients
    are not all kept alive until W_hh is reached (8 MB less memory per step, and fewer fresh pages)."""

    __slots__ = ("transposed", "leaf", "xs", "gs", "rows", "total")

    def __init__(self, transposed, leaf):
        self.transposed = transposed  # y is a transposed view (W.T): see _fold
        self.leaf = leaf  # y's leaf tensor (None when y is a node)
        self.xs, self.gs, self.rows, self.total = [], [], 0, None

    def add(self, x, g):
        self.xs.append(x)
        self.gs.append(g)
        self.rows += g.shape[0]
        if self.rows >= _FOLD_ROWS:
            self._fold()

    def _fold(self):
        """total += x^T @ g over the queued terms, as one matmul.

        NOTE: for a transposed y (h @ W.T) the product is computed as (g^T x)^T, the same BLAS call
        with its operands swapped: W's gradient then comes out row-major like W, with no copy."""
        if len(self.gs) == 1:
            xs, gs = self.xs[0], self.gs[0]
        else:
            xp = _device_of(self.gs[0]).xp
            xs = xp.concatenate(self.xs, out=_out_concat(self.xs))
            gs = xp.concatenate(self.gs, out=_out_concat(self.gs))
        part = (gs.T @ xs).T if self.transposed else xs.T @ gs
        if self.total is None:
            self.total = part
        else:
            self.total += part
        self.xs, self.gs, self.rows = [], [], 0

    def flush(self, g, dtype, owned):
        """The sum of all terms plus g (or None), in an array this pass owns."""
        if self.gs:
            self._fold()
        total = self.total.astype(dtype, copy=False)
        if g is not None:
            if id(g) in owned:
                g += total
                owned[id(g)] = None
                return g
            total += g
        owned[id(total)] = None
        return total


_FOLD_ROWS = 512  # (measured: fewer rows per fold made BLAS slower, more kept more memory alive)


def _defer_rhs(node, g, pending, grads, heap) -> bool:
    """Queue x^T @ g for a 2-D matmul x @ y; False when the shapes need the general rule."""
    x, y = node.saved_tensors[:2]
    x = x.data
    if g.ndim != 2 or x.ndim != 2:
        return False
    p = node._parents[1]
    key = p if p._is_node else id(p)
    terms = pending.get(key)
    if terms is None:
        yd = y.data
        transposed = not yd.flags.c_contiguous and yd.flags.f_contiguous
        pending[key] = terms = _Terms(transposed, None if p._is_node else p)
        if p._is_node and p not in grads:
            # it now waits for its turn, like any node with a gradient
            heapq.heappush(heap, (-p._seq, p))
    terms.add(x, g)
    return True


# smaller slices are not tracked (see _scatter): that costs more than writing instead of adding saves
_SPAN_MIN = 4096


def _scatter(node, g, grads, leaf_grads, owned):
    """Add the gradient of a slice x[index] into x's gradient buffer (allocated once, then reused).
    Returns x's node when this gave it its first gradient (it then waits for its turn), else None.

    NOTE: while the buffer is zero outside the slices written so far (their span along one axis is
    kept in `owned`), a slice outside that span is written instead of added: x[t] in a loop over t, or
    an LSTM's four gate slices, each cost one write instead of a read and a write."""
    p = node._parents[0]
    first = None
    leaf = not p._is_node
    if leaf:
        entry = leaf_grads.get(id(p))
        old = entry[1] if entry is not None else None
        shape, dtype, xp = p.data.shape, p.data.dtype, p.device.xp
    else:
        old = grads.get(p)
        shape, dtype, xp = p._shape, p._dtype, node.xp
    if old is None or id(old) not in owned:
        buf = _zeros(xp, shape, dtype)
        if old is not None:
            buf += old
            owned[id(buf)] = None
        else:
            owned[id(buf)] = ()  # all zeros, nothing written yet
        if leaf:
            leaf_grads[id(p)] = [p, buf]
        else:
            grads[p] = buf
            if old is None:
                first = p
        old = buf
    written = owned[id(old)]
    span = node._span() if written is not None and g.size >= _SPAN_MIN else None
    if span is None:
        fresh = written == ()  # the first slice into a zero buffer is written all the same
        owned[id(old)] = None
    elif not written:
        fresh = True
        owned[id(old)] = span
    elif span[0] == written[0]:
        fresh = span[2] <= written[1] or span[1] >= written[2]
        owned[id(old)] = (span[0], min(span[1], written[1]), max(span[2], written[2]))
    else:
        fresh = False
        owned[id(old)] = None
    node._scatter_into(old, g.astype(dtype, copy=False), fresh)
    return first


def _nodes_leading_to(seeds, capture) -> set:
    """The nodes below the seeds' outputs whose backward grad() must run: those with a path down to an
    input (a key of capture: a node, or id() of a leaf). Found by an iterative post-order walk."""
    needed, seen = set(), set()
    stack = [(out.grad_fn, False) for out, _ in seeds if out.grad_fn is not None]
    while stack:
        node, done = stack.pop()
        if done:
            for p in node._parents:
                if p is not None and ((p in needed or p in capture) if p._is_node else id(p) in capture):
                    needed.add(node)
                    break
        elif node not in seen:
            seen.add(node)
            stack.append((node, True))
            stack.extend((p, False) for p in node._parents if p is not None and p._is_node)
    return needed


def _node_extras(node, g, capture, fast):
    """Tensor hooks on a non-leaf, retain_grad, and gradients captured for mg.grad() (all see Tensors)."""
    if fast:
        g = Tensor._make(g, _device_of(g), False, None)
    if node._hooks:
        for hook in node._hooks:
            r = hook(g)
            if r is not None:
                g = _checked_hook_result(hook, g, r)
    if node._retained is not None:
        t = node._retained()
        if t is not None:
            t.grad = g if t.grad is None else t.grad + g
    if capture is not None and node in capture:
        capture[node] = g
    return g.data if fast else g


def _checked_hook_result(hook, g, r):
    """What a hook returned, if it may replace g: a Tensor of g's shape, dtype and device (as torch checks)."""
    name = getattr(hook, "__name__", type(hook).__name__)
    if not isinstance(r, Tensor):
        raise TypeError(f"hook '{name}' must return a Tensor or None, got {type(r).__name__}")
    for what, want, got in (
        ("shape", g.shape, r.shape),
        ("dtype", g.dtype, r.dtype),
        ("device", g.device, r.device),
    ):
        if got != want:
            raise RuntimeError(
                f"hook '{name}' has changed the {what} of the gradient: expected {want}, got {got}; "
                "a hook may replace the gradient only with one of the same shape, dtype and device"
            )
    return r


def _assigned_grad_error(leaf, old) -> RuntimeError:
    got = f"shape {old.shape}, dtype {old.dtype}" if isinstance(old, Tensor) else type(old).__name__
    return RuntimeError(
        f"backward: the .grad assigned to a tensor of shape {leaf.shape}, dtype {leaf.dtype} has {got}, "
        "so the new gradient cannot be accumulated into it; assign a gradient of the tensor's shape and "
        "dtype (or None)"
    )


def _not_tensor_error(node, gi) -> TypeError:
    return TypeError(
        f"{node.name()}.backward must return Tensors (or None), got {type(gi).__name__}"
    )


def _check_grad(node, gi, shape, dtype, fast):
    if fast and not _is_array(gi):
        if _is_scalar(gi) and hasattr(gi, "dtype"):  # numpy makes 0-d results scalars
            gi = _cpu.xp.asarray(gi)
        else:
            raise TypeError(
                f"{node.name()}.backward must return arrays (or None) in an array_backward rule, "
                f"got {type(gi).__name__}"
            )
    elif not fast and not isinstance(gi, Tensor):
        raise _not_tensor_error(node, gi)
    if gi.shape != shape:
        raise RuntimeError(
            f"{node.name()}.backward returned a gradient of shape {gi.shape} for an input of shape {shape}"
        )
    # callers test `dtype is not` first (fast, and may flag two equal dtypes): `!=` decides here
    return gi.astype(dtype) if gi.dtype != dtype else gi


def _accumulate(p, g, grads, leaf_grads, owned, fast):
    if p._is_node:
        old = grads.get(p)
        grads[p] = g if old is None else _add(old, g, owned, fast)
    else:
        entry = leaf_grads.get(id(p))
        if entry is None:
            leaf_grads[id(p)] = [p, g]
        else:
            entry[1] = _add(entry[1], g, owned, fast)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False) -> None:
    """Accumulate d(tensors)/d(leaf) into every reachable leaf's `.grad` (see Tensor.backward)."""
    outputs = _as_tuple(tensors)
    if retain_graph is None:
        retain_graph = create_graph
    _run_backward(_seed_grads(outputs, grad_tensors), retain_graph, create_graph)


def grad(
    outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False
):
    """Return the gradients of `outputs` with respect to `inputs` as a tuple, without touching `.grad`.

    With create_graph=True the returned gradients are themselves differentiable (higher-order gradients).
    """
    outputs = _as_tuple(outputs)
    inputs = _as_tuple(inputs)
    if not inputs:
        raise RuntimeError("grad: the inputs argument cannot be empty; pass the tensors to differentiate by")
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(
                f"grad: input {i} does not require grad; create it with requires_grad=True"
            )
    if retain_graph is None:
        retain_graph = create_graph
    keys = [t.grad_fn if t.grad_fn is not None else id(t) for t in inputs]
    capture = dict.fromkeys(keys)
    _run_backward(_seed_grads(outputs, grad_outputs), retain_graph, create_graph, capture)
    result = []
    for i, (t, key) in enumerate(zip(inputs, keys)):
        g = capture[key]
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad: input {i} (shape {t.shape}) was not used to compute the outputs; "
                "pass allow_unused=True to get None for it"
            )
        if g is not None and not create_graph:
            g = Tensor._make(g.data, g.device, False, None)
        result.append(g)
    return tuple(result)
