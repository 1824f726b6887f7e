"""Every example runs end to end with --quick: its loss falls and it writes its plots, metrics and checkpoint.

Each example runs in a subprocess (as a user would run it) with a temporary --out folder. The contract
checked here is the one in examples/_common.py: metrics.json holds first_loss, final_loss, wall_time_s,
the headline metric (named by 'headline') and the checkpoint's file name. Bad flag values must stop a
script in argument parsing with a one-line argparse error; those tests call the scripts' parse_args(argv)
in this process, which is fast and trains nothing.
"""

from __future__ import annotations

import importlib
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
    name: str, out: Path, *flags: str, timeout: int = 120, quick: bool = True, expect_rc: int = 0
) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(EXAMPLES / f"{name}.py"), *(["--quick"] if quick else [])]
    cmd += ["--out", str(out), *flags]
    env = {**os.environ, "MPLBACKEND": "Agg", "TQDM_DISABLE": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)
    assert proc.returncode == expect_rc, (
        f"{' '.join(cmd)} exited with {proc.returncode}, expected {expect_rc}:\n"
        f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
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


def test_seq2seq_runs_with_fewer_test_pairs_than_it_shows(tmp_path):
    # it prints up to 8 test predictions and plots up to 4 attention maps: 2 test pairs must do
    out = tmp_path / "seq2seq"
    proc = run_example("seq2seq", out, "--test-size", "2", "--train-size", "64")
    assert read_metrics(out)["n_test"] == 2
    assert proc.stdout.count(" -> ") == 2
    assert (out / "attention.png").exists()


# ---- command-line flags -----------------------------------------------------------------------------------
def load_example(name: str, monkeypatch):
    """The example's module, imported in this process (its parse_args(argv) then runs without training)."""
    monkeypatch.syspath_prepend(str(EXAMPLES))  # the scripts import _common from their own folder
    return importlib.import_module(name)


def parse_error(name: str, argv: list, monkeypatch, capsys) -> str:
    """The one-line message with which `name`'s parse_args(argv) stops (argparse's exit status 2)."""
    module = load_example(name, monkeypatch)
    with pytest.raises(SystemExit) as exc:
        module.parse_args(argv)
    assert exc.value.code == 2, f"{name} {argv}: exit status {exc.value.code}"
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(f"{name}.py: error: "), last
    return last


BAD_FLAGS = [
    # (example, flags, a fragment of the message)
    ("char_rnn", ["--steps", "0"], "--steps: expected an integer >= 1, got '0'"),
    ("char_rnn", ["--eval-every", "0"], "--eval-every: expected an integer >= 1"),
    ("char_rnn", ["--ckpt-every", "0"], "--ckpt-every: expected an integer >= 1"),
    ("char_rnn", ["--batch-size", "0"], "--batch-size: expected an integer >= 1"),
    ("char_rnn", ["--hidden", "ten"], "--hidden: expected an integer >= 1, got 'ten'"),
    ("char_rnn", ["--embed", "-1"], "--embed: expected an integer >= 0"),
    ("char_rnn", ["--lr", "0"], "--lr: expected a number > 0"),
    ("char_rnn", ["--lr", "nan"], "--lr: expected a number > 0"),
    ("char_rnn", ["--clip", "-1"], "--clip: expected a number >= 0"),
    ("char_rnn", ["--dropout", "1"], "--dropout: expected a probability in [0, 1)"),
    ("char_rnn", ["--temperature", "0"], "--temperature: expected a number > 0"),
    ("char_rnn", ["--seed", "-1"], "--seed: expected an integer in [0, 2**32)"),
    ("char_rnn", ["--threads", "-1"], "--threads: expected an integer >= 0"),
    ("char_rnn", ["--quick", "--val-chars", "6"], "--val-chars 6: the validation text is read as 4 streams"),
    ("char_rnn", ["--quick", "--seq-len", "100000"], "--seq-len 100000: with --batch-size 16 each stream"),
    ("char_rnn", ["--batch-size", "2000000"], "--batch-size 2000000: the 1,003,854 training characters"),
    ("char_rnn", ["--resume", "--sample"], "not allowed with argument --resume"),
    ("char_rnn", ["--checkpoint", "x.safetensors"], "--checkpoint is read by --sample only"),
    ("sentiment", ["--epochs", "0"], "--epochs: expected an integer >= 1"),
    ("sentiment", ["--batch-size", "0"], "--batch-size: expected an integer >= 1"),
    ("sentiment", ["--dropout", "-0.1"], "--dropout: expected a probability in [0, 1)"),
    ("sentiment", ["--min-count", "0"], "--min-count: expected an integer >= 1"),
    ("sine_wave", ["--series", "airline", "--window", "200"], "--window 200: the airline series has 115"),
    ("sine_wave", ["--series", "airline", "--window", "0"], "--window: expected an integer >= 1"),
    ("sine_wave", ["--window", "10"], "--window applies to --series only"),
    ("sine_wave", ["--steps", "0"], "--steps: expected an integer >= 1"),
    ("seq2seq", ["--test-size", "0"], "--test-size: expected an integer >= 1"),
    ("seq2seq", ["--train-size", "0"], "--train-size: expected an integer >= 1"),
    ("seq2seq", ["--train-size", "49000", "--test-size", "5000"], "the date data set holds 50000 pairs"),
    ("seq2seq", ["--hidden", "33"], "--hidden 33: must be even"),
    ("seq2seq", ["--eval-every", "0"], "--eval-every: expected an integer >= 1"),
    ("digits_rnn", ["--epochs", "0"], "--epochs: expected an integer >= 1"),
    ("digits_rnn", ["--lr", "-1"], "--lr: expected a number > 0"),
    ("vanishing_gradients", ["--seq-len", "0"], "--seq-len: expected an integer >= 1"),
    ("vanishing_gradients", ["--max-norm", "0"], "--max-norm: expected a number > 0"),
]  # fmt: skip


@pytest.mark.parametrize(
    "name, flags, message", BAD_FLAGS, ids=[f"{n}{' '.join(['', *f])}" for n, f, _ in BAD_FLAGS]
)
def test_a_bad_flag_stops_the_example_with_one_clear_line(
    name, flags, message, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "out"
    error = parse_error(name, [*flags, "--out", str(out)], monkeypatch, capsys)
    assert message in error
    assert not out.exists()


@pytest.mark.parametrize("name", sorted(CASES))
def test_out_must_be_a_folder_we_can_create(name, tmp_path):
    # run as a user would: a one-line argparse error, no traceback, before any training
    not_a_folder = tmp_path / "a_file"
    not_a_folder.write_text("")
    for out, message in (
        (not_a_folder, "is an existing file, not a folder"),
        (not_a_folder / "sub", "is a file, not a folder"),
    ):
        proc = run_example(name, out, expect_rc=2, timeout=60)
        assert "Traceback" not in proc.stderr
        assert "error: argument --out: " in proc.stderr and message in proc.stderr


def test_vanishing_gradients_flags_win_over_quick(monkeypatch):
    module = load_example("vanishing_gradients", monkeypatch)
    args = module.parse_args(["--quick", "--seq-len", "50", "--hidden", "32"])
    assert (args.seq_len, args.hidden, args.steps) == (50, 32, 15)
    args = module.parse_args(["--quick"])
    assert (args.seq_len, args.hidden, args.steps) == (30, 16, 15)


def test_sine_wave_window_defaults(monkeypatch):
    module = load_example("sine_wave", monkeypatch)
    assert module.parse_args(["--series", "sunspots"]).window == 60
    assert module.parse_args(["--quick", "--series", "sunspots"]).window == 24
    assert module.parse_args(["--quick", "--series", "airline", "--window", "113"]).window == 113


@pytest.fixture(scope="module")
def char_rnn_checkpoint(tmp_path_factory) -> Path:
    """The --out folder of a 4-step --quick char_rnn run (LSTM, hidden 64, batch 16)."""
    out = tmp_path_factory.mktemp("char_rnn") / "lm"
    run_example("char_rnn", out, "--steps", "4", "--eval-every", "4", "--ckpt-every", "4")
    return out


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--prime", ""], "--prime: give at least one character"),
        (["--prime", "caf\u00e9"], "--prime: the characters ['\u00e9'] never occur in the training text"),
        (["--hidden", "32"], "--hidden 32 conflicts with the checkpoint, which was trained with --hidden 64"),
    ],
)  # fmt: skip
def test_char_rnn_sample_flags(flags, message, char_rnn_checkpoint, monkeypatch, capsys):
    argv = ["--sample", "--out", str(char_rnn_checkpoint), *flags]
    assert message in parse_error("char_rnn", argv, monkeypatch, capsys)


