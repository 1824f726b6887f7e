"""Sequence to sequence with attention: rewrite dates like "August 19, 2003" as "2003-08-19".

    python examples/seq2seq.py                    # GRU encoder-decoder + dot attention; exact match ~0.999
    python examples/seq2seq.py --no-attention     # the same without attention, for comparison
    python examples/seq2seq.py --cell lstm --attention additive
    python examples/seq2seq.py --task addition --train-size 45000 --epochs 5   # "16+75" -> "91"; ~0.91

The story, top to bottom:
1. Data. 50,000 (question, answer) pairs of characters from "Deep Learning from Scratch 2": dates
   written in many formats ("9/10/93", "Sep 10, 1993", "september 10, 1993", ...) with their ISO form.
   Questions are padded with spaces to a fixed width; every answer starts with "_", the decoder's start
   token. A fixed shuffle holds out 5,000 pairs for the test; by default only 20,000 of the remaining
   45,000 are used for training, which is enough here and keeps the run to a few minutes on a CPU.
2. Encoder. An Embedding and a bidirectional GRU (or LSTM), H/2 units each way, read the question:
   one output vector per character, enc_out (N, S, H), and a final state that summarises it. Reading
   both ways matters here: at the "1" of "May 1, 1996" the forward direction cannot know whether a
   "2" follows ("May 12") but the backward direction can, and the decoder needs exactly that to write
   "01" rather than "1?".
3. Decoder. A second GRU starts from the encoder's final state (both directions side by side: H
   units) and reads the answer so far. *Teacher forcing*: in training it reads the true answer shifted
   by one ("_2003-08-1" to predict "2003-08-19"), so all steps are trained in one call.
4. Attention (built from matmul, softmax and concatenate; nothing special in the library). At each
   output step the decoder state is compared with every encoder output: dot attention uses their dot
   product divided by sqrt(H) (unscaled scores saturate the softmax early, and learning then often
   stalls for hundreds of steps), additive attention a small network v . tanh(W_q q + W_k k). A
   softmax over the question's characters turns the scores into weights, and the weighted average of
   the encoder outputs (the context) joins the decoder state in the final Linear layer. The decoder
   can so *look up* the characters it needs (the month, the year) instead of squeezing the whole
   question into one vector.
5. Greedy decoding. At test time there is no true answer to read: start from "_", feed back the most
   likely character at every step. A prediction counts only if all its characters are right.
6. Results. Exact-match accuracy on the 5,000 held-out pairs (target >= 0.95 with attention; also
   run --no-attention), a training curve, attention heat-maps, `metrics.json` and a checkpoint.
   Measured here (seed 0, 625 steps): 0.9996 with dot attention, 0.008 without. The plain model is
   not hopeless, only slow: it reaches 0.96 after about 2,900 steps and 1.000 after 3 epochs over all
   45,000 training pairs (`--no-attention --train-size 45000 --epochs 3`, 4,221 steps).
"""

from __future__ import annotations

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

SPLIT_SEED = 0  # the train/test split never changes with --seed, so results stay comparable
START = "_"  # the first character of every answer; the decoder's start token


