"""Every example runs end to end with --quick: its loss falls and it writes its plots, metrics and checkpoint.

Each example runs in a subprocess (as a user would run it) with a temporary --out folder. The contract
checked here is the one in examples/_common.py: metrics.json holds first_loss, final_loss, wall_time_s,
the headline metric (named by 'headline') and the checkpoint's file name.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def _check_vanishing(m: dict) -> None:
    # even in the quick setting (T = 30) the tanh RNN's gradient fades and the gain-2 RNN's grows
    assert m["tanh_rnn_grad_ratio"] < 1e-3 < 1 < m["exploding_rnn_grad_ratio"]
    # clip_grad_norm_(1) bounds every SGD update by lr * 1; without clipping some update is larger
    bound = m["config"]["lr"] * m["config"]["max_norm"]
    assert m["max_update_norm_clipped"] <= bound * (1 + 1e-5) < m["max_update_norm_unclipped"]


# name -> (extra flags, how far below first_loss final_loss must fall, extra check of metrics.json)
CASES = {
    "char_rnn": ([], 0.85, None),
    "sine_wave": ([], 0.5, None),
    "vanishing_gradients": ([], 0.5, _check_vanishing),
    "sentiment": ([], 0.9, None),
    "digits_rnn": ([], 0.8, None),
    "seq2seq": ([], 0.8, None),
}


def run_example(
    name: str, out: Path, *flags: str, timeout: int = 120
) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(EXAMPLES / f"{name}.py"), "--quick", "--out", str(out), *flags]
    env = {**os.environ, "MPLBACKEND": "Agg", "TQDM_DISABLE": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)
    assert proc.returncode == 0, (
        f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return proc


def read_metrics(out: Path) -> dict:
    path = out / "metrics.json"
    assert path.exists(), f"{path} was not written"
    return json.loads(path.read_text())


@pytest.mark.parametrize("name", sorted(CASES))
def test_example_trains_and_writes_outputs(name, tmp_path):
    flags, factor, check = CASES[name]
    out = tmp_path / name
    run_example(name, out, *flags)
    metrics = read_metrics(out)
    for key in ("first_loss", "final_loss", "wall_time_s", "headline", "checkpoint"):
        assert key in metrics, f"{name}: metrics.json lacks '{key}'"
    assert metrics["headline"] in metrics, (
        f"{name}: headline metric '{metrics['headline']}' missing"
    )
    first, final = metrics["first_loss"], metrics["final_loss"]
    assert math.isfinite(first) and math.isfinite(final)
    assert final < factor * first, (
        f"{name}: loss only went from {first:.4f} to {final:.4f} (needs < {factor} x)"
    )
    assert list(out.glob("*.png")), f"{name}: no PNG plot in {out}"
    ckpt = out / metrics["checkpoint"]
    assert ckpt.exists() and ckpt.stat().st_size > 0, f"{name}: checkpoint {ckpt} missing"
    if check is not None:
        check(metrics)


def test_char_rnn_resume_continues_the_same_loss_curve(tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    run_example("char_rnn", straight, "--steps", "12", "--ckpt-every", "6", "--eval-every", "6")
    run_example("char_rnn", split, "--steps", "6", "--ckpt-every", "6", "--eval-every", "6")
    first_half = read_metrics(split)["losses"]
    run_example(
        "char_rnn", split, "--steps", "12", "--ckpt-every", "6", "--eval-every", "6", "--resume"
    )
    expected = read_metrics(straight)["losses"]
    resumed = read_metrics(split)["losses"]
    assert len(first_half) == 6 and len(expected) == len(resumed) == 12
    assert resumed[:6] == first_half
    # same computations in the same order: the resumed run must reproduce the losses bit for bit
    assert resumed == expected
    assert read_metrics(split)["val_loss"] == read_metrics(straight)["val_loss"]


def test_char_rnn_samples_from_its_checkpoint(tmp_path):
    out = tmp_path / "lm"
    run_example("char_rnn", out, "--steps", "4", "--eval-every", "4")
    proc = run_example(
        "char_rnn", out, "--sample", "--prime", "ROMEO:", "--length", "40", "--temperature", "0.5"
    )
    text = proc.stdout.split("]\n", 1)[-1]
    assert text.startswith("ROMEO:") and len(text.rstrip("\n")) >= 46


def test_char_rnn_karpathy_preset_runs(tmp_path):
    out = tmp_path / "karpathy"
    run_example("char_rnn", out, "--karpathy", "--steps", "300", "--eval-every", "300")
    metrics = read_metrics(out)
    cfg = metrics["config"]
    assert (cfg["model"], cfg["hidden"], cfg["seq_len"], cfg["batch_size"]) == ("rnn", 100, 25, 1)
    assert (cfg["optimizer"], cfg["lr"], cfg["clip"], cfg["clip_mode"]) == (
        "adagrad",
        0.1,
        5.0,
        "value",
    )
    assert metrics["final_loss"] < 0.9 * metrics["first_loss"]


@pytest.mark.parametrize("series", ["airline", "sunspots", "temperatures"])
def test_sine_wave_forecasts_a_real_series(series, tmp_path):
    out = tmp_path / series
    run_example("sine_wave", out, "--series", series)
    metrics = read_metrics(out)
    assert metrics["headline"] == "test_rmse"
    assert math.isfinite(metrics["test_rmse"]) and metrics["naive_rmse"] > 0
    assert (out / "forecast.png").exists()
