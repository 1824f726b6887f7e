"""Vanishing and exploding gradients: how far back does the gradient of a loss reach in a recurrent network?

    python examples/vanishing_gradients.py

Part 1 (vanishing). A tanh RNN, an LSTM and a GRU, freshly initialised, read the same 100-step sequences.
The loss looks only at the last step, so dL/dh_t, the gradient reaching the hidden state at step t, has
travelled T - t steps back through the recurrence. `mg.nn.utils.record_hidden_grads` hooks every step's
hidden state and records ||dL/dh_t||. In the tanh RNN each step back multiplies the gradient by
W_hh^T diag(1 - h_t^2), with PyTorch's initialisation a contraction (about 0.6 per step here), so the
first steps receive ~1e-22 of the gradient the last one gets: they cannot learn. Freshly initialised,
the LSTM and the GRU fare little better: along the LSTM's cell state the gradient is multiplied by the
forget gate f, and f = sigmoid(~0) = 0.5 at initialisation. What the gates buy is that this factor is
*learnable*: the same LSTM with a forget-gate bias of 3 (f ~ 0.95, a common initialisation trick)
carries a gradient of the same order across all 100 steps.

Part 2 (exploding). A tanh RNN whose recurrent weights are large (random with gain 2: chaotic dynamics)
has gradients that grow as they travel back instead (x 1e6 over 100 steps). Trained with plain SGD to
echo its previous input, each update lr * ||grad|| is then huge, throws the weights far away and the
loss overflows within a few dozen steps. `mg.nn.utils.clip_grad_norm_` rescales the gradient whenever
its norm exceeds a threshold, so every update stays bounded and the loss falls. Both runs start from
the same weights and see the same batches.
"""

from __future__ import annotations

import math

import numpy as np
from _common import (
    Timer,
    make_parser,
    nonnegative_float,
    plt,
    positive_float,
    positive_int,
    progress,
    save_metrics,
    savefig,
    setup,
)

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn


def parse_args(argv=None):
    parser = make_parser(
        "vanishing_gradients", "Per-time-step gradient norms in RNN, LSTM and GRU; clipping."
    )
    parser.add_argument(
        "--seq-len", type=positive_int, help="sequence length T (default: 100; 30 with --quick)"
    )
    parser.add_argument(
        "--hidden", type=positive_int, help="hidden size (default: 64; 16 with --quick)"
    )
    parser.add_argument("--batch-size", type=positive_int, default=32, help="sequences per batch")
    parser.add_argument(
        "--gain",
        type=nonnegative_float,
        default=2.0,
        help="part 2: scale of the large recurrent weights",
    )
    parser.add_argument(
        "--steps",
        type=positive_int,
        help="part 2: SGD steps per run (default: 150; 15 with --quick)",
    )
    parser.add_argument("--lr", type=positive_float, default=0.3, help="part 2: SGD learning rate")
    parser.add_argument(
        "--forget-bias", type=float, default=3.0, help="part 1: forget-gate bias of the 4th curve"
    )
    parser.add_argument(
        "--max-norm", type=positive_float, default=1.0, help="part 2: clip_grad_norm_ threshold"
    )
    args = parser.parse_args(argv)
    # --quick changes only the defaults: a flag given on the command line wins
    defaults = {"seq_len": 100, "hidden": 64, "steps": 150}
    if args.quick:
        defaults = {"seq_len": 30, "hidden": 16, "steps": 15}
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


class Readout(nn.Module):
    """A recurrent layer and a Linear readout of every step's output. (T, N, 1) -> (T, N, 1)."""

    def __init__(self, kind: str, hidden_size: int):
        super().__init__()
        layer = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind]
        self.rnn = layer(1, hidden_size)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out)


def make_batch(rng, T: int, N: int, device, dtype=np.float32):
    """Random sequences x (T, N, 1) and the task's target y (T, N, 1): echo the previous input."""
    x = rng.standard_normal((T, N, 1)).astype(dtype)
    y = np.zeros_like(x)
    y[1:] = x[:-1]
    return mg.tensor(x, device=device), mg.tensor(y, device=device)


