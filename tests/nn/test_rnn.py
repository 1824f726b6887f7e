"""Recurrent cells and layers: shapes, gradcheck, layer == loop over cells, variable lengths, double backward,
long unrolls, PyTorch parity (weights loaded from torch's state_dict), errors, and no backward in nn/."""

import importlib
import inspect
import itertools
import pkgutil

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad import nn
from minigrad.testing import gradcheck

MODES = {  # name -> (layer class, cell class, constructor kwargs, gates)
    "rnn_tanh": (nn.RNN, nn.RNNCell, {}, 1),
    "rnn_relu": (nn.RNN, nn.RNNCell, {"nonlinearity": "relu"}, 1),
    "lstm": (nn.LSTM, nn.LSTMCell, {}, 4),
    "gru": (nn.GRU, nn.GRUCell, {}, 3),
}


def make(mode, *args, **kwargs):
    cls, _, extra, _ = MODES[mode]
    return cls(*args, **extra, **kwargs)


def rand(rng, *shape):
    return mg.tensor(rng.standard_normal(shape), requires_grad=True)


def state_tensors(state):
    return list(state) if isinstance(state, tuple) else [state]


def call_with(module, names, tensors, *args, **kwargs):
    """module(*args) with the named parameters temporarily replaced by `tensors` (for gradcheck / FD)."""
    saved = {n: module.__dict__[n] for n in names}
    try:
        for n, t in zip(names, tensors):
            object.__setattr__(module, n, t)
        return module(*args, **kwargs)
    finally:
        for n, p in saved.items():
            object.__setattr__(module, n, p)


def weighted_sum(tensors, rng):
    """A scalar that depends on every entry of every tensor with a random (fixed) weight."""
    total = None
    for t in tensors:
        w = mg.tensor(rng.standard_normal(t.shape))
        term = (t * w).sum()
        total = term if total is None else total + term
    return total


def grads_of(loss, tensors):
    return [g.numpy() for g in mg.grad(loss, tensors, retain_graph=True, allow_unused=True)]


# ---- shapes ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("layout", ["time_major", "batch_first", "unbatched"])
def test_layer_shapes(device, mode, bidirectional, layout):
    L, N, D_in, H, layers = 5, 3, 4, 6, 2
    proj = 2 if mode == "lstm" else 0
    kw = {"proj_size": proj} if proj else {}
    m = make(mode, D_in, H, num_layers=layers, bidirectional=bidirectional, batch_first=layout == "batch_first",
             device=device, **kw)  # fmt: skip
    D = 2 if bidirectional else 1
    H_out = proj or H
    G = MODES[mode][3]
    shapes = {}
    for k in range(layers):
        for sfx in ["", "_reverse"][:D]:
            shapes[f"weight_ih_l{k}{sfx}"] = (G * H, D_in if k == 0 else D * H_out)
            shapes[f"weight_hh_l{k}{sfx}"] = (G * H, H_out)
            shapes[f"bias_ih_l{k}{sfx}"] = (G * H,)
            shapes[f"bias_hh_l{k}{sfx}"] = (G * H,)
            if proj:
                shapes[f"weight_hr_l{k}{sfx}"] = (H_out, H)
    assert {n: p.shape for n, p in m.named_parameters()} == shapes
    x_shape = {"time_major": (L, N, D_in), "batch_first": (N, L, D_in), "unbatched": (L, D_in)}[
        layout
    ]
    out, state = m(mg.randn(*x_shape, device=device))
    batch = () if layout == "unbatched" else (N,)
    expected_out = {"time_major": (L, N, D * H_out), "batch_first": (N, L, D * H_out)}.get(
        layout, (L, D * H_out)
    )
    assert out.shape == expected_out
    assert out.dtype == mg.float32 and str(out.device) == device
    if mode == "lstm":
        h_n, c_n = state
        assert h_n.shape == (D * layers, *batch, H_out)
        assert c_n.shape == (D * layers, *batch, H)
    else:
        assert state.shape == (D * layers, *batch, H)


