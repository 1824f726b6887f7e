"""The tape: `Function`, the base class of every op, records the graph as ops run.

Every op applied to a tensor that requires grad creates one `Function` instance: it is both the `ctx` that
`forward`/`backward` receive and the graph node (`tensor.grad_fn`), stamped with a sequence number.
`backward` and `grad` (engine.py) replay that tape in reverse; grad mode lives in grad_mode.py. All of them
are reached from here, as `mg.autograd.backward`, `mg.autograd.no_grad`, ...
"""

from __future__ import annotations

import itertools
import weakref

from .grad_mode import _mode, enable_grad, is_grad_enabled, no_grad, set_grad_enabled

_anomaly = [False]  # switched on by detect_anomaly(); a list so anomaly.py can flip it in place
_counter = itertools.count()
_OUTPUT = object()  # marks "the op's own output" among the saved items
_BOTH, _FIRST, _SECOND, _ONE = (True, True), (True, False), (False, True), (True,)
_ZERO = (0,)
_OUTPUT_ONLY = (_OUTPUT,)


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

    Optional, for speed: set the class attribute ``array_backward = True`` when backward uses only what
    NumPy/CuPy arrays share with Tensors (``+ - * / ** @``, comparisons, indexing, ``.T``, ``.reshape``,
    ``.transpose``, ``.swapaxes``, ``.sum``, ``.astype``), as ``Cube.backward`` does. Without
    create_graph nothing needs recording, so the engine then runs the same rule on raw arrays
    (``g`` and ``ctx.saved_tensors`` are arrays, and so are the results): no Tensor and no op dispatch
    per operation. With create_graph it runs on Tensors as always, so one rule serves both.
    """

    array_backward = False  # True: backward also runs on raw arrays (see above)

    needs_input_grad: tuple = ()
    _saved = (
        None  # what forward saved: a tuple of input Tensors, or general entries (_resolve_saved)
    )
    _versions = None  # None: every saved tensor is an input that was at version 0 when saved
    _raw = None  # in that case, the arrays forward saved
    _arrays = False  # set by the engine while it runs an array_backward rule on raw arrays
    _freed = False
    _special = False  # True sends the node down the engine's slow path (hooks, freed, scatter, ...)
    _is_node = True  # graph parents are nodes (Functions) or leaves (Tensors, where this is False)
    _hooks = None
    _retained = None
    _out = None
    _scatters = False  # True for getitem: the engine then calls _scatter_into instead of backward
    _defers_rhs = False  # True for matmul: the engine may batch its right operand's gradient terms
    _makes_views = (
        False  # True for ops whose output may share the first input's memory (reshape, ...)
    )

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
        if record:
            dtype = out.dtype
            if dtype.kind != "f":
                record = False  # integer and bool results have no gradient (argsort in a custom op, ...)
        if not record:  # the cheap path: one array call and a Tensor wrapper
            result = Tensor._make(out, dev, False, None)
            if cls._makes_views:
                _share_if_view(result, x)
            return result
        result = Tensor._make(out, dev, True, ctx)
        ctx._seq = next(_counter)
        ctx._shape = out.shape  # the engine checks gradients against these
        ctx._dtype = dtype
        # a parent is the node that made an input, or the input itself when it is a leaf
        if n == 2:
            # NOTE: shared constant tuples: one allocation less per recorded op (less work for the gc)
            if x.requires_grad:
                if y.requires_grad:
                    ctx.needs_input_grad = _BOTH
                    ctx._parents = (x.grad_fn or x, y.grad_fn or y)
                else:
                    ctx.needs_input_grad = _FIRST
                    ctx._parents = (x.grad_fn or x, None)
            else:
                ctx.needs_input_grad = _SECOND
                ctx._parents = (None, y.grad_fn or y)
        elif n == 1:
            ctx.needs_input_grad = _ONE
            ctx._parents = (x.grad_fn or x,)
        else:
            ctx.needs_input_grad = tuple([t.requires_grad for t in inputs])
            ctx._parents = tuple([(t.grad_fn or t) if t.requires_grad else None for t in inputs])
        if cls._makes_views:
            _share_if_view(result, x)
        saved = ctx._saved
        if saved is not None:
            # NOTE: the two common cases are spelled out; _resolve_saved handles everything
            if n >= 2 and len(saved) == 2 and saved[0] is x.data and saved[1] is inputs[1].data:
                # the first two inputs (mul, matmul, addmm, ...)
                ctx._saved = inputs if n == 2 else inputs[:2]
                ctx._raw = saved
                y = inputs[1]
                if (x._vbox is not None and x._vbox[0]) or (y._vbox is not None and y._vbox[0]):
                    ctx._versions = (x._version, y._version)  # already edited in place: remember
            elif n == 1 and len(saved) == 1 and saved[0] is raw:
                ctx._saved = _OUTPUT_ONLY  # only the output (tanh, sigmoid, exp)
                ctx._versions = _ZERO  # the output is brand new: version 0
                ctx._out = out
                ctx._dev = dev
                result._vbox = ctx._out_box = [
                    0
                ]  # to notice in-place edits of the output or its views
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
                    if result._vbox is None:  # to notice in-place edits of the output or its views
                        result._vbox = [0]
                    self._out_box = result._vbox
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
        # raw arrays instead of Tensors while the engine runs an array_backward rule
        arrays = self._arrays
        saved = self._saved
        if self._versions is None and saved is not None:
            # the fast case: only inputs, all at version 0 when saved
            for t in saved:
                if t._vbox is not None and t._vbox[0] != 0:
                    raise _modified_error(self, t, 0)
            return self._raw if arrays else saved
        if saved is _OUTPUT_ONLY:  # tanh, sigmoid, exp: the second common case
            return (self._output(0, arrays),)
        if self._freed:
            raise _freed_error(self)
        if saved is None:
            return ()
        out = []
        for t, version in zip(saved, self._versions):
            if t is _OUTPUT:
                out.append(self._output(version, arrays))
            elif t is None:
                out.append(None)
            elif t._version != version:
                raise _modified_error(self, t, version)
            else:
                out.append(t.data if arrays else t)
        return tuple(out)

    def _output(self, version, array: bool):
        """The op's own output, as an array or as a Tensor wired to this node."""
        if self._out_box[0] != version:
            raise RuntimeError(
                f"{self.name()}: its output (shape {self._out.shape}) was modified in place after the op "
                "ran, and backward needs it; use an out-of-place op or clone() the output first."
            )
        if array:
            return self._out
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


def _register_retain(tensor) -> None:
    tensor.grad_fn._retained = weakref.ref(tensor)
    tensor.grad_fn._special = True


from .anomaly import detect_anomaly, graph_stats  # noqa: E402
from .backend import is_array as _is_array  # noqa: E402
from .engine import backward, grad  # noqa: E402  (the engine replays what Function records)
from .tensor import Tensor  # noqa: E402  (Tensor and Function refer to each other)

__all__ = [
    "Function", "backward", "grad", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
    "detect_anomaly", "graph_stats",
]  # fmt: skip
