"""Karpathy's min-char-rnn, written for the benchmark: a vanilla RNN character model in plain NumPy.

The same configuration and style as the original gist (column vectors, one dict entry per time step,
hand-written backprop through time, gradients clipped to [-5, 5], Adagrad), float64:

    h_t = tanh(Wxh x_t + Whh h_{t-1} + bh)      Wxh (H, V)  Whh (H, H)  bh (H, 1)
    y_t = Why h_t + by                          Why (V, H)  by (V, 1)
    loss = sum_t -log softmax(y_t)[target_t]

bench/min_char_rnn.py times one step of it against minigrad.

    python bench/numpy_rnn.py      # checks the gradients against finite differences (and torch.nn.RNN)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

PARAM_NAMES = ("Wxh", "Whh", "Why", "bh", "by")
HIDDEN, SEQ_LENGTH, LEARNING_RATE = 100, 25, 1e-1  # min-char-rnn's hyperparameters


def load_text() -> str | None:
    """Tiny Shakespeare from examples/data or /work/shared/data, or None when neither exists."""
    root = Path(__file__).resolve().parents[1]
    for path in (
        root / "examples" / "data" / "tinyshakespeare.txt",
        Path("/work/shared/data/tinyshakespeare.txt"),
    ):
        if path.exists():
            return path.read_text(encoding="utf-8")
    return None


def init_params(vocab: int, hidden: int = HIDDEN, seed: int = 0) -> dict:
    """min-char-rnn's initialisation: weights N(0, 0.01^2), biases zero."""
    rng = np.random.default_rng(seed)
    return {
        "Wxh": rng.standard_normal((hidden, vocab)) * 0.01,
        "Whh": rng.standard_normal((hidden, hidden)) * 0.01,
        "Why": rng.standard_normal((vocab, hidden)) * 0.01,
        "bh": np.zeros((hidden, 1)),
        "by": np.zeros((vocab, 1)),
    }


def loss_fun(params: dict, inputs: list, targets: list, hprev: np.ndarray):
    """min-char-rnn's lossFun without the clipping (train_step clips, so that this stays a true gradient).

    inputs, targets: lists of T integer characters; hprev: (H, 1) initial hidden state.
    Returns the summed loss, the gradients (dict, same names and shapes) and the last hidden state.
    """
    Wxh, Whh, Why, bh, by = (params[k] for k in PARAM_NAMES)
    vocab_size = Wxh.shape[1]
    xs, hs, ps = {}, {}, {}
    hs[-1] = np.copy(hprev)
    loss = 0.0
    for t in range(len(inputs)):
        xs[t] = np.zeros((vocab_size, 1))
        xs[t][inputs[t]] = 1
        hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh)
        ys = np.dot(Why, hs[t]) + by
        ps[t] = np.exp(ys) / np.sum(np.exp(ys))
        loss += -np.log(ps[t][targets[t], 0])
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dhnext = np.zeros_like(hs[0])
    for t in reversed(range(len(inputs))):
        dy = np.copy(ps[t])
        dy[targets[t]] -= 1  # backprop into y: softmax minus one-hot
        dWhy += np.dot(dy, hs[t].T)
        dby += dy
        dh = np.dot(Why.T, dy) + dhnext
        dhraw = (1 - hs[t] * hs[t]) * dh  # through tanh
        dbh += dhraw
        dWxh += np.dot(dhraw, xs[t].T)
        dWhh += np.dot(dhraw, hs[t - 1].T)
        dhnext = np.dot(Whh.T, dhraw)
    grads = {"Wxh": dWxh, "Whh": dWhh, "Why": dWhy, "bh": dbh, "by": dby}
    return float(loss), grads, hs[len(inputs) - 1]


def train_step(
    params: dict,
    mem: dict,
    inputs: list,
    targets: list,
    hprev: np.ndarray,
    lr: float = LEARNING_RATE,
):
    """One min-char-rnn iteration: loss and gradients, clip to [-5, 5], Adagrad. Returns (loss, h_last)."""
    loss, grads, hprev = loss_fun(params, inputs, targets, hprev)
    for name in PARAM_NAMES:
        dparam = grads[name]
        np.clip(dparam, -5, 5, out=dparam)  # mitigate exploding gradients
        mem[name] += dparam * dparam
        params[name] += -lr * dparam / np.sqrt(mem[name] + 1e-8)
    return loss, hprev