@pytest.mark.parametrize("mode", MODES)
def test_cell_shapes_and_default_state(device, mode):
    mg.manual_seed(0)
    _, cell_cls, extra, G = MODES[mode]
    cell = cell_cls(3, 5, device=device, **extra)
    assert {n: p.shape for n, p in cell.named_parameters()} == {
        "weight_ih": (G * 5, 3), "weight_hh": (G * 5, 5), "bias_ih": (G * 5,), "bias_hh": (G * 5,)
    }  # fmt: skip
    x = mg.randn(4, 3, device=device)
    zero = mg.zeros(4, 5, device=device)
    if mode == "lstm":
        h, c = cell(x)
        h2, c2 = cell(x, (zero, zero))
        assert h.shape == c.shape == (4, 5)
        np.testing.assert_array_equal(c.numpy(), c2.numpy())
        hu, cu = cell(x[0])  # unbatched
        assert hu.shape == cu.shape == (5,)
    else:
        h, h2 = cell(x), cell(x, zero)
        hu = cell(x[0])
        assert h.shape == (4, 5) and hu.shape == (5,)
    np.testing.assert_array_equal(h.numpy(), h2.numpy())
    np.testing.assert_allclose(hu.numpy(), h.numpy()[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", MODES)
def test_init_is_uniform_in_one_over_sqrt_hidden(mode):
    mg.manual_seed(0)
    m = make(mode, 7, 16, num_layers=2, bidirectional=True)
    values = np.concatenate([p.numpy().ravel() for p in m.parameters()])
    bound = 1 / np.sqrt(16)
    assert np.abs(values).max() <= bound
    assert (
        values.min() < -0.9 * bound and values.max() > 0.9 * bound
    )  # spread over the whole interval
    assert abs(values.mean()) < 0.05 * bound
    mg.manual_seed(0)
    again = make(mode, 7, 16, num_layers=2, bidirectional=True)
    np.testing.assert_array_equal(
        values, np.concatenate([p.numpy().ravel() for p in again.parameters()])
    )


def test_bias_false_and_repr():
    m = nn.LSTM(3, 4, num_layers=2, bias=False, batch_first=True, bidirectional=True, proj_size=2)
    assert not any("bias" in n for n, _ in m.named_parameters())
    assert (
        repr(m)
        == "LSTM(3, 4, proj_size=2, num_layers=2, bias=False, batch_first=True, bidirectional=True)"
    )
    assert repr(nn.RNNCell(2, 3, nonlinearity="relu")) == "RNNCell(2, 3, nonlinearity='relu')"
    m.flatten_parameters()  # PyTorch compatibility: exists and does nothing


# ---- gradcheck ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_cell_gradcheck(mode, batched, bias):
    rng = np.random.default_rng(1)
    _, cell_cls, extra, _ = MODES[mode]
    cell = cell_cls(3, 2, bias=bias, dtype=mg.float64, **extra)
    names = [n for n, _ in cell.named_parameters()]
    batch = (2,) if batched else ()
    x, h, c = rand(rng, *batch, 3), rand(rng, *batch, 2), rand(rng, *batch, 2)
    params = [mg.tensor(p.numpy(), requires_grad=True) for p in cell.parameters()]

    def fn(x, h, c, *ps):
        hx = (h, c) if mode == "lstm" else h
        return call_with(cell, names, ps, x, hx)

    assert gradcheck(fn, (x, h, c, *params))


@st.composite
def layer_configs(draw):
    mode = draw(st.sampled_from(sorted(MODES)))
    H = draw(st.integers(1, 3))
    N = draw(st.integers(1, 3))
    L = draw(st.integers(1, 4))
    cfg = {
        "mode": mode, "L": L, "N": N, "H": H, "D_in": draw(st.integers(1, 3)),
        "num_layers": draw(st.integers(1, 2)), "bidirectional": draw(st.booleans()),
        "batch_first": draw(st.booleans()), "bias": draw(st.booleans()), "h0": draw(st.booleans()),
        "proj_size": draw(st.integers(0, H - 1)) if mode == "lstm" else 0,
        "lengths": draw(st.none() | st.lists(st.integers(1, L), min_size=N, max_size=N)),
    }  # fmt: skip
    return cfg


@settings(max_examples=12, deadline=None)
@given(cfg=layer_configs())
def test_layer_gradcheck(cfg):
    rng = np.random.default_rng(0)
    m = make(cfg["mode"], cfg["D_in"], cfg["H"], num_layers=cfg["num_layers"], bias=cfg["bias"],
             batch_first=cfg["batch_first"], bidirectional=cfg["bidirectional"], dtype=mg.float64,
             **({"proj_size": cfg["proj_size"]} if cfg["proj_size"] else {}))  # fmt: skip
    names = [n for n, _ in m.named_parameters()]
    params = [mg.tensor(p.numpy(), requires_grad=True) for p in m.parameters()]
    L, N = cfg["L"], cfg["N"]
    x = rand(rng, *((N, L) if cfg["batch_first"] else (L, N)), cfg["D_in"])
    D = 2 if cfg["bidirectional"] else 1
    H_out = cfg["proj_size"] or cfg["H"]
    h0 = rand(rng, D * cfg["num_layers"], N, H_out)
    c0 = rand(rng, D * cfg["num_layers"], N, cfg["H"])

    def fn(x, h0, c0, *ps):
        hx = None
        if cfg["h0"]:
            hx = (h0, c0) if cfg["mode"] == "lstm" else h0
        out, state = call_with(m, names, ps, x, hx, lengths=cfg["lengths"])
        return (out, *state_tensors(state))

    assert gradcheck(fn, (x, h0, c0, *params), fast_mode=True, n_directions=2)


# ---- the layer is a loop over its cells -------------------------------------------------------------------


def cells_for(m, mode, k_names):
    """Cells carrying the layer's weights for one (layer, direction): copies, so gradients stay separate."""
    _, cell_cls, extra, _ = MODES[mode]
    w_ih = getattr(m, k_names[0])
    cell = cell_cls(w_ih.shape[1], m.hidden_size, bias=m.bias, dtype=w_ih.dtype, **extra)
    for attr, name in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), k_names):
        if name is not None:
            with mg.no_grad():
                getattr(cell, attr).copy_(getattr(m, name))
    return cell


