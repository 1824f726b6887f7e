"""One training step of a character LSTM language model: minigrad against NumPy and PyTorch.

Model: vocabulary V=65, one-hot input (T=64, N=32, V) -> LSTM(65, 256) from zero state -> Linear(256, 65)
-> mean cross-entropy over the T*N positions -> plain SGD step. Candidates, all started from the same
weights and checked to take the same first step before anything is timed:

  numpy        (a) hand-written NumPy with hand-coded BPTT (bench/numpy_lstm.py)
  torch-nn     (b) torch.nn.LSTM + nn.Linear + F.cross_entropy + torch.optim.SGD
  torch-loop   (c) the same LSTM cell from PyTorch primitives, one Python-level step per time step
  minigrad     (d) mg.nn.LSTM + mg.nn.Linear + mg.nn.functional.cross_entropy + mg.optim.SGD
  minigrad-loop    (information) the torch-loop code line for line in minigrad ops, without mg.nn
  matmuls-only     (information) only the matrix products one minigrad step computes, in NumPy, with the
                   same shapes and layouts: the floor for any NumPy-based framework on this machine's BLAS

Then memory, traced with tracemalloc (NumPy reports its array allocations to it; torch does not, so only
minigrad and the NumPy reference are measured): the peak above the between-steps level during one step,
the growth of the between-steps level over --steps steps with its slope per step, and the same growth
with CPython's free lists cleared at both ends (the memory steps keep; target: none).

    python bench/lstm_lm.py [--quick] [--steps 300] [--threads 1] [--profile]

Issue 4 targets: minigrad <= 1.1x (a), <= 0.8x (c), <= 1.5x (b); peak memory <= 1.5x (a); zero growth.
"""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import numpy_lstm
from _common import (
    add_threads_flag,
    base_parser,
    check_target,
    environment_line,
    import_torch,
    measure,
    print_table,
    profile_minigrad,
    set_threads,
)

T, N, V, H = 64, 32, 65, 256
LR = 0.5


# ---- the candidates: each builder returns (step, current_params) -------------------------------------
def build_numpy(params: dict, x: np.ndarray, targets: np.ndarray):
    params = {k: v.copy() for k, v in params.items()}

    def step():
        return numpy_lstm.train_step(params, x, targets, LR)

    return step, lambda: params


def build_torch_nn(torch, params: dict, x: np.ndarray, targets: np.ndarray):
    lstm = torch.nn.LSTM(V, H)
    linear = torch.nn.Linear(H, V)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(lstm, name + "_l0").copy_(torch.from_numpy(params[name]))
        linear.weight.copy_(torch.from_numpy(params["weight_out"]))
        linear.bias.copy_(torch.from_numpy(params["bias_out"]))
    opt = torch.optim.SGD([*lstm.parameters(), *linear.parameters()], lr=LR)
    xt = torch.from_numpy(x)
    tt = torch.from_numpy(targets.reshape(-1)).long()

    def step():
        opt.zero_grad()
        out, _ = lstm(xt)
        loss = torch.nn.functional.cross_entropy(linear(out).reshape(T * N, V), tt)
        loss.backward()
        opt.step()
        return loss.item()

    def current():
        d = {
            name: getattr(lstm, name + "_l0")
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        }
        d["weight_out"], d["bias_out"] = linear.weight, linear.bias
        return {k: v.detach().numpy() for k, v in d.items()}

    return step, current


