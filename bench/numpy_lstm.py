"""A character LSTM language model written by hand in NumPy, with hand-coded backprop through time.

This is the reference that bench/lstm_lm.py measures minigrad against, so it is written the way a
competent NumPy programmer would write it: one matmul for the input projection of all time steps,
the four gates in one fused (N, 4H) array, preallocated per-step buffers, and the weight gradients of the
recurrence computed after the loop in one matmul each. Parameters follow PyTorch's nn.LSTM + nn.Linear
layout, so weights copy across unchanged:

    weight_ih (4H, D)   weight_hh (4H, H)   bias_ih (4H,)   bias_hh (4H,)     gate order i, f, g, o
    weight_out (V, H)   bias_out (V,)

Model: one-hot input (T, N, V) -> LSTM(V, H) from zero state -> Linear(H, V) -> mean cross-entropy over
all T*N positions -> plain SGD step.

    python bench/numpy_lstm.py      # checks the gradients against torch.nn.LSTM or finite differences
"""

from __future__ import annotations

import numpy as np

PARAM_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_out", "bias_out")


def init_params(vocab: int, hidden: int, dtype=np.float32, seed: int = 0) -> dict:
    """PyTorch's initialisation: every parameter U(-1/sqrt(H), 1/sqrt(H))."""
    rng = np.random.default_rng(seed)
    k = 1.0 / np.sqrt(hidden)
    shapes = {
        "weight_ih": (4 * hidden, vocab),
        "weight_hh": (4 * hidden, hidden),
        "bias_ih": (4 * hidden,),
        "bias_hh": (4 * hidden,),
        "weight_out": (vocab, hidden),
        "bias_out": (vocab,),
    }
    return {name: rng.uniform(-k, k, shape).astype(dtype) for name, shape in shapes.items()}


def one_hot(indices: np.ndarray, vocab: int, dtype=np.float32) -> np.ndarray:
    """(T, N) integer characters -> (T, N, V) one-hot rows."""
    out = np.zeros(indices.shape + (vocab,), dtype=dtype)
    np.put_along_axis(out, indices[..., None], 1.0, axis=-1)
    return out


