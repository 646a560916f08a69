"""One softmax head per task, optionally chained in an inference order."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class TaskHeads(nn.Module):
    """A dense layer and a linear classifier per task of `schema`.

    With `chain` (task keys in order, MSED Table 8) each task's dense layer
    also reads the previous task's dense output: "we merge the former task
    knowledge (the output of the dense layer) with the features of the latter
    task" (MSED 5.5). forward returns {task_key: logits (B, n_labels)} in
    schema order.
    """

    def __init__(
        self, in_dim: int, schema: Sequence[tuple[str, int]], chain: Sequence[str] | None, hidden: int, dropout: float
    ):
        super().__init__()
        self.task_keys = [key for key, _ in schema]
        self.order = list(chain) if chain else list(self.task_keys)
        self.chained = bool(chain)
        n_labels = dict(schema)
        self.dense = nn.ModuleDict()
        self.classify = nn.ModuleDict()
        for position, key in enumerate(self.order):
            extra = hidden if self.chained and position > 0 else 0
            self.dense[key] = nn.Sequential(nn.Linear(in_dim + extra, hidden), nn.ReLU(), nn.Dropout(dropout))
            self.classify[key] = nn.Linear(hidden, n_labels[key])

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        logits: dict[str, torch.Tensor] = {}
        previous: torch.Tensor | None = None
        for key in self.order:
            features = x if previous is None or not self.chained else torch.cat([x, previous], dim=-1)
            dense = self.dense[key](features)
            logits[key] = self.classify[key](dense)
            previous = dense
        return {key: logits[key] for key in self.task_keys}
