"""Helpers for training recurrent models: padding a batch of sequences of different lengths (`pad_sequence`,
used with the layers' `lengths=`), truncated backprop through time (`detach_state`, `tbptt_windows`),
the warning about hidden states carried across iterations without detaching, and per-time-step gradient
norms of hidden states (`watch_hidden_grads`, `record_hidden_grads`).

Truncated BPTT, the idiom: split the sequence into windows of k steps along time, run the model on each
window starting from the previous window's final state *detached*, and backward once per window::

    state = None
    for x_chunk, y_chunk in mg.nn.utils.tbptt_windows(x, y, k=25):
        state = mg.nn.utils.detach_state(state)  # cut the graph at the window boundary
        out, state = lstm(x_chunk, state)
        loss = loss_fn(head(out), y_chunk)
        opt.zero_grad()
        loss.backward()
        opt.step()

The values still flow from window to window; only the gradient stops at the boundary. Forgetting the
`detach_state` line makes every backward run through all earlier windows as well: the recurrent layers
notice (the state they get is still attached to a graph that a backward ran through) and warn once.
"""

from __future__ import annotations

import warnings
import weakref
from contextlib import contextmanager

from ... import ops
from ...tensor import Tensor


def pad_sequence(
    sequences, batch_first: bool = False, padding_value: float = 0.0, padding_side: str = "right"
) -> Tensor:
    """Pad sequences of different lengths to the longest and stack them, as torch.nn.utils.rnn.pad_sequence.

    Parameters
    ----------
    sequences : list of B tensors of shape (L_i, *), with the same trailing shape, dtype and device
    batch_first : give (B, L_max, *) instead of (L_max, B, *)
    padding_value : the value of the padded positions
    padding_side : 'right' (pad after each sequence, the default) or 'left'

    Returns
    -------
    Tensor (L_max, B, *), or (B, L_max, *) with batch_first; differentiable with respect to each sequence.

    minigrad's recurrent layers need no packing: pass the padded batch with
    ``lengths=[len(s) for s in sequences]`` (right padding) and padding never reaches outputs or gradients.
    """
    if padding_side not in ("right", "left"):
        raise ValueError(f"pad_sequence: padding_side must be 'right' or 'left', got {padding_side!r}")
    sequences = list(sequences)
    if not sequences:
        raise ValueError("pad_sequence: got no sequences; pass a non-empty list of tensors")
    for i, s in enumerate(sequences):
        if not isinstance(s, Tensor):
            raise TypeError(f"pad_sequence: sequence {i} is a {type(s).__name__}, not a Tensor")
        if s.ndim == 0 or s.shape[1:] != sequences[0].shape[1:]:
            raise ValueError(
                f"pad_sequence: every sequence must be (L_i, *) with the same trailing shape; sequence 0 "
                f"has shape {sequences[0].shape} and sequence {i} has shape {s.shape}"
            )
    longest = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        extra = longest - s.shape[0]
        if extra:
            along_time = (0, extra) if padding_side == "right" else (extra, 0)
            s = ops.pad(s, (along_time,) + ((0, 0),) * (s.ndim - 1), padding_value)
        padded.append(s)
    return ops.stack(padded, axis=0 if batch_first else 1)


def detach_state(state):
    """Cut a recurrent state out of the graph: a Tensor, None, or a (nested) tuple or list of them.

    Returns the same structure with every tensor replaced by ``tensor.detach()`` (same values, no history),
    e.g. ``detach_state((h, c))`` for an LSTM state. Call it at each truncation boundary of truncated BPTT.
    """
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, (tuple, list)):
        parts = [detach_state(s) for s in state]
        if isinstance(state, list):
            return parts
        if hasattr(state, "_fields"):  # a namedtuple keeps its type
            return type(state)(*parts)
        return tuple(parts)
    raise TypeError(
        f"detach_state: expected a Tensor, None, or a tuple/list of them (e.g. an LSTM's (h, c)), "
        f"got {type(state).__name__}"
    )


