"""The tape and the reverse-mode engine: `Function` (base class of every op), grad mode, `backward`, `grad`.

Every op applied to a tensor that requires grad creates one `Function` instance: it is both the `ctx` that
`forward`/`backward` receive and the graph node (`tensor.grad_fn`), stamped with a sequence number.
`backward` visits the reachable nodes in reverse sequence order (no recursion) and sums gradients with `+`.
"""

from __future__ import annotations

import functools
import itertools
import operator
import threading
import weakref


class _GradMode(threading.local):
    enabled = True  # per thread: no_grad in one thread leaves the others recording
    anomaly_node = None  # the node whose backward is running in this thread, for anomaly messages


_mode = _GradMode()
_anomaly = [False]  # switched on by detect_anomaly(); a list so anomaly.py can flip it in place
_counter = itertools.count()
_OUTPUT = object()  # marks "the op's own output" among the saved items


def is_grad_enabled() -> bool:
    return _mode.enabled


class set_grad_enabled:
    """Context manager and decorator that turns recording on (True) or off (False) in this thread."""

    def __init__(self, mode: bool = True):
        self.mode = bool(mode)
        self.prev = _mode.enabled
        _mode.enabled = self.mode  # like torch: calling it as a function takes effect at once

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _mode.enabled = self.prev

    def __call__(self, fn):
        _mode.enabled = self.prev  # used as a decorator: undo the eager switch from __init__

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(self.mode):
                return fn(*args, **kwargs)

        return wrapper


class no_grad:
    """Context manager and decorator: ops run but record nothing (use it for inference and optimizer steps)."""

    _mode_value = False

    def __enter__(self):
        self._prev = _mode.enabled
        _mode.enabled = self._mode_value

    def __exit__(self, *exc):
        _mode.enabled = self._prev

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)

        return wrapper


class enable_grad(no_grad):
    """Context manager and decorator that turns recording back on inside `no_grad`."""

    _mode_value = True