@pytest.mark.parametrize("mode", MODES)
def test_layer_equals_loop_over_cells(device, mode):
    rng = np.random.default_rng(2)
    L, N, D_in, H, layers = 4, 3, 2, 3, 2
    m = make(mode, D_in, H, num_layers=layers, bidirectional=True, dtype=mg.float64, device=device)
    x = mg.tensor(rng.standard_normal((L, N, D_in)), device=device, requires_grad=True)
    h0 = mg.tensor(rng.standard_normal((2 * layers, N, H)), device=device, requires_grad=True)
    c0 = mg.tensor(rng.standard_normal((2 * layers, N, H)), device=device, requires_grad=True)
    lstm = mode == "lstm"
    out, state = m(x, (h0, c0) if lstm else h0)
    loss = weighted_sum([out, *state_tensors(state)], np.random.default_rng(3))
    loss.backward()

    # the same computation written out: for each layer and direction, a Python loop over one cell
    cells, layer_in, h_n, c_n = [], x, [], []
    for layer in range(layers):
        outs = []
        for direction in range(2):
            k = 2 * layer + direction
            sfx = f"_l{layer}" + ("_reverse" if direction else "")
            cell = cells_for(
                m, mode, [n + sfx for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            ).to(device)
            cells.append(cell)
            state_k = (h0[k], c0[k]) if lstm else h0[k]
            hs = [None] * L
            for t in reversed(range(L)) if direction else range(L):
                state_k = cell(layer_in[t], state_k)
                hs[t] = state_k[0] if lstm else state_k
            outs.append(mg.stack(hs))
            h_n.append(state_k[0] if lstm else state_k)
            c_n.append(state_k[1] if lstm else None)
        layer_in = mg.concatenate(outs, axis=2)
    ref_state = [mg.stack(h_n)] + ([mg.stack(c_n)] if lstm else [])
    np.testing.assert_allclose(out.numpy(), layer_in.numpy(), atol=1e-12)
    for a, b in zip(state_tensors(state), ref_state):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-12)
    ref_loss = weighted_sum([layer_in, *ref_state], np.random.default_rng(3))
    ref_grads = grads_of(ref_loss, [x, h0, c0] if lstm else [x, h0])
    np.testing.assert_allclose(x.grad.numpy(), ref_grads[0], atol=1e-12)
    np.testing.assert_allclose(h0.grad.numpy(), ref_grads[1], atol=1e-12)
    if lstm:
        np.testing.assert_allclose(c0.grad.numpy(), ref_grads[2], atol=1e-12)
    ref_loss.backward()
    for k, cell in enumerate(cells):
        sfx = f"_l{k // 2}" + ("_reverse" if k % 2 else "")
        for attr in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            np.testing.assert_allclose(
                getattr(m, attr + sfx).grad.numpy(), getattr(cell, attr).grad.numpy(), atol=1e-12
            )


# ---- variable lengths without sorting or packing --------------------------------------------------------


