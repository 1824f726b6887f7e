"""Recurrent training helpers: detach_state, tbptt_windows and the truncated-BPTT idiom, the warning about
states carried across backward() without detaching, and per-step hidden-state gradient norms."""

import collections
import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.nn.utils import detach_state, record_hidden_grads, tbptt_windows, watch_hidden_grads

# ---- detach_state -------------------------------------------------------------------------------------


def test_detach_state_structures():
    h = mg.randn(2, 3, requires_grad=True) * 2
    c = mg.randn(2, 3, requires_grad=True) * 2
    assert detach_state(None) is None
    d = detach_state(h)
    assert d.grad_fn is None and not d.requires_grad
    np.testing.assert_array_equal(d.numpy(), h.numpy())
    dh, dc = detach_state((h, c))
    assert dh.grad_fn is None and dc.grad_fn is None
    nested = detach_state([(h, c), h])
    assert isinstance(nested, list) and isinstance(nested[0], tuple)
    assert all(t.grad_fn is None for t in (nested[0][0], nested[0][1], nested[1]))
    State = collections.namedtuple("State", "h c")
    s = detach_state(State(h, c))
    assert isinstance(s, State) and s.h.grad_fn is None
    with pytest.raises(TypeError, match="detach_state"):
        detach_state({"h": h})


# ---- tbptt_windows ------------------------------------------------------------------------------------


def test_tbptt_windows_split_time_axis():
    x = mg.arange(10 * 2).reshape(10, 2)
    y = mg.arange(10)
    windows = list(tbptt_windows(x, y, k=4))
    assert [w[0].shape for w in windows] == [(4, 2), (4, 2), (2, 2)]
    np.testing.assert_array_equal(np.concatenate([w[1].numpy() for w in windows]), y.numpy())
    single = list(tbptt_windows(x, k=5))
    assert len(single) == 2 and isinstance(single[0], mg.Tensor)
    bf = list(tbptt_windows(mg.zeros(3, 7, 2), k=3, dim=1))  # batch_first data
    assert [w.shape for w in bf] == [(3, 3, 2), (3, 3, 2), (3, 1, 2)]
    with pytest.raises(ValueError, match="same length"):
        list(tbptt_windows(x, mg.zeros(9), k=2))
    with pytest.raises(ValueError, match="positive integer"):
        tbptt_windows(x, k=0)
    with pytest.raises(ValueError, match="no axis 3"):
        tbptt_windows(x, k=2, dim=3)


@pytest.mark.parametrize("mode", ["lstm", "gru"])
def test_truncated_bptt_equals_gradient_with_graph_cut_at_chunk_boundaries(mode):
    rng = np.random.default_rng(0)
    T, N, D, H, k = 11, 2, 3, 4, 4
    x = mg.tensor(rng.standard_normal((T, N, D)))
    target = mg.tensor(rng.standard_normal((T, N, H)))
    layer = (nn.LSTM if mode == "lstm" else nn.GRU)(D, H, dtype=mg.float64)

    # the idiom: one backward per window, state detached at the boundary, gradients accumulating
    state = None
    for xc, yc in tbptt_windows(x, target, k=k):
        state = detach_state(state)
        out, state = layer(xc, state)
        ((out - yc) ** 2).sum().backward()
    tbptt = {n: p.grad.numpy() for n, p in layer.named_parameters()}

    # the same objective in one graph, built step by step with a cell, cut by hand every k steps
    cell = (nn.LSTMCell if mode == "lstm" else nn.GRUCell)(D, H, dtype=mg.float64)
    cell.load_state_dict({n[: -len("_l0")]: p for n, p in layer.state_dict().items()})
    h = None
    loss = 0
    for t in range(T):
        if t % k == 0 and h is not None:
            h = tuple(s.detach() for s in h) if mode == "lstm" else h.detach()
        h = cell(x[t], h)
        out_t = h[0] if mode == "lstm" else h
        loss = loss + ((out_t - target[t]) ** 2).sum()
    loss.backward()
    for n, p in cell.named_parameters():
        np.testing.assert_allclose(tbptt[n + "_l0"], p.grad.numpy(), atol=1e-10, err_msg=n)
    # and it differs from full BPTT (the cut matters)
    layer.zero_grad()
    out, _ = layer(x)
    ((out - target) ** 2).sum().backward()
    assert not np.allclose(layer.weight_hh_l0.grad.numpy(), tbptt["weight_hh_l0"])


