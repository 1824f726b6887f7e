"""Timing helpers shared by the benchmarks: interleaved repeated measurement and a ratio table.

Every candidate is timed in the same process, round-robin (A B C, A B C, ...), so that a burst of load
from another process on a shared machine hits all candidates alike. Ratios are computed within one run;
absolute times from different runs (or machines) are not comparable.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import platform
import pstats
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable


def base_parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the flags every benchmark shares (--quick, --repeats, --stat)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--quick", action="store_true", help="few repeats: a smoke run, noisy numbers"
    )
    parser.add_argument("--repeats", type=int, default=None, help="rounds of interleaved timing")
    parser.add_argument(
        "--stat",
        choices=("min", "median"),
        default="min",
        help="statistic the ratios use (min: least disturbed by other load; median: typical)",
    )
    return parser


def measure(
    candidates: dict[str, Callable[[], object]],
    repeats: int,
    number: int = 1,
    warmup: int = 1,
) -> dict[str, list[float]]:
    """Time each candidate `repeats` times, interleaved, and return seconds per call for every round.

    Each round calls every candidate `number` times in a row and records the mean time of one call.
    `warmup` untimed calls of each candidate come first (caches, lazy imports, allocator growth).
    The garbage collector stays enabled (it is part of the real cost of a Python-object-heavy step),
    but a full collection runs between rounds so that one candidate does not pay for another's garbage.
    """
    for fn in candidates.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, fn in candidates.items():
            gc.collect()
            start = time.perf_counter()
            for _ in range(number):
                fn()
            times[name].append((time.perf_counter() - start) / number)
    return times


def summarize(times: dict[str, list[float]], stat: str = "min") -> dict[str, float]:
    """Reduce every candidate's list of times to one number (min or median)."""
    pick = min if stat == "min" else statistics.median
    return {name: pick(ts) for name, ts in times.items()}


def format_time(seconds: float, unit: str) -> str:
    scale = {"s": 1.0, "ms": 1e3, "us": 1e6}[unit]
    return f"{seconds * scale:10.2f} {unit}"


def print_table(
    title: str,
    times: dict[str, list[float]],
    references: list[str],
    unit: str = "ms",
    stat: str = "min",
    per: float = 1.0,
) -> dict[str, float]:
    """Print min, median and the ratio of every candidate to every reference; return the chosen stat.

    `per` divides every time (e.g. the number of ops, to print time per op). A ratio below 1 means the
    candidate is faster than the reference.
    """
    mins = {name: min(ts) / per for name, ts in times.items()}
    medians = {name: statistics.median(ts) / per for name, ts in times.items()}
    chosen = mins if stat == "min" else medians
    refs = [r for r in references if r in times]
    width = max(len(name) for name in times) + 2
    print(f"\n{title}")
    header = f"{'candidate':<{width}}{'min':>14}{'median':>14}  " + "".join(
        f"{'/' + r:>{len(r) + 4}}" for r in refs
    )
    print(header)
    print("-" * len(header))
    for name in times:
        row = f"{name:<{width}}{format_time(mins[name], unit)}{format_time(medians[name], unit)}  "
        for r in refs:
            row += f"{chosen[name] / chosen[r]:>{len(r) + 3}.2f}x"
        print(row)
    print(f"(ratios use the {stat}; {len(next(iter(times.values())))} interleaved rounds)")
    return chosen


def check_target(label: str, ratio: float, target: float) -> str:
    """One line 'label = 0.52x (target <= 0.40x) MISS' for the final summary."""
    verdict = "ok" if ratio <= target else "MISS"
    line = f"  {label:<42} {ratio:6.2f}x   (target <= {target:.2f}x)  {verdict}"
    print(line)
    return verdict


def environment_line() -> str:
    """Python, NumPy, torch versions and thread settings, so a pasted table says where it came from."""
    import numpy as np

    parts = [f"python {platform.python_version()}", f"numpy {np.__version__}"]
    try:
        from threadpoolctl import threadpool_info

        blas = [
            f"{i['internal_api']}:{i['num_threads']}"
            for i in threadpool_info()
            if i["user_api"] == "blas"
        ]
        parts.append("numpy BLAS threads " + (",".join(blas) or "?"))
    except ImportError:
        pass
    torch = sys.modules.get("torch")  # only when the benchmark uses it
    if torch is not None:
        parts.append(f"torch {torch.__version__} threads {torch.get_num_threads()}")
    parts.append(f"{os.cpu_count()} CPUs")
    return "; ".join(parts)


def import_torch():
    """torch, or None when it is not installed (the benchmarks then skip the PyTorch candidates)."""
    try:
        import torch
    except ImportError:
        print(
            "PyTorch is not installed: its candidates are skipped (pip install torch to compare)."
        )
        return None
    return torch


_limits = None  # keeps threadpoolctl's limit alive for the whole run


def set_threads(n: int, torch=None) -> int:
    """Run NumPy's BLAS and torch with `n` threads each, so both libraries' matmuls are on equal terms.

    The default everywhere is 1: on a small machine shared with other processes (2 cores here), a
    2-thread OpenBLAS matmul of these sizes was measured 3-30x slower than a 1-thread one whenever the
    other core was busy, which would make every number depend on the neighbours' load. Returns n.
    """
    global _limits
    try:
        import numpy  # noqa: F401  (load NumPy's BLAS so that threadpoolctl sees it)
        from threadpoolctl import threadpool_limits

        _limits = threadpool_limits(limits=n)
    except ImportError:
        print(
            f"threadpoolctl is not installed: NumPy keeps its BLAS threads (set OPENBLAS_NUM_THREADS={n})."
        )
    if torch is not None:
        torch.set_num_threads(n)
    return n


def add_threads_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads for NumPy's BLAS and for torch alike (default 1)",
    )


# ---- profile of a minigrad step ---------------------------------------------------------------
def profile_minigrad(mg, step, n_steps: int = 3, top: int = 25) -> None:
    """cProfile of a few minigrad steps (top functions by tottime) and the primitive ops of one step."""
    step()  # warm
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(n_steps):
        step()
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out).sort_stats("tottime")
    stats.print_stats(top)
    print(f"\ncProfile of {n_steps} minigrad steps, top {top} by tottime:")
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:12000])

    # Count the ops of one step by wrapping Function.apply for its duration (the library is untouched).
    counts = {"forward": Counter(), "backward": Counter(), "other": Counter()}
    phase = ["forward"]
    original = mg.Function.__dict__["apply"]
    orig_backward = mg.Tensor.backward

    def counting_apply(cls, *args, **kwargs):
        counts[phase[0]][cls.__name__] += 1
        return original.__func__(cls, *args, **kwargs)

    def phased_backward(self, *args, **kwargs):
        phase[0] = "backward"
        try:
            return orig_backward(self, *args, **kwargs)
        finally:
            phase[0] = "other"

    mg.Function.apply = classmethod(counting_apply)
    mg.Tensor.backward = phased_backward
    try:
        step()
    finally:
        mg.Function.apply = original
        mg.Tensor.backward = orig_backward
    for name, label in (
        ("forward", "forward (model + loss)"),
        ("backward", "inside backward (VJPs)"),
        ("other", "after backward (optimizer)"),
    ):
        c = counts[name]
        body = ", ".join(f"{k} {v}" for k, v in c.most_common())
        print(f"primitive ops per step, {label}: {sum(c.values())}  [{body}]")