@pytest.mark.parametrize("mode", ["rnn_tanh", "lstm", "lstm_proj", "gru"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_lengths_equal_each_sequence_alone(mode, batch_first):
    rng = np.random.default_rng(4)
    L, D_in, H, layers = 5, 2, 4, 2
    lengths = [3, 5, 1, 4]  # unsorted, one full length
    N = len(lengths)
    kw = {"proj_size": 2} if mode == "lstm_proj" else {}
    mode = "lstm" if mode == "lstm_proj" else mode
    m = make(
        mode,
        D_in,
        H,
        num_layers=layers,
        bidirectional=True,
        batch_first=batch_first,
        dtype=mg.float64,
        **kw,
    )
    H_out = kw.get("proj_size", H)
    lstm = mode == "lstm"
    xs = rng.standard_normal((L, N, D_in))
    x = mg.tensor(xs.transpose(1, 0, 2) if batch_first else xs, requires_grad=True)
    h0 = rand(rng, 2 * layers, N, H_out)
    c0 = rand(rng, 2 * layers, N, H)
    out, state = m(x, (h0, c0) if lstm else h0, lengths=lengths)
    out_tm = out.transpose(0, 1) if batch_first else out
    w_out = rng.standard_normal((L, N, 2 * H_out))
    w_state = [rng.standard_normal(s.shape) for s in state_tensors(state)]
    loss = (out_tm * mg.tensor(w_out)).sum()
    for s, w in zip(state_tensors(state), w_state):
        loss = loss + (s * mg.tensor(w)).sum()
    loss.backward()
    params = dict(m.named_parameters())
    batched_grads = {n: p.grad.numpy().copy() for n, p in params.items()}
    summed = {n: 0.0 for n in params}
    for n, T in enumerate(lengths):
        m.zero_grad()
        xn = mg.tensor(xs[:T, n : n + 1], requires_grad=True)
        if batch_first:
            xn = mg.tensor(xs[:T, n : n + 1].transpose(1, 0, 2), requires_grad=True)
        h0n, c0n = (
            mg.tensor(h0.numpy()[:, n : n + 1], requires_grad=True),
            mg.tensor(c0.numpy()[:, n : n + 1], requires_grad=True),
        )
        o, st_n = m(xn, (h0n, c0n) if lstm else h0n)
        o_tm = (o.transpose(0, 1) if batch_first else o).numpy()
        np.testing.assert_allclose(out_tm.numpy()[:T, n], o_tm[:, 0], atol=1e-12)
        assert (out_tm.numpy()[T:, n] == 0).all()  # outputs past the length are zero
        for s, s_n in zip(state_tensors(state), state_tensors(st_n)):
            np.testing.assert_allclose(s.numpy()[:, n], s_n.numpy()[:, 0], atol=1e-12)
        loss_n = (o.transpose(0, 1) if batch_first else o) * mg.tensor(w_out[:T, n : n + 1])
        loss_n = loss_n.sum()
        for s_n, w in zip(state_tensors(st_n), w_state):
            loss_n = loss_n + (s_n * mg.tensor(w[:, n : n + 1])).sum()
        loss_n.backward()
        xg = x.grad.numpy()
        xg_n = xg[n] if batch_first else xg[:, n]
        xn_g = xn.grad.numpy()[0] if batch_first else xn.grad.numpy()[:, 0]
        np.testing.assert_allclose(xg_n[:T], xn_g, atol=1e-12)
        assert (xg_n[T:] == 0).all()  # the padding gets no gradient
        np.testing.assert_allclose(h0.grad.numpy()[:, n], h0n.grad.numpy()[:, 0], atol=1e-12)
        if lstm:
            np.testing.assert_allclose(c0.grad.numpy()[:, n], c0n.grad.numpy()[:, 0], atol=1e-12)
        for name, p in params.items():
            summed[name] = summed[name] + p.grad.numpy()
    for name in params:
        np.testing.assert_allclose(batched_grads[name], summed[name], atol=1e-11, err_msg=name)


@pytest.mark.parametrize("mode", MODES)
def test_padding_never_influences_outputs_or_gradients(mode):
    rng = np.random.default_rng(5)
    L, N, D_in, H = 6, 3, 2, 3
    lengths = np.array([2, 6, 4])
    m = make(mode, D_in, H, num_layers=2, bidirectional=True, dtype=mg.float64)
    base = rng.standard_normal((L, N, D_in))
    results = []
    for pad in (0.0, 1e6, np.nan, np.inf):
        xs = base.copy()
        for n, T in enumerate(lengths):
            xs[T:, n] = pad
        x = mg.tensor(xs, requires_grad=True)
        m.zero_grad()
        out, state = m(x, lengths=lengths)
        (out.sum() + sum(s.sum() for s in state_tensors(state))).backward()
        results.append([out.numpy(), x.grad.numpy()] + [p.grad.numpy() for p in m.parameters()])
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert np.isfinite(b).all()
            np.testing.assert_array_equal(a, b)


def test_full_lengths_equal_no_lengths():
    rng = np.random.default_rng(6)
    m = nn.GRU(2, 3, bidirectional=True, dtype=mg.float64)
    x = mg.tensor(rng.standard_normal((4, 2, 2)))
    a, ha = m(x)
    b, hb = m(x, lengths=mg.tensor([4, 4]))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(ha.numpy(), hb.numpy())


# ---- dropout between layers -----------------------------------------------------------------------------


def test_dropout_between_layers_only_in_training():
    rng = np.random.default_rng(7)
    x = mg.tensor(rng.standard_normal((5, 2, 3)))
    m = nn.LSTM(3, 4, num_layers=2, dropout=1.0, dtype=mg.float64)
    plain = nn.LSTM(3, 4, num_layers=2, dtype=mg.float64)
    plain.load_state_dict(m.state_dict())
    m.eval()
    np.testing.assert_array_equal(m(x)[0].numpy(), plain(x)[0].numpy())  # eval: no dropout
    m.train()
    # p = 1 drops every output of layer 0, so layer 1 sees zeros: the same as running it on zeros
    top = nn.LSTM(4, 4, dtype=mg.float64)
    top.load_state_dict(
        {k.replace("_l1", "_l0"): v for k, v in m.state_dict().items() if "_l1" in k}
    )
    out, (h_n, _) = m(x)
    ref, (ref_h, _) = top(mg.zeros(5, 2, 4, dtype=mg.float64))
    np.testing.assert_allclose(out.numpy(), ref.numpy(), atol=1e-12)
    np.testing.assert_allclose(h_n.numpy()[1], ref_h.numpy()[0], atol=1e-12)
    np.testing.assert_array_equal(
        h_n.numpy()[0], plain(x)[1][0].numpy()[0]
    )  # layer 0 itself is untouched
    half = nn.GRU(3, 4, num_layers=2, dropout=0.5, dtype=mg.float64)
    mg.manual_seed(1)
    a = half(x)[0].numpy()
    mg.manual_seed(1)
    np.testing.assert_array_equal(
        a, half(x)[0].numpy()
    )  # the seeded generator makes it reproducible
    assert not np.allclose(a, half.eval()(x)[0].numpy())


# ---- double backward, long unrolls ----------------------------------------------------------------------


def test_hessian_vector_product_through_two_layer_lstm_matches_finite_differences():
    rng = np.random.default_rng(8)
    m = nn.LSTM(2, 3, num_layers=2, dtype=mg.float64)
    names = [n for n, _ in m.named_parameters()]
    theta = [p.numpy().copy() for p in m.parameters()]
    v = [rng.standard_normal(p.shape) for p in theta]
    x = mg.tensor(rng.standard_normal((4, 2, 2)))
    w = mg.tensor(rng.standard_normal((4, 2, 3)))

    def gradient(values, create_graph=False):
        ps = [mg.tensor(a, requires_grad=True) for a in values]
        out, (h_n, c_n) = call_with(m, names, ps, x)
        loss = (out * w).sum() + (c_n * c_n).sum()
        return ps, mg.grad(loss, ps, create_graph=create_graph)

    ps, g = gradient(theta, create_graph=True)
    gv = sum((gi * mg.tensor(vi)).sum() for gi, vi in zip(g, v))
    hvp = [h.numpy() for h in mg.grad(gv, ps)]
    eps = 1e-5
    plus = gradient([a + eps * b for a, b in zip(theta, v)])[1]
    minus = gradient([a - eps * b for a, b in zip(theta, v)])[1]
    fd = [(p.numpy() - q.numpy()) / (2 * eps) for p, q in zip(plus, minus)]
    assert max(np.abs(f).max() for f in fd) > 1e-2  # not trivially zero
    for name, a, b in zip(names, hvp, fd):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7, err_msg=name)


def test_ten_thousand_step_unroll_backward():
    mg.manual_seed(0)
    m = nn.RNN(1, 2)
    x = mg.randn(10_000, 1, 1, requires_grad=True)
    out, h_n = m(x)
    (out.sum() + h_n.sum()).backward()  # no RecursionError: the engine never recurses
    assert x.grad.shape == x.shape and np.isfinite(x.grad.numpy()).all()
    assert all(np.isfinite(p.grad.numpy()).all() for p in m.parameters())


@pytest.mark.parametrize("mode", MODES)
def test_graph_grows_linearly_with_sequence_length(mode):
    m = make(mode, 2, 3)
    nodes = [mg.autograd.graph_stats(m(mg.randn(T, 1, 2))[0])["nodes"] for T in (10, 20, 40)]
    per_step = nodes[1] - nodes[0]
    assert (
        per_step > 0 and nodes[2] - nodes[1] == 2 * per_step
    )  # a constant number of ops per time step


# ---- PyTorch parity ----------------------------------------------------------------------------------


def torch_pair(torch, mode, **kw):
    cls_name = {"rnn_tanh": "RNN", "rnn_relu": "RNN", "lstm": "LSTM", "gru": "GRU"}[mode]
    extra = MODES[mode][2]
    t = getattr(torch.nn, cls_name)(**kw, **extra).double()
    m = make(mode, **kw, dtype=mg.float64)
    assert list(m.state_dict()) == list(t.state_dict())  # same names, same order
    m.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    return t, m


def assert_close(a, b, what):
    np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-7, err_msg=what)


