"""Anomaly mode (`mg.autograd.detect_anomaly`) and graph introspection (`mg.autograd.graph_stats`)."""

import inspect
import re
import warnings

import numpy as np
import pytest

import minigrad as mg


def _line() -> int:
    """The line number of the caller's next line (where the op under test is created)."""
    return inspect.currentframe().f_back.f_lineno + 1


@pytest.fixture(autouse=True)
def _quiet_numpy():
    # NaN and Inf are the point of these tests; numpy's RuntimeWarnings about them are noise here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


# ---- forward --------------------------------------------------------------------------------------


def test_forward_nan_names_op_input_shapes_and_source_line():
    x = mg.tensor([[np.inf, 1.0, 2.0], [3.0, 4.0, 5.0]], requires_grad=True)
    w = mg.zeros(3, 4)
    with mg.autograd.detect_anomaly():
        with pytest.raises(RuntimeError) as info:
            line = _line()
            x @ w  # inf * 0 = NaN inside the product
    msg = str(info.value)
    assert "MatMul.forward produced NaN" in msg
    assert "(2, 3), (3, 4)" in msg  # both input shapes
    assert f'{__file__}", line {line}' in msg
    assert "x @ w  # inf * 0" in msg  # the source text of that line


def test_forward_inf_is_reported_as_inf_with_a_hint():
    x = mg.tensor([1.0, 100.0])  # exp(100) overflows float32
    with mg.autograd.detect_anomaly():
        with pytest.raises(
            RuntimeError, match=r"Exp\.forward produced Inf \(input shapes \(2,\)"
        ) as info:
            mg.exp(x)
    assert "overflow in exp" in str(info.value)


def test_forward_check_also_runs_when_nothing_records():
    # the NaN is the user's bug whether or not a graph is being recorded
    with mg.autograd.detect_anomaly(), mg.no_grad():
        with pytest.raises(RuntimeError, match=r"Log\.forward produced NaN"):
            mg.log(mg.tensor([-1.0, 2.0], requires_grad=True))


def test_integer_results_are_not_checked():
    with mg.autograd.detect_anomaly():
        out = mg.arange(6).reshape(2, 3).sum(axis=0)
    np.testing.assert_array_equal(out.numpy(), [3, 5, 7])


def test_nan_inputs_are_blamed_on_the_first_op_that_sees_them():
    bad = mg.tensor([np.nan, 1.0], requires_grad=True)  # a leaf: not made by an op
    with mg.autograd.detect_anomaly():
        with pytest.raises(RuntimeError, match=r"Tanh\.forward produced NaN"):
            mg.tanh(bad)


# ---- backward -------------------------------------------------------------------------------------


def test_nan_only_in_backward_names_the_op_and_where_it_was_created():
    x = mg.tensor([0.0, 4.0], requires_grad=True)
    with mg.autograd.detect_anomaly():
        line = _line()
        y = mg.sqrt(x)  # forward is fine: [0, 2]
        loss = (y * mg.tensor([0.0, 1.0])).sum()
        backward_line = _line()
        with pytest.raises(RuntimeError) as info:
            loss.backward()  # Sqrt's VJP g * 0.5 / out gives 0 / 0 at x = 0
    msg = str(info.value)
    assert "Sqrt.backward produced NaN" in msg
    assert "output shape (2,)" in msg
    assert f"line {line}" in msg and "y = mg.sqrt(x)" in msg
    assert f"line {backward_line}" not in msg  # where it was created, not where backward was called
    assert x.grad is None  # nothing was accumulated


def test_inf_in_backward_is_named_with_the_clipping_hint():
    x = mg.tensor([0.0, 1.0], requires_grad=True)
    with mg.autograd.detect_anomaly():
        y = x**0.5
        with pytest.raises(RuntimeError, match=r"Pow\.backward produced Inf") as info:
            y.sum().backward()
    assert "clip_grad_norm_" in str(info.value)


def test_backward_check_names_the_innermost_op_not_the_ops_around_it():
    # the NaN appears in Sqrt's VJP deep inside the graph; the ops after it pass finite gradients down
    x = mg.tensor([0.0, 1.0], requires_grad=True)
    with mg.autograd.detect_anomaly():
        h = mg.tanh(mg.sqrt(x) * 2.0) + mg.exp(x)
        with pytest.raises(RuntimeError, match=r"^detect_anomaly: Sqrt\.backward produced NaN"):
            (mg.tanh(h) * mg.tensor([0.0, 1.0])).sum().backward()