class Function:
    """Base class of every differentiable operation, built-in or your own.

    Subclass it with two static methods, shaped like `torch.autograd.Function`:

    - ``forward(ctx, *arrays, **hyperparameters)`` receives raw arrays (numpy or cupy), computes with
      ``ctx.xp`` and returns one array. Call ``ctx.save_for_backward(...)`` with the arrays backward needs.
    - ``backward(ctx, g)`` receives the upstream gradient as a Tensor and returns one gradient Tensor per
      input (``None`` where none flows), each shaped like its input. Write it with minigrad ops: then it is
      itself differentiable, and ``create_graph=True`` gives correct higher derivatives.
      ``ctx.saved_tensors`` returns what forward saved as graph-connected Tensors (inputs stay inputs,
      the output comes back wired to this node), and ``ctx.needs_input_grad`` tells which inputs need one.

    Example::

        class Cube(mg.Function):
            "y = x**3;  vjp: gx = g * 3 * x**2"
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * x * x
            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return g * 3 * x * x

        y = Cube.apply(mg.tensor([1.0, 2.0], requires_grad=True))

    Call ``Cube.apply(*tensors, **hyperparameters)``, never ``forward`` directly.
    """

    needs_input_grad: tuple = ()
    _saved = None  # what forward saved: a tuple of input Tensors, or general entries (_resolve_saved)
    _versions = None  # None: every saved tensor is an input that was at version 0 when saved
    _freed = False
    _special = False  # True sends the node down the engine's slow path (hooks, freed, scatter, ...)
    _is_node = True  # graph parents are nodes (Functions) or leaves (Tensors, where this is False)
    _hooks = None
    _retained = None
    _out = None
    _scatters = False  # True for getitem: the engine then calls _scatter_into instead of backward
    _defers_rhs = False  # True for matmul: the engine may batch its right operand's gradient terms
    _makes_views = False  # True for ops whose output may share the first input's memory (reshape, ...)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls._scatters or cls._defers_rhs:
            cls._special = True

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError(
            "a Function subclass must define @staticmethod forward(ctx, *arrays)"
        )

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError("a Function subclass must define @staticmethod backward(ctx, g)")

    @classmethod
    def apply(cls, *inputs, **kwargs):
        """Run forward on the inputs' arrays; record a node when grad mode is on and an input requires grad."""
        ctx = object.__new__(cls)
        x = inputs[0]
        dev = x.device
        ctx.xp = dev.xp
        # NOTE: the two- and one-input cases are spelled out: this is the hottest code in minigrad.
        n = len(inputs)
        if n == 2:
            y = inputs[1]
            if y.device is not dev:
                _raise_device_mismatch(cls, inputs)
            if kwargs:
                out = cls.forward(ctx, x.data, y.data, **kwargs)
            else:
                out = cls.forward(ctx, x.data, y.data)
            record = (x.requires_grad or y.requires_grad) and _mode.enabled
        elif n == 1:
            if kwargs:
                out = cls.forward(ctx, x.data, **kwargs)
            else:
                out = cls.forward(ctx, x.data)
            record = x.requires_grad and _mode.enabled
        else:
            record = False
            for t in inputs:
                if t.device is not dev:
                    _raise_device_mismatch(cls, inputs)
                record = record or t.requires_grad
            out = cls.forward(ctx, *[t.data for t in inputs], **kwargs)
            record = record and _mode.enabled
        raw = out
        if out.__class__ is not dev.array_type and not _is_array(out):
            # numpy turns 0-d results into scalars: keep arrays everywhere (ToDevice returns another
            # device's array, which is kept as it is)
            out = dev.xp.asarray(out)
        if _anomaly[0]:
            _check_anomaly(cls, "forward", out, inputs)
        if not record:  # the cheap path: one array call and a Tensor wrapper
            result = Tensor._make(out, dev, False, None)
            if cls._makes_views:
                _share_if_view(result, x)
            return result
        ctx._seq = next(_counter)
        ctx._shape = out.shape  # the engine checks gradients against these
        ctx._dtype = out.dtype
        # a parent is the node that made an input, or the input itself when it is a leaf
        if n == 2:
            rx, ry = x.requires_grad, y.requires_grad
            ctx.needs_input_grad = (rx, ry)
            ctx._parents = ((x.grad_fn or x) if rx else None, (y.grad_fn or y) if ry else None)
        else:
            ctx.needs_input_grad = tuple([t.requires_grad for t in inputs])
            ctx._parents = tuple([(t.grad_fn or t) if t.requires_grad else None for t in inputs])
        result = Tensor._make(out, dev, True, ctx)
        if cls._makes_views:
            _share_if_view(result, x)
        saved = ctx._saved
        if saved is not None:
            # NOTE: the two common cases are spelled out; _resolve_saved handles everything
            if n == 2 and len(saved) == 2 and saved[0] is x.data and saved[1] is y.data:
                ctx._saved = inputs  # both inputs (mul, matmul, ...)
                if x._vbox is not None or y._vbox is not None:
                    ctx._versions = (x._version, y._version)
            elif n == 1 and len(saved) == 1 and saved[0] is raw:
                ctx._saved = (_OUTPUT,)  # only the output (tanh, sigmoid, exp)
                ctx._versions = (result._version,)
                ctx._out = out
                ctx._dev = dev
                ctx._out_ref = weakref.ref(result)  # to notice in-place edits of the output
            else:
                ctx._resolve_saved(inputs, raw, result)
        if _anomaly[0]:
            ctx._stack = _user_stack()
        return result

    # ---- used inside forward / backward -------------------------------------------------------
    def save_for_backward(self, *arrays) -> None:
        """Keep arrays (inputs, the output or other arrays) for backward; read them with saved_tensors."""
        self._saved = arrays

    def _resolve_saved(self, inputs, out, result) -> None:
        """Turn the saved arrays into graph-connected tensors, each with the version it had now."""
        saved, versions = [], []
        for s in self._saved:
            for t in inputs:
                if s is t.data:
                    saved.append(t)  # an input: the graph-connected tensor itself
                    versions.append(t._version)
                    break
            else:
                if s is out:
                    # the output is rebuilt on demand (no node -> output cycle)
                    saved.append(_OUTPUT)
                    versions.append(result._version)
                    self._out = result.data
                    self._dev = result.device
                    self._out_ref = weakref.ref(result)  # to notice in-place edits of the output
                elif s is None:
                    saved.append(None)
                    versions.append(0)
                else:
                    if s.__class__ is not result.data.__class__:
                        # a 0-d intermediate that numpy made a scalar
                        s = result.device.xp.asarray(s)
                    saved.append(Tensor._make(s, result.device, False, None))
                    versions.append(0)
        self._saved = tuple(saved)
        self._versions = tuple(versions)

    @property
    def saved_tensors(self) -> tuple:
        saved = self._saved
        if self._versions is None and saved is not None:
            # the fast case: only inputs, all at version 0 when saved
            for t in saved:
                if t._vbox is not None and t._vbox[0] != 0:
                    raise _modified_error(self, t, 0)
            return saved
        if self._freed:
            raise _freed_error(self)
        if saved is None:
            return ()
        out = []
        for t, version in zip(saved, self._versions):
            if t is _OUTPUT:
                out.append(self._output_tensor(version))
            elif t is not None and t._version != version:
                raise _modified_error(self, t, version)
            else:
                out.append(t)
        return tuple(out)

    def _output_tensor(self, version):
        ref = self._out_ref()
        if ref is not None and ref._version != version:
            raise RuntimeError(
                f"{self.name()}: its output (shape {ref.shape}) was modified in place after the op "
                "ran, and backward needs it; use an out-of-place op or clone() the output first."
            )
        return Tensor._make(self._out, self._dev, True, self)

    def name(self) -> str:
        return type(self).__name__

    def register_hook(self, fn) -> None:
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(fn)
        self._special = True

    def __repr__(self) -> str:
        return f"<{self.name()}>"


