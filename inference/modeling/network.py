"""The multimodal multi-task network: encoders (when trained), per-modality
projections, fusion, and task heads for the fused, text-only and image-only
branches.

Which head predicts an item (its *route*), after 004 section 3.3:
  - modalities "both": an item with text and image goes to the fused head;
    with only one of them, to that modality's own head when unimodal heads
    are on, else to the fused head with a learned stand-in vector for the
    missing modality;
  - modalities "text" / "image": the one unimodal head, for items that have
    that modality;
  - an item with no usable modality has no route (ROUTE_NONE).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import torch
from torch import nn

from .config import TrainConfig
from .fusion import build_fusion
from .heads import TaskHeads

ROUTE_NONE, ROUTE_FUSED, ROUTE_TEXT, ROUTE_IMAGE = -1, 0, 1, 2
BRANCH_OF_ROUTE = {ROUTE_FUSED: "fused", ROUTE_TEXT: "text", ROUTE_IMAGE: "image"}


@dataclass
class Batch:
    """One minibatch. Rows are items; tensors with a leading B are per item.

    text_features (B, Dt) / image_features (B, Di): frozen encoder outputs
    (zeros where the modality is missing); text_features is (B, views, Dt)
    when an ensemble's members read different texts (TrainConfig.text_views),
    each member taking its own view. None when the network encodes
    that modality itself from text_inputs (token tensors of the rows with
    text only) or pixels (n_with_image, 3, S, S).
    labels, text_labels, image_labels: (B, n_tasks) int64, -1 for unknown;
    text_labels / image_labels already fall back to labels.
    soft_labels, text_soft_labels, image_soft_labels: soft-label training
    only, {task: (B, n_labels)} target distributions (zero rows: none).
    """

    has_text: torch.Tensor
    has_image: torch.Tensor
    text_features: torch.Tensor | None = None
    image_features: torch.Tensor | None = None
    text_inputs: dict[str, torch.Tensor] | None = None
    pixels: torch.Tensor | None = None
    labels: torch.Tensor | None = None
    text_labels: torch.Tensor | None = None
    image_labels: torch.Tensor | None = None
    soft_labels: dict[str, torch.Tensor] | None = None
    text_soft_labels: dict[str, torch.Tensor] | None = None
    image_soft_labels: dict[str, torch.Tensor] | None = None

    def to(self, device: torch.device) -> Batch:
        moved = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, torch.Tensor):
                value = value.to(device)
            elif isinstance(value, dict):
                value = {key: tensor.to(device) for key, tensor in value.items()}
            moved[item.name] = value
        return Batch(**moved)

    def __len__(self) -> int:
        return int(self.has_text.shape[0])


@dataclass
class NetOutput:
    """logits[branch][task] (B, n_labels) for every branch the network has;
    text / image / fused vectors (B, H) (None when the network lacks that
    branch); route (B,) int64 with ROUTE_* codes."""

    logits: dict[str, dict[str, torch.Tensor]]
    text: torch.Tensor | None
    image: torch.Tensor | None
    fused: torch.Tensor | None
    route: torch.Tensor

    def routed_logits(self) -> dict[str, torch.Tensor]:
        """Per task, each item's logits from the head of its route (0 for no route)."""
        out: dict[str, torch.Tensor] = {}
        for branch_logits in self.logits.values():
            for task, logits in branch_logits.items():
                out.setdefault(task, torch.zeros_like(logits))
        for code, branch in BRANCH_OF_ROUTE.items():
            if branch not in self.logits:
                continue
            rows = (self.route == code).unsqueeze(-1)
            for task, logits in self.logits[branch].items():
                out[task] = torch.where(rows, logits, out[task])
        return out