def test_op_created_outside_the_context_still_gets_a_clear_message():
    x = mg.tensor([0.0, 4.0], requires_grad=True)
    y = mg.sqrt(x)
    with mg.autograd.detect_anomaly():
        with pytest.raises(
            RuntimeError, match=r"(?s)Sqrt\.backward produced NaN.*created outside detect_anomaly"
        ):
            (y * mg.tensor([0.0, 1.0])).sum().backward()


def test_healthy_graph_gives_the_same_gradients_in_anomaly_mode():
    mg.manual_seed(0)
    x = mg.randn(4, 3, requires_grad=True)
    w = mg.randn(3, 2, requires_grad=True)

    def loss():
        h = mg.tanh(x @ w)
        return (mg.log_softmax(h, axis=1) * mg.sigmoid(h)).sum() + mg.sqrt(x * x + 1.0).mean()

    loss().backward()
    plain = (x.grad.numpy().copy(), w.grad.numpy().copy())
    x.grad = w.grad = None
    with mg.autograd.detect_anomaly():
        loss().backward()
    np.testing.assert_array_equal(x.grad.numpy(), plain[0])
    np.testing.assert_array_equal(w.grad.numpy(), plain[1])


# ---- off by default ---------------------------------------------------------------------------------


def test_off_by_default_nan_flows_silently():
    x = mg.tensor([0.0, 4.0, -1.0], requires_grad=True)
    y = mg.sqrt(x)  # NaN at -1: no error outside detect_anomaly
    assert np.isnan(y.numpy()[2])
    (y * mg.tensor([0.0, 1.0, 1.0])).sum().backward()
    g = x.grad.numpy()
    assert np.isnan(g[0]) and g[1] == pytest.approx(0.25) and np.isnan(g[2])


def test_off_means_no_stack_capture_and_no_checks(monkeypatch):
    # "free when off": no op captures a traceback or scans its output for NaN outside the context
    import traceback

    from minigrad import anomaly

    calls = []
    monkeypatch.setattr(traceback, "extract_stack", lambda *a, **k: calls.append("stack") or [])
    monkeypatch.setattr(anomaly, "check", lambda *a, **k: calls.append("check"))
    x = mg.randn(3, 4, requires_grad=True)
    (mg.tanh(x @ mg.randn(4, 2)).sum() + mg.log(x * x).mean()).backward()
    assert calls == []
    with mg.autograd.detect_anomaly():
        mg.exp(x).sum().backward()
    assert "stack" in calls and "check" in calls  # the spies do see anomaly mode's work


def test_context_restores_the_previous_state_even_after_an_error():
    with pytest.raises(RuntimeError, match="detect_anomaly"):
        with mg.autograd.detect_anomaly():
            mg.log(mg.tensor([-1.0]))
    assert np.isnan(mg.log(mg.tensor([-1.0])).numpy()[0])  # off again: no error
    with mg.autograd.detect_anomaly():
        with mg.autograd.detect_anomaly(check_nan=False):
            mg.log(mg.tensor([-1.0]))  # switched off inside
        with pytest.raises(RuntimeError):
            mg.log(mg.tensor([-1.0]))  # and back on after the inner block


def _run_as_if_from(path: str, source: str) -> dict:
    namespace = {"mg": mg, "np": np}
    exec(compile(source, path, "exec"), namespace)
    return namespace


def test_forward_source_line_found_when_the_checkout_folder_is_named_minigrad(tmp_path):
    # CI checks the repository out as .../minigrad/minigrad/, so the user's tests live under "/minigrad/"
    user_file = str(tmp_path / "minigrad" / "tests" / "test_user.py")
    with mg.autograd.detect_anomaly():
        with pytest.raises(RuntimeError) as info:
            _run_as_if_from(user_file, "x = mg.tensor([-1.0], requires_grad=True)\ny = mg.log(x)\n")
    assert f'{user_file}", line 2' in str(info.value)