def _freed_error(node) -> RuntimeError:
    return RuntimeError(
        f"Trying to backward through the graph a second time: {node.name()} has already freed its "
        "saved tensors. Pass retain_graph=True to the first backward() if you need to backward "
        "twice, or detach() tensors (e.g. a carried hidden state) that should not join the graph."
    )


def _modified_error(node, t, version) -> RuntimeError:
    return RuntimeError(
        f"{node.name()}: one of the tensors saved for backward (shape {t.shape}) was modified "
        f"in place after it was used (version {version} -> {t._version}); gradients would be "
        "wrong. Use an out-of-place op (x = x + y instead of x += y) or clone() first."
    )


def _share_if_view(result, x) -> None:
    """Give a view the version counter of the tensor whose memory it shares."""
    base = result.data.base
    if base is not None and (base is x.data or base is x.data.base):
        result._share_version(x)


def _raise_device_mismatch(cls, inputs):
    devs = ", ".join(f"{tuple(t.shape)} on {t.device}" for t in inputs)
    raise RuntimeError(
        f"{cls.__name__}: expected all tensors on the same device, got {devs}; "
        "move them with .to(device) first"
    )


# ---- anomaly detection hooks (see anomaly.py); kept here so apply/backward stay one code path --------
def _user_stack():
    import traceback

    from .anomaly import _user_frames

    return _user_frames(traceback.extract_stack()[:-3])


def _check_anomaly(cls_or_node, phase, out, inputs):
    from .anomaly import check

    check(cls_or_node, phase, out, inputs)