# ---- part 1: ||dL/dh_t|| per time step ------------------------------------------------------------------
def hidden_grad_norms(model, x, y) -> list:
    """One forward/backward of the loss at the last step only; returns ||dL/dh_t|| for t = 1..T."""
    with nn.utils.record_hidden_grads(model.rnn) as rec:
        pred = model(x)
    F.mse_loss(pred[-1], y[-1]).backward()
    return rec.norms[(0, 0)]  # (layer 0, forward direction)


# ---- part 2: training with and without clipping ----------------------------------------------------------
def grad_norm(params) -> float:
    """||grad|| over all parameters together (the quantity clip_grad_norm_ bounds)."""
    total = sum(
        float((p.grad.data.astype(np.float64) ** 2).sum()) for p in params if p.grad is not None
    )
    return math.sqrt(total)


def train_sgd(model, args, device, clip: bool, desc: str):
    """Plain SGD on the echo task (a loss at every step); records the loss and every update's size."""
    params = list(model.parameters())
    optimizer = mg.optim.SGD(params, lr=args.lr)
    rng = np.random.default_rng(args.seed + 1)  # the same batches for both runs
    losses, update_norms = [], []
    bar = progress(range(args.steps), desc=desc)
    for _ in bar:
        x, y = make_batch(rng, args.seq_len, args.batch_size, device)
        loss = F.mse_loss(model(x), y)
        if not math.isfinite(loss.item()):
            bar.write(f"{desc}: the loss is {loss.item()}: training diverged, stopping")
            break
        optimizer.zero_grad()
        loss.backward()
        if clip:
            nn.utils.clip_grad_norm_(params, args.max_norm)
        update_norms.append(args.lr * grad_norm(params))  # SGD moves the weights by lr * grad
        optimizer.step()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{losses[-1]:.4g}")
    return losses, update_norms


def exploding_model(args, device, dtype=None):
    """A tanh RNN with recurrent weights N(0, gain^2 / H): for gain > 1 the dynamics are chaotic."""
    model = Readout("rnn", args.hidden).to(device, dtype=dtype)
    w = model.rnn.weight_hh_l0
    with mg.no_grad():
        w.copy_(
            mg.randn(*w.shape, dtype=w.dtype, device=device) * (args.gain / math.sqrt(args.hidden))
        )
    return model