def parse_args(argv=None):
    parser = make_parser(
        "seq2seq", "Encoder-decoder with attention: date normalisation or addition."
    )
    parser.add_argument("--task", choices=["date", "addition"], default="date", help="data set")
    parser.add_argument("--cell", choices=["gru", "lstm"], default="gru", help="recurrent layer")
    parser.add_argument(
        "--attention", choices=["dot", "additive"], default="dot", help="scoring function"
    )
    parser.add_argument(
        "--no-attention", action="store_true", help="plain encoder-decoder, for comparison"
    )
    parser.add_argument(
        "--embed", type=positive_int, default=16, help="character embedding size"
    )
    parser.add_argument(
        "--hidden",
        type=positive_int,
        default=128,
        help="hidden size of encoder and decoder (even)",
    )
    parser.add_argument(
        "--train-size",
        type=positive_int,
        help="training pairs used (default: 20000; 1000 with --quick)",
    )
    parser.add_argument(
        "--test-size", type=positive_int, help="held-out pairs (default: 5000; 200 with --quick)"
    )
    parser.add_argument(
        "--epochs", type=positive_int, default=1, help="passes over the training pairs"
    )
    parser.add_argument(
        "--batch-size", type=positive_int, default=32, help="pairs per training step"
    )
    parser.add_argument("--lr", type=positive_float, default=2e-3, help="Adam learning rate")
    parser.add_argument(
        "--clip", type=nonnegative_float, default=5.0, help="gradient-norm clipping, 0 to disable"
    )
    parser.add_argument(
        "--eval-every",
        type=positive_int,
        help="steps between test-accuracy points (default: 100; 10 with --quick)",
    )
    args = parser.parse_args(argv)
    if args.train_size is None:
        args.train_size = 1000 if args.quick else 20000
    if args.test_size is None:
        args.test_size = 200 if args.quick else 5000
    if args.eval_every is None:
        args.eval_every = 10 if args.quick else 100
    if args.hidden % 2:
        parser.error(f"--hidden {args.hidden}: must be even (the encoder has H/2 units each way)")
    n_pairs = len(load_pairs(args.task)[0])
    if args.train_size + args.test_size > n_pairs:
        parser.error(
            f"--train-size {args.train_size} + --test-size {args.test_size}: the {args.task} data set "
            f"holds {n_pairs} pairs"
        )
    return args


# ---- 1. data --------------------------------------------------------------------------------------------
def load_pairs(task: str):
    """All (question, answer) string pairs; answers keep their leading START character."""
    text = data_path("seq2seq_toy", f"{task}.txt").read_text(encoding="utf-8")
    questions, answers = [], []
    for line in text.split("\n"):
        if not line:
            continue
        idx = line.find(START)  # fixed-width lines: "August 19, 2003    _2003-08-19"
        questions.append(line[:idx])
        answers.append(line[idx:])
    return questions, answers


def to_ids(strings, char_to_id) -> np.ndarray:
    """(N, length) int64 character ids of equal-length strings."""
    return np.array([[char_to_id[c] for c in s] for s in strings], dtype=np.int64)