def _sigmoid(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    # 1 / (1 + exp(-x)) in place; exp overflows to inf for very negative x, which still gives 0
    np.negative(x, out=out)
    np.exp(out, out=out)
    out += 1.0
    np.reciprocal(out, out=out)
    return out


def loss_and_grads(params: dict, x: np.ndarray, targets: np.ndarray) -> tuple[float, dict]:
    """Forward and hand-coded backward of the model.

    Parameters
    ----------
    params : dict of the six arrays above
    x : (T, N, V) one-hot input
    targets : (T, N) integer next characters

    Returns
    -------
    loss : mean cross-entropy over the T*N positions
    grads : dict with the gradient of every parameter, same names and shapes
    """
    W_ih, W_hh = params["weight_ih"], params["weight_hh"]
    W_out, b_out = params["weight_out"], params["bias_out"]
    T, N, V = x.shape
    H = W_hh.shape[1]
    dtype = W_hh.dtype

    # ---- forward ----
    x_flat = x.reshape(T * N, V)
    # input projection of every step at once; both biases folded in here
    gates = (x_flat @ W_ih.T + (params["bias_ih"] + params["bias_hh"])).reshape(T, N, 4 * H)
    acts = np.empty((T, N, 4 * H), dtype=dtype)  # i, f, g, o after their nonlinearities
    hs = np.empty((T + 1, N, H), dtype=dtype)  # hs[0] is h0, hs[t + 1] the output of step t
    cs = np.empty((T + 1, N, H), dtype=dtype)
    tanh_c = np.empty((T, N, H), dtype=dtype)
    hs[0] = 0.0
    cs[0] = 0.0
    for t in range(T):
        a = gates[t]
        a += hs[t] @ W_hh.T
        act = acts[t]
        _sigmoid(a[:, : 2 * H], out=act[:, : 2 * H])  # i, f
        np.tanh(a[:, 2 * H : 3 * H], out=act[:, 2 * H : 3 * H])  # g
        _sigmoid(a[:, 3 * H :], out=act[:, 3 * H :])  # o
        i, f, g, o = act[:, :H], act[:, H : 2 * H], act[:, 2 * H : 3 * H], act[:, 3 * H :]
        c = cs[t + 1]
        np.multiply(f, cs[t], out=c)
        c += i * g
        np.tanh(c, out=tanh_c[t])
        np.multiply(o, tanh_c[t], out=hs[t + 1])

    h_flat = hs[1:].reshape(T * N, H)
    logits = h_flat @ W_out.T + b_out  # (T*N, V)
    logits -= logits.max(axis=1, keepdims=True)  # stable softmax
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    rows = np.arange(T * N)
    tgt = targets.reshape(T * N)
    loss = -np.log(probs[rows, tgt]).mean()

    # ---- backward ----
    dlogits = probs  # reuse the buffer: d loss / d logits = (softmax - onehot) / (T*N)
    dlogits[rows, tgt] -= 1.0
    dlogits /= T * N
    grads = {
        "weight_out": dlogits.T @ h_flat,
        "bias_out": dlogits.sum(axis=0),
    }
    dh_out = (dlogits @ W_out).reshape(T, N, H)  # gradient reaching each h_t from the output layer

    dgates = np.empty((T, N, 4 * H), dtype=dtype)  # d loss / d gate pre-activations
    dh_next = np.zeros((N, H), dtype=dtype)
    dc_next = np.zeros((N, H), dtype=dtype)
    for t in range(T - 1, -1, -1):
        act = acts[t]
        i, f, g, o = act[:, :H], act[:, H : 2 * H], act[:, 2 * H : 3 * H], act[:, 3 * H :]
        dh = dh_out[t] + dh_next
        tc = tanh_c[t]
        dc = dc_next + dh * o * (1.0 - tc * tc)
        da = dgates[t]
        np.multiply(dc, g, out=da[:, :H])  # d i
        np.multiply(dc, cs[t], out=da[:, H : 2 * H])  # d f
        np.multiply(dc, i, out=da[:, 2 * H : 3 * H])  # d g
        np.multiply(dh, tc, out=da[:, 3 * H :])  # d o
        # through the nonlinearities: sigmoid' = s (1 - s) for i, f, o and tanh' = 1 - g^2 for g
        da[:, 2 * H : 3 * H] *= 1.0 - g * g
        sig = act[:, : 2 * H]
        da[:, : 2 * H] *= sig * (1.0 - sig)
        da[:, 3 * H :] *= o * (1.0 - o)
        dc_next = dc * f
        dh_next = da @ W_hh

    dgates_flat = dgates.reshape(T * N, 4 * H)
    grads["weight_ih"] = dgates_flat.T @ x_flat
    grads["weight_hh"] = dgates_flat.T @ hs[:-1].reshape(T * N, H)
    grads["bias_ih"] = dgates_flat.sum(axis=0)
    grads["bias_hh"] = grads["bias_ih"].copy()
    return float(loss), grads


def sgd_step(params: dict, grads: dict, lr: float) -> None:
    """Plain SGD, in place: p -= lr * grad."""
    for name, p in params.items():
        p -= lr * grads[name]


def train_step(params: dict, x: np.ndarray, targets: np.ndarray, lr: float) -> float:
    """One training step: forward, backward, SGD update. Returns the loss before the update."""
    loss, grads = loss_and_grads(params, x, targets)
    sgd_step(params, grads, lr)
    return loss


# ---- correctness checks (used by tests/test_bench_reference.py and `python bench/numpy_lstm.py`) -----
def torch_loss_and_grads(params: dict, x: np.ndarray, targets: np.ndarray) -> tuple[float, dict]:
    """The same model with torch.nn.LSTM + nn.Linear + cross_entropy, for checking (needs torch)."""
    import torch

    T, N, V = x.shape
    H = params["weight_hh"].shape[1]
    dtype = torch.float64 if params["weight_hh"].dtype == np.float64 else torch.float32
    lstm = torch.nn.LSTM(V, H).to(dtype)
    linear = torch.nn.Linear(H, V).to(dtype)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(lstm, name + "_l0").copy_(torch.from_numpy(params[name]))
        linear.weight.copy_(torch.from_numpy(params["weight_out"]))
        linear.bias.copy_(torch.from_numpy(params["bias_out"]))
    out, _ = lstm(torch.from_numpy(x))
    logits = linear(out).reshape(T * N, V)
    loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(targets.reshape(-1)).long())
    loss.backward()
    grads = {
        name: getattr(lstm, name + "_l0").grad.numpy()
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    }
    grads["weight_out"] = linear.weight.grad.numpy()
    grads["bias_out"] = linear.bias.grad.numpy()
    return loss.item(), grads