# ---- correctness checks (tests/test_bench_reference.py and `python bench/numpy_rnn.py`) ---------------
def random_sequence(vocab: int, hidden: int, T: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    chars = rng.integers(0, vocab, size=T + 1).tolist()
    hprev = rng.uniform(-0.5, 0.5, (hidden, 1))
    return chars[:-1], chars[1:], hprev


def finite_difference_check(
    params: dict, inputs, targets, hprev, n_dirs: int = 3, eps: float = 1e-6, seed: int = 0
) -> float:
    """Worst |numeric - analytic| / (|grad| |u|) of <grad, u> along random directions u (about 1e-9 when
    the gradients are right, order 1 when one is wrong)."""
    rng = np.random.default_rng(seed)
    _, grads, _ = loss_fun(params, inputs, targets, hprev)
    worst = 0.0
    for name in PARAM_NAMES:
        for _ in range(n_dirs):
            u = rng.standard_normal(params[name].shape)
            plus = {k: v.copy() for k, v in params.items()}
            minus = {k: v.copy() for k, v in params.items()}
            plus[name] += eps * u
            minus[name] -= eps * u
            numeric = (
                loss_fun(plus, inputs, targets, hprev)[0]
                - loss_fun(minus, inputs, targets, hprev)[0]
            ) / (2 * eps)
            analytic = float((grads[name] * u).sum())
            scale = float(np.linalg.norm(grads[name]) * np.linalg.norm(u)) + 1e-12
            worst = max(worst, abs(numeric - analytic) / scale)
    return worst


def torch_loss_and_grads(params: dict, inputs, targets, hprev):
    """The same forward with torch.nn.RNN (bias_ih = bh, bias_hh = 0) and nn.Linear, float64 (needs torch)."""
    import torch

    H, V = params["Wxh"].shape
    rnn = torch.nn.RNN(V, H).double()
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(params["Wxh"]))
        rnn.weight_hh_l0.copy_(torch.from_numpy(params["Whh"]))
        rnn.bias_ih_l0.copy_(torch.from_numpy(params["bh"][:, 0]))
        rnn.bias_hh_l0.zero_()
    Why = torch.tensor(params["Why"], requires_grad=True)
    by = torch.tensor(params["by"][:, 0], requires_grad=True)
    x = torch.nn.functional.one_hot(torch.tensor(inputs), V).double().unsqueeze(1)  # (T, 1, V)
    out, h_n = rnn(x, torch.from_numpy(hprev[:, 0]).reshape(1, 1, H))
    logits = out[:, 0] @ Why.T + by
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor(targets), reduction="sum")
    loss.backward()
    grads = {
        "Wxh": rnn.weight_ih_l0.grad.numpy(),
        "Whh": rnn.weight_hh_l0.grad.numpy(),
        "Why": Why.grad.numpy(),
        "bh": rnn.bias_ih_l0.grad.numpy()[:, None],
        "by": by.grad.numpy()[:, None],
    }
    return loss.item(), grads, h_n.detach().numpy().reshape(H, 1)


def _main() -> None:
    V, H, T = 11, 9, 8
    params = init_params(V, H, seed=1)
    inputs, targets, hprev = random_sequence(V, H, T, seed=2)
    err = finite_difference_check(params, inputs, targets, hprev)
    print(f"finite differences (V={V} H={H} T={T}): worst error {err:.2e} (of |grad| |u|)")
    assert err < 1e-6, "hand-written BPTT disagrees with finite differences"
    try:
        import torch  # noqa: F401
    except ImportError:
        print("torch not installed: the torch.nn.RNN comparison is skipped")
        return
    loss, grads, _ = loss_fun(params, inputs, targets, hprev)
    tloss, tgrads, _ = torch_loss_and_grads(params, inputs, targets, hprev)
    worst = max(np.abs(grads[k] - tgrads[k]).max() for k in PARAM_NAMES)
    print(f"torch.nn.RNN: |loss diff| {abs(loss - tloss):.1e}, max |grad diff| {worst:.1e}")
    assert abs(loss - tloss) < 1e-10 and worst < 1e-10
    print("ok")


if __name__ == "__main__":
    _main()