# ---- 2-4. the model -------------------------------------------------------------------------------------
class Seq2Seq(nn.Module):
    """Encoder and decoder RNNs over character embeddings, with optional attention over the encoder outputs.

    Shapes: src (N, S) and tgt_in (N, T) int64 character ids; logits (N, T, V); attention weights (N, T, S).
    """

    def __init__(self, vocab_size: int, embed: int, hidden: int, cell: str, attention: str | None):
        super().__init__()
        layer = {"gru": nn.GRU, "lstm": nn.LSTM}[cell]
        self.attention = attention
        self.src_embed = nn.Embedding(vocab_size, embed)
        self.tgt_embed = nn.Embedding(vocab_size, embed)
        if hidden % 2:
            raise ValueError(
                f"Seq2Seq: hidden must be even (it is split between two directions), got {hidden}"
            )
        self.encoder = layer(embed, hidden // 2, batch_first=True, bidirectional=True)
        self.decoder = layer(embed, hidden, batch_first=True)
        if attention == "additive":
            self.att_query = nn.Linear(hidden, hidden, bias=False)  # W_q
            self.att_key = nn.Linear(hidden, hidden)  # W_k (+ bias)
            self.att_score = nn.Linear(hidden, 1, bias=False)  # v
        self.head = nn.Linear(2 * hidden if attention else hidden, vocab_size)

    def encode(self, src):
        """enc_out (N, S, H), and the final state (h_n, or (h_n, c_n) for an LSTM) that starts the decoder."""
        enc_out, state = self.encoder(
            self.src_embed(src)
        )  # enc_out (N, S, 2 * H/2): both directions

        def merge(
            h,
        ):  # (2, N, H/2): one row per direction -> (1, N, H), the decoder's initial state
            return mg.cat([h[0], h[1]], axis=-1).unsqueeze(0)

        state = tuple(merge(h) for h in state) if isinstance(state, tuple) else merge(state)
        return enc_out, state

    def attend(self, dec_out, enc_out):
        """Context vectors (N, T, H) and weights (N, T, S): a softmax over the S encoder steps."""
        if self.attention == "dot":
            # (N, T, H) @ (N, H, S) -> (N, T, S), scaled as in the Transformer's attention
            scores = (dec_out @ enc_out.swapaxes(1, 2)) * (1.0 / dec_out.shape[-1] ** 0.5)
        else:
            q = self.att_query(dec_out).unsqueeze(2)  # (N, T, 1, H)
            k = self.att_key(enc_out).unsqueeze(1)  # (N, 1, S, H)
            scores = self.att_score((q + k).tanh()).squeeze(
                -1
            )  # broadcast to (N, T, S, H) -> (N, T, S)
        weights = F.softmax(scores, dim=-1)
        context = weights @ enc_out  # (N, T, S) @ (N, S, H) -> (N, T, H)
        return context, weights

    def decode(self, tgt_in, state, enc_out):
        """Logits (N, T, V) for T decoder steps, the decoder's new state, and the weights (or None)."""
        dec_out, state = self.decoder(self.tgt_embed(tgt_in), state)  # (N, T, H)
        weights = None
        if self.attention:
            context, weights = self.attend(dec_out, enc_out)
            dec_out = mg.cat([dec_out, context], axis=-1)  # (N, T, 2H)
        return self.head(dec_out), state, weights

    def forward(self, src, tgt_in):
        """Teacher forcing: the decoder reads the true answer so far, all T steps in one call."""
        enc_out, state = self.encode(src)
        logits, _, _ = self.decode(tgt_in, state, enc_out)
        return logits

    @mg.no_grad()
    def greedy(self, src, start_id: int, steps: int):
        """Generate `steps` characters feeding back the best guess: ids (N, steps), weights (N, steps, S)."""
        enc_out, state = self.encode(src)
        token = np.full((src.shape[0], 1), start_id, dtype=np.int64)
        out, weights = [], []
        for _ in range(steps):
            logits, state, w = self.decode(mg.tensor(token, device=src.device), state, enc_out)
            token = logits.argmax(axis=-1).numpy()  # (N, 1)
            out.append(token[:, 0])
            if w is not None:
                weights.append(w.numpy()[:, 0])
        return np.stack(out, axis=1), (np.stack(weights, axis=1) if weights else None)


def evaluate(model, src, answers, start_id: int, batch_size: int = 1000):
    """Exact-match and per-character accuracy of greedy decoding; also the predictions and weights."""
    model.eval()
    preds, weights = [], []
    for start in range(0, len(src), batch_size):
        p, w = model.greedy(src[start : start + batch_size], start_id, answers.shape[1])
        preds.append(p)
        weights.append(w)
    model.train()
    preds = np.concatenate(preds)
    weights = np.concatenate(weights) if weights[0] is not None else None
    exact = float(np.mean(np.all(preds == answers, axis=1)))
    per_char = float(np.mean(preds == answers))
    return exact, per_char, preds, weights


# ---- 5. training ----------------------------------------------------------------------------------------
def main(argv=None):
    args = parse_args(argv)
    device = setup(args)
    timer = Timer()

    questions, answers = load_pairs(args.task)
    chars = sorted(set("".join(questions)) | set("".join(answers)))  # the task's alphabet
    char_to_id = {c: i for i, c in enumerate(chars)}
    src_all = to_ids(questions, char_to_id)  # (50000, S)
    tgt_all = to_ids(answers, char_to_id)  # (50000, 1 + answer length)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(questions))
    test_idx = order[: args.test_size]
    train_idx = order[args.test_size : args.test_size + args.train_size]
    print(
        f"{args.task}: {len(questions)} pairs, alphabet of {len(chars)} characters; "
        f"training on {len(train_idx)}, testing on {len(test_idx)} held-out pairs"
    )
    src_test = mg.tensor(src_all[test_idx], device=device)
    answers_test = tgt_all[test_idx, 1:]  # without the start token
    start_id = char_to_id[START]

    attention = None if args.no_attention else args.attention
    model = Seq2Seq(len(chars), args.embed, args.hidden, args.cell, attention).to(device)
    optimizer = mg.optim.Adam(model.parameters(), lr=args.lr)
    shuffle_rng = np.random.default_rng(args.seed)
    n_batches = -(-len(train_idx) // args.batch_size)
    # the accuracy curve uses the first 500 test pairs (cheap); the final number uses all of them
    curve_src, curve_answers = src_test[:500], answers_test[:500]

    losses, curve_steps, curve_acc = [], [], []
    step = 0
    bar = progress(range(args.epochs * n_batches), desc="train")
    for _ in range(args.epochs):
        perm = shuffle_rng.permutation(train_idx)
        for start in range(0, len(perm), args.batch_size):
            batch = tgt_all[perm[start : start + args.batch_size]]
            src = mg.tensor(src_all[perm[start : start + args.batch_size]], device=device)
            tgt_in = mg.tensor(batch[:, :-1], device=device)  # "_2003-08-1": what the decoder reads
            target = mg.tensor(batch[:, 1:], device=device)  # "2003-08-19": what it must predict
            logits = model(src, tgt_in)  # (N, T, V)
            loss = F.cross_entropy(logits.reshape(-1, len(chars)), target.reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            if args.clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            optimizer.step()
            losses.append(loss.item())
            step += 1
            bar.update()
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
            if step % args.eval_every == 0 or step == args.epochs * n_batches:
                curve_steps.append(step)
                curve_acc.append(evaluate(model, curve_src, curve_answers, start_id)[0])
    bar.close()

    # ---- 6. evaluation and plots ------------------------------------------------------------------------
    exact, per_char, preds, weights = evaluate(model, src_test, answers_test, start_id)
    name = f"{args.cell.upper()} " + (
        f"+ {attention} attention" if attention else "without attention"
    )
    print(
        f"{name}: exact match {exact:.4f}, per-character accuracy {per_char:.4f} on {len(test_idx)} pairs"
    )
    for k in range(min(8, len(test_idx))):
        q = questions[test_idx[k]].rstrip()
        guess = "".join(chars[i] for i in preds[k])
        truth = answers[test_idx[k]][1:]
        print(f"  {q:<30} -> {guess}  {'ok' if guess == truth else 'WRONG, is ' + truth}")

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.5))
    ax_loss.plot(losses, alpha=0.3, color="C0")
    ax_loss.plot(smooth(losses), color="C0", label="training cross-entropy (smoothed)")
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("step")
    ax_loss.legend()
    ax_acc.plot(curve_steps, curve_acc, marker="o", ms=3)
    ax_acc.set_xlabel("step")
    ax_acc.set_ylabel("exact match (first 500 test pairs)")
    ax_acc.set_ylim(0, 1)
    for ax in (ax_loss, ax_acc):
        ax.grid(True, alpha=0.3)
    fig.suptitle(f"{args.task}: {name}; held-out exact match {exact:.3f}")
    savefig(fig, args.out, "training.png")

    if weights is not None:
        # rows: generated characters; columns: question characters; a bright cell = looked at
        fig, axes = plt.subplots(2, 2, figsize=(11, 6))
        for ax in axes.flat[len(test_idx) :]:  # fewer than 4 test pairs leave panels empty
            ax.axis("off")
        for ax, k in zip(axes.flat, range(len(test_idx))):
            q = questions[test_idx[k]]
            width = len(q.rstrip()) + 1  # show the question and one padding space
            ax.imshow(weights[k][:, :width], cmap="viridis", vmin=0, vmax=1, aspect="auto")
            ax.set_xticks(range(width), list(q[:width]))
            ax.set_yticks(range(preds.shape[1]), [chars[i] for i in preds[k]])
            ax.set_title(f"{q.rstrip()!r} -> {''.join(chars[i] for i in preds[k])!r}", fontsize=9)
        fig.suptitle(
            f"{attention} attention weights: output characters (rows) over input characters"
        )
        savefig(fig, args.out, "attention.png")

    ckpt = args.out / "checkpoint.safetensors"
    mg.save(
        {
            "model": model.state_dict(),
            "config": {
                "task": args.task,
                "cell": args.cell,
                "attention": attention or "none",
                "embed": args.embed,
                "hidden": args.hidden,
                "alphabet": "".join(chars),
            },
        },
        ckpt,
    )
    tail = max(1, len(losses) // 20)
    save_metrics(
        args.out,
        {
            "headline": "exact_match",
            "exact_match": exact,
            "char_accuracy": per_char,
            "attention": attention or "none",
            "curve_steps": curve_steps,
            "curve_exact_match": curve_acc,
            "n_train": len(train_idx),
            "n_test": len(test_idx),
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