def build_torch_loop(torch, params: dict, x: np.ndarray, targets: np.ndarray):
    """The LSTM cell written with PyTorch primitives, the way a user writes a custom cell: per time step
    gates = x_t W_ih^T + b_ih + h W_hh^T + b_hh, chunked into i, f, g, o; outputs collected with stack."""
    p = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    opt = torch.optim.SGD(list(p.values()), lr=LR)
    xt = torch.from_numpy(x)
    tt = torch.from_numpy(targets.reshape(-1)).long()

    def step():
        opt.zero_grad()
        h = torch.zeros(N, H)
        c = torch.zeros(N, H)
        outs = []
        for t in range(T):
            gates = xt[t] @ p["weight_ih"].T + p["bias_ih"] + h @ p["weight_hh"].T + p["bias_hh"]
            i, f, g, o = gates.chunk(4, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outs.append(h)
        out = torch.stack(outs)
        logits = out.reshape(T * N, H) @ p["weight_out"].T + p["bias_out"]
        loss = torch.nn.functional.cross_entropy(logits, tt)
        loss.backward()
        opt.step()
        return loss.item()

    return step, lambda: {k: v.detach().numpy() for k, v in p.items()}


def minigrad_missing(mg) -> str | None:
    """Why the minigrad candidate cannot run yet, or None when it can."""
    nn = getattr(mg, "nn", None)
    if nn is None:
        return "minigrad.nn does not exist yet"
    missing = [n for n in ("LSTM", "Linear") if not hasattr(nn, n)]
    if not hasattr(getattr(nn, "functional", None), "cross_entropy"):
        missing.append("functional.cross_entropy")
    return f"minigrad.nn lacks {', '.join(missing)}" if missing else None


def build_minigrad(mg, params: dict, x: np.ndarray, targets: np.ndarray):
    import minigrad.nn.functional as F

    lstm = mg.nn.LSTM(V, H)
    linear = mg.nn.Linear(H, V)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        getattr(lstm, name + "_l0").data[...] = params[name]
    linear.weight.data[...] = params["weight_out"]
    linear.bias.data[...] = params["bias_out"]
    parameters = [*lstm.parameters(), *linear.parameters()]
    optim = getattr(mg, "optim", None)
    opt = optim.SGD(parameters, lr=LR) if optim is not None and hasattr(optim, "SGD") else None
    xt = mg.tensor(x)
    tt = mg.tensor(targets.reshape(-1))

    def step():
        for p in parameters:
            p.grad = None
        out, _ = lstm(xt)
        loss = F.cross_entropy(linear(out).reshape(T * N, V), tt)
        loss.backward()
        if opt is not None:
            opt.step()
        else:  # no mg.optim yet: the same update by hand
            for p in parameters:
                p.data -= LR * p.grad.data
        return loss.item()

    def current():
        d = {
            name: getattr(lstm, name + "_l0")
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        }
        d["weight_out"], d["bias_out"] = linear.weight, linear.bias
        return {k: v.numpy() for k, v in d.items()}

    return step, current


def build_minigrad_loop(mg, params: dict, x: np.ndarray, targets: np.ndarray):
    """The torch-loop candidate line for line in minigrad primitives (no mg.nn): the engine's cost for
    exactly the graph that (c) builds, whatever mg.nn.LSTM does."""
    import minigrad.nn.functional as F

    p = {k: mg.tensor(v.copy(), requires_grad=True) for k, v in params.items()}
    xt = mg.tensor(x)
    tt = mg.tensor(targets.reshape(-1))

    def step():
        for v in p.values():
            v.grad = None
        h = mg.zeros((N, H))
        c = mg.zeros((N, H))
        outs = []
        for t in range(T):
            gates = xt[t] @ p["weight_ih"].T + p["bias_ih"] + h @ p["weight_hh"].T + p["bias_hh"]
            i, f, g, o = gates.chunk(4, 1)
            c = f.sigmoid() * c + i.sigmoid() * g.tanh()
            h = o.sigmoid() * c.tanh()
            outs.append(h)
        out = mg.stack(outs)
        logits = out.reshape(T * N, H) @ p["weight_out"].T + p["bias_out"]
        loss = F.cross_entropy(logits, tt)
        loss.backward()
        with mg.no_grad():
            for v in p.values():
                v.data -= LR * v.grad.data
        return loss.item()

    return step, lambda: {k: v.numpy() for k, v in p.items()}


def build_matmuls_only(params: dict, x: np.ndarray):
    """The matrix products of one minigrad step and nothing else (no nonlinearity, loss or update):
    input projection, T recurrent products, output layer; backward: T products with W_hh, one batched
    product for each weight's gradient, the output layer's two."""
    W_ih, W_hh, W_out = params["weight_ih"], params["weight_hh"], params["weight_out"]
    rng = np.random.default_rng(0)
    x2 = x.reshape(T * N, V)
    hs = rng.standard_normal((T * N, H)).astype(W_hh.dtype)
    g_gates = rng.standard_normal((T * N, 4 * H)).astype(W_hh.dtype)
    g_logits = rng.standard_normal((T * N, V)).astype(W_hh.dtype)

    def step():
        W_hh_rows = np.ascontiguousarray(W_hh.T)  # as mg.nn.LSTM: W_hh.T row-major once
        x2 @ W_ih.T  # input projection of every step
        for t in range(T):
            hs[t * N : (t + 1) * N] @ W_hh_rows  # h @ W_hh^T
        hs @ W_out.T  # logits
        g_logits @ W_out  # backward: into h
        g_logits.T @ hs  # W_out's gradient
        for t in range(T):
            g_gates[t * N : (t + 1) * N] @ W_hh  # into h_{t-1}
        hs.T @ g_gates  # W_hh's gradient, all steps at once
        x2.T @ g_gates  # W_ih's gradient

    return step


def check_same_first_step(built: dict) -> None:
    """Run one step of every candidate and compare the losses and updated weights with the NumPy one's."""
    results = {}
    for name, (step, current) in built.items():
        loss = step()
        results[name] = (loss, {k: v.copy() for k, v in current().items()})
    ref_loss, ref_params = results["numpy"]
    for name, (loss, params) in results.items():
        worst = max(np.abs(params[k] - ref_params[k]).max() for k in ref_params)
        if abs(loss - ref_loss) > 1e-4 or worst > 1e-4:
            raise AssertionError(
                f"{name} disagrees with the NumPy reference after one step: loss {loss:.6f} vs {ref_loss:.6f}, "
                f"max |weight diff| {worst:.2e}"
            )
    print(
        f"first step checked: all candidates give loss {ref_loss:.5f} and the same updated weights (1e-4)"
    )


# ---- memory ------------------------------------------------------------------------------------------
def memory_profile(step, steps: int, release=None) -> dict:
    """Peak, growth and leak rate of the traced memory over `steps` steps, and what gc finds.

    Returns a dict with
      peak   bytes above the between-steps level during a step (the largest over all steps);
      raw    growth of the between-steps level (tracemalloc's current size after a step returns) from
             the end of the warm-up (the first third of the steps, at most 10) to the last step;
      kept   the same growth with CPython's free lists cleared at both ends: the memory the steps keep;
      slope  least-squares slope of the raw level after the warm-up, in bytes per step;
      found  objects the gc.collect() at the end frees (reference cycles left by the steps).
    NOTE: tracemalloc counts an object parked in one of CPython's free lists (small tuples: shapes,
    zips) as still allocated, at the line that made it. Those lists fill during the first few hundred
    steps up to a fixed cap (2,000 tuples per size), so `raw` shows up to ~100-200 KiB that is bounded
    and reused, not leaked. A full gc.collect() empties the free lists, so `kept` compares two levels
    read just after one; its few hundred bytes are counters (parameter versions, the recycler's position)
    that became heap ints once past 256, replaced, not accumulated. gc stays enabled during the steps,
    as in real training.
    `release` runs just before tracing starts: for minigrad, backend.empty_cache, so that the arrays its
    recycler keeps between steps are allocated inside the first traced step and counted in its peak.
    """
    warm = max(1, min(10, steps // 3))
    # preallocated before tracing starts, so that recording the numbers allocates nothing traced
    peaks = np.zeros(steps, dtype=np.int64)
    levels = np.zeros(steps, dtype=np.int64)
    kept_from = 0
    found = 0
    gc.collect()
    if release is not None:
        release()
    tracemalloc.start()
    for k in range(steps):
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        step()
        current, peak = tracemalloc.get_traced_memory()
        peaks[k] = peak - before
        levels[k] = current
        if k == warm - 1:
            found += gc.collect()
            kept_from = tracemalloc.get_traced_memory()[0]
    found += gc.collect()
    kept = tracemalloc.get_traced_memory()[0] - kept_from
    tracemalloc.stop()
    after_warm = levels[warm - 1 :].astype(np.float64)
    slope = (
        float(np.polyfit(np.arange(len(after_warm)), after_warm, 1)[0])
        if len(after_warm) > 2
        else 0.0
    )
    return {
        "peak": int(peaks.max()),
        "raw": int(levels[-1] - levels[warm - 1]),
        "kept": int(kept),
        "slope": slope,
        "found": found,
    }


def print_page_faults(steps: dict, n: int = 5) -> None:
    """Minor page faults per step of each candidate (fresh memory pages touched), where the OS reports them.

    NOTE: the candidates share one C allocator, so one candidate's memory habits change another's
    faults; on a virtual machine a fault costs microseconds, enough to move the ratios above."""
    try:
        import resource
    except ImportError:  # (not on Windows)
        return
    print("\nminor page faults per step (after the timing rounds)")
    for name, step in steps.items():
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(n):
            step()
        faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / n
        print(f"  {name:<15}{faults:>10.0f}")


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0])
    add_threads_flag(parser)
    parser.add_argument(
        "--steps", type=int, default=None, help="steps for the memory growth check (issue: 300)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the minigrad step and count its ops"
    )
    parser.add_argument(
        "--no-memory", action="store_true", help="skip the tracemalloc measurements"
    )
    args = parser.parse_args()
    repeats = args.repeats or (3 if args.quick else 15)
    steps = args.steps or (10 if args.quick else 50)

    import minigrad as mg

    torch = import_torch()
    set_threads(args.threads, torch)
    print(environment_line())
    print(
        f"char-LSTM LM training step: V={V} one-hot, LSTM({V}, {H}), Linear({H}, {V}), T={T}, N={N}, float32, SGD"
    )

    params = numpy_lstm.init_params(V, H, np.float32, seed=0)
    x, targets = numpy_lstm.random_batch(T, N, V, np.float32, seed=1)
    built = {}
    why_not = minigrad_missing(mg)
    if why_not is None:
        built["minigrad"] = build_minigrad(mg, params, x, targets)
    else:
        print(
            f"minigrad candidate skipped: {why_not} (needs mg.nn.LSTM, mg.nn.Linear, F.cross_entropy)"
        )
    built["minigrad-loop"] = build_minigrad_loop(mg, params, x, targets)
    built["numpy"] = build_numpy(params, x, targets)
    if torch is not None:
        built["torch-nn"] = build_torch_nn(torch, params, x, targets)
        built["torch-loop"] = build_torch_loop(torch, params, x, targets)
    check_same_first_step(built)

    steps_by_name = {name: b[0] for name, b in built.items()}
    steps_by_name["matmuls-only"] = build_matmuls_only(params, x)
    times = measure(steps_by_name, repeats=repeats, warmup=1)
    t = print_table(
        "time per training step",
        times,
        ["numpy", "torch-loop", "torch-nn"],
        unit="ms",
        stat=args.stat,
    )

    print_page_faults(steps_by_name)

    mem = {}
    if not args.no_memory:
        print(
            f"\nmemory (tracemalloc; {steps} steps each; tracing slows the steps down, so it is timed apart)"
        )
        print(
            f"{'candidate':<15}{'peak/step':>14}{'raw growth':>14}{'slope':>14}"
            f"{'kept growth':>14}{'gc finds':>10}"
        )
        release = getattr(getattr(mg, "backend", None), "empty_cache", None)
        for name in ("minigrad", "minigrad-loop", "numpy"):
            if name in built:
                m = memory_profile(built[name][0], steps, None if name == "numpy" else release)
                mem[name] = m
                print(
                    f"{name:<15}{m['peak'] / 2**20:>10.2f} MiB{m['raw'] / 2**10:>10.1f} KiB"
                    f"{m['slope']:>8.0f} B/step{m['kept']:>12} B{m['found']:>10}"
                )
        print(
            "(raw: the between-steps level, which counts CPython's free lists of small tuples as they fill"
            " to their cap;\n kept: the same with the free lists cleared by gc.collect() at both ends)"
        )
        if release is not None:
            held = mg.backend.cache_info()["bytes"]
            print(
                f"(of minigrad's peak, {held / 2**20:.2f} MiB are recycled arrays it keeps between steps)"
            )

    print("\nTargets (issue 4):")
    if "minigrad" in t:
        for ref, target in (("numpy", 1.1), ("torch-loop", 0.8), ("torch-nn", 1.5)):
            if ref in t:
                check_target(f"time minigrad / {ref}", t["minigrad"] / t[ref], target)
        for ref in ("numpy", "torch-loop"):
            if ref in t:
                label = f"matmuls-only / {ref}"
                print(f"  {label:<42} {t['matmuls-only'] / t[ref]:6.2f}x   (information)")
        if "minigrad" in mem:
            m = mem["minigrad"]
            check_target("peak memory minigrad / numpy", m["peak"] / mem["numpy"]["peak"], 1.5)
            label = f"memory kept by minigrad over {steps} steps"
            print(
                f"  {label:<42} {m['kept']:6d} B    (target 0; raw level"
                f" {m['raw'] / 2**10:+.1f} KiB, {m['slope']:.0f} B/step, bounded free lists)"
            )
    else:
        print("  minigrad not measured (see above)")

    if args.profile:
        which = "minigrad" if "minigrad" in built else "minigrad-loop"
        print(f"\nprofile of the {which} candidate")
        profile_minigrad(mg, built[which][0])


if __name__ == "__main__":
    main()