def main(argv=None):
    args = parse_args(argv)
    device = setup(args)
    timer = Timer()
    T = args.seq_len

    # ---- part 1 -----------------------------------------------------------------------------------------
    # float64: in float32 the tanh RNN's ||dL/dh_1|| (about 1e-23 here) would underflow to 0
    x, y = make_batch(np.random.default_rng(args.seed), T, args.batch_size, device, np.float64)
    curves, ratios = {}, {}
    models = {"tanh RNN": "rnn", "LSTM": "lstm", "GRU": "gru"}
    for label, kind in models.items():
        mg.manual_seed(args.seed)
        model = Readout(kind, args.hidden).to(device, dtype=mg.float64)
        curves[label] = hidden_grad_norms(model, x, y)
    # The LSTM's memory is its forget gate f: the gradient along the cell state shrinks by f per step.
    # At initialisation f = sigmoid(~0) = 0.5; a positive forget-gate bias (common practice) opens it.
    mg.manual_seed(args.seed)
    model = Readout("lstm", args.hidden).to(device, dtype=mg.float64)
    H = args.hidden
    with mg.no_grad():
        model.rnn.bias_ih_l0[H : 2 * H] = args.forget_bias  # gate order i, f, g, o
    curves[f"LSTM, forget bias {args.forget_bias:g}"] = hidden_grad_norms(model, x, y)
    mg.manual_seed(args.seed)
    curves[f"tanh RNN, gain {args.gain:g}"] = hidden_grad_norms(
        exploding_model(args, device, mg.float64), x, y
    )

    print(f"\n||dL/dh_t|| for a loss on the last of T = {T} steps (hidden {args.hidden})")
    print(f"{'model':<20} {'||dL/dh_1||':>12} {'||dL/dh_T||':>12} {'ratio 1/T':>12}")
    for label, norms in curves.items():
        ratios[label] = norms[0] / norms[-1]
        print(f"{label:<20} {norms[0]:12.3e} {norms[-1]:12.3e} {ratios[label]:12.3e}")

    # ---- part 2 -----------------------------------------------------------------------------------------
    runs = {}
    for clip in (False, True):
        mg.manual_seed(args.seed)  # the same initial weights for both runs
        model = exploding_model(args, device)
        label = f"clip_grad_norm_({args.max_norm:g})" if clip else "no clipping"
        if clip:
            runs[label] = train_sgd(model, args, device, clip, label)
            clipped_model = model
        else:
            # NOTE: the unclipped float32 run is meant to diverge; numpy's overflow warning in mse_loss's
            # reduction is expected there, and the loop stops on the first non-finite loss
            with np.errstate(over="ignore"):
                runs[label] = train_sgd(model, args, device, clip, label)
    (plain_losses, plain_updates), (clip_losses, clip_updates) = runs.values()
    print(f"\nSGD lr {args.lr} on the gain-{args.gain:g} RNN, {args.steps} steps:")
    for label, (losses, updates) in runs.items():
        tail = losses[-max(1, len(losses) // 10) :]
        print(
            f"  {label:<22} largest update {max(updates):10.3e}, final loss {np.mean(tail):.4g}, steps {len(losses)}"
        )

    # ---- plots ------------------------------------------------------------------------------------------
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(15, 4))
    steps = np.arange(1, T + 1)
    for label, norms in curves.items():
        ax1.semilogy(steps, np.maximum(norms, 1e-30), label=label)
    ax1.set_xlabel("time step t (the loss is at t = T)")
    ax1.set_ylabel("||dL/dh_t||")
    ax1.set_title("gradient reaching each time step")
    ax1.legend(fontsize=8)
    for label, (losses, updates) in runs.items():
        ax2.semilogy(np.arange(1, len(updates) + 1), updates, label=label)
        ax3.semilogy(np.arange(1, len(losses) + 1), losses, label=label)
    ax2.set_xlabel("SGD step")
    ax2.set_ylabel("update norm  lr * ||grad||")
    ax2.set_title(f"exploding setting (gain {args.gain:g})")
    ax2.legend(fontsize=8)
    ax3.set_xlabel("SGD step")
    ax3.set_ylabel("training loss (MSE)")
    ax3.set_title("training the exploding RNN")
    ax3.set_ylim(
        0.5 * min(clip_losses), 100 * max(clip_losses)
    )  # a diverging run leaves through the top
    ax3.legend(fontsize=8)
    for ax in (ax1, ax2, ax3):
        ax.grid(True, which="both", alpha=0.3)
    savefig(fig, args.out, "gradient_norms.png")

    ckpt = args.out / "checkpoint.safetensors"
    mg.save(
        {"model": clipped_model.state_dict(), "config": {"hidden": args.hidden, "gain": args.gain}},
        ckpt,
    )
    tail = max(1, len(clip_losses) // 10)
    save_metrics(
        args.out,
        {
            "headline": "tanh_rnn_grad_ratio",
            "tanh_rnn_grad_ratio": ratios["tanh RNN"],
            "lstm_grad_ratio": ratios["LSTM"],
            "gru_grad_ratio": ratios["GRU"],
            "exploding_rnn_grad_ratio": ratios[f"tanh RNN, gain {args.gain:g}"],
            "grad_norms": curves,
            # the losses of the clipped run on the exploding RNN
            "first_loss": clip_losses[0],
            "final_loss": float(np.mean(clip_losses[-tail:])),
            "unclipped_final_loss": float(np.mean(plain_losses[-tail:])) if plain_losses else None,
            "max_update_norm_clipped": max(clip_updates),
            "max_update_norm_unclipped": max(plain_updates) if plain_updates else None,
            "config": {k: v for k, v in vars(args).items() if k != "out"},
            "wall_time_s": timer.elapsed(),
            "checkpoint": ckpt.name,
        },
    )


if __name__ == "__main__":
    main()
