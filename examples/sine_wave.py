"""A recurrent network learns a waveform, then generates it on its own; or forecasts a real time series.

    python examples/sine_wave.py                       # LSTM learns a sum of sines, generates 5x its training length
    python examples/sine_wave.py --series sunspots     # or airline, temperatures: one-step-ahead forecasts

Waveform (the default). The network reads a wave one sample at a time and is trained to predict the next
sample (teacher forcing: its input is always the true wave). To generate, it first reads the true wave for
one training length to settle its state, then runs *closed loop*: each prediction becomes the next input.
Errors now feed back into the model, so a wave that stays on track for several training lengths shows
that the network learned the wave's dynamics, not a lookup table. Reported: the mean squared error over
the first generated period (target <= 0.01). The shape holds for all five training lengths, but a
tiny error in the generated frequency accumulates: after a few periods the phase drifts (see the plot).

Real series (`--series`). The last 20% of the series (in time) is the test set. The network reads the
previous `--window` values and predicts the *change* to the next one, so predicting 0 would be the naive
"tomorrow equals today" forecast, which the network has to beat: both test RMSEs are reported, in the
series' own units.
"""

from __future__ import annotations

import csv

import numpy as np
from _common import (
    Timer,
    data_path,
    make_parser,
    nonnegative_float,
    plt,
    positive_float,
    positive_int,
    progress,
    save_metrics,
    savefig,
    setup,
    smooth,
)

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn

PERIOD = 50  # samples per period of the waveform
HARMONICS = [
    (1, 0.6, 0.0),
    (2, 0.3, 1.0),
    (3, 0.15, 2.0),
]  # (multiple of the base frequency, amplitude, phase)

# file, value column, transform, window length. The transforms make the noise about equally large at
# every level: the airline series grows multiplicatively (log), sunspot counts are noisier when high (sqrt).
SERIES = {
    "airline": ("airline-passengers.csv", "Passengers", "log", 24),
    "sunspots": ("monthly-sunspots.csv", "Sunspots", "sqrt", 60),
    "temperatures": ("daily-min-temperatures.csv", "Temp", None, 60),
}
TRANSFORMS = {
    None: (lambda v: v, lambda v: v),
    "log": (np.log, np.exp),
    "sqrt": (np.sqrt, np.square),
}
TRAIN_FRACTION = 0.8  # of a real series, in time; the rest is the test set


def parse_args(argv=None):
    parser = make_parser(
        "sine_wave", "An RNN learns a waveform and generates it; or forecasts a real series."
    )
    parser.add_argument(
        "--series",
        choices=sorted(SERIES),
        help="forecast a real series instead of the waveform (default: the waveform)",
    )
    parser.add_argument(
        "--model", choices=["lstm", "gru", "rnn"], default="lstm", help="recurrent layer"
    )
    parser.add_argument(
        "--hidden",
        type=positive_int,
        help="hidden size (default: 64; 32 for --series; 16 with --quick)",
    )
    parser.add_argument(
        "--steps",
        type=positive_int,
        help="training steps (default: 1000; 400 for --series; 30 with --quick)",
    )
    parser.add_argument(
        "--batch-size", type=positive_int, default=32, help="windows per training step"
    )
    parser.add_argument("--lr", type=positive_float, default=1e-2, help="Adam learning rate")
    parser.add_argument(
        "--clip", type=nonnegative_float, default=1.0, help="gradient-norm clipping, 0 to disable"
    )
    parser.add_argument(
        "--window",
        type=positive_int,
        help="--series: values read per forecast (default: 24 for airline, 60 otherwise; "
        "at most 24 with --quick)",
    )
    args = parser.parse_args(argv)
    if args.hidden is None:
        args.hidden = 16 if args.quick else (32 if args.series else 64)
    if args.steps is None:
        args.steps = 30 if args.quick else (400 if args.series else 1000)
    if args.window is not None and not args.series:
        parser.error("--window applies to --series only (the waveform trains on whole periods)")
    if args.series:
        if args.window is None:
            window = SERIES[args.series][3]
            args.window = min(window, 24) if args.quick else window
        # a training window and the value after it must fit in the training part of the series
        n_train = int(TRAIN_FRACTION * len(load_series(args.series)))
        if args.window > n_train - 2:
            parser.error(
                f"--window {args.window}: the {args.series} series has {n_train} training values, "
                f"so a window can be at most {n_train - 2} long"
            )
    return args


