"""Recurrent layers built from ops: the cells RNNCell, LSTMCell and GRUCell (one time step each), and the
sequence layers RNN, LSTM and GRU, which share one loop over layers, directions and time steps in which
only the step function changes. Backpropagation through time is the generic backward of the unrolled graph.

Parameters are named, shaped and ordered exactly like PyTorch's, so a torch `state_dict()` loads as is.
"""

from __future__ import annotations

import math
import numbers
import warnings

from .. import backend, ops
from .. import functional as MF
from ..creation import zeros
from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter
from .utils import rnn as _utils

# ---- step functions: one time step for a batch, from the input projection gx = x @ W_ih.T + b ----------


class _StepWeights:
    """What a step function needs besides gx and the state, prepared once per forward: W_hh.T, the bias
    added per step (GRU only, broadcast to (N, 3H) once here), LSTM's W_hr.T, and the gate slices."""

    __slots__ = ("hh", "hh_rows", "b_hh", "hr", "gates")

    def __init__(
        self, w_hh, b_hh, w_hr, hidden_size: int, n_gates: int, batch: int, steps: int = 1
    ):
        self.hh = w_hh.T
        # NOTE: for a sequence, W_hh.T copied row-major once: h @ W_hh.T then takes BLAS's fast path at
        # every step (1.5x faster with OpenBLAS in float32), while backward's g @ W_hh reads W_hh itself
        self.hh_rows = w_hh.device.xp.ascontiguousarray(self.hh.data) if steps > 1 else None
        self.b_hh = None if b_hh is None else b_hh.broadcast_to((batch, b_hh.shape[0]))
        self.hr = w_hr.T if w_hr is not None else None
        H = hidden_size
        self.gates = tuple((Ellipsis, slice(k * H, (k + 1) * H)) for k in range(n_gates))


def _rnn_tanh_step(gx: Tensor, h: Tensor, w: _StepWeights) -> Tensor:
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)  (both biases are already in gx)"""
    return ops.addmm(gx, h, w.hh, w.hh_rows).tanh()


def _rnn_relu_step(gx: Tensor, h: Tensor, w: _StepWeights) -> Tensor:
    """h' = relu(x W_ih^T + b_ih + h W_hh^T + b_hh)"""
    return ops.addmm(gx, h, w.hh, w.hh_rows).relu()


def _lstm_step(gx: Tensor, state: tuple, w: _StepWeights) -> tuple:
    """Gates i, f, g, o from x W_ih^T + h W_hh^T + b;  c' = f*c + i*g;  h' = o*tanh(c')  (then @ W_hr^T)"""
    h, c = state
    gates = ops.addmm(gx, h, w.hh, w.hh_rows)  # gx + h @ W_hh^T as one op
    s_i, s_f, s_g, s_o = w.gates
    i = gates[s_i].sigmoid()
    f = gates[s_f].sigmoid()
    g = gates[s_g].tanh()
    o = gates[s_o].sigmoid()
    c = f * c + i * g
    h = o * c.tanh()
    if w.hr is not None:
        h = h @ w.hr
    return h, c


def _gru_step(gx: Tensor, h: Tensor, w: _StepWeights) -> Tensor:
    """r, z = sigmoid(gx_rz + (h W_hh^T + b_hh)_rz);  n = tanh(gx_n + r * (h W_hn^T + b_hn));
    h' = (1 - z) * n + z * h, computed as n + z * (h - n)"""
    if w.b_hh is not None:
        # NOTE: b_hh is not folded into gx, because r multiplies W_hn h + b_hn
        gh = ops.addmm(w.b_hh, h, w.hh, w.hh_rows)
    else:
        gh = h @ w.hh
    s_r, s_z, s_n = w.gates
    r = (gx[s_r] + gh[s_r]).sigmoid()
    z = (gx[s_z] + gh[s_z]).sigmoid()
    n = (gx[s_n] + r * gh[s_n]).tanh()
    return n + z * (h - n)


_MODES = {
    # mode: (gates, step function)
    "RNN_TANH": (1, _rnn_tanh_step),
    "RNN_RELU": (1, _rnn_relu_step),
    "LSTM": (4, _lstm_step),
    "GRU": (3, _gru_step),
}


