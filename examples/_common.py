"""Helpers shared by every example: command-line flags, seeding, progress bars, metrics and plots.

Each example stays a plain script a student reads top to bottom; only the plumbing that would be
copied into every one of them lives here. The conventions every example follows:

- flags `--device cpu|cuda`, `--seed`, `--quick` (a run of a few seconds, used by the tests),
  `--out` (default `runs/<example>/`) and `--threads` (BLAS threads, default 1), added by `make_parser`;
- a bad flag value stops the script at once with a one-line `--flag: reason` message, before any
  training: the argparse types below (`positive_int`, ...) check single values, and `parser.error`
  the combinations (a window longer than the series, ...);
- `setup(args)` seeds minigrad, numpy and random, limits the BLAS threads, creates `--out` and
  returns the device;
- outputs written to `--out`: PNG plots (`savefig`), a checkpoint (`mg.save`) and `metrics.json`
  (`save_metrics`), which holds at least `first_loss`, `final_loss`, `wall_time_s`, the example's
  headline metric (its key named by `headline`) and `checkpoint` (the checkpoint's file name).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # NOTE: set before pyplot is imported anywhere, so no display is ever needed

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402
from tqdm import tqdm  # noqa: E402

import minigrad as mg  # noqa: E402

DATA_DIR = Path(__file__).resolve().parent / "data"
REQUIRED_METRICS = ("first_loss", "final_loss", "wall_time_s", "headline", "checkpoint")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    # NOTE: appends "(default: X)" only where the help does not state the default already; a flag whose
    # default is None is resolved after parsing (from --quick, a preset...), so its help states it in words
    def _get_help_string(self, action):
        help = action.help or ""
        if action.default is None or "(default" in help:
            return help
        return super()._get_help_string(action)


# ---- argparse types: each turns the flag's text into a value, or explains in one line why it cannot ----
def _number(text: str, kind, lowest, inclusive: bool, what: str):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if not math.isfinite(value) or value < lowest or (value == lowest and not inclusive):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1 (sizes, steps, epochs...)."""
    return _number(text, int, 1, True, "an integer >= 1")


def nonnegative_int(text: str) -> int:
    """An integer >= 0."""
    return _number(text, int, 0, True, "an integer >= 0")


def positive_float(text: str) -> float:
    """A finite number > 0 (learning rates, temperatures...)."""
    return _number(text, float, 0.0, False, "a number > 0")


def nonnegative_float(text: str) -> float:
    """A finite number >= 0 (clipping thresholds, where 0 means off)."""
    return _number(text, float, 0.0, True, "a number >= 0")


def probability(text: str) -> float:
    """A dropout probability, in [0, 1)."""
    value = _number(text, float, 0.0, True, "a probability in [0, 1)")
    if value >= 1:
        raise argparse.ArgumentTypeError(f"expected a probability in [0, 1), got {text!r}")
    return value


def random_seed(text: str) -> int:
    """A seed numpy accepts: an integer in [0, 2**32)."""
    value = _number(text, int, 0, True, "an integer in [0, 2**32)")
    if value >= 2**32:
        raise argparse.ArgumentTypeError(f"expected an integer in [0, 2**32), got {text!r}")
    return value


