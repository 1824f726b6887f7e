"""Determinism on the CPU: with the same seed, training with dropout gives bit-identical parameters.

Every random number (initialisation, dropout masks, shuffling) comes from the device generator that
`mg.manual_seed` resets, so two runs with one seed must agree to the last bit, in this process or another.
"""

import ast
import os
import subprocess
import sys
import textwrap

import numpy as np

import minigrad as mg

STEPS = 50


def train(seed: int, steps: int = STEPS, training: bool = True) -> dict:
    """50 steps of a small classifier with dropout (and an LSTM with inter-layer dropout) trained with
    Adam on shuffled mini-batches; returns every parameter as bytes, and the losses."""
    mg.manual_seed(seed)
    mlp = mg.nn.Sequential(
        mg.nn.Linear(6, 16), mg.nn.ReLU(), mg.nn.Dropout(0.3),
        mg.nn.Linear(16, 16), mg.nn.Tanh(), mg.nn.Dropout(0.2),
        mg.nn.Linear(16, 3),
    )  # fmt: skip
    lstm = mg.nn.LSTM(6, 8, num_layers=2, dropout=0.25)
    head = mg.nn.Linear(8, 3)
    modules = [mlp, lstm, head]
    params = [p for m in modules for p in m.parameters()]
    opt = mg.optim.Adam(params, lr=1e-2)
    for m in modules:
        m.train(training)

    x = mg.randn(32, 6)  # the data come from the seeded generator too
    labels = mg.randint(0, 3, (32,))
    seq = mg.randn(5, 32, 6)
    losses = []
    for _ in range(steps):
        idx = mg.randperm(32)[:8]  # a shuffled mini-batch
        logits = mlp(x[idx])
        out, _ = lstm(seq[:, idx])
        logits = logits + head(out[-1])
        loss = mg.nn.functional.cross_entropy(logits, labels[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    named = {}
    for i, m in enumerate(modules):
        for name, p in m.named_parameters():
            named[f"{i}.{name}"] = p.numpy().tobytes()
    return {"params": named, "losses": losses}


def test_same_seed_gives_bit_identical_parameters():
    first = train(0)
    second = train(0)
    assert first["params"].keys() == second["params"].keys()
    for name in first["params"]:
        assert first["params"][name] == second["params"][name], f"{name} differs between two runs"
    assert first["losses"] == second["losses"]


def test_the_runs_really_depend_on_the_seed_and_on_dropout():
    # guards against a test that passes because nothing random happens
    base = train(0, steps=5)
    other_seed = train(1, steps=5)
    no_dropout = train(0, steps=5, training=False)
    assert base["params"] != other_seed["params"]
    assert base["losses"] != no_dropout["losses"]


def test_unrelated_random_calls_between_runs_do_not_matter():
    first = train(3, steps=10)
    mg.randn(100)  # advances the generator; the next run reseeds it anyway
    mg.nn.functional.dropout(mg.ones(50), 0.5)
    second = train(3, steps=10)
    assert first == second


def test_dropout_masks_repeat_after_reseeding():
    x = mg.ones(1000)
    mg.manual_seed(7)
    a = mg.nn.functional.dropout(x, 0.5).numpy()
    b = mg.nn.functional.dropout(x, 0.5).numpy()
    mg.manual_seed(7)
    c = mg.nn.functional.dropout(x, 0.5).numpy()
    np.testing.assert_array_equal(a, c)
    assert not np.array_equal(a, b)  # consecutive masks differ
    assert set(np.unique(a)) == {0.0, 2.0}


def test_same_seed_in_another_process_with_another_hash_seed():
    # set/dict ordering of objects keyed by hash must not leak into the numbers
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
        from test_determinism import train
        result = train(0, steps=10)
        print(repr(result))
        """
    )
    env = dict(os.environ, PYTHONHASHSEED="12345")
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert ast.literal_eval(proc.stdout) == train(0, steps=10)