def test_backward_source_line_found_when_the_checkout_folder_is_named_minigrad(tmp_path):
    user_file = str(tmp_path / "minigrad" / "tests" / "test_user.py")
    with mg.autograd.detect_anomaly():
        ns = _run_as_if_from(
            user_file, "x = mg.tensor([0.0, 4.0], requires_grad=True)\ny = mg.sqrt(x)\n"
        )
        with pytest.raises(RuntimeError) as info:
            (ns["y"] * mg.tensor([0.0, 1.0])).sum().backward()
    assert f'{user_file}", line 2' in str(info.value)


# ---- graph_stats ------------------------------------------------------------------------------------


def test_graph_stats_of_a_leaf_and_of_untracked_results_is_empty():
    x = mg.randn(3, requires_grad=True)
    empty = {"nodes": 0, "saved_bytes": 0, "depth": 0}
    assert mg.autograd.graph_stats(x) == empty
    with mg.no_grad():
        assert mg.autograd.graph_stats(x * 2) == empty
    assert mg.autograd.graph_stats(mg.randn(3) * 2) == empty


def test_graph_stats_counts_known_graph():
    x = mg.randn(4, 3, dtype=mg.float64, requires_grad=True)
    w = mg.randn(3, 5, dtype=mg.float64, requires_grad=True)
    y = x @ w  # MatMul saves x and w
    assert mg.autograd.graph_stats(y) == {
        "nodes": 1,
        "saved_bytes": 4 * 3 * 8 + 3 * 5 * 8,
        "depth": 1,
    }
    z = mg.tanh(y)  # Tanh saves its (4, 5) output
    assert mg.autograd.graph_stats(z) == {"nodes": 2, "saved_bytes": (12 + 15 + 20) * 8, "depth": 2}
    s = z.sum()  # Sum saves nothing
    assert mg.autograd.graph_stats(s) == {"nodes": 3, "saved_bytes": (12 + 15 + 20) * 8, "depth": 3}


def test_graph_stats_depth_of_a_chain_and_of_a_diamond():
    x = mg.randn(2, 5, requires_grad=True)
    t = x
    for _ in range(50):
        t = mg.tanh(t)
    stats = mg.autograd.graph_stats(t)
    assert stats == {"nodes": 50, "saved_bytes": 50 * x.data.nbytes, "depth": 50}
    # a node used twice is counted once, and an array saved twice is counted once
    a = mg.exp(x)  # saves its output a
    b = a + a * a  # Mul saves (a, a): the same array again; Add saves nothing
    assert mg.autograd.graph_stats(b) == {"nodes": 3, "saved_bytes": x.data.nbytes, "depth": 3}


def test_graph_stats_counts_constants_and_two_branches():
    x = mg.randn(3, 4, requires_grad=True)  # float32: 48 bytes
    y = x * 2.0  # saves x and the 0-d constant 2.0
    assert x.data.nbytes < mg.autograd.graph_stats(y)["saved_bytes"] <= x.data.nbytes + 8
    left = mg.tanh(x)  # depth 1
    right = mg.tanh(mg.tanh(mg.tanh(x)))  # depth 3
    stats = mg.autograd.graph_stats(left + right)
    assert stats["nodes"] == 5 and stats["depth"] == 4
    assert stats["saved_bytes"] == 4 * x.data.nbytes


def test_graph_stats_after_backward_holds_nothing_unless_retained():
    x = mg.randn(3, 4, requires_grad=True)
    loss = mg.tanh(x).sum()
    before = mg.autograd.graph_stats(loss)
    loss.backward(retain_graph=True)
    assert mg.autograd.graph_stats(loss) == before
    loss.backward()
    after = mg.autograd.graph_stats(loss)
    assert after["saved_bytes"] == 0 and after["nodes"] == before["nodes"]


def test_graph_stats_grows_with_an_undetached_carried_state():
    # what the recurrent layers' graph-growth warning is built on
    w = mg.randn(4, 4, requires_grad=True)
    h = mg.zeros(1, 4)
    sizes = []
    for _ in range(3):
        h = mg.tanh(h @ w)
        sizes.append(mg.autograd.graph_stats(h)["nodes"])
    assert sizes == [2, 4, 6]
    assert re.fullmatch(r"\d+", str(mg.autograd.graph_stats(h.detach())["nodes"])) and (
        mg.autograd.graph_stats(h.detach())["nodes"] == 0
    )