def finite_difference_check(
    params: dict,
    x: np.ndarray,
    targets: np.ndarray,
    n_dirs: int = 3,
    eps: float = 1e-6,
    seed: int = 0,
) -> float:
    """Largest error of <grad, u> against a central difference along random directions u.

    Use float64 parameters. Returns the worst |numeric - analytic| / (|grad| |u|) over the parameters and
    directions (about 1e-9 when the gradients are right, order 1 when one is wrong).
    """
    rng = np.random.default_rng(seed)
    _, grads = loss_and_grads(params, x, targets)
    worst = 0.0
    for name in PARAM_NAMES:
        for _ in range(n_dirs):
            u = rng.standard_normal(params[name].shape)
            plus = {k: v.copy() for k, v in params.items()}
            minus = {k: v.copy() for k, v in params.items()}
            plus[name] += eps * u
            minus[name] -= eps * u
            numeric = (
                loss_and_grads(plus, x, targets)[0] - loss_and_grads(minus, x, targets)[0]
            ) / (2 * eps)
            analytic = float((grads[name] * u).sum())
            # relative to |grad| |u|, the size of a typical directional derivative: a direction nearly
            # orthogonal to the gradient gives a tiny <grad, u> that roundoff alone would swamp
            scale = float(np.linalg.norm(grads[name]) * np.linalg.norm(u)) + 1e-12
            worst = max(worst, abs(numeric - analytic) / scale)
    return worst


def random_batch(
    T: int, N: int, V: int, dtype=np.float32, seed: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Random characters: the one-hot input (T, N, V) and the next-character targets (T, N)."""
    rng = np.random.default_rng(seed)
    chars = rng.integers(0, V, size=(T + 1, N))
    return one_hot(chars[:-1], V, dtype), chars[1:]


def _main() -> None:
    T, N, V, H = 7, 3, 11, 8
    params = init_params(V, H, np.float64)
    x, targets = random_batch(T, N, V, np.float64)
    err = finite_difference_check(params, x, targets)
    print(
        f"finite differences (float64, T={T} N={N} V={V} H={H}): worst error {err:.2e} (of |grad| |u|)"
    )
    assert err < 1e-6, "hand-written BPTT disagrees with finite differences"
    try:
        import torch  # noqa: F401
    except ImportError:
        print("torch not installed: the torch.nn.LSTM comparison is skipped")
        return
    T, N, V, H = 64, 32, 65, 256
    for dtype, tol in ((np.float64, 1e-10), (np.float32, 2e-5)):
        params = init_params(V, H, dtype)
        x, targets = random_batch(T, N, V, dtype)
        loss, grads = loss_and_grads(params, x, targets)
        tloss, tgrads = torch_loss_and_grads(params, x, targets)
        worst = max(
            np.abs(grads[k] - tgrads[k]).max() / (np.abs(tgrads[k]).max() + 1e-30)
            for k in PARAM_NAMES
        )
        print(
            f"torch.nn.LSTM ({np.dtype(dtype).name}, T={T} N={N} V={V} H={H}): |loss diff| {abs(loss - tloss):.1e}, worst max-normalised grad diff {worst:.1e}"
        )
        assert abs(loss - tloss) < tol * 10 and worst < tol, (
            "hand-written BPTT disagrees with torch.nn.LSTM"
        )
    print("ok")


if __name__ == "__main__":
    _main()
