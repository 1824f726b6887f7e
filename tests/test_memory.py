"""Memory: a long training run of a small LSTM language model holds its memory steady, and carrying a
hidden state across iterations without detaching it is noticed and warned about.

Sizes are tiny so 1,000 steps take a few seconds; what matters is that nothing accumulates per step
(graphs kept alive by a reference cycle, optimizer state growing, cached arrays, ...).
"""

import gc
import tracemalloc
import warnings

import numpy as np
import pytest

import minigrad as mg

V, E, H, T, N = 8, 4, 8, 2, 2  # vocabulary, embedding, hidden, window length, batch
STEPS = 1000
WARMUP = 50
LIMIT = 1 << 20  # 1 MiB


class TinyLM:
    """Embedding -> LSTM -> Linear next-token model trained with truncated BPTT over one token stream."""

    def __init__(self, seed: int = 0):
        mg.manual_seed(seed)
        self.emb = mg.nn.Embedding(V, E)
        self.lstm = mg.nn.LSTM(E, H)
        self.head = mg.nn.Linear(H, V)
        self.params = [p for m in (self.emb, self.lstm, self.head) for p in m.parameters()]
        self.opt = mg.optim.Adam(self.params, lr=1e-2)
        stream = np.random.default_rng(seed).integers(0, V, size=(T * 16 + 1, N))
        self.x = mg.tensor(stream[:-1])
        self.y = mg.tensor(stream[1:])
        self.state = None
        self.t = 0

    def step(self, detach: bool = True, retain_graph: bool = False, update: bool = True) -> float:
        if self.t + T > self.x.shape[0]:
            self.t = 0
        x, y = self.x[self.t : self.t + T], self.y[self.t : self.t + T]
        self.t += T
        if detach:
            self.state = mg.nn.utils.detach_state(self.state)  # the truncated-BPTT idiom
        out, self.state = self.lstm(self.emb(x), self.state)
        loss = mg.nn.functional.cross_entropy(self.head(out).reshape(T * N, V), y.reshape(-1))
        self.opt.zero_grad()
        loss.backward(retain_graph=retain_graph)
        if update:
            mg.nn.utils.clip_grad_norm_(self.params, 1.0)
            self.opt.step()
        return loss.item()


def test_long_training_run_does_not_grow_memory():
    model = TinyLM()
    for _ in range(WARMUP):  # optimizer state, caches and the like settle first
        model.step()
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        first = model.step()
        for _ in range(STEPS - 1):
            last = model.step()
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert grown < LIMIT, f"memory grew by {grown / 1024:.0f} KiB over {STEPS} steps"
    assert last < first  # it did train (so the loop was not a no-op)


def test_carrying_a_hidden_state_without_detaching_warns_once_with_the_fix():
    model = TinyLM()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the first window carries nothing yet: no warning
        model.step(detach=False, retain_graph=True)
    with pytest.warns(UserWarning, match=r"detach_state\(state\)") as record:
        for _ in range(4):  # retain_graph=True silences "backward through the graph a second time"
            try:
                model.step(detach=False, retain_graph=True)
            except RuntimeError as e:
                # the optimizer changed weights that the retained graph still needs (PyTorch raises
                # here too); the warning came first, in the forward pass
                assert "modified in place" in str(e)
                break
    assert sum("detach_state" in str(w.message) for w in record) == 1  # once, not at every step


def test_without_retain_graph_the_second_window_says_what_to_do():
    model = TinyLM()
    model.step(detach=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(
            RuntimeError, match=r"backward through the graph a second time.*detach\(\)"
        ):
            model.step(detach=False)


def test_graph_behind_the_state_is_constant_with_detach_and_grows_without():
    good, bad = TinyLM(), TinyLM()
    good_nodes, bad_nodes, bad_bytes = [], [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the warning itself is tested above
        for _ in range(4):
            good.step(detach=True, update=False)
            bad.step(detach=False, retain_graph=True, update=False)
            good_nodes.append(mg.autograd.graph_stats(good.state[0])["nodes"])
            stats = mg.autograd.graph_stats(bad.state[0])
            bad_nodes.append(stats["nodes"])
            bad_bytes.append(stats["saved_bytes"])
    assert len(set(good_nodes)) == 1
    steps = [b - a for a, b in zip(bad_nodes, bad_nodes[1:])]
    assert bad_nodes[0] == good_nodes[0] and len(set(steps)) == 1 and steps[0] > 0  # linear growth
    assert all(b > a for a, b in zip(bad_bytes, bad_bytes[1:]))
