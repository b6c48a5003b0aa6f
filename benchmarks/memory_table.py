"""Memory table of the eight architectures next to the seed's "Memory Benchmarks".

Run from the repository root: ``PYTHONPATH=platform python benchmarks/memory_table.py``.

Settings (the seed's): batch 32, sequence length 20. The seed does not state the input size or
horizon; this uses a univariate series and a one-step horizon (``--input-size 1 --horizon 1``),
which only changes the first layer and the head. Every model uses its default hyperparameters.

* Parameters: ``sum(p.numel())`` of the whole ``Forecaster`` (encoder + shared head).
* Model size: ``parameters * 4 / 1024`` KB (float32).
* Activation memory: bytes of the distinct tensor storages that autograd saves for the backward
  pass during one training-mode forward (``torch.autograd.graph.saved_tensors_hooks``),
  excluding the parameters but including computed weights (weight norm), dropout masks,
  attention maps, LayerNorm statistics, the input batch and kernel workspaces saved for
  backward. On CPU, PyTorch runs LSTMs through oneDNN (MKL-DNN), whose saved workspace is large;
  the next column repeats the measurement with oneDNN off (PyTorch's reference kernels).
  The seed's figures follow its ``batch * sequence * hidden * 4`` bytes estimate (one hidden
  state per step), so they are far below what a training step really keeps alive.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import torch

try:
    from foretune import models
except ImportError:  # run without PYTHONPATH=platform
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))
    from foretune import models

#: The seed's figures: label, parameters, model size, activation memory.
SEED = {
    "mlp": ("MLP", "50K", "200 KB", "100 KB"),
    "lstm": ("LSTM [64,32]", "45K", "180 KB", "250 KB"),
    "gru": ("GRU [64,32]", "35K", "140 KB", "200 KB"),
    "bilstm": ("BiLSTM [64,32]", "60K", "240 KB", "400 KB"),
    "cnn_lstm": ("CNN-LSTM", "55K", "220 KB", "300 KB"),
    "tcn": ("TCN [64,64,32]", "48K", "192 KB", "280 KB"),
    "transformer": ("Transformer", "65K", "260 KB", "450 KB"),
    "attention_lstm": ("Attention-LSTM", "52K", "208 KB", "320 KB"),
}


def activation_bytes(model: torch.nn.Module, x: torch.Tensor) -> int:
    """Bytes of distinct non-parameter storages saved for backward in one forward of ``model``."""
    parameters = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in parameters:
            saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        regression, logits = model(x)
    (regression.sum() + logits.sum()).backward()
    return sum(saved.values())


def describe(name: str, hyperparameters: dict) -> str:
    """Short label of the default configuration."""
    keys = (
        "hidden_sizes",
        "channels",
        "d_model",
        "nhead",
        "num_layers",
        "dim_feedforward",
    )
    shown = {k: hyperparameters[k] for k in keys if hyperparameters.get(k) is not None}
    return f"{name} " + ", ".join(f"{k}={v}" for k, v in shown.items())


def table(batch: int, window: int, input_size: int, horizon: int) -> str:
    """The markdown table, one row per registered architecture."""
    header = (
        "| Model | Parameters | Model Size | Activation Memory | Activations, no oneDNN "
        "| Seed model | Seed params | Seed size | Seed activations |"
    )
    rows = [header, "|---|---:|---:|---:|---:|---|---:|---:|---:|"]
    torch.manual_seed(0)
    x = torch.randn(batch, window, input_size)
    for name in models.available():
        hyperparameters = models.default_hyperparameters(name, window)
        model = models.build(name, input_size, horizon, window, **hyperparameters)
        params = sum(p.numel() for p in model.parameters())
        activations = activation_bytes(model, x) / 1024
        with torch.backends.mkldnn.flags(enabled=False):
            reference = activation_bytes(model, x) / 1024
        seed = SEED.get(name, ("-", "-", "-", "-"))
        rows.append(
            f"| {describe(name, hyperparameters)} | {params:,} | {params * 4 / 1024:.0f} KB "
            f"| {activations:.0f} KB | {reference:.0f} KB | {' | '.join(seed)} |"
        )
    return "\n".join(rows)


def build_parser() -> argparse.ArgumentParser:
    """The command line, built without running anything (tests/test_docs.py parses the
    commands the docs show with it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--window", type=int, default=20)
    parser.add_argument("--input-size", type=int, default=1)
    parser.add_argument("--horizon", type=int, default=1)
    return parser


def main() -> None:
    """Parse the settings and print the table."""
    warnings.filterwarnings("ignore", message="TF32 acceleration on top of oneDNN")
    args = build_parser().parse_args()
    print(
        f"batch {args.batch_size}, sequence {args.window}, input_size {args.input_size}, "
        f"horizon {args.horizon}, torch {torch.__version__}\n"
    )
    print(table(args.batch_size, args.window, args.input_size, args.horizon))


if __name__ == "__main__":
    main()