# ---- model --------------------------------------------------------------------------------------------
class Forecaster(nn.Module):
    """A recurrent layer reading one value per step and a Linear head predicting one value per step.

    Shapes: input (T, N, 1); output (T, N, 1) and the final state (h_n (1, N, H), or (h_n, c_n)).
    """

    def __init__(self, kind: str, hidden_size: int):
        super().__init__()
        layer = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[kind]
        self.rnn = layer(1, hidden_size)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x, state=None):
        out, state = self.rnn(x, state)
        return self.head(out), state


def train(model, sample_batch, args, device):
    """Adam on the mean squared error of batches from `sample_batch(step) -> (inputs, targets)` arrays."""
    optimizer = mg.optim.Adam(model.parameters(), lr=args.lr)
    # the learning rate glides to 0 along a cosine: large steps early, fine adjustments at the end
    scheduler = mg.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.steps)
    losses = []
    bar = progress(range(args.steps), desc="train")
    for step in bar:
        x, y = sample_batch(step)
        pred, _ = model(mg.tensor(x, device=device))
        loss = F.mse_loss(pred, mg.tensor(y, device=device))
        optimizer.zero_grad()
        loss.backward()
        if args.clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
    return losses


def plot_loss(losses, out, title):
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(losses, alpha=0.3, color="C0")
    ax.plot(smooth(losses), color="C0", label="training MSE (smoothed)")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("mean squared error")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    savefig(fig, out, "loss.png")


# ---- the waveform -------------------------------------------------------------------------------------
def wave(t):
    """The waveform at (possibly fractional) sample times t: a sum of sines with period PERIOD."""
    return sum(a * np.sin(2 * np.pi * k * t / PERIOD + phase) for k, a, phase in HARMONICS)


@mg.no_grad()
def generate(model, warmup, n_steps: int, device):
    """Read the true `warmup` values, then feed back n_steps predictions. Returns the predictions (n_steps,)."""
    model.eval()
    pred, state = model(mg.tensor(warmup.reshape(-1, 1, 1), device=device))
    x = pred[-1:]  # (1, 1, 1): the prediction of the first unseen sample
    out = []
    for _ in range(n_steps):
        out.append(x.item())
        x, state = model(x, state)  # closed loop: the model's own output is its next input
    model.train()
    return np.array(out)


def run_waveform(args, device):
    train_len = 2 * PERIOD if not args.quick else PERIOD
    data_rng = np.random.default_rng(args.seed)

    def sample_batch(step):
        # windows of train_len + 1 samples starting at random (fractional) phases; (T, N, 1) arrays
        t0 = data_rng.uniform(0, PERIOD, size=args.batch_size)
        seq = wave(t0[None, :] + np.arange(train_len + 1)[:, None]).astype(np.float32)[..., None]
        return seq[:-1], seq[1:]

    model = Forecaster(args.model, args.hidden).to(device)
    losses = train(model, sample_batch, args, device)

    n_gen = 5 * train_len
    truth = wave(np.arange(train_len + n_gen, dtype=np.float64)).astype(np.float32)
    generated = generate(model, truth[:train_len], n_gen, device)
    target = truth[train_len:]
    mse_first = float(np.mean((generated[:PERIOD] - target[:PERIOD]) ** 2))
    mse_all = float(np.mean((generated - target) ** 2))
    print(
        f"closed-loop MSE: first period {mse_first:.5f}, all {n_gen} generated samples {mse_all:.5f}"
    )

    fig, ax = plt.subplots(figsize=(9, 3.5))
    t = np.arange(len(truth))
    ax.plot(t, truth, color="gray", lw=3, alpha=0.5, label="ground truth")
    ax.plot(t[train_len:], generated, color="C1", lw=1.2, label="generated (closed loop)")
    ax.axvspan(0, train_len, color="C0", alpha=0.1, label="warm-up: true input")
    ax.set_xlabel("time step")
    ax.set_title(
        f"{args.model.upper()} {args.hidden} generating; MSE over the first period {mse_first:.4f}"
    )
    ax.legend(loc="upper right", fontsize=8)
    savefig(fig, args.out, "generation.png")
    plot_loss(losses, args.out, "waveform: next-sample prediction")
    return (
        model,
        losses,
        {
            "headline": "gen_mse_first_period",
            "gen_mse_first_period": mse_first,
            "gen_mse_all": mse_all,
        },
    )


