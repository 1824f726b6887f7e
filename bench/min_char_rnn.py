"""Karpathy's min-char-rnn configuration: one training step, minigrad against the hand-coded NumPy version.

Vanilla RNN, H=100, T=25, batch 1, float64, vocabulary from Tiny Shakespeare (65 characters; a synthetic
vocabulary of 65 when the file is missing). One step = forward over 25 characters from the carried hidden
state, backward, gradients clipped to [-5, 5], Adagrad update, hidden state carried to the next step.

  numpy            bench/numpy_rnn.py, min-char-rnn's own code and style
  minigrad-RNN     mg.nn.RNN + mg.nn.Linear + F.cross_entropy(reduction='sum') + clip + mg.optim.Adagrad
  minigrad-cell    the same with an mg.nn.RNNCell loop instead of mg.nn.RNN

    python bench/min_char_rnn.py [--quick] [--profile]

Issue 4 target: minigrad (the faster of its two variants) <= 1.3x the NumPy version.
"""

from __future__ import annotations

import sys

import numpy as np
import numpy_rnn
from _common import (
    add_threads_flag,
    base_parser,
    check_target,
    environment_line,
    measure,
    print_table,
    profile_minigrad,
    set_threads,
)

H, T, LR = numpy_rnn.HIDDEN, numpy_rnn.SEQ_LENGTH, numpy_rnn.LEARNING_RATE
N_CHUNKS = 200  # the steps cycle over the text's first 200 chunks of T characters


def load_chunks() -> tuple[int, list]:
    """(vocabulary size, list of (inputs, targets) index lists), min-char-rnn's way of walking the text."""
    text = numpy_rnn.load_text()
    if text is None:
        print("Tiny Shakespeare not found: using random characters from a vocabulary of 65")
        data = np.random.default_rng(0).integers(0, 65, size=N_CHUNKS * T + 1).tolist()
        vocab = 65
    else:
        chars = sorted(set(text))
        vocab = len(chars)
        char_to_ix = {ch: i for i, ch in enumerate(chars)}
        data = [char_to_ix[ch] for ch in text[: N_CHUNKS * T + 1]]
    chunks = [(data[p : p + T], data[p + 1 : p + T + 1]) for p in range(0, N_CHUNKS * T, T)]
    return vocab, chunks


def build_numpy(params: dict, chunks: list):
    params = {k: v.copy() for k, v in params.items()}
    mem = {k: np.zeros_like(v) for k, v in params.items()}
    state = {"n": 0, "hprev": np.zeros((H, 1))}

    def step():
        inputs, targets = chunks[state["n"] % len(chunks)]
        state["n"] += 1
        loss, state["hprev"] = numpy_rnn.train_step(
            params, mem, inputs, targets, state["hprev"], LR
        )
        return loss, state["hprev"][:, 0]

    return step


def minigrad_missing(mg, cell: bool) -> str | None:
    nn = getattr(mg, "nn", None)
    if nn is None:
        return "minigrad.nn does not exist yet"
    need = ["RNNCell" if cell else "RNN", "Linear"]
    missing = [n for n in need if not hasattr(nn, n)]
    return f"minigrad.nn lacks {', '.join(missing)}" if missing else None


