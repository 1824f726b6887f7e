"""Character-level language model on Tiny Shakespeare: an LSTM (or GRU, or vanilla RNN) learns to write.

    python examples/char_rnn.py                      # LSTM 256, 2000 steps: validation 1.57 nats/char
    python examples/char_rnn.py --sample --temperature 0.8 --prime "ROMEO:"
    python examples/char_rnn.py --karpathy           # Karpathy's min-char-rnn configuration

The story, top to bottom:
1. Data. The text becomes integer ids (one per distinct character). The first 90% trains, the last 10%
   validates. The training text is cut into `batch_size` long contiguous streams read side by side.
2. Model. Each character is looked up in an `Embedding` table (or, with `--embed 0` as in min-char-rnn,
   enters as a one-hot vector), goes through the recurrent layer, and a `Linear` head scores the next
   character.
3. Truncated backpropagation through time. Each step reads the next `seq_len` characters of every
   stream, starting from the hidden state the previous step ended with, so the model sees an unbroken
   text. After the update, `detach_state` cuts the graph at the chunk boundary: the state's *value*
   carries on, but the gradient stops there, so one step never backpropagates into older chunks.
4. Checkpoints hold everything a run depends on (weights, optimizer buffers, step, the data cursor, the
   carried hidden state and the settings), so `--resume` continues with exactly the losses an
   uninterrupted run logs.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from _common import (
    Timer,
    data_path,
    make_parser,
    nonnegative_float,
    nonnegative_int,
    plt,
    positive_float,
    positive_int,
    probability,
    progress,
    save_metrics,
    savefig,
    setup,
    smooth,
)

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn

TRAIN_FRACTION = 0.9  # the first 90% of the text trains, the rest validates

# Settings per preset; a flag given on the command line always wins. val_streams (no flag): how many
# streams the validation text is cut into.
PRESETS = {
    "default": dict(model="lstm", embed=64, layers=1, hidden=256, dropout=0.0, batch_size=32, seq_len=64, optimizer="adam",
                    lr=2e-3, clip=5.0, clip_mode="norm", steps=2000, eval_every=250, ckpt_every=500, val_chars=None,
                    val_streams=32),
    "quick": dict(model="lstm", embed=16, layers=1, hidden=64, dropout=0.0, batch_size=16, seq_len=16, optimizer="adam",
                  lr=2e-2, clip=5.0, clip_mode="norm", steps=40, eval_every=20, ckpt_every=20, val_chars=1000,
                  val_streams=4),
    # min-char-rnn.py: vanilla tanh RNN, hidden 100, 25-character chunks, one stream, Adagrad 0.1, and
    # every gradient element clipped to [-5, 5]
    "karpathy": dict(model="rnn", embed=0, layers=1, hidden=100, dropout=0.0, batch_size=1, seq_len=25, optimizer="adagrad",
                     lr=0.1, clip=5.0, clip_mode="value", steps=20000, eval_every=2000, ckpt_every=5000, val_chars=None,
                     val_streams=32),
}  # fmt: skip
# with --karpathy, --quick only shortens the run: the min-char-rnn model is small already
QUICK_RUN = ("steps", "eval_every", "ckpt_every", "val_chars", "val_streams")
# the model's shape: a checkpoint's weights only fit a model built with the same values
MODEL_SHAPE = ("model", "embed", "layers", "hidden")
# what a resumed run must keep as well: the carried state is (layers, batch_size, hidden), and the
# optimizer's buffers belong to its optimizer
RESUME_FIXED = MODEL_SHAPE + ("batch_size", "optimizer")


def preset_help(key: str, default_text: str | None = None) -> str:
    """'(default: 64; 16 with --quick; 0 with --karpathy)', read from PRESETS so that --help stays true."""
    values = {name: PRESETS[name][key] for name in PRESETS}
    text = f"(default: {default_text or values['default']}"
    for name in ("quick", "karpathy"):
        if values[name] != values["default"]:
            text += f"; {values[name]} with --{name}"
    return text + ")"


def parse_args(argv=None):
    parser = make_parser(
        "char_rnn",
        "Character-level language model on Tiny Shakespeare (truncated BPTT). --quick and --karpathy "
        "change the defaults as noted; with --resume or --sample, a setting not given comes from the "
        "checkpoint.",
    )
    parser.add_argument(
        "--model", choices=["lstm", "gru", "rnn"], help="recurrent layer " + preset_help("model")
    )
    parser.add_argument(
        "--embed",
        type=nonnegative_int,
        help="embedding size; 0 feeds one-hot vectors " + preset_help("embed"),
    )
    parser.add_argument(
        "--layers", type=positive_int, help="stacked recurrent layers " + preset_help("layers")
    )
    parser.add_argument("--hidden", type=positive_int, help="hidden size " + preset_help("hidden"))
    parser.add_argument(
        "--dropout",
        type=probability,
        help="dropout between stacked layers " + preset_help("dropout"),
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        help="parallel text streams per step " + preset_help("batch_size"),
    )
    parser.add_argument(
        "--seq-len",
        type=positive_int,
        help="characters per truncated-BPTT chunk " + preset_help("seq_len"),
    )
    parser.add_argument(
        "--lr", type=positive_float, help="learning rate, whatever the optimizer " + preset_help("lr")
    )
    parser.add_argument(
        "--optimizer", choices=["adam", "adagrad", "sgd"], help="optimizer " + preset_help("optimizer")
    )
    parser.add_argument(
        "--clip",
        type=nonnegative_float,
        help="gradient clipping threshold, 0 to disable " + preset_help("clip"),
    )
    parser.add_argument(
        "--clip-mode",
        choices=["norm", "value"],
        help="clip the total norm or each element " + preset_help("clip_mode"),
    )
    parser.add_argument(
        "--steps", type=positive_int, help="total training steps " + preset_help("steps")
    )
    parser.add_argument(
        "--eval-every",
        type=positive_int,
        help="steps between validation losses and samples " + preset_help("eval_every"),
    )
    parser.add_argument(
        "--ckpt-every",
        type=positive_int,
        help="steps between checkpoints " + preset_help("ckpt_every"),
    )
    parser.add_argument(
        "--val-chars",
        type=positive_int,
        help="validate on the first N validation characters only " + preset_help("val_chars", "all"),
    )
    parser.add_argument(
        "--karpathy", action="store_true", help="min-char-rnn preset (RNN 100, seq 25, Adagrad)"
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--resume",
        action="store_true",
        help="continue from <out>/checkpoint.safetensors, with its settings",
    )
    mode.add_argument("--sample", action="store_true", help="only generate text from a checkpoint")
    parser.add_argument(
        "--checkpoint",
        type=Path,
        help="checkpoint for --sample (default: <out>/checkpoint.safetensors)",
    )
    parser.add_argument(
        "--temperature",
        type=positive_float,
        default=0.8,
        help="sampling temperature (>0; lower = safer)",
    )
    parser.add_argument(
        "--prime", default="\n", help="text the sample starts from (default: a newline)"
    )
    parser.add_argument(
        "--length", type=nonnegative_int, default=500, help="characters to generate"
    )
    args = parser.parse_args(argv)
    if args.checkpoint is not None and not args.sample:
        parser.error("--checkpoint is read by --sample only (--resume uses <out>/checkpoint.safetensors)")

    # Each setting comes from the command line, else the checkpoint (--resume, --sample), else the preset.
    meta = read_meta(parser, args) if args.resume or args.sample else {}
    saved = meta.get("config", {})
    for key in RESUME_FIXED if args.resume else MODEL_SHAPE:
        given = getattr(args, key)
        if key in saved and given is not None and given != saved[key]:
            flag = "--" + key.replace("_", "-")
            parser.error(
                f"{flag} {given} conflicts with the checkpoint, which was trained with {flag} "
                f"{saved[key]}; leave {flag} out, or train a new model in another --out folder"
            )
    preset = PRESETS["karpathy" if args.karpathy else "default"]
    if args.quick and args.karpathy:
        preset = {**preset, **{k: PRESETS["quick"][k] for k in QUICK_RUN}}
    elif args.quick:
        preset = PRESETS["quick"]
    for key, value in {**preset, **saved}.items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)

    if args.sample:
        check_sample_args(parser, args, meta["vocab"])
    else:
        check_training_args(parser, args, meta.get("step", 0))
    return args


def read_meta(parser, args) -> dict:
    """The plain values of the checkpoint --resume or --sample reads (settings, vocabulary, step)."""
    flag = "--resume" if args.resume else "--sample"
    path = args.checkpoint or args.out / "checkpoint.safetensors"
    if not Path(path).is_file():
        parser.error(
            f"{flag}: no checkpoint at {path}; train first (python examples/char_rnn.py --out {args.out})"
            + (" or pass --checkpoint" if args.sample else "")
        )
    try:
        return mg.load(path)["meta"]
    except (ValueError, KeyError, TypeError) as e:
        parser.error(f"{flag}: {path} is not a char_rnn checkpoint ({e})")


def check_sample_args(parser, args, vocab: str) -> None:
    if not args.prime:
        parser.error("--prime: give at least one character to start from (the default is a newline)")
    unknown = sorted(set(args.prime) - set(vocab))
    if unknown:
        parser.error(f"--prime: the characters {unknown} never occur in the training text")


def check_training_args(parser, args, step: int) -> None:
    """Limits that depend on each other or on the data, checked before anything is built."""
    if args.steps <= step:
        parser.error(
            f"--resume: the checkpoint is at step {step} already and --steps is {args.steps}; "
            "pass a larger --steps"
        )
    n_chars = len(data_path("tinyshakespeare.txt").read_text(encoding="utf-8"))
    n_train = int(TRAIN_FRACTION * n_chars)
    n_val = n_chars - n_train
    stream = n_train // args.batch_size  # characters per training stream
    if stream < 2:
        parser.error(
            f"--batch-size {args.batch_size}: the {n_train:,} training characters cannot fill that many streams"
        )
    if args.seq_len >= stream:
        # a chunk needs seq_len inputs plus one more character for the last target
        parser.error(
            f"--seq-len {args.seq_len}: with --batch-size {args.batch_size} each stream holds {stream:,} "
            f"characters, so a chunk can be at most {stream - 1:,} long"
        )
    val_chars = min(args.val_chars or n_val, n_val)
    if val_chars // args.val_streams < 2:
        parser.error(
            f"--val-chars {args.val_chars}: the validation text is read as {args.val_streams} streams "
            f"of at least 2 characters, so it needs at least {2 * args.val_streams}"
        )


# ---- 1. data ------------------------------------------------------------------------------------------
def load_text():
    """Tiny Shakespeare as ids; returns (train ids, validation ids, vocabulary string)."""
    text = data_path("tinyshakespeare.txt").read_text(encoding="utf-8")
    vocab = "".join(sorted(set(text)))
    lookup = {ch: i for i, ch in enumerate(vocab)}
    ids = np.array([lookup[ch] for ch in text], dtype=np.int64)
    split = int(TRAIN_FRACTION * len(ids))
    return ids[:split], ids[split:], vocab


def make_streams(ids, n_streams: int):
    """Cut ids into n_streams contiguous rows, (N, L): row n is the n-th slice of the text.

    Reading the rows' columns p..p+T at step k and p+T..p+2T at step k+1 continues every row's text,
    which is what makes carrying the hidden state from one step to the next meaningful.
    """
    length = len(ids) // n_streams
    return ids[: n_streams * length].reshape(n_streams, length)


def get_chunk(streams, cursor: int, seq_len: int, device):
    """Inputs and next-character targets at columns cursor..cursor+seq_len, both (T, N) int tensors."""
    x = streams[:, cursor : cursor + seq_len].T
    y = streams[:, cursor + 1 : cursor + seq_len + 1].T
    return mg.tensor(np.ascontiguousarray(x), device=device), mg.tensor(
        np.ascontiguousarray(y), device=device
    )


# ---- 2. model -----------------------------------------------------------------------------------------
class CharModel(nn.Module):
    """Characters -> embedding (or one-hot) -> recurrent layer -> Linear scores for the next character.

    Shapes: input (T, N) integer ids; output logits (T, N, V) and the final recurrent state
    (h_n of shape (layers, N, H); for the LSTM the pair (h_n, c_n)).
    """

    def __init__(
        self,
        vocab_size: int,
        embed: int,
        hidden_size: int,
        num_layers: int,
        kind: str,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.vocab_size = vocab_size
        # embed = 0: one-hot input, as in min-char-rnn. An embedding computes the same function (a one-hot
        # vector times a matrix), but a separate N(0, 1)-initialised table trains much faster with Adam:
        # measured here with PyTorch, validation 1.58 vs 1.68 nats/char after the default 2000 steps.
        self.embed = nn.Embedding(vocab_size, embed) if embed > 0 else None
        layer = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[kind]
        self.rnn = layer(embed or vocab_size, hidden_size, num_layers, dropout=dropout)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, ids, state=None):
        if self.embed is not None:
            x = self.embed(ids)  # (T, N, E)
        else:
            x = mg.one_hot(
                ids, self.vocab_size
            )  # (T, N, V), a constant: no gradient flows into the data
        out, state = self.rnn(x, state)  # (T, N, H)
        return self.head(out), state


def chunk_loss(model, x, y, state):
    """Mean cross-entropy (nats/char) over a (T, N) chunk, and the state after it."""
    logits, state = model(x, state)
    T, N, V = logits.shape
    loss = F.cross_entropy(logits.reshape(T * N, V), y.reshape(T * N))
    return loss, state


@mg.no_grad()
def evaluate(model, streams, seq_len: int, device) -> float:
    """Mean loss per character over the whole validation streams, carrying the state across chunks."""
    model.eval()
    state, total, count = None, 0.0, 0
    for cursor in range(0, streams.shape[1] - 1, seq_len):
        T = min(seq_len, streams.shape[1] - 1 - cursor)
        x, y = get_chunk(streams, cursor, T, device)
        loss, state = chunk_loss(model, x, y, state)
        total += loss.item() * x.size
        count += x.size
    model.train()
    return total / count


@mg.no_grad()
def generate(model, vocab: str, prime: str, length: int, temperature: float, rng, device) -> str:
    """Sample `length` characters after `prime`, one at a time, feeding each back in as the next input."""
    if temperature <= 0:
        raise ValueError(f"--temperature must be > 0, got {temperature}")
    unknown = sorted(set(prime) - set(vocab))
    if unknown:
        raise ValueError(f"--prime contains characters not in the training text: {unknown}")
    lookup = {ch: i for i, ch in enumerate(vocab)}
    model.eval()
    ids = mg.tensor([[lookup[ch] for ch in prime]], device=device).T  # (T, 1)
    logits, state = model(ids)  # read the whole prime in one call
    out = []
    for _ in range(length):
        probs = (logits[-1, 0] / temperature).softmax(-1).numpy().astype(np.float64)
        nxt = int(rng.choice(len(vocab), p=probs / probs.sum()))
        out.append(vocab[nxt])
        logits, state = model(mg.tensor([[nxt]], device=device), state)
    model.train()
    return prime + "".join(out)


# ---- checkpoints ----------------------------------------------------------------------------------------
def save_checkpoint(path, model, optimizer, args, vocab, step, cursor, state, losses, val_history):
    """Everything needed to continue training bit for bit, or to sample: one safetensors file."""
    state = () if state is None else (state if isinstance(state, tuple) else (state,))
    mg.save(
        {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "rnn_state": list(state),  # the hidden state carried into the next chunk
            # plain values travel in the file's JSON metadata (Python floats round-trip exactly)
            "meta": {
                "step": step,
                "cursor": cursor,  # where the next chunk starts in the streams
                "vocab": vocab,
                "losses": losses,
                "val_history": val_history,
                "rng": mg.device(args.device).rng.bit_generator.state,  # dropout draws from it
                # every setting, so that --resume goes on exactly as this run would have
                "config": {k: getattr(args, k) for k in PRESETS["default"]},
            },
        },
        path,
    )


def build_model(config: dict, vocab_size: int, device):
    c = config
    return CharModel(vocab_size, c["embed"], c["hidden"], c["layers"], c["model"], c["dropout"]).to(
        device
    )


def run_sample(args, device):
    path = args.checkpoint or args.out / "checkpoint.safetensors"  # parse_args checked it
    ckpt = mg.load(path, device=device)
    meta = ckpt["meta"]
    model = build_model(meta["config"], len(meta["vocab"]), device)
    model.load_state_dict(ckpt["model"])
    rng = np.random.default_rng(args.seed)
    print(f"[checkpoint {path}, step {meta['step']}, temperature {args.temperature}]")
    print(generate(model, meta["vocab"], args.prime, args.length, args.temperature, rng, device))


# ---- 3. training ----------------------------------------------------------------------------------------
def main(argv=None):
    args = parse_args(argv)
    device = setup(args, make_out=not args.sample)  # sampling writes nothing
    if args.sample:
        return run_sample(args, device)

    train_ids, val_ids, vocab = load_text()
    streams = make_streams(train_ids, args.batch_size)
    val_streams = make_streams(val_ids[: args.val_chars], args.val_streams)
    print(f"{len(train_ids):,} training / {len(val_ids):,} validation characters, vocabulary {len(vocab)}; "
          f"{args.batch_size} streams of {streams.shape[1]:,} characters")  # fmt: skip

    config = {k: getattr(args, k) for k in ("model", "embed", "layers", "hidden", "dropout")}
    model = build_model(config, len(vocab), device)
    params = list(model.parameters())
    if args.optimizer == "adam":
        optimizer = mg.optim.Adam(params, lr=args.lr)
    elif args.optimizer == "adagrad":
        optimizer = mg.optim.Adagrad(params, lr=args.lr)
    else:
        optimizer = mg.optim.SGD(params, lr=args.lr)
    print(
        f"{args.model.upper()} x{args.layers}, hidden {args.hidden}: {sum(p.numel() for p in params):,} parameters"
    )

    ckpt_path = args.out / "checkpoint.safetensors"
    step, cursor, state, losses, val_history = 0, 0, None, [], []
    if args.resume:  # parse_args took the model's settings from this checkpoint
        ckpt = mg.load(ckpt_path, device=device)
        meta = ckpt["meta"]
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        for group in optimizer.param_groups:  # the state holds the lr it ran with: a --lr given now wins
            group["lr"] = args.lr
        step, cursor, losses, val_history = (
            meta["step"],
            meta["cursor"],
            meta["losses"],
            meta["val_history"],
        )
        saved = ckpt["rnn_state"]
        state = None if not saved else (tuple(saved) if len(saved) == 2 else saved[0])
        device.rng.bit_generator.state = meta["rng"]
        print(f"resumed from {ckpt_path} at step {step}")

    start_step = step
    timer = Timer()
    bar = progress(range(step, args.steps), desc="train", initial=step, total=args.steps)
    for step in bar:
        if cursor + args.seq_len + 1 > streams.shape[1]:
            cursor, state = (
                0,
                None,
            )  # the streams are used up: start the next epoch from a zero state
        x, y = get_chunk(streams, cursor, args.seq_len, device)
        loss, state = chunk_loss(model, x, y, state)

        optimizer.zero_grad()
        loss.backward()
        if args.clip > 0 and args.clip_mode == "norm":
            nn.utils.clip_grad_norm_(params, args.clip)
        elif args.clip > 0:
            nn.utils.clip_grad_value_(params, args.clip)
        optimizer.step()

        state = nn.utils.detach_state(state)  # keep the values, forget the graph: truncated BPTT
        cursor += args.seq_len
        losses.append(loss.item())
        bar.set_postfix(loss=f"{losses[-1]:.3f}")

        done = step + 1
        if done % args.eval_every == 0 or done == args.steps:
            val = evaluate(model, val_streams, args.seq_len, device)
            val_history.append([done, val])
            # a generator of its own, so that printing samples never changes the training run
            rng = np.random.default_rng([args.seed, done])
            text = generate(model, vocab, "\n", 60 if args.quick else 200, 0.8, rng, device)
            bar.write(
                f"step {done}: train {np.mean(losses[-args.eval_every :]):.3f}, validation {val:.3f} nats/char"
            )
            bar.write("----\n" + text + "\n----")
        if done % args.ckpt_every == 0 or done == args.steps:
            save_checkpoint(
                ckpt_path, model, optimizer, args, vocab, done, cursor, state, losses, val_history
            )
    bar.close()
    wall = timer.elapsed()

    # ---- 4. evaluation and plots ------------------------------------------------------------------------
    steps_run = np.arange(1, len(losses) + 1)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps_run, losses, alpha=0.25, color="C0")
    ax.plot(steps_run, smooth(losses), color="C0", label="training (smoothed)")
    if val_history:
        vs, vl = zip(*val_history)
        ax.plot(vs, vl, "o-", color="C1", label="validation")
    ax.axhline(math.log(len(vocab)), ls=":", color="gray", label=f"uniform guess (ln {len(vocab)})")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats/char)")
    ax.set_title(f"char-RNN on Tiny Shakespeare: {args.model.upper()} {args.hidden}")
    ax.legend()
    ax.grid(True, alpha=0.3)
    savefig(fig, args.out, "loss.png")

    tail = max(1, len(losses) // 20)
    save_metrics(
        args.out,
        {
            "headline": "val_loss",
            "val_loss": val_history[-1][1],
            "first_loss": losses[0],
            "final_loss": float(np.mean(losses[-tail:])),
            "wall_time_s": wall,  # of this invocation only (a resumed run times its own part)
            "steps": len(losses),
            "chars_per_s": (len(losses) - start_step) * args.batch_size * args.seq_len / wall,
            "config": {**config, "batch_size": args.batch_size, "seq_len": args.seq_len, "lr": args.lr,
                       "optimizer": args.optimizer, "clip": args.clip, "clip_mode": args.clip_mode},
            "val_history": val_history,
            "losses": losses,
            "checkpoint": ckpt_path.name,
        },
    )  # fmt: skip


if __name__ == "__main__":
    main()