def tbptt_windows(*sequences, k: int, dim: int = 0):
    """Iterate over aligned windows of at most k time steps of one or more sequences.

    Parameters
    ----------
    *sequences : Tensor or array
        Sequences with the same length T along `dim` (e.g. inputs (T, N, D) and targets (T, N)).
    k : int
        Window length (truncation length of truncated BPTT). The last window holds the T % k leftover
        steps when k does not divide T.
    dim : int
        The time axis (0 for time-major data, 1 with batch_first=True).

    Yields
    ------
    One window per step of the loop: a tensor when one sequence is given, else a tuple of windows, each
    ``seq[..., t:t + k, ...]`` along `dim` (views: no copy). See the module docstring for the idiom.
    """
    if not sequences:
        raise ValueError(
            "tbptt_windows: pass at least one sequence, e.g. tbptt_windows(x, y, k=25)"
        )
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(
            f"tbptt_windows: k (the window length) must be a positive integer, got {k!r}"
        )
    lengths = []
    for i, s in enumerate(sequences):
        shape = getattr(s, "shape", None)
        if shape is None or not -len(shape) <= dim < len(shape):
            raise ValueError(
                f"tbptt_windows: sequence {i} (shape {shape}) has no axis {dim}; pass dim= the time axis"
            )
        lengths.append(shape[dim])
    if len(set(lengths)) != 1:
        raise ValueError(
            f"tbptt_windows: sequences must have the same length along axis {dim}, got {lengths}"
        )
    return _windows(sequences, k, dim, lengths[0])


def _windows(sequences, k, dim, T):
    for start in range(0, T, k):
        chunks = []
        for s in sequences:
            lead = (slice(None),) * (dim % len(s.shape))
            chunks.append(s[lead + (slice(start, start + k),)])
        yield chunks[0] if len(chunks) == 1 else tuple(chunks)


# ---- graph growth: a state carried across backward() calls without detaching ----------------------------

# graph node of a state returned by a recurrent module -> the _BackwardSeen of the forward call that
# returned it. Weak keys: the entry dies with the graph.
_births: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class _StateGuard:
    """Per recurrent module: whether it has already warned about an undetached carried state."""

    __slots__ = ("warned",)

    def __init__(self):
        self.warned = False

    def __deepcopy__(self, memo):
        return _StateGuard()


class _BackwardSeen:
    """Set once a backward runs through one forward call's recurrence: a hook on that call's W_hh.T,
    a tensor of that graph alone. (A hook on W_hh would also count backwards that reach W_hh another
    way, e.g. a weight penalty, and warn wrongly.) One hook per call, not per step of the call."""

    __slots__ = ("seen",)

    def __init__(self):
        self.seen = False

    def __call__(self, grad) -> None:
        self.seen = True

    def watch(self, hh: Tensor) -> _BackwardSeen:
        if hh.requires_grad:  # (not under no_grad, nor with a frozen W_hh)
            hh.register_hook(self)
        return self


def _note_states(seen: _BackwardSeen, tensors) -> None:
    """Remember that these states were returned by the forward call that `seen` watches."""
    for t in tensors:
        if t.grad_fn is not None:
            _births[t.grad_fn] = seen


def _check_carried(name: str, guard: _StateGuard, tensors, stacklevel: int = 4) -> None:
    """Warn once when a state passed to a module is still attached to the graph of the call that
    returned it and a backward has run through that graph: each backward then replays all earlier
    iterations."""
    if guard.warned:
        return
    for t in tensors:
        node = t.grad_fn if isinstance(t, Tensor) else None
        seen = _births.get(node) if node is not None else None
        if seen is not None and seen.seen:
            guard.warned = True
            warnings.warn(
                f"{name}: the hidden state passed in was returned before a backward() and is still attached "
                "to that graph, so every backward now also runs through all earlier iterations (the graph "
                "grows without bound; without retain_graph=True the next backward fails instead). Detach it "
                "where you truncate: `state = mg.nn.utils.detach_state(state)` (see mg.nn.utils.tbptt_windows).",
                UserWarning,
                stacklevel=stacklevel,  # point at the user's call of the module
            )
            return