PARITY = [
    (mode, layers, bidir, bf, bias, unbatched, h0)
    for mode, layers, bidir, bf, bias, unbatched, h0 in itertools.product(
        ["rnn_tanh", "rnn_relu", "lstm", "lstm_proj", "gru"],
        [1, 2],
        [False, True],
        [False, True],
        [True, False],
        [False, True],
        [False, True],
    )  # fmt: skip
    if not (unbatched and bf)  # batch_first does not apply to unbatched input
]


@pytest.mark.parametrize("mode,layers,bidir,batch_first,bias,unbatched,h0", PARITY)
def test_pytorch_parity(mode, layers, bidir, batch_first, bias, unbatched, h0):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    L, N, D_in, H = 4, 3, 3, 4
    kw = {"proj_size": 2} if mode == "lstm_proj" else {}
    mode = "lstm" if mode == "lstm_proj" else mode
    t, m = torch_pair(torch, mode, input_size=D_in, hidden_size=H, num_layers=layers, bias=bias,
                      batch_first=batch_first, bidirectional=bidir, **kw)  # fmt: skip
    lstm = mode == "lstm"
    D = 2 if bidir else 1
    H_out = kw.get("proj_size", H)
    batch = () if unbatched else (N,)
    x_np = rng.standard_normal(
        (L, D_in) if unbatched else ((N, L, D_in) if batch_first else (L, N, D_in))
    )
    arrays = [x_np]
    if h0:
        arrays.append(rng.standard_normal((D * layers, *batch, H_out)))
        if lstm:
            arrays.append(rng.standard_normal((D * layers, *batch, H)))
    tt = [torch.tensor(a, requires_grad=True) for a in arrays]
    mm = [mg.tensor(a, requires_grad=True) for a in arrays]

    def run(inputs, module):
        hx = None
        if h0:
            hx = (inputs[1], inputs[2]) if lstm else inputs[1]
        out, state = module(inputs[0], hx)
        return [out, *state_tensors(state)]

    res_t, res_m = run(tt, t), run(mm, m)
    weights = [rng.standard_normal(tuple(r.shape)) for r in res_t]
    sum((r * torch.tensor(w)).sum() for r, w in zip(res_t, weights)).backward()
    sum((r * mg.tensor(w)).sum() for r, w in zip(res_m, weights)).backward()
    for what, a, b in zip(["output", "h_n", "c_n"], res_t, res_m):
        assert tuple(a.shape) == b.shape, what
        assert_close(b.numpy(), a.detach().numpy(), what)
    for what, a, b in zip(["input", "h_0", "c_0"], tt, mm):
        assert_close(b.grad.numpy(), a.grad.numpy(), "grad of " + what)
    params = dict(m.named_parameters())
    for name, p in t.named_parameters():
        assert_close(params[name].grad.numpy(), p.grad.numpy(), "grad of " + name)