def _keep_finished(mask: Tensor, new, old):
    """where(mask, new, old) for each tensor of a state: sequences past their length keep their state."""
    if isinstance(new, tuple):
        return tuple(ops.where(mask, a, b) for a, b in zip(new, old))
    return ops.where(mask, new, old)


def _input_bias(mode: str, b_ih: Tensor | None, b_hh: Tensor | None) -> Tensor | None:
    """The bias added to the input projection: b_ih + b_hh, except for GRU (b_hh is added per step)."""
    if b_ih is None:
        return None
    return b_ih if mode == "GRU" else b_ih + b_hh


def _check_size(owner: str, name: str, value, minimum: int = 1) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{owner}: {name} should be of type int, got: {type(value).__name__}")
    if value < minimum:
        what = "greater than zero" if minimum == 1 else f"at least {minimum}"
        raise ValueError(f"{owner}: {name} must be {what}, got {value}")


def _check_dtype(owner: str, what: str, t: Tensor, like: Tensor, error=RuntimeError) -> None:
    if t.dtype != like.dtype:
        raise error(
            f"{owner}: {what} has dtype {t.dtype} but the parameters are {like.dtype}; convert one of them "
            f"(e.g. {what}.astype(mg.{like.dtype}) or module.to(dtype=mg.{t.dtype}))"
        )


def _refuse_proj_size(owner: str, proj_size) -> None:
    # NOTE: torch raises for any proj_size given to RNN or GRU, even 0
    if proj_size is not None:
        raise ValueError(
            f"{owner}: proj_size argument is only supported for LSTM, not RNN or GRU (got "
            f"proj_size={proj_size!r}); leave it out, or use nn.LSTM for projections"
        )


def _unbatch(t: Tensor | None) -> Tensor | None:
    return None if t is None else t.reshape((1,) + t.shape)


# ---- cells ---------------------------------------------------------------------------------------------