# ---- the engine -------------------------------------------------------------------------------------
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
    keys (leaf tensors by id, or nodes) are returned instead of accumulated into leaves' .grad."""
    grads = {}  # node -> gradient of its output so far
    leaf_grads = {}  # id(leaf) -> [leaf, gradient]
    roots = []
    for out, g in seeds:
        _accumulate(out.grad_fn or out, g, grads, leaf_grads)
        if out.grad_fn is not None:
            roots.append(out.grad_fn)

    # Collect the reachable nodes with an explicit stack (no recursion), then replay the tape backwards.
    seen = set(roots)
    stack = list(roots)
    nodes = []
    while stack:
        node = stack.pop()
        nodes.append(node)
        for p in node._parents:
            if p is not None and p._is_node and p not in seen:
                seen.add(p)
                stack.append(p)
    nodes.sort(key=_seq_key, reverse=True)

    prev = _mode.enabled
    _mode.enabled = create_graph
    anomaly = _anomaly[0]
    fast = not create_graph  # gradient buffers may be updated in place (nothing records them)
    plain = fast and capture is None and not anomaly  # most nodes need nothing but their backward
    try:
        owned = set()  # ids of gradient buffers this pass allocated itself: safe to update in place
        pending = {}  # key -> [(x, g), ...]: x^T @ g terms of a matmul's right operand, summed at once
        for node in nodes:
            g = grads.pop(node, None)
            if pending and node in pending:
                g = _flush_pending(pending.pop(node), g, node._dtype, owned)
            if g is None:
                continue
            owned.discard(id(g))  # from here on g may be shared (Add.backward returns it twice)
            if node._special or not plain:  # the rare cases, all behind this one test
                if node._freed:
                    raise _freed_error(node)
                if node._hooks is not None or node._retained is not None or capture is not None:
                    g = _node_extras(node, g, capture)
                if anomaly:
                    _mode.anomaly_node = node  # lets a NaN raised inside backward name this node
                if fast and node._scatters:
                    # NOTE: x[t] in a loop over t would otherwise build one full-size zero gradient per
                    # slice (quadratic in sequence length); scatter every slice into one buffer instead.
                    _scatter(node, g, grads, leaf_grads, owned)
                    if not retain_graph:
                        node._freed = True
                    continue
                if (
                    fast
                    and node._defers_rhs
                    and node.needs_input_grad[1]
                    and _defer_rhs(node, g, pending)
                ):
                    # NOTE: W used at every time step gets sum_t h_t^T g_t as ONE matmul of the stacked
                    # terms when W's node is reached, instead of T thin matmuls and T - 1 additions.
                    need = node.needs_input_grad
                    node.needs_input_grad = (need[0], False)
                    gins = type(node).backward(node, g)
                    node.needs_input_grad = need
                else:
                    gins = type(node).backward(node, g)
            else:
                gins = type(node).backward(node, g)
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
                        gi.__class__ is not Tensor
                        or gi.data.shape != p._shape
                        or gi.data.dtype is not p._dtype
                    ):
                        gi = _check_grad(node, gi, p._shape, p._dtype)
                    old = grads.get(p)
                    grads[p] = gi if old is None else _add(old, gi, owned, fast)
                else:  # a leaf
                    data = p.data
                    if (
                        gi.__class__ is not Tensor
                        or gi.data.shape != data.shape
                        or gi.data.dtype is not data.dtype
                    ):
                        gi = _check_grad(node, gi, data.shape, data.dtype)
                    entry = leaf_grads.get(id(p))
                    if entry is None:
                        leaf_grads[id(p)] = [p, gi]
                    else:
                        entry[1] = _add(entry[1], gi, owned, fast)
                if anomaly:
                    _check_anomaly(node, "backward", gi.data, ())
            if not retain_graph:
                node._saved = None
                node._out = None
                node._freed = node._special = True
        for key, terms in pending.items():  # what is left belongs to leaves
            entry = leaf_grads.get(key)
            leaf = entry[0] if entry is not None else terms[0][2]
            total = _flush_pending(
                terms, entry[1] if entry is not None else None, leaf.dtype, owned
            )
            leaf_grads[key] = [leaf, total]
        for leaf, g in leaf_grads.values():
            if leaf._hooks:
                for hook in leaf._hooks:
                    r = hook(g)
                    if r is not None:
                        g = r
            if capture is not None:
                if id(leaf) in capture:
                    capture[id(leaf)] = g
                continue
            if leaf.grad is None:
                # NOTE: copy (unless this pass allocated it), so that two leaves never share one
                # gradient array: optimizers and clipping update .grad in place.
                if not (create_graph or id(g) in owned):
                    g = Tensor._make(g.data.copy(), g.device, False, None)
                leaf.grad = g
            else:
                leaf.grad = leaf.grad + g
    finally:
        _mode.enabled = prev
        _mode.anomaly_node = None