# ---- a real series ------------------------------------------------------------------------------------
def load_series(name: str):
    filename, column, _, _ = SERIES[name]
    with open(data_path("timeseries", filename), newline="") as f:
        rows = list(csv.DictReader(f))
    return np.array([float(r[column]) for r in rows])


def run_series(args, device):
    transform = SERIES[args.series][2]
    forward, inverse = TRANSFORMS[transform]
    window = args.window  # parse_args set its default and checked it fits
    raw = load_series(args.series)
    series = forward(raw)
    n_train = int(TRAIN_FRACTION * len(series))
    mean, std = series[:n_train].mean(), series[:n_train].std()  # training statistics only
    z = ((series - mean) / std).astype(np.float32)
    print(
        f"{args.series}: {len(series)} values, {n_train} train / {len(series) - n_train} test, window {window}"
    )

    data_rng = np.random.default_rng(args.seed)

    def sample_batch(step):
        # random training windows; the target is the change to the next value
        starts = data_rng.integers(0, n_train - window - 1, size=args.batch_size)
        idx = starts[None, :] + np.arange(window)[:, None]  # (T, N)
        return z[idx][..., None], (z[idx + 1] - z[idx])[..., None]

    model = Forecaster(args.model, args.hidden).to(device)
    losses = train(model, sample_batch, args, device)

    # every test value is forecast from the `window` true values before it, all in one batch
    targets = np.arange(max(n_train, window), len(series))
    idx = targets[None, :] - window + np.arange(window)[:, None]  # (window, n_test)
    with mg.no_grad():
        model.eval()
        delta, _ = model(mg.tensor(z[idx][..., None], device=device))
    last = z[targets - 1]
    pred_z = last + delta.numpy()[-1, :, 0]

    def unscale(v):
        v = v * std + mean
        return inverse(v)

    truth = raw[targets]
    model_pred = unscale(pred_z)
    naive_pred = raw[targets - 1]
    rmse = float(np.sqrt(np.mean((model_pred - truth) ** 2)))
    naive_rmse = float(np.sqrt(np.mean((naive_pred - truth) ** 2)))
    verdict = "beats" if rmse < naive_rmse else "does NOT beat"
    print(
        f"test RMSE: {args.model.upper()} {rmse:.3f} vs naive last value {naive_rmse:.3f} ({verdict} it)"
    )

    fig, ax = plt.subplots(figsize=(9, 3.5))
    show = slice(max(0, len(targets) - 300), len(targets))  # the last 300 test points stay readable
    ax.plot(targets[show], truth[show], color="gray", lw=2, alpha=0.6, label="truth")
    ax.plot(
        targets[show],
        naive_pred[show],
        color="C2",
        lw=1,
        alpha=0.8,
        label=f"naive last value (RMSE {naive_rmse:.2f})",
    )
    ax.plot(
        targets[show],
        model_pred[show],
        color="C1",
        lw=1.2,
        label=f"{args.model.upper()} (RMSE {rmse:.2f})",
    )
    ax.set_xlabel("time index")
    ax.set_title(f"{args.series}: one-step-ahead forecasts on the test period")
    ax.legend(fontsize=8)
    savefig(fig, args.out, "forecast.png")
    plot_loss(losses, args.out, f"{args.series}: predicting the next change")
    return (
        model,
        losses,
        {
            "headline": "test_rmse",
            "test_rmse": rmse,
            "naive_rmse": naive_rmse,
            "beats_naive": rmse < naive_rmse,
        },
    )


def main(argv=None):
    args = parse_args(argv)
    device = setup(args)
    timer = Timer()
    if args.series:
        model, losses, results = run_series(args, device)
    else:
        model, losses, results = run_waveform(args, device)
    ckpt = args.out / "checkpoint.safetensors"
    mg.save(
        {
            "model": model.state_dict(),
            "config": {"model": args.model, "hidden": args.hidden, "series": args.series},
        },
        ckpt,
    )
    tail = max(1, len(losses) // 20)
    save_metrics(
        args.out,
        {
            **results,
            "first_loss": losses[0],
            "final_loss": float(np.mean(losses[-tail:])),
            "wall_time_s": timer.elapsed(),
            "config": vars(args),  # save_metrics turns the out path into a string
            "losses": losses,
            "checkpoint": ckpt.name,
        },
    )


if __name__ == "__main__":
    main()