def output_folder(text: str) -> Path:
    """A folder that exists or can be created: not a file, and under a folder we may write in."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is an existing file, not a folder")
    parent = path
    while not parent.exists():  # the nearest existing folder above it is where mkdir will write
        parent = parent.parent
    if not parent.is_dir():
        raise argparse.ArgumentTypeError(f"cannot create {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write in {parent} (permission denied)")
    return path


def make_parser(name: str, description: str) -> argparse.ArgumentParser:
    """An argument parser with the flags every example shares; add the example's own flags to it.

    Parameters
    ----------
    name : the example's name, used for the default output folder `runs/<name>/`.
    description : one line shown by `--help`.
    """
    parser = argparse.ArgumentParser(
        prog=f"{name}.py",
        description=description,
        formatter_class=_HelpFormatter,
    )
    parser.add_argument(
        "--device", default="cpu", help="where to compute: cpu, cuda or cuda:N (needs CuPy)"
    )
    parser.add_argument("--seed", type=random_seed, default=0, help="seed for minigrad, numpy and random")
    parser.add_argument(
        "--quick", action="store_true", help="a tiny run of a few seconds (used by the tests)"
    )
    parser.add_argument(
        "--out",
        type=output_folder,
        default=Path("runs") / name,
        help="folder for plots, metrics, checkpoints",
    )
    parser.add_argument(
        "--threads", type=nonnegative_int, default=1, help="BLAS threads (0: the library's default)"
    )
    return parser


def setup(args: argparse.Namespace, make_out: bool = True) -> mg.Device:
    """Seed every random generator, create the output folder and return the device to compute on.

    minigrad draws its random numbers (initialisation, dropout, sampling) from the device's generator,
    seeded by `mg.manual_seed`; numpy's and Python's generators are seeded too, for data shuffling.
    A script that writes nothing (e.g. one that only samples from a checkpoint) passes make_out=False.
    """
    if args.threads > 0:
        # NOTE: the matrices here are small (e.g. 32 x 256 @ 256 x 1024); several BLAS threads spend more
        # time synchronising than computing, and on a busy machine a step got ~10x slower with them.
        threadpool_limits(args.threads)
    mg.manual_seed(args.seed)
    np.random.seed(args.seed)
    random.seed(args.seed)
    args.out = Path(args.out)
    if make_out:
        try:
            args.out.mkdir(parents=True, exist_ok=True)
        except OSError as e:  # the flag was checked, but the default folder (or a race) can still fail
            sys.exit(f"--out {args.out}: cannot create the folder ({e.strerror or e})")
    try:
        device = mg.device(args.device)
    except (RuntimeError, ValueError) as e:
        sys.exit(f"--device {args.device}: {e}")
    return device


class _Bar(tqdm):
    # NOTE: tqdm redraws on every set_postfix by default; this bar waits for its next regular refresh
    def set_postfix(self, ordered_dict=None, refresh: bool = False, **kwargs):
        super().set_postfix(ordered_dict, refresh=refresh, **kwargs)


def progress(iterable, desc: str = "", **kwargs):
    """A tqdm progress bar; call `.set_postfix(loss=...)` on it to show the loss in the bar."""
    return _Bar(iterable, desc=desc, dynamic_ncols=True, mininterval=0.5, **kwargs)


def data_path(*parts: str) -> Path:
    """Path of a file shipped in examples/data/, with a clear error if it is missing."""
    path = DATA_DIR.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing; the examples' data ships in {DATA_DIR} (see its README.md)"
        )
    return path


def save_metrics(out: Path, metrics: dict) -> Path:
    """Write `metrics` to `<out>/metrics.json` and print it; returns the file's path.

    `metrics` must hold `first_loss`, `final_loss`, `wall_time_s`, `headline` (the name of the key that
    holds the example's headline metric, which must be present too) and `checkpoint` (a file in `out`).
    """
    missing = [k for k in REQUIRED_METRICS if k not in metrics]
    if missing:
        raise ValueError(
            f"save_metrics: metrics lack the keys {missing}; every example reports {list(REQUIRED_METRICS)}"
        )
    if metrics["headline"] not in metrics:
        raise ValueError(
            f"save_metrics: the headline metric '{metrics['headline']}' is not among the metrics"
        )
    clean = {k: _to_builtin(v) for k, v in metrics.items()}
    path = Path(out) / "metrics.json"
    path.write_text(json.dumps(clean, indent=2) + "\n")
    head = clean["headline"]
    print(
        f"{head} = {_fmt(clean[head])}   (wall time {clean['wall_time_s']:.1f} s; all metrics in {path})"
    )
    return path


def _to_builtin(v):
    # numpy scalars and arrays, tensors and paths become plain JSON values
    if isinstance(v, mg.Tensor):
        v = v.numpy()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, Path):
        return str(v)
    if isinstance(v, dict):
        return {k: _to_builtin(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_to_builtin(x) for x in v]
    return v


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def savefig(fig, out: Path, name: str) -> Path:
    """Save a matplotlib figure as `<out>/<name>` (PNG unless `name` says otherwise) and close it."""
    path = Path(out) / (name if Path(name).suffix else f"{name}.png")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"saved {path}")
    return path


def plot_curves(curves: dict, xlabel: str, ylabel: str, title: str = "", logy: bool = False):
    """One figure with a line per curve; `curves` maps a label to `(x, y)` sequences. Returns the figure."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, (x, y) in curves.items():
        ax.plot(x, y, label=label, marker="o" if len(x) < 30 else None, markersize=3)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    return fig


def smooth(values, weight: float = 0.9) -> list:
    """Exponential moving average of a noisy curve (bias-corrected), for readable loss plots."""
    out, avg = [], 0.0
    for i, v in enumerate(values):
        avg = weight * avg + (1 - weight) * v
        out.append(avg / (1 - weight ** (i + 1)))
    return out


class Timer:
    """Wall-clock seconds since creation: `t = Timer(); ...; t.elapsed()`."""

    def __init__(self):
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start


__all__ = [
    "DATA_DIR",
    "Timer",
    "data_path",
    "make_parser",
    "nonnegative_float",
    "nonnegative_int",
    "output_folder",
    "plot_curves",
    "plt",
    "positive_float",
    "positive_int",
    "probability",
    "progress",
    "random_seed",
    "save_metrics",
    "savefig",
    "setup",
    "smooth",
]