def _add(old, g, owned, fast):
    """old + g; without create_graph the sum lands in a buffer this pass owns, reused in place."""
    if not fast:
        return old + g
    if id(old) in owned:
        old.data += g.data
        return old
    total = old.data + g.data
    if total.__class__ is not old.data.__class__:
        total = old.device.xp.asarray(total)  # numpy turns the sum of two 0-d arrays into a scalar
    out = Tensor._make(total, old.device, False, None)
    owned.add(id(out))
    return out


def _defer_rhs(node, g, pending) -> bool:
    """Queue x^T @ g for a 2-D matmul x @ y; False when the shapes need the general rule."""
    x = node.saved_tensors[0]
    if g.data.ndim != 2 or x.data.ndim != 2:
        return False
    p = node._parents[1]
    key = p if p._is_node else id(p)
    terms = pending.get(key)
    if terms is None:
        pending[key] = terms = []
    terms.append((x.data, g.data, p))
    return True


def _flush_pending(terms, g, dtype, owned):
    """Sum the queued x^T @ g terms with one matmul of the concatenated terms, plus g (or None)."""
    if len(terms) == 1:
        xs, gs = terms[0][0], terms[0][1]
    else:
        xp = _device_of(terms[0][1]).xp
        xs = xp.concatenate([t[0] for t in terms])
        gs = xp.concatenate([t[1] for t in terms])
    total = (xs.T @ gs).astype(dtype, copy=False)
    if g is not None:
        if id(g) in owned:
            g.data += total
            return g
        total += g.data
    out = Tensor._make(total, _device_of(total), False, None)
    owned.add(id(out))
    return out


def _scatter(node, g, grads, leaf_grads, owned):
    """Add the gradient of a slice x[index] into x's gradient buffer (allocated once, then reused)."""
    p = node._parents[0]
    leaf = not p._is_node
    if leaf:
        entry = leaf_grads.get(id(p))
        old = entry[1] if entry is not None else None
        shape, dtype, dev = p.data.shape, p.data.dtype, p.device
    else:
        old = grads.get(p)
        shape, dtype, dev = p._shape, p._dtype, g.device
    if old is None or id(old) not in owned:
        buf = Tensor._make(dev.xp.zeros(shape, dtype=dtype), dev, False, None)
        if old is not None:
            buf.data += old.data
        owned.add(id(buf))
        if leaf:
            leaf_grads[id(p)] = [p, buf]
        else:
            grads[p] = buf
        old = buf
    node._scatter_into(old.data, g.data.astype(dtype, copy=False))


def _node_extras(node, g, capture):
    """Tensor hooks on a non-leaf, retain_grad, and gradients captured for mg.grad()."""
    if node._hooks:
        for hook in node._hooks:
            r = hook(g)
            if r is not None:
                g = r
    if node._retained is not None:
        t = node._retained()
        if t is not None:
            t.grad = g if t.grad is None else t.grad + g
    if capture is not None and node in capture:
        capture[node] = g
    return g


def _check_grad(node, gi, shape, dtype):
    if not isinstance(gi, Tensor):
        raise TypeError(
            f"{node.name()}.backward must return Tensors (or None), got {type(gi).__name__}"
        )
    if gi.shape != shape:
        raise RuntimeError(
            f"{node.name()}.backward returned a gradient of shape {gi.shape} for an input of shape {shape}"
        )
    return gi.astype(dtype) if gi.dtype != dtype else gi  # NOTE: callers compare dtypes with `is`


_seq_key = operator.attrgetter("_seq")


def _accumulate(p, g, grads, leaf_grads):
    if isinstance(p, Function):
        old = grads.get(p)
        grads[p] = g if old is None else old + g
    else:
        entry = leaf_grads.get(id(p))
        if entry is None:
            leaf_grads[id(p)] = [p, g]
        else:
            entry[1] = entry[1] + g


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


def _register_retain(tensor) -> None:
    tensor.grad_fn._retained = weakref.ref(tensor)
    tensor.grad_fn._special = True


from .anomaly import detect_anomaly, graph_stats  # noqa: E402
from .backend import device_of as _device_of  # noqa: E402
from .backend import is_array as _is_array  # noqa: E402
from .tensor import Tensor  # noqa: E402  (Tensor and Function refer to each other)

__all__ = [
    "Function", "backward", "grad", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
    "detect_anomaly", "graph_stats",
]  # fmt: skip