@pytest.mark.parametrize("mode", ["rnn_tanh", "rnn_relu", "lstm", "lstm_proj", "gru"])
@pytest.mark.parametrize("bidir", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_lengths_match_pytorch_packed_sequences(mode, bidir, batch_first):
    torch = pytest.importorskip("torch")
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    rng = np.random.default_rng(9)
    L, D_in, H, layers = 5, 3, 4, 2
    lengths = [2, 5, 1, 3]
    N = len(lengths)
    kw = {"proj_size": 2} if mode == "lstm_proj" else {}
    mode = "lstm" if mode == "lstm_proj" else mode
    t, m = torch_pair(torch, mode, input_size=D_in, hidden_size=H, num_layers=layers, batch_first=batch_first,
                      bidirectional=bidir, **kw)  # fmt: skip
    lstm = mode == "lstm"
    D = 2 if bidir else 1
    H_out = kw.get("proj_size", H)
    arrays = [rng.standard_normal((N, L, D_in) if batch_first else (L, N, D_in)),
              rng.standard_normal((D * layers, N, H_out)), rng.standard_normal((D * layers, N, H))]  # fmt: skip
    tt = [torch.tensor(a, requires_grad=True) for a in arrays]
    mm = [mg.tensor(a, requires_grad=True) for a in arrays]
    packed = pack_padded_sequence(
        tt[0], torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False
    )
    out_p, st_t = t(packed, (tt[1], tt[2]) if lstm else tt[1])
    out_t, _ = pad_packed_sequence(out_p, batch_first=batch_first, total_length=L)
    res_t = [out_t, *state_tensors(st_t)]
    out_m, st_m = m(mm[0], (mm[1], mm[2]) if lstm else mm[1], lengths=lengths)
    res_m = [out_m, *state_tensors(st_m)]
    weights = [rng.standard_normal(tuple(r.shape)) for r in res_t]
    sum((r * torch.tensor(w)).sum() for r, w in zip(res_t, weights)).backward()
    sum((r * mg.tensor(w)).sum() for r, w in zip(res_m, weights)).backward()
    for what, a, b in zip(["output", "h_n", "c_n"], res_t, res_m):
        assert_close(b.numpy(), a.detach().numpy(), what)
    for what, a, b in zip(["input", "h_0", "c_0"], tt, mm[: 3 if lstm else 2]):
        assert_close(b.grad.numpy(), a.grad.numpy(), "grad of " + what)
    params = dict(m.named_parameters())
    for name, p in t.named_parameters():
        assert_close(params[name].grad.numpy(), p.grad.numpy(), "grad of " + name)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("batched", [True, False])
def test_cells_match_pytorch(mode, batched):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(10)
    _, cell_cls, extra, _ = MODES[mode]
    t = getattr(torch.nn, cell_cls.__name__)(3, 4, **extra).double()
    m = cell_cls(3, 4, dtype=mg.float64, **extra)
    m.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    batch = (2,) if batched else ()
    arrays = [
        rng.standard_normal((*batch, 3)),
        rng.standard_normal((*batch, 4)),
        rng.standard_normal((*batch, 4)),
    ]
    tt = [torch.tensor(a, requires_grad=True) for a in arrays]
    mm = [mg.tensor(a, requires_grad=True) for a in arrays]
    lstm = mode == "lstm"
    res_t = state_tensors(t(tt[0], (tt[1], tt[2]) if lstm else tt[1]))
    res_m = state_tensors(m(mm[0], (mm[1], mm[2]) if lstm else mm[1]))
    weights = [rng.standard_normal(tuple(r.shape)) for r in res_t]
    sum((r * torch.tensor(w)).sum() for r, w in zip(res_t, weights)).backward()
    sum((r * mg.tensor(w)).sum() for r, w in zip(res_m, weights)).backward()
    for a, b in zip(res_t, res_m):
        assert_close(b.numpy(), a.detach().numpy(), "cell output")
    for a, b in zip(tt[: 3 if lstm else 2], mm):
        assert_close(b.grad.numpy(), a.grad.numpy(), "cell input grad")
    for name, p in t.named_parameters():
        assert_close(dict(m.named_parameters())[name].grad.numpy(), p.grad.numpy(), name)


@pytest.mark.parametrize(
    "mode,kw",
    [("rnn_tanh", {}), ("lstm", {"proj_size": 2}), ("lstm", {"bias": False}), ("gru", {})],
)
def test_all_weights_like_torch(mode, kw):
    torch = pytest.importorskip("torch")
    t, m = torch_pair(
        torch, mode, input_size=3, hidden_size=4, num_layers=2, bidirectional=True, **kw
    )
    t_names = {id(p): n for n, p in t.named_parameters()}
    m_names = {id(p): n for n, p in m.named_parameters()}
    expected = [[(t_names[id(p)], tuple(p.shape)) for p in ps] for ps in t.all_weights]
    assert [[(m_names[id(p)], p.shape) for p in ps] for ps in m.all_weights] == expected
    assert m.all_weights[3][1] is m.weight_hh_l1_reverse  # the module's own Parameters


# ---- errors, all raised before any computation ------------------------------------------------------------


def test_dropout_accepts_any_real_number_but_not_bool_or_nan():
    m = nn.GRU(4, 6, num_layers=2, dropout=np.float32(0.5))  # torch accepts NumPy scalars too
    assert m.dropout == 0.5 and type(m.dropout) is float
    assert nn.LSTM(3, 4, num_layers=2, dropout=np.int64(1)).dropout == 1.0
    for bad in (True, np.float64("nan"), float("nan"), np.float32(1.5), "0.5", None):
        with pytest.raises(ValueError, match="dropout should be a number"):
            nn.GRU(4, 6, num_layers=2, dropout=bad)


def test_constructor_errors():
    with pytest.raises(ValueError, match=r"dropout.*\[0, 1\].*1.5"):
        nn.LSTM(3, 4, num_layers=2, dropout=1.5)
    with pytest.raises(ValueError, match="dropout"):
        nn.GRU(3, 4, num_layers=2, dropout=-0.1)
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        nn.RNN(3, 4, dropout=0.5)
    with pytest.raises(ValueError, match="Unknown nonlinearity 'sigmoid'"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNNCell(3, 4, nonlinearity="gelu")
    with pytest.raises(
        ValueError, match="proj_size has to be smaller than hidden_size.*4 >= hidden_size=4"
    ):
        nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="proj_size"):
        nn.LSTM(3, 4, proj_size=-1)
    with pytest.raises(ValueError, match="only supported for LSTM"):
        nn.GRU(3, 4, proj_size=2)
    with pytest.raises(ValueError, match="only supported for LSTM"):
        nn.RNN(3, 4, proj_size=2)
    with pytest.raises(ValueError, match="hidden_size must be greater than zero"):
        nn.LSTM(3, 0)
    with pytest.raises(ValueError, match="num_layers"):
        nn.GRU(3, 4, num_layers=0)
    with pytest.raises(TypeError, match="hidden_size should be of type int"):
        nn.RNN(3, 4.0)


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_bias_and_batch_first_must_be_bool(cls):
    with pytest.raises(TypeError, match=r"bias should be of type bool, got: str \('False'\)"):
        cls(3, 4, bias="False")  # truthy: it would create biases
    with pytest.raises(TypeError, match="batch_first should be of type bool, got: NoneType"):
        cls(3, 4, batch_first=None)
    with pytest.raises(TypeError, match="bias should be of type bool, got: int"):
        cls(3, 4, bias=1)
    assert cls(3, 4, bidirectional=1).bidirectional == 1  # not checked, as in torch
    assert nn.GRUCell(3, 4, bias=1).bias_ih is not None  # cells check nothing, as in torch


def test_constructor_errors_match_torch():
    torch = pytest.importorskip("torch")
    calls = [
        ("LSTM", dict(bias="False")),
        ("GRU", dict(batch_first=None)),
        ("RNN", dict(bias=np.bool_(True))),
        ("GRU", dict(proj_size=0)),
        ("RNN", dict(proj_size=0)),
        ("GRU", dict(bias="x", proj_size=0)),  # proj_size is checked first
        ("RNN", dict(nonlinearity="gelu", proj_size=2)),
        ("LSTM", dict(bidirectional=1)),
        ("RNNCell", dict(bias="x")),
        ("LSTMCell", dict(bias=None)),
    ]
    for cls, kw in calls:
        expected = None
        try:
            getattr(torch.nn, cls)(3, 4, **kw)
        except Exception as e:
            expected = type(e)
        if expected is None:
            getattr(nn, cls)(3, 4, **kw)
        else:
            with pytest.raises(expected):
                getattr(nn, cls)(3, 4, **kw)
    with pytest.raises(ValueError, match=r"Unrecognized RNN mode: 'FOO'; select from 'RNN_TANH'"):
        nn.RNNBase("FOO", 3, 4)  # a bare KeyError before
    with pytest.raises(ValueError, match="Unrecognized RNN mode: FOO"):
        torch.nn.RNNBase("FOO", 3, 4)


@pytest.mark.parametrize("mode", MODES)
def test_forward_errors(mode):
    m = make(mode, 3, 4, num_layers=2)
    lstm = mode == "lstm"
    x = mg.randn(5, 2, 3)
    h = mg.zeros(2, 2, 4)
    with pytest.raises(ValueError, match=r"Expected input to be 2D or 3D, got 4D"):
        m(mg.randn(5, 2, 3, 1))
    with pytest.raises(ValueError, match="got 1D"):
        m(mg.randn(3))
    with pytest.raises(RuntimeError, match="Expected 3, got 7"):
        m(mg.randn(5, 2, 7))
    with pytest.raises(RuntimeError, match=r"h_0 of shape \(2, 2, 4\).*got \(1, 2, 4\)"):
        m(x, (mg.zeros(1, 2, 4), h) if lstm else mg.zeros(1, 2, 4))
    with pytest.raises(RuntimeError, match=r"h_0 of shape \(2, 2, 4\).*got \(2, 3, 4\)"):
        m(x, (mg.zeros(2, 3, 4), h) if lstm else mg.zeros(2, 3, 4))
    with pytest.raises(RuntimeError, match=r"h_0 of shape \(2, 4\)"):
        m(mg.randn(5, 3), (h, h) if lstm else h)  # unbatched input needs a 2-D state
    if lstm:
        with pytest.raises(RuntimeError, match=r"c_0 of shape \(2, 2, 4\).*got \(2, 2, 5\)"):
            m(x, (h, mg.zeros(2, 2, 5)))
        with pytest.raises(TypeError, match=r"tuple \(h_0, c_0\)"):
            m(x, h)
    with pytest.raises(ValueError, match=r"one length per batch element \(2\), got 3"):
        m(x, lengths=[5, 4, 3])
    with pytest.raises(ValueError, match=r"in \[1, 5\].*\[0, 3\]"):
        m(x, lengths=[0, 3])
    with pytest.raises(ValueError, match=r"in \[1, 5\]"):
        m(x, lengths=[-1, 3])
    with pytest.raises(ValueError, match=r"in \[1, 5\].*\[6, 3\]"):
        m(x, lengths=[6, 3])
    with pytest.raises(TypeError, match="integers"):
        m(x, lengths=[2.5, 3.0])
    with pytest.raises(ValueError, match="input has dtype float64 but the parameters are float32"):
        m(x.double())  # ValueError as in torch ("RNN input dtype ... does not match weight dtype")
    h64 = mg.zeros(2, 2, 4, dtype=mg.float64)
    with pytest.raises(RuntimeError, match="h_0 has dtype float64 but the parameters are float32"):
        m(x, (h64, h) if lstm else h64)  # but a state of the wrong dtype is a RuntimeError in torch
    with pytest.raises(TypeError, match="must be a Tensor"):
        m(x.numpy())


def test_errors_are_raised_before_any_computation(monkeypatch):
    calls = []
    original = mg.Function.__dict__["apply"]

    def counting_apply(cls, *args, **kwargs):
        calls.append(cls.__name__)
        return original.__func__(cls, *args, **kwargs)

    monkeypatch.setattr(mg.Function, "apply", classmethod(counting_apply))
    m = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    x = mg.randn(5, 2, 3, requires_grad=True)
    h, c = mg.zeros(4, 2, 4, requires_grad=True), mg.zeros(4, 2, 4, requires_grad=True)
    x64 = mg.randn(5, 2, 3, dtype=mg.float64)
    bad_calls = [
        lambda: m(x, lengths=[9, 1]),
        lambda: m(x, lengths=[5, 2, 1]),
        lambda: m(x, (h, mg.zeros(4, 3, 4))),
        lambda: m(x, (mg.zeros(2, 2, 4), c)),
        lambda: m(mg.randn(5, 2, 2, requires_grad=True), (h, c)),
        lambda: m(x64),
    ]
    for call in bad_calls:
        with pytest.raises((ValueError, RuntimeError, TypeError)):
            call()
    assert calls == []  # not a single op ran
    m(x, (h, c), lengths=[5, 2])
    assert "AddMatMul" in calls  # the counter does see the ops of a valid call


@pytest.mark.parametrize("mode", MODES)
def test_cell_errors(mode):
    _, cell_cls, extra, _ = MODES[mode]
    cell = cell_cls(3, 4, **extra)
    lstm = mode == "lstm"
    with pytest.raises(ValueError, match="Expected input to be 1D or 2D, got 3D"):
        cell(mg.randn(1, 2, 3))
    with pytest.raises(RuntimeError, match="got 5 expected 3"):
        cell(mg.randn(2, 5))
    bad = mg.zeros(3, 4)
    with pytest.raises(RuntimeError, match=r"of shape \(2, 4\).*got \(3, 4\)"):
        cell(mg.randn(2, 3), (bad, bad) if lstm else bad)
    with pytest.raises(RuntimeError, match="input has dtype float64"):
        cell(mg.randn(2, 3, dtype=mg.float64))  # a RuntimeError for cells, as in torch


# ---- nn defines no backward ---------------------------------------------------------------------------


def test_nothing_in_nn_defines_backward_or_a_function():
    import minigrad.nn

    modules = [minigrad.nn] + [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(minigrad.nn.__path__, prefix="minigrad.nn.")
    ]
    assert any(mod.__name__ == "minigrad.nn.rnn" for mod in modules)
    for mod in modules:
        for name, obj in vars(mod).items():
            if inspect.isclass(obj) and obj.__module__ == mod.__name__:
                assert not issubclass(obj, mg.Function), (
                    f"{mod.__name__}.{name} is a Function subclass"
                )
                assert "backward" not in vars(obj), f"{mod.__name__}.{name} defines backward"