# ---- the carried-state warning ------------------------------------------------------------------------


def test_warns_once_when_a_state_is_carried_across_backward_without_detach():
    m = nn.LSTM(2, 3)
    x = mg.randn(4, 1, 2)
    state = None
    with pytest.warns(UserWarning, match=r"detach_state") as record:
        for _ in range(4):
            out, state = m(x, state)  # never detached
            out.sum().backward(retain_graph=True)  # retain_graph: the graph would grow silently
    assert len([w for w in record if "detach_state" in str(w.message)]) == 1


def test_warning_without_retain_graph_comes_before_the_engine_error():
    m = nn.GRU(2, 3)
    x = mg.randn(4, 1, 2)
    out, h = m(x)
    out.sum().backward()
    with pytest.warns(UserWarning, match="detach_state"):
        out, h = m(x, h)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        (out.sum() + h.sum()).backward()


def test_no_warning_when_detached_or_used_within_one_iteration():
    enc, dec = nn.GRU(2, 3), nn.GRU(2, 3)
    cell = nn.LSTMCell(2, 3)
    x = mg.randn(4, 1, 2)
    state = None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(3):
            _, h = enc(x)
            out, _ = dec(x, h)  # encoder -> decoder in the same iteration
            hc = None
            for t in range(4):
                hc = cell(x[t], hc)  # a loop over a cell, carried within one iteration
            out, state = enc(x, detach_state(state))
            (out.sum() + hc[0].sum()).backward()
            state = h


def test_no_warning_when_a_backward_reaches_the_weights_but_not_the_state():
    # a backward that reaches W_hh by another path (here a weight penalty) never ran through the
    # state's graph: carrying the state into the next call is fine (torch says nothing either)
    lstm, cell = nn.LSTM(3, 4), nn.GRUCell(3, 4)
    out1, state = lstm(mg.randn(5, 2, 3))
    h = cell(mg.randn(2, 3))
    ((lstm.weight_hh_l0**2).sum() + (cell.weight_hh**2).sum()).backward()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out2, _ = lstm(mg.randn(5, 2, 3), state)
        h = cell(mg.randn(2, 3), h)
        (out2.sum() + h.sum()).backward()
    with pytest.warns(UserWarning, match="LSTM.*detach_state"):
        lstm(mg.randn(5, 2, 3), state)  # now a backward has run through it


def test_cells_warn_too():
    cell = nn.RNNCell(2, 3)
    x = mg.randn(1, 2)
    h = cell(x)
    h.sum().backward(retain_graph=True)
    with pytest.warns(UserWarning, match="RNNCell.*detach_state"):
        cell(x, h)


# ---- hidden-state gradient norms ------------------------------------------------------------------------


def test_watch_hidden_grads_matches_explicit_gradients():
    rng = np.random.default_rng(1)
    cell = nn.RNNCell(2, 3, dtype=mg.float64)
    x = mg.tensor(rng.standard_normal((6, 2, 2)))
    h, hs = None, []
    for t in range(6):
        h = cell(x[t], h)
        hs.append(h)
    loss = (hs[-1] ** 2).sum() + hs[2].sum()
    expected = [np.linalg.norm(g.numpy()) for g in mg.grad(loss, hs, retain_graph=True)]
    rec = watch_hidden_grads(hs)
    loss.backward()
    np.testing.assert_allclose(rec.norms[0], expected, rtol=1e-12)
    assert rec[0] is rec.norms[0]
    with pytest.raises(ValueError, match="does not require grad"):
        watch_hidden_grads([h.detach()])


def lstm_from_cells(layer, x):
    """The layer's forward written as loops over LSTMCells: (output, {(layer, direction): [h_t for each t]})."""
    D = 2 if layer.bidirectional else 1
    T = x.shape[0]
    states, layer_in = {}, x
    for k in range(layer.num_layers):
        outs = []
        for d in range(D):
            sfx = f"_l{k}" + ("_reverse" if d else "")
            cell = nn.LSTMCell(layer_in.shape[2], layer.hidden_size, dtype=mg.float64)
            cell.load_state_dict(
                {n[: -len(sfx)]: p for n, p in layer.state_dict().items() if n.endswith(sfx)}
            )
            hc, hs = None, [None] * T
            for t in reversed(range(T)) if d else range(T):
                hc = cell(layer_in[t], hc)
                hs[t] = hc[0]
            states[(k, d)] = hs
            outs.append(mg.stack(hs))
        layer_in = mg.concatenate(outs, axis=2)
    return layer_in, states