# ---- gradient diagnostics: ||dL/dh_t|| per time step ----------------------------------------------------


class HiddenGradNorms:
    """Per-time-step norms ||dL/dh_t|| of hidden states, filled in by hooks during backward.

    `norms` maps a key to a list with one float per time step (0.0 where no gradient arrived). The norm is
    taken over the whole (N, H) gradient. Make one with `watch_hidden_grads` (your own list of states) or
    `record_hidden_grads` (a RNN/LSTM/GRU layer; keys (layer, direction)). A later backward overwrites.
    """

    def __init__(self):
        self.norms = {}

    def watch(self, hiddens, key=0) -> HiddenGradNorms:
        """Register a hook on each tensor of `hiddens` (time order) recording its gradient norm."""
        hiddens = list(hiddens)
        for t, h in enumerate(hiddens):
            if not isinstance(h, Tensor) or not h.requires_grad:
                raise ValueError(
                    f"watch_hidden_grads: hidden state {t} does not require grad; watch the states of a "
                    "forward pass that is being recorded (not under no_grad, not detached)"
                )
        self._start(key, len(hiddens))
        for t, h in enumerate(hiddens):
            self._watch_step(key, t, h)
        return self

    def _start(self, key, steps: int) -> None:
        self.norms[key] = [0.0] * steps

    def _watch_step(self, key, t: int, h: Tensor) -> None:
        h.register_hook(_NormHook(self.norms[key], t))

    def __getitem__(self, key) -> list:
        return self.norms[key]

    def __repr__(self) -> str:
        return f"HiddenGradNorms(keys={list(self.norms)})"


class _NormHook:
    __slots__ = ("norms", "t")

    def __init__(self, norms: list, t: int):
        self.norms, self.t = norms, t

    def __call__(self, g: Tensor) -> None:
        xp = g.device.xp
        self.norms[self.t] = float(xp.sqrt((g.data * g.data).sum()))


def watch_hidden_grads(hiddens, key=0) -> HiddenGradNorms:
    """Collect ||dL/dh_t|| for a list of per-step hidden states (e.g. from a loop over a cell).

    Call before backward; after ``loss.backward()`` the recorder's ``norms[key]`` holds one float per step::

        hs = []
        for t in range(T):
            h = cell(x[t], h)
            hs.append(h)
        rec = mg.nn.utils.watch_hidden_grads(hs)
        loss(hs[-1]).backward()
        rec.norms[0]  # [||dL/dh_0||, ..., ||dL/dh_{T-1}||]
    """
    return HiddenGradNorms().watch(hiddens, key)


@contextmanager
def record_hidden_grads(rnn):
    """Context manager: while active, forward calls of the RNN/LSTM/GRU `rnn` hook every step's hidden
    state, and after backward ``rec.norms[(layer, direction)]`` holds ||dL/dh_t|| per time step t (time
    order, also for the reverse direction; the total gradient, through the output and the recurrence)::

        with mg.nn.utils.record_hidden_grads(lstm) as rec:
            out, _ = lstm(x)
        loss_fn(out).backward()
        plt.semilogy(rec.norms[(0, 0)])
    """
    if not hasattr(rnn, "_grad_recorder"):
        raise TypeError(
            f"record_hidden_grads: expected an RNN, LSTM or GRU layer, got {type(rnn).__name__}; for a loop "
            "over a cell, collect the per-step states and call watch_hidden_grads(states)"
        )
    rec = HiddenGradNorms()
    rnn._grad_recorder = rec
    try:
        yield rec
    finally:
        rnn._grad_recorder = None