def test_char_rnn_sample_without_checkpoint_creates_no_folder(tmp_path, monkeypatch, capsys):
    out = tmp_path / "missing"
    error = parse_error("char_rnn", ["--sample", "--out", str(out)], monkeypatch, capsys)
    assert f"--sample: no checkpoint at {out / 'checkpoint.safetensors'}" in error
    assert not out.exists()


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--model", "gru"], "--model gru conflicts with the checkpoint, which was trained with --model lstm"),
        (["--embed", "64"], "--embed 64 conflicts with the checkpoint, which was trained with --embed 16"),
        (["--batch-size", "8"], "--batch-size 8 conflicts with the checkpoint, which was trained with --batch-size 16"),
        (["--optimizer", "sgd"], "--optimizer sgd conflicts with the checkpoint"),
        ([], "--resume: the checkpoint is at step 4 already and --steps is 4"),
    ],
)  # fmt: skip
def test_char_rnn_resume_refuses_settings_the_checkpoint_cannot_take(
    flags, message, char_rnn_checkpoint, monkeypatch, capsys
):
    argv = ["--resume", "--out", str(char_rnn_checkpoint), *flags]
    assert message in parse_error("char_rnn", argv, monkeypatch, capsys)


def test_char_rnn_resume_takes_its_settings_from_the_checkpoint(char_rnn_checkpoint, monkeypatch):
    # without --quick the presets say LSTM 256, batch 32, seq 64, lr 2e-3: the checkpoint's values win
    module = load_example("char_rnn", monkeypatch)
    argv = ["--resume", "--out", str(char_rnn_checkpoint), "--steps", "9", "--lr", "0.01"]
    args = module.parse_args(argv)
    model = (args.model, args.embed, args.hidden, args.batch_size, args.seq_len)
    assert model == ("lstm", 16, 64, 16, 16)
    assert (args.steps, args.lr, args.eval_every, args.val_chars) == (9, 0.01, 4, 1000)


def test_char_rnn_resume_without_quick_continues_the_quick_run(tmp_path):
    # `--quick --out r`, then `--out r --resume --steps N`: the same losses as one uninterrupted run
    straight, split = tmp_path / "straight", tmp_path / "split"
    every = ("--eval-every", "4", "--ckpt-every", "4")
    run_example("char_rnn", straight, "--steps", "8", *every)
    run_example("char_rnn", split, "--steps", "4", *every)
    run_example("char_rnn", split, "--resume", "--steps", "8", quick=False)
    assert read_metrics(split)["losses"] == read_metrics(straight)["losses"]
    assert read_metrics(split)["val_loss"] == read_metrics(straight)["val_loss"]