class _CellBase(Module):
    _mode = "RNN_TANH"

    def __init__(self, input_size: int, hidden_size: int, bias: bool, device, dtype):
        super().__init__()
        name = type(self).__name__
        _check_size(name, "input_size", input_size, minimum=0)
        _check_size(name, "hidden_size", hidden_size)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        G = _MODES[self._mode][0]
        dtype = backend.as_dtype(dtype)
        self.weight_ih = Parameter(zeros(G * hidden_size, input_size, dtype=dtype, device=device))
        self.weight_hh = Parameter(zeros(G * hidden_size, hidden_size, dtype=dtype, device=device))
        if bias:
            self.bias_ih = Parameter(zeros(G * hidden_size, dtype=dtype, device=device))
            self.bias_hh = Parameter(zeros(G * hidden_size, dtype=dtype, device=device))
        else:
            self.bias_ih = None
            self.bias_hh = None
        self.reset_parameters()
        self._state_guard = _utils._StateGuard()

    def reset_parameters(self) -> None:
        """Draw every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch does."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _check_input(self, input: Tensor) -> tuple:
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a Tensor, got {type(input).__name__}")
        if input.ndim not in (1, 2):
            raise ValueError(
                f"{name}: Expected input to be 1D or 2D, got {input.ndim}D instead (shape {input.shape}); "
                "a cell takes one time step: (batch, input_size) or unbatched (input_size,)"
            )
        if input.shape[-1] != self.input_size:
            raise RuntimeError(
                f"{name}: input has inconsistent input_size: got {input.shape[-1]} expected {self.input_size} "
                f"(input shape {input.shape})"
            )
        _check_dtype(name, "input", input, self.weight_ih)
        batched = input.ndim == 2
        return (input if batched else _unbatch(input)), batched

    def _check_hidden(self, h: Tensor, batched: bool, N: int, what: str) -> Tensor:
        name = type(self).__name__
        if not isinstance(h, Tensor):
            raise TypeError(f"{name}: {what} must be a Tensor, got {type(h).__name__}")
        expected = (N, self.hidden_size) if batched else (self.hidden_size,)
        if h.shape != expected:
            raise RuntimeError(
                f"{name}: expected {what} of shape {expected} (batch, hidden_size) for input of "
                f"{'batch ' + str(N) if batched else 'no batch (1-D)'}, got {h.shape}"
            )
        _check_dtype(name, what, h, self.weight_ih)
        return h if batched else _unbatch(h)

    def _project(self, x: Tensor) -> Tensor:
        gx = x @ self.weight_ih.T
        bias = _input_bias(self._mode, self.bias_ih, self.bias_hh)
        return gx if bias is None else gx + bias

    def _weights(self, batch: int) -> _StepWeights:
        b_hh = self.bias_hh if self._mode == "GRU" else None
        return _StepWeights(
            self.weight_hh, b_hh, None, self.hidden_size, _MODES[self._mode][0], batch
        )

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if self._mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        return s


class RNNCell(_CellBase):
    """One step of an Elman RNN: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu).

    Parameters
    ----------
    input_size, hidden_size : int
        D (input features) and H (hidden features).
    bias : bool
        Learn b_ih and b_hh (default True).
    nonlinearity : str
        'tanh' (default) or 'relu'.
    device, dtype
        Where and in which float dtype to create the parameters.

    Shapes
    ------
    input (N, D) or unbatched (D,); hx (N, H) or (H,), zeros when None; returns h' (N, H) or (H,).
    weight_ih (H, D), weight_hh (H, H), bias_ih (H,), bias_hh (H,); all start as U(-1/sqrt(H), 1/sqrt(H)).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device=None,
        dtype=None,
    ):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"RNNCell: Unknown nonlinearity: {nonlinearity!r}; select from 'tanh' or 'relu'"
            )
        self.nonlinearity = nonlinearity
        self._mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, batched = self._check_input(input)
        N = x.shape[0]
        if hx is None:
            h = zeros(N, self.hidden_size, dtype=x.dtype, device=x.device)
        else:
            _utils._check_carried("RNNCell", self._state_guard, (hx,))
            h = self._check_hidden(hx, batched, N, "hx")
        w = self._weights(N)
        h = _MODES[self._mode][1](self._project(x), h, w)
        h = h if batched else h.reshape(self.hidden_size)
        _utils._note_states(_utils._BackwardSeen().watch(w.hh), (h,))
        return h


class LSTMCell(_CellBase):
    """One step of an LSTM: gates i, f, g, o = split(x W_ih^T + b_ih + h W_hh^T + b_hh);
    c' = sigmoid(f) * c + sigmoid(i) * tanh(g);  h' = sigmoid(o) * tanh(c').

    Parameters
    ----------
    input_size, hidden_size : int
        D (input features) and H (hidden features).
    bias : bool
        Learn b_ih and b_hh (default True).
    device, dtype
        Where and in which float dtype to create the parameters.

    Shapes
    ------
    input (N, D) or unbatched (D,); hx a tuple (h, c), each (N, H) or (H,), zeros when None;
    returns (h', c'), each (N, H) or (H,).
    weight_ih (4H, D), weight_hh (4H, H), bias_ih (4H,), bias_hh (4H,), gate rows in the order i, f, g, o;
    all start as U(-1/sqrt(H), 1/sqrt(H)).
    """

    _mode = "LSTM"

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None
    ):
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: tuple | None = None) -> tuple:
        x, batched = self._check_input(input)
        N = x.shape[0]
        if hx is None:
            h = zeros(N, self.hidden_size, dtype=x.dtype, device=x.device)
            c = h
        else:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"LSTMCell: hx must be a tuple (h, c), got {type(hx).__name__}")
            _utils._check_carried("LSTMCell", self._state_guard, hx)
            h = self._check_hidden(hx[0], batched, N, "h")
            c = self._check_hidden(hx[1], batched, N, "c")
        w = self._weights(N)
        h, c = _lstm_step(self._project(x), (h, c), w)
        if not batched:
            h, c = h.reshape(self.hidden_size), c.reshape(self.hidden_size)
        _utils._note_states(_utils._BackwardSeen().watch(w.hh), (h, c))
        return h, c