class AffectNet(nn.Module):
    def __init__(
        self,
        config: TrainConfig,
        schema: Sequence[tuple[str, int]],
        *,
        text_dim: int,
        image_dim: int,
        text_encoder: nn.Module | None = None,
        image_encoder: nn.Module | None = None,
        text_view: int = 0,
    ):
        """text_view: which of several text views (Batch.text_features of
        shape (B, views, Dt)) this network reads."""
        super().__init__()
        hidden = config.hidden_size
        self.text_view = text_view
        self.modalities = config.modalities
        self.unimodal_heads = config.unimodal_heads
        self.uses_text = config.modalities in ("both", "text")
        self.uses_image = config.modalities in ("both", "image")
        self.text_dim, self.image_dim = text_dim, image_dim
        self.text_encoder = text_encoder
        self.image_encoder = image_encoder

        def projection(in_dim: int) -> nn.Module:
            # The unimodal subnet of CH-SIMS 4.1 / the 001 projection to one size.
            return nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Dropout(config.dropout))

        self.text_projection = projection(text_dim) if self.uses_text else None
        self.image_projection = projection(image_dim) if self.uses_image else None
        self.heads = nn.ModuleDict()
        if config.modalities == "both":
            self.missing_text = nn.Parameter(torch.zeros(hidden))
            self.missing_image = nn.Parameter(torch.zeros(hidden))
            self.fusion = build_fusion(config.fusion, hidden, heads=config.attention_heads, dropout=config.dropout)
            self.post_fusion = nn.Sequential(
                nn.Linear(self.fusion.out_dim, hidden), nn.ReLU(), nn.Dropout(config.dropout)
            )
            self.heads["fused"] = TaskHeads(hidden, schema, config.chain, hidden, config.dropout)
        if self.uses_text and (config.modalities == "text" or config.unimodal_heads):
            self.heads["text"] = TaskHeads(hidden, schema, config.chain, hidden, config.dropout)
        if self.uses_image and (config.modalities == "image" or config.unimodal_heads):
            self.heads["image"] = TaskHeads(hidden, schema, config.chain, hidden, config.dropout)

    def route(self, has_text: torch.Tensor, has_image: torch.Tensor) -> torch.Tensor:
        route = torch.full_like(has_text, ROUTE_NONE, dtype=torch.long)
        if self.modalities == "text":
            return route.masked_fill(has_text, ROUTE_TEXT)
        if self.modalities == "image":
            return route.masked_fill(has_image, ROUTE_IMAGE)
        if self.unimodal_heads:
            route = route.masked_fill(has_text & ~has_image, ROUTE_TEXT)
            route = route.masked_fill(has_image & ~has_text, ROUTE_IMAGE)
            return route.masked_fill(has_text & has_image, ROUTE_FUSED)
        return route.masked_fill(has_text | has_image, ROUTE_FUSED)

    def _encode(self, encoder, compact_inputs, features, present: torch.Tensor, dim: int) -> torch.Tensor:
        """Raw per-item features (B, dim): the frozen ones given, or the
        trainable encoder run on the rows that have the modality only."""
        if features is not None:
            return features
        out = present.new_zeros((present.shape[0], dim), dtype=torch.float32)
        if encoder is not None and compact_inputs is not None and bool(present.any()):
            encoded = encoder(**compact_inputs) if isinstance(compact_inputs, dict) else encoder(compact_inputs)
            out = out.index_put((present.nonzero(as_tuple=True)[0],), encoded.to(out.dtype))
        return out

    def forward(self, batch: Batch) -> NetOutput:
        has_text, has_image = batch.has_text, batch.has_image
        route = self.route(has_text, has_image)
        t = v = z = None
        if self.uses_text:
            features = batch.text_features
            if features is not None and features.dim() == 3:
                features = features[:, self.text_view]
            raw = self._encode(self.text_encoder, batch.text_inputs, features, has_text, self.text_dim)
            t = self.text_projection(raw)
        if self.uses_image:
            raw = self._encode(self.image_encoder, batch.pixels, batch.image_features, has_image, self.image_dim)
            v = self.image_projection(raw)
        logits: dict[str, dict[str, torch.Tensor]] = {}
        if self.modalities == "both":
            t_in = torch.where(has_text.unsqueeze(-1), t, self.missing_text)
            v_in = torch.where(has_image.unsqueeze(-1), v, self.missing_image)
            z = self.post_fusion(self.fusion(t_in, v_in, has_text, has_image))
            logits["fused"] = self.heads["fused"](z)
        if "text" in self.heads:
            logits["text"] = self.heads["text"](t)
        if "image" in self.heads:
            logits["image"] = self.heads["image"](v)
        return NetOutput(logits=logits, text=t, image=v, fused=z, route=route)


class AffectEnsemble(nn.Module):
    """Several AffectNets on the same frozen features, each trained from its
    own initial weights and batch order (TrainConfig.ensemble), answering as
    one: every head's logits are the log of the members' mean probabilities,
    so softmax gives the averaged distribution that calibration, scores and
    suggestions read. The text, image and fused vectors (the embedding map)
    are the first member's.
    """

    def __init__(self, members: Sequence[AffectNet]):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)

    @property
    def heads(self) -> nn.ModuleDict:
        return self.members[0].heads

    @property
    def text_encoder(self) -> nn.Module | None:
        return None

    @property
    def image_encoder(self) -> nn.Module | None:
        return None

    def forward(self, batch: Batch) -> NetOutput:
        outputs = [member(batch) for member in self.members]
        first = outputs[0]
        log_k = torch.log(torch.tensor(float(len(outputs)), device=first.route.device))
        logits = {
            branch: {
                task: torch.logsumexp(
                    torch.stack([torch.log_softmax(out.logits[branch][task], -1) for out in outputs]), 0
                )
                - log_k
                for task in tasks
            }
            for branch, tasks in first.logits.items()
        }
        return NetOutput(logits=logits, text=first.text, image=first.image, fused=first.fused, route=first.route)


# What training builds and prediction loads: one network or an ensemble of them.
Network = AffectNet | AffectEnsemble
