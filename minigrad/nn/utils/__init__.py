"""Training utilities that work on parameters and their gradients (gradient clipping, ...)."""

from .clip_grad import clip_grad_norm_, clip_grad_value_
from .rnn import (
    HiddenGradNorms,
    detach_state,
    pad_sequence,
    record_hidden_grads,
    tbptt_windows,
    watch_hidden_grads,
)