def build_minigrad(mg, params: dict, chunks: list, vocab: int, cell: bool):
    import minigrad.nn.functional as F

    previous = mg.get_default_dtype()
    mg.set_default_dtype(mg.float64)  # min-char-rnn computes in float64
    try:
        rnn = mg.nn.RNNCell(vocab, H) if cell else mg.nn.RNN(vocab, H)
        linear = mg.nn.Linear(H, vocab)
    finally:
        mg.set_default_dtype(previous)
    suffix = "" if cell else "_l0"
    # NOTE: nn.RNN has two biases where min-char-rnn has one: bias_ih = bh, bias_hh = 0 at the start.
    getattr(rnn, "weight_ih" + suffix).data[...] = params["Wxh"]
    getattr(rnn, "weight_hh" + suffix).data[...] = params["Whh"]
    getattr(rnn, "bias_ih" + suffix).data[...] = params["bh"][:, 0]
    getattr(rnn, "bias_hh" + suffix).data[...] = 0.0
    linear.weight.data[...] = params["Why"]
    linear.bias.data[...] = params["by"][:, 0]
    parameters = [*rnn.parameters(), *linear.parameters()]
    # PyTorch's Adagrad divides by sqrt(s) + eps where min-char-rnn uses sqrt(s + 1e-8): eps=1e-4 is the
    # closest match for small s, and identical in cost
    opt = mg.optim.Adagrad(parameters, lr=LR, eps=1e-4)
    clip = mg.nn.utils.clip_grad_value_
    state = {"n": 0, "hprev": mg.zeros((1, H) if cell else (1, 1, H), dtype=mg.float64)}
    eye = np.eye(vocab)

    def step():
        inputs, targets = chunks[state["n"] % len(chunks)]
        state["n"] += 1
        x = mg.tensor(eye[inputs][:, None, :])  # (T, 1, V) one-hot
        if cell:
            h = state["hprev"]
            hs = []
            for t in range(T):
                h = rnn(x[t], h)
                hs.append(h)
            out = mg.stack(hs)
            h_n = h
        else:
            out, h_n = rnn(x, state["hprev"])
        logits = linear(out.reshape(T, H))
        loss = F.cross_entropy(logits, mg.tensor(targets), reduction="sum")
        opt.zero_grad()
        loss.backward()
        clip(parameters, 5.0)
        opt.step()
        state["hprev"] = h_n.detach()
        return loss.item(), h_n.numpy().reshape(H)

    return step


def check_same_first_step(built: dict) -> None:
    """Every candidate's first step: the same loss and the same final hidden state as the NumPy one."""
    ref_loss, ref_h = built["numpy"]()
    for name, step in built.items():
        if name == "numpy":
            continue
        loss, h = step()
        if abs(loss - ref_loss) > 1e-9 * abs(ref_loss) or np.abs(h - ref_h).max() > 1e-12:
            raise AssertionError(
                f"{name} disagrees with min-char-rnn on the first step: loss {loss!r} vs {ref_loss!r}, "
                f"max |h diff| {np.abs(h - ref_h).max():.2e}"
            )
    print(f"first step checked: all candidates give loss {ref_loss:.6f} and the same hidden state")


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0])
    add_threads_flag(parser)
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the faster minigrad step, count its ops"
    )
    args = parser.parse_args()
    repeats = args.repeats or (5 if args.quick else 30)
    number = 5 if args.quick else 20  # steps per timed round (one step is about a millisecond)

    import minigrad as mg

    set_threads(args.threads)
    print(environment_line())
    vocab, chunks = load_chunks()
    print(
        f"min-char-rnn step: vanilla RNN, V={vocab}, H={H}, T={T}, batch 1, float64, clip 5, Adagrad"
    )

    params = numpy_rnn.init_params(vocab, H, seed=0)
    built = {"numpy": build_numpy(params, chunks)}
    for cell, name in ((False, "minigrad-RNN"), (True, "minigrad-cell")):
        why_not = minigrad_missing(mg, cell)
        if why_not is None:
            built[name] = build_minigrad(mg, params, chunks, vocab, cell)
        else:
            print(f"{name} skipped: {why_not}")
    check_same_first_step(built)

    times = measure(built, repeats=repeats, number=number, warmup=3)
    t = print_table("time per training step", times, ["numpy"], unit="ms", stat=args.stat)

    print("\nTargets (issue 4):")
    variants = [n for n in ("minigrad-RNN", "minigrad-cell") if n in t]
    if variants:
        best = min(variants, key=t.get)
        check_target(f"time {best} / numpy", t[best] / t["numpy"], 1.3)
    else:
        print("  minigrad not measured (see above)")

    if args.profile:
        if not variants:
            sys.exit("--profile needs a minigrad candidate")
        profile_minigrad(mg, built[best], n_steps=50)


if __name__ == "__main__":
    main()