class GRUCell(_CellBase):
    """One step of a GRU: r, z = sigmoid(x W_i{r,z}^T + b_i{r,z} + h W_h{r,z}^T + b_h{r,z});
    n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn));  h' = (1 - z) * n + z * h.

    Parameters
    ----------
    input_size, hidden_size : int
        D (input features) and H (hidden features).
    bias : bool
        Learn b_ih and b_hh (default True).
    device, dtype
        Where and in which float dtype to create the parameters.

    Shapes
    ------
    input (N, D) or unbatched (D,); hx (N, H) or (H,), zeros when None; returns h' (N, H) or (H,).
    weight_ih (3H, D), weight_hh (3H, H), bias_ih (3H,), bias_hh (3H,), gate rows in the order r, z, n;
    all start as U(-1/sqrt(H), 1/sqrt(H)).
    """

    _mode = "GRU"

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None
    ):
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, batched = self._check_input(input)
        N = x.shape[0]
        if hx is None:
            h = zeros(N, self.hidden_size, dtype=x.dtype, device=x.device)
        else:
            _utils._check_carried("GRUCell", self._state_guard, (hx,))
            h = self._check_hidden(hx, batched, N, "hx")
        w = self._weights(N)
        h = _gru_step(self._project(x), h, w)
        h = h if batched else h.reshape(self.hidden_size)
        _utils._note_states(_utils._BackwardSeen().watch(w.hh), (h,))
        return h


# ---- sequence layers -----------------------------------------------------------------------------------


