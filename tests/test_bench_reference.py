"""The hand-written NumPy references in bench/ compute correct gradients (they are what minigrad is timed
against, so a wrong one would make every benchmark ratio meaningless)."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import numpy_lstm  # noqa: E402
import numpy_rnn  # noqa: E402


def test_numpy_lstm_gradients_match_finite_differences():
    T, N, V, H = 5, 3, 7, 6
    params = numpy_lstm.init_params(V, H, np.float64, seed=3)
    x, targets = numpy_lstm.random_batch(T, N, V, np.float64, seed=4)
    assert numpy_lstm.finite_difference_check(params, x, targets, n_dirs=2) < 1e-6


def test_numpy_lstm_finite_difference_check_catches_a_wrong_gradient(monkeypatch):
    # the check must be able to fail: break one gradient and expect a large error
    T, N, V, H = 4, 2, 5, 3
    params = numpy_lstm.init_params(V, H, np.float64, seed=3)
    x, targets = numpy_lstm.random_batch(T, N, V, np.float64, seed=4)
    original = numpy_lstm.loss_and_grads

    def broken(p, x, t):
        loss, grads = original(p, x, t)
        grads["weight_hh"] = grads["weight_hh"] * 1.1
        return loss, grads

    monkeypatch.setattr(numpy_lstm, "loss_and_grads", broken)
    assert numpy_lstm.finite_difference_check(params, x, targets, n_dirs=2) > 1e-3


def test_numpy_lstm_matches_torch_lstm():
    torch = pytest.importorskip("torch")
    T, N, V, H = 6, 4, 9, 5
    params = numpy_lstm.init_params(V, H, np.float64, seed=5)
    x, targets = numpy_lstm.random_batch(T, N, V, np.float64, seed=6)
    loss, grads = numpy_lstm.loss_and_grads(params, x, targets)
    torch.manual_seed(0)
    tloss, tgrads = numpy_lstm.torch_loss_and_grads(params, x, targets)
    assert loss == pytest.approx(tloss, rel=1e-12)
    for name in numpy_lstm.PARAM_NAMES:
        np.testing.assert_allclose(grads[name], tgrads[name], rtol=1e-9, atol=1e-12, err_msg=name)


def test_numpy_lstm_sgd_step_moves_against_the_gradient():
    params = numpy_lstm.init_params(5, 3, np.float64, seed=0)
    before = {k: v.copy() for k, v in params.items()}
    x, targets = numpy_lstm.random_batch(4, 2, 5, np.float64)
    _, grads = numpy_lstm.loss_and_grads(params, x, targets)
    numpy_lstm.train_step(params, x, targets, lr=0.1)
    for name in numpy_lstm.PARAM_NAMES:
        np.testing.assert_allclose(params[name], before[name] - 0.1 * grads[name], rtol=1e-12)


def test_numpy_rnn_gradients_match_finite_differences():
    V, H, T = 6, 5, 7
    params = numpy_rnn.init_params(V, H, seed=1)
    inputs, targets, hprev = numpy_rnn.random_sequence(V, H, T, seed=2)
    assert numpy_rnn.finite_difference_check(params, inputs, targets, hprev) < 1e-6


def test_numpy_rnn_matches_torch_rnn():
    pytest.importorskip("torch")
    V, H, T = 6, 5, 7
    params = numpy_rnn.init_params(V, H, seed=1)
    inputs, targets, hprev = numpy_rnn.random_sequence(V, H, T, seed=2)
    loss, grads, h_last = numpy_rnn.loss_fun(params, inputs, targets, hprev)
    tloss, tgrads, th_last = numpy_rnn.torch_loss_and_grads(params, inputs, targets, hprev)
    assert loss == pytest.approx(tloss, rel=1e-12)
    np.testing.assert_allclose(h_last, th_last, rtol=1e-12, atol=1e-14)
    for name in numpy_rnn.PARAM_NAMES:
        np.testing.assert_allclose(grads[name], tgrads[name], rtol=1e-9, atol=1e-12, err_msg=name)