@pytest.mark.parametrize("bidirectional", [False, True])
def test_record_hidden_grads_of_a_layer(bidirectional):
    rng = np.random.default_rng(2)
    layer = nn.LSTM(2, 3, num_layers=2, bidirectional=bidirectional, dtype=mg.float64)
    x = mg.tensor(rng.standard_normal((5, 2, 2)))
    w = mg.tensor(rng.standard_normal((5, 2, 6 if bidirectional else 3)))
    with record_hidden_grads(layer) as rec:
        out, _ = layer(x)
    assert layer._grad_recorder is None  # switched off after the block
    (out * w).sum().backward()

    ref_out, states = lstm_from_cells(layer, x)
    np.testing.assert_allclose(ref_out.numpy(), out.numpy(), atol=1e-12)
    assert sorted(rec.norms) == sorted(states)
    loss = (ref_out * w).sum()
    for key, hs in states.items():
        expected = [np.linalg.norm(g.numpy()) for g in mg.grad(loss, hs, retain_graph=True)]
        np.testing.assert_allclose(rec.norms[key], expected, rtol=1e-10, err_msg=str(key))
    with pytest.raises(TypeError, match="RNN, LSTM or GRU"):
        with record_hidden_grads(nn.Linear(2, 2)):
            pass


# ---- pad_sequence --------------------------------------------------------------------------------------


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_sequence_values_shapes_and_gradients(batch_first, side):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((n, 3)) for n in (4, 2, 5)]
    seqs = [mg.tensor(a, requires_grad=True) for a in arrays]
    out = nn.utils.pad_sequence(seqs, batch_first=batch_first, padding_value=-1.0, padding_side=side)
    expected = np.full((5, 3, 3), -1.0)  # (L_max, B, features)
    for b, a in enumerate(arrays):
        expected[slice(0, len(a)) if side == "right" else slice(5 - len(a), 5), b] = a
    if batch_first:
        expected = expected.transpose(1, 0, 2)
    np.testing.assert_array_equal(out.numpy(), expected)
    weights = rng.standard_normal(expected.shape)
    (out * mg.tensor(weights)).sum().backward()
    w = weights if batch_first else weights.transpose(1, 0, 2)  # (B, L_max, features)
    for b, (s, a) in enumerate(zip(seqs, arrays)):
        rows = slice(0, len(a)) if side == "right" else slice(5 - len(a), 5)
        np.testing.assert_allclose(s.grad.numpy(), w[b, rows])
    torch = pytest.importorskip("torch")
    ref = torch.nn.utils.rnn.pad_sequence(
        [torch.tensor(a) for a in arrays], batch_first=batch_first, padding_value=-1.0, padding_side=side
    )
    np.testing.assert_array_equal(out.numpy(), ref.numpy())


def test_pad_sequence_with_lengths_equals_each_sequence_alone():
    mg.manual_seed(0)
    lstm = nn.LSTM(3, 4).double()
    seqs = [mg.randn(n, 3, dtype=mg.float64) for n in (5, 2, 3)]
    out, (h, _) = lstm(nn.utils.pad_sequence(seqs), lengths=[len(s) for s in seqs])
    for b, s in enumerate(seqs):
        alone, (h_alone, _) = lstm(s)
        np.testing.assert_allclose(out.numpy()[: len(s), b], alone.numpy(), atol=1e-12)
        np.testing.assert_allclose(h.numpy()[0, b], h_alone.numpy()[0], atol=1e-12)


def test_pad_sequence_errors():
    with pytest.raises(ValueError, match="no sequences"):
        nn.utils.pad_sequence([])
    with pytest.raises(ValueError, match=r"sequence 1 has shape \(2, 4\)"):
        nn.utils.pad_sequence([mg.zeros(3, 3), mg.zeros(2, 4)])
    with pytest.raises(ValueError, match="padding_side"):
        nn.utils.pad_sequence([mg.zeros(3)], padding_side="middle")
    with pytest.raises(TypeError, match="not a Tensor"):
        nn.utils.pad_sequence([mg.zeros(3), [1.0, 2.0]])