class RNNBase(Module):
    """The loop shared by RNN, LSTM and GRU: for each layer and direction, one matmul projects the inputs
    of all time steps, then a Python loop over time applies the mode's step function. Use the subclasses."""

    _grad_recorder = None  # set by mg.nn.utils.record_hidden_grads

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
    ):
        super().__init__()
        if mode not in _MODES:
            modes = ", ".join(map(repr, _MODES))
            raise ValueError(f"RNNBase: Unrecognized RNN mode: {mode!r}; select from {modes}")
        name = {"LSTM": "LSTM", "GRU": "GRU"}.get(mode, "RNN")
        _check_size(name, "input_size", input_size, minimum=0)
        _check_size(name, "hidden_size", hidden_size)
        _check_size(name, "num_layers", num_layers)
        if (
            isinstance(dropout, bool)
            or not isinstance(dropout, numbers.Real)  # NumPy scalars too, as in torch
            or not 0 <= dropout <= 1
        ):
            raise ValueError(
                f"{name}: dropout should be a number in range [0, 1] representing the probability of an "
                f"element being zeroed, got {dropout!r}"
            )
        for arg, value in (("bias", bias), ("batch_first", batch_first)):
            # NOTE: torch checks these two (not bidirectional); a truthy bias="False" made biases
            if not isinstance(value, bool):
                raise TypeError(
                    f"{name}: {arg} should be of type bool, got: {type(value).__name__} "
                    f"({value!r}); pass {arg}=True or {arg}=False"
                )
        if not isinstance(proj_size, int) or isinstance(proj_size, bool) or proj_size < 0:
            raise ValueError(
                f"{name}: proj_size should be a positive integer or zero to disable projections, got {proj_size!r}"
            )
        if proj_size and mode != "LSTM":
            raise ValueError(
                f"{name}: proj_size argument is only supported for LSTM, not RNN or GRU (got proj_size={proj_size})"
            )
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                f"{name}: dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                f"expects num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}",
                UserWarning,
                stacklevel=3,
            )
        if proj_size >= hidden_size:
            raise ValueError(
                f"{name}: proj_size has to be smaller than hidden_size, got proj_size={proj_size} >= hidden_size={hidden_size}"
            )
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size

        G = _MODES[mode][0]
        D = 2 if bidirectional else 1
        H_out = proj_size or hidden_size
        dtype = backend.as_dtype(dtype)
        names = []  # per (layer, direction): the parameter names, in PyTorch's registration order
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else H_out * D
            for direction in range(D):
                sfx = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                shapes = {
                    "weight_ih": (G * hidden_size, layer_in),
                    "weight_hh": (G * hidden_size, H_out),
                }
                if bias:
                    shapes.update(bias_ih=(G * hidden_size,), bias_hh=(G * hidden_size,))
                if proj_size:
                    shapes["weight_hr"] = (proj_size, hidden_size)
                for kind, shape in shapes.items():
                    setattr(self, kind + sfx, Parameter(zeros(*shape, dtype=dtype, device=device)))
                names.append(tuple(kind + sfx if kind in shapes else None for kind in
                                   ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")))  # fmt: skip
        self._param_names = tuple(names)
        self.reset_parameters()
        self._state_guard = _utils._StateGuard()

    def reset_parameters(self) -> None:
        """Draw every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch does."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def flatten_parameters(self) -> None:
        """Does nothing: kept so that PyTorch code calling it runs unchanged (there is no cuDNN buffer)."""

    @property
    def all_weights(self) -> list:
        """The parameters per layer and direction (index layer * D + direction), each list in
        torch's order weight_ih, weight_hh, bias_ih, bias_hh (with bias), weight_hr (with
        proj_size): the very Parameters that are the module's attributes."""
        return [[getattr(self, n) for n in names if n] for names in self._param_names]

    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s

    # ---- checks, all done before any computation ---------------------------------------------------
    def _check_forward(self, input, hx, lengths) -> tuple:
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a Tensor, got {type(input).__name__}")
        if input.ndim not in (2, 3):
            layout = "(N, L, H_in)" if self.batch_first else "(L, N, H_in)"
            raise ValueError(
                f"{name}: Expected input to be 2D or 3D, got {input.ndim}D instead (shape {input.shape}); "
                f"pass {layout}, or an unbatched (L, H_in)"
            )
        if input.shape[-1] != self.input_size:
            raise RuntimeError(
                f"{name}: input.size(-1) must be equal to input_size. Expected {self.input_size}, got "
                f"{input.shape[-1]} (input shape {input.shape})"
            )
        like = self.weight_ih_l0
        # ValueError as in torch; a state of the wrong dtype is a RuntimeError there (and here)
        _check_dtype(name, "input", input, like, ValueError)
        batched = input.ndim == 3
        L = input.shape[1 if batched and self.batch_first else 0]
        N = input.shape[0 if self.batch_first else 1] if batched else 1
        if L == 0:
            raise ValueError(f"{name}: input has no time steps (shape {input.shape})")

        D = 2 if self.bidirectional else 1
        H_out = self.proj_size or self.hidden_size
        states = ()
        if hx is not None:
            if self.mode == "LSTM":
                if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                    raise TypeError(f"LSTM: hx must be a tuple (h_0, c_0), got {type(hx).__name__}")
                specs = (("h_0", hx[0], H_out), ("c_0", hx[1], self.hidden_size))
            else:
                specs = (("h_0", hx, H_out),)
            for what, h, size in specs:
                if not isinstance(h, Tensor):
                    raise TypeError(f"{name}: {what} must be a Tensor, got {type(h).__name__}")
                expected = (
                    (D * self.num_layers, N, size) if batched else (D * self.num_layers, size)
                )
                if h.shape != expected:
                    layout = (
                        "(D * num_layers, N, H)"
                        if batched
                        else "(D * num_layers, H) for unbatched input"
                    )
                    raise RuntimeError(
                        f"{name}: Expected {what} of shape {expected} {layout}, got {h.shape}"
                    )
                _check_dtype(name, what, h, like)
            states = tuple(h for _, h, _ in specs)
            _utils._check_carried(name, self._state_guard, states, stacklevel=5)
            if not batched:
                states = tuple(h.reshape((h.shape[0], 1, h.shape[1])) for h in states)

        if lengths is not None:
            lengths = self._check_lengths(lengths, L, N)
        return batched, L, N, states, lengths

    def _check_lengths(self, lengths, L: int, N: int):
        name = type(self).__name__
        if isinstance(lengths, Tensor):
            lengths = backend.to_numpy(lengths.data)
        elif backend.is_array(lengths):
            lengths = backend.to_numpy(lengths)
        try:
            arr = backend.cpu.xp.asarray(lengths)
        except (TypeError, ValueError):
            raise TypeError(
                f"{name}: lengths must be a list or 1-D integer array, got {type(lengths).__name__}"
            ) from None
        if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
            raise TypeError(
                f"{name}: lengths must be a list or 1-D array of integers, got {arr.dtype} of shape {arr.shape}"
            )
        if arr.shape[0] != N:
            raise ValueError(
                f"{name}: expected one length per batch element ({N}), got {arr.shape[0]} lengths"
            )
        if arr.size and (arr.min() < 1 or arr.max() > L):
            raise ValueError(
                f"{name}: every length must be in [1, {L}] (the padded sequence length), got {arr.tolist()}"
            )
        return arr

    # ---- the loop ----------------------------------------------------------------------------------
    def forward(self, input: Tensor, hx=None, lengths=None):
        batched, L, N, states, lengths = self._check_forward(input, hx, lengths)
        x = input if batched else input.reshape((L, 1, input.shape[-1]))
        if batched and self.batch_first:
            x = x.transpose(0, 1)  # the loop runs time-major: (L, N, H_in)
        dev, dtype = x.device, x.dtype

        masks = None
        if lengths is not None and lengths.size and int(lengths.min()) < L:
            # NOTE: no sorting, no packing: a sequence's state stops changing after its last step, and
            # the reverse direction keeps h_0 until each sequence's own last step.
            valid = dev.xp.asarray(backend.cpu.xp.arange(L)[:, None] < lengths[None, :])  # (L, N)
            masks = [Tensor._make(valid[t, :, None], dev, False, None) for t in range(L)]
            valid3 = Tensor._make(valid[:, :, None], dev, False, None)
            x = ops.where(valid3, x, 0.0)  # padding never enters the computation (even NaN padding)

        D = 2 if self.bidirectional else 1
        lstm = self.mode == "LSTM"
        H_out = self.proj_size or self.hidden_size
        seen = _utils._BackwardSeen()  # for the carried-state warning
        finals = []
        layer_input = x
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0 and self.training:
                layer_input = F.dropout(layer_input, self.dropout, True)
            outs = []
            for direction in range(D):
                k = layer * D + direction
                if states:
                    state = (states[0][k], states[1][k]) if lstm else states[0][k]
                else:
                    h0 = zeros(N, H_out, dtype=dtype, device=dev)
                    state = (
                        (h0, zeros(N, self.hidden_size, dtype=dtype, device=dev)) if lstm else h0
                    )
                out, state = self._run_direction(k, layer_input, state, direction == 1, masks, seen)
                if masks is not None:
                    out = ops.where(valid3, out, 0.0)  # outputs past a sequence's length are zero
                outs.append(out)
                finals.append(state)
            layer_input = outs[0] if D == 1 else ops.concatenate(outs, axis=2)

        output = layer_input
        if lstm:
            h_n = MF.stack([s[0] for s in finals])
            c_n = MF.stack([s[1] for s in finals])
            returned = (h_n, c_n)
        else:
            h_n = MF.stack(finals)
            returned = (h_n,)
        if not batched:
            output = output.reshape((L, output.shape[-1]))
            returned = tuple(s.reshape((s.shape[0], s.shape[2])) for s in returned)
        elif self.batch_first:
            output = output.transpose(0, 1)
        _utils._note_states(seen, returned)
        return output, (returned if lstm else returned[0])

    def _run_direction(self, k: int, x: Tensor, state, reverse: bool, masks, seen):
        """One layer in one direction over all time steps: x (L, N, in) -> outputs (L, N, H_out), state."""
        w_ih, w_hh, b_ih, b_hh, w_hr = (
            getattr(self, n) if n else None for n in self._param_names[k]
        )
        n_gates, step = _MODES[self.mode]
        L, N = x.shape[0], x.shape[1]
        # one matmul projects the inputs of every time step; the loop only adds h @ W_hh^T
        x2 = x.reshape((L * N, x.shape[2]))
        bias = _input_bias(self.mode, b_ih, b_hh)
        gx = ops.linear(x2, w_ih, bias)
        gx = gx.reshape((L, N, gx.shape[1]))
        w = _StepWeights(
            w_hh, b_hh if self.mode == "GRU" else None, w_hr, self.hidden_size, n_gates, N, L
        )
        seen.watch(w.hh)
        lstm = self.mode == "LSTM"
        rec = self._grad_recorder
        if rec is not None:
            key = (k // 2, k % 2) if self.bidirectional else (k, 0)  # (layer, direction)
            rec._start(key, L)

        hs = [None] * L
        for t in range(L - 1, -1, -1) if reverse else range(L):
            new = step(gx[t], state, w)
            if masks is not None:
                new = _keep_finished(masks[t], new, state)
            state = new
            h = state[0] if lstm else state
            hs[t] = h
            if rec is not None:
                rec._watch_step(key, t, h)
        return ops.stack(hs), state


class RNN(RNNBase):
    """A multi-layer Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu).

    Parameters
    ----------
    input_size : int
        H_in, the number of input features.
    hidden_size : int
        H, the number of hidden features.
    num_layers : int
        Stacked layers (default 1); layer k > 0 reads the outputs of layer k - 1.
    nonlinearity : str
        'tanh' (default) or 'relu'.
    bias : bool
        Learn b_ih and b_hh (default True).
    batch_first : bool
        Input and output as (N, L, features) instead of (L, N, features); h_0/h_n are unaffected.
    dropout : float
        Dropout probability on the outputs of every layer but the last, in training mode only.
    bidirectional : bool
        Also run each layer backwards in time (D = 2) and concatenate both directions' outputs.
    device, dtype
        Where and in which float dtype to create the parameters.

    Call ``rnn(input, hx=None, lengths=None)``.

    Shapes (D = 2 if bidirectional else 1)
    ------
    input: (L, N, H_in), (N, L, H_in) with batch_first, or unbatched (L, H_in).
    hx (h_0): (D * num_layers, N, H), or (D * num_layers, H) unbatched; zeros when None.
    lengths: None or N integers in [1, L], in any order. Outputs past a sequence's length are zero,
        h_n holds each sequence's state at its own last step, the reverse direction starts there,
        and the padding never influences outputs or gradients. No sorting or packing needed.
    Returns (output, h_n): output (L, N, D * H) (batch_first: (N, L, D * H); unbatched: (L, D * H)),
        h_n (D * num_layers, N, H) (unbatched: (D * num_layers, H)).
    Parameters, k = 0 .. num_layers - 1 (plus the same with suffix _reverse when bidirectional):
        weight_ih_l0 (H, H_in), weight_ih_lk (H, D * H) for k > 0, weight_hh_lk (H, H),
        bias_ih_lk (H,), bias_hh_lk (H,); all start as U(-1/sqrt(H), 1/sqrt(H)).
    all_weights: those Parameters as a list per layer and direction (index k * D + direction),
        each [weight_ih, weight_hh, bias_ih, bias_hh] (no biases with bias=False), as in torch.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
        proj_size=None,
    ):
        _refuse_proj_size("RNN", proj_size)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"RNN: Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'."
            )
        self.nonlinearity = nonlinearity
        mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(
            mode,
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            0,
            device,
            dtype,
        )


class LSTM(RNNBase):
    """A multi-layer long short-term memory RNN. For each step, with gates in the order i, f, g, o:
    i, f, o = sigmoid(.), g = tanh(.) of x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh;
    c_t = f * c_{t-1} + i * g;  h_t = o * tanh(c_t)  (then h_t = h_t W_hr^T when proj_size > 0).

    Parameters
    ----------
    input_size : int
        H_in, the number of input features.
    hidden_size : int
        H, the number of hidden (cell) features.
    num_layers : int
        Stacked layers (default 1); layer k > 0 reads the outputs of layer k - 1.
    bias : bool
        Learn b_ih and b_hh (default True).
    batch_first : bool
        Input and output as (N, L, features) instead of (L, N, features); h_0/c_0/h_n/c_n are unaffected.
    dropout : float
        Dropout probability on the outputs of every layer but the last, in training mode only.
    bidirectional : bool
        Also run each layer backwards in time (D = 2) and concatenate both directions' outputs.
    proj_size : int
        If > 0, project h_t to P = proj_size features with weight_hr (must be < hidden_size).
    device, dtype
        Where and in which float dtype to create the parameters.

    Call ``lstm(input, hx=None, lengths=None)`` with hx = (h_0, c_0).

    Shapes (D = 2 if bidirectional else 1; H_out = proj_size if proj_size > 0 else H)
    ------
    input: (L, N, H_in), (N, L, H_in) with batch_first, or unbatched (L, H_in).
    h_0: (D * num_layers, N, H_out); c_0: (D * num_layers, N, H); unbatched without the N axis;
        zeros when hx is None.
    lengths: None or N integers in [1, L], in any order. Outputs past a sequence's length are zero,
        h_n and c_n hold each sequence's state at its own last step, the reverse direction starts
        there, and the padding never influences outputs or gradients. No sorting or packing needed.
    Returns (output, (h_n, c_n)): output (L, N, D * H_out) (batch_first: (N, L, D * H_out); unbatched:
        (L, D * H_out)), h_n (D * num_layers, N, H_out), c_n (D * num_layers, N, H).
    Parameters, k = 0 .. num_layers - 1 (plus the same with suffix _reverse when bidirectional):
        weight_ih_l0 (4H, H_in), weight_ih_lk (4H, D * H_out) for k > 0, weight_hh_lk (4H, H_out),
        bias_ih_lk (4H,), bias_hh_lk (4H,), weight_hr_lk (H_out, H) when proj_size > 0; gate rows
        i, f, g, o; all start as U(-1/sqrt(H), 1/sqrt(H)).
    all_weights: those Parameters as a list per layer and direction (index k * D + direction), each
        [weight_ih, weight_hh, bias_ih, bias_hh, weight_hr] (no biases with bias=False, no weight_hr
        without proj_size), as torch's all_weights.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
    ):
        super().__init__(
            "LSTM",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            proj_size,
            device,
            dtype,
        )


class GRU(RNNBase):
    """A multi-layer gated recurrent unit RNN. For each step, with gates in the order r, z, n:
    r, z = sigmoid(x_t W_i{r,z}^T + b_i{r,z} + h_{t-1} W_h{r,z}^T + b_h{r,z});
    n = tanh(x_t W_in^T + b_in + r * (h_{t-1} W_hn^T + b_hn));  h_t = (1 - z) * n + z * h_{t-1}.

    Parameters
    ----------
    input_size : int
        H_in, the number of input features.
    hidden_size : int
        H, the number of hidden features.
    num_layers : int
        Stacked layers (default 1); layer k > 0 reads the outputs of layer k - 1.
    bias : bool
        Learn b_ih and b_hh (default True).
    batch_first : bool
        Input and output as (N, L, features) instead of (L, N, features); h_0/h_n are unaffected.
    dropout : float
        Dropout probability on the outputs of every layer but the last, in training mode only.
    bidirectional : bool
        Also run each layer backwards in time (D = 2) and concatenate both directions' outputs.
    device, dtype
        Where and in which float dtype to create the parameters.

    Call ``gru(input, hx=None, lengths=None)``.

    Shapes (D = 2 if bidirectional else 1)
    ------
    input: (L, N, H_in), (N, L, H_in) with batch_first, or unbatched (L, H_in).
    hx (h_0): (D * num_layers, N, H), or (D * num_layers, H) unbatched; zeros when None.
    lengths: None or N integers in [1, L], in any order (see RNN).
    Returns (output, h_n): output (L, N, D * H) (batch_first: (N, L, D * H); unbatched: (L, D * H)),
        h_n (D * num_layers, N, H) (unbatched: (D * num_layers, H)).
    Parameters, k = 0 .. num_layers - 1 (plus the same with suffix _reverse when bidirectional):
        weight_ih_l0 (3H, H_in), weight_ih_lk (3H, D * H) for k > 0, weight_hh_lk (3H, H),
        bias_ih_lk (3H,), bias_hh_lk (3H,); gate rows r, z, n; all start as U(-1/sqrt(H), 1/sqrt(H)).
    all_weights: those Parameters as a list per layer and direction (see RNN).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
        proj_size=None,
    ):
        _refuse_proj_size("GRU", proj_size)
        super().__init__(
            "GRU",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            0,
            device,
            dtype,
        )
