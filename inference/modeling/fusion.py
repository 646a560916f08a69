"""Fusion of a text vector and an image vector into one multimodal vector.

Every fusion takes t, v of shape (B, H) (both already projected to the same
size H by the network's per-modality layers) and the per-item masks
has_text, has_image (B,) bool, and returns (B, out_dim).
"""

from __future__ import annotations

import torch
from torch import nn


class Fusion(nn.Module):
    out_dim: int

    def forward(
        self, t: torch.Tensor, v: torch.Tensor, has_text: torch.Tensor, has_image: torch.Tensor
    ) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError


class ConcatFusion(Fusion):
    """[t; v] (MSED's best fusion for sentiment and emotion, Table 6)."""

    def __init__(self, hidden: int):
        super().__init__()
        self.out_dim = 2 * hidden

    def forward(self, t, v, has_text, has_image):
        return torch.cat([t, v], dim=-1)


class AddFusion(Fusion):
    """t + v (MSED's best fusion for desire, Table 6)."""

    def __init__(self, hidden: int):
        super().__init__()
        self.out_dim = hidden

    def forward(self, t, v, has_text, has_image):
        return t + v


class MultiplyFusion(Fusion):
    """Element-wise product t * v."""

    def __init__(self, hidden: int):
        super().__init__()
        self.out_dim = hidden

    def forward(self, t, v, has_text, has_image):
        return t * v


class MaxFusion(Fusion):
    """Element-wise maximum of t and v."""

    def __init__(self, hidden: int):
        super().__init__()
        self.out_dim = hidden

    def forward(self, t, v, has_text, has_image):
        return torch.maximum(t, v)


class AttentionFusion(Fusion):
    """MSED's multi-head attentive fusion: the two modality vectors are a
    2-token sequence; multi-head self-attention lets each attend to the other
    (residual + LayerNorm), and the two attended tokens are concatenated.
    A missing modality is masked out of the keys, so the other one attends
    only to itself."""

    def __init__(self, hidden: int, heads: int, dropout: float):
        super().__init__()
        self.attention = nn.MultiheadAttention(hidden, heads, dropout=dropout, batch_first=True)
        self.norm = nn.LayerNorm(hidden)
        self.out_dim = 2 * hidden

    def forward(self, t, v, has_text, has_image):
        tokens = torch.stack([t, v], dim=1)  # (B, 2, H)
        missing = torch.stack([~has_text, ~has_image], dim=1)
        # An item with neither modality would mask every key (NaN): unmask it.
        missing = missing & ~missing.all(dim=1, keepdim=True)
        attended, _ = self.attention(tokens, tokens, tokens, key_padding_mask=missing, need_weights=False)
        return self.norm(tokens + attended).flatten(1)


class TensorFusion(Fusion):
    """Tensor Fusion Network (Zadeh et al. 2017, CH-SIMS 4.2): the outer
    product of [t'; 1] and [v'; 1], which keeps the unimodal terms and every
    bimodal product. t', v' are first reduced to `rank_dim` (32) so the
    product has 33 * 33 = 1089 entries rather than (H + 1)^2."""

    def __init__(self, hidden: int, rank_dim: int = 32):
        super().__init__()
        self.reduce_text = nn.Sequential(nn.Linear(hidden, rank_dim), nn.ReLU())
        self.reduce_image = nn.Sequential(nn.Linear(hidden, rank_dim), nn.ReLU())
        self.out_dim = (rank_dim + 1) ** 2

    def forward(self, t, v, has_text, has_image):
        ones = t.new_ones(t.shape[0], 1)
        t1 = torch.cat([self.reduce_text(t), ones], dim=-1)
        v1 = torch.cat([self.reduce_image(v), ones], dim=-1)
        return torch.bmm(t1.unsqueeze(2), v1.unsqueeze(1)).flatten(1)


class LowRankFusion(Fusion):
    """Low-rank Multimodal Fusion (Liu et al. 2018, CH-SIMS 4.2): the TFN
    weight tensor factorised into `rank` modality-specific factors,
        h = sum_r w_r * ([t; 1] W_t^(r)) * ([v; 1] W_v^(r)) + b,
    without ever forming the outer product."""

    def __init__(self, hidden: int, rank: int = 4):
        super().__init__()
        self.text_factor = nn.Parameter(torch.empty(rank, hidden + 1, hidden))
        self.image_factor = nn.Parameter(torch.empty(rank, hidden + 1, hidden))
        self.rank_weights = nn.Parameter(torch.empty(1, rank))
        self.bias = nn.Parameter(torch.zeros(hidden))
        for parameter in (self.text_factor, self.image_factor, self.rank_weights):
            nn.init.xavier_normal_(parameter)
        self.out_dim = hidden

    def forward(self, t, v, has_text, has_image):
        ones = t.new_ones(t.shape[0], 1)
        text = torch.matmul(torch.cat([t, ones], dim=-1), self.text_factor)  # (rank, B, H)
        image = torch.matmul(torch.cat([v, ones], dim=-1), self.image_factor)
        product = (text * image).permute(1, 0, 2)  # (B, rank, H)
        return torch.matmul(self.rank_weights, product).squeeze(1) + self.bias


class JointPoolingFusion(Fusion):
    """Joint fusion of 001: max pooling over the modality vectors after both
    are projected to one size. Pooling runs over the modalities the item has,
    so an item with only text is fused as its text vector: this is what makes
    the joint model robust to a missing modality."""

    def __init__(self, hidden: int):
        super().__init__()
        self.out_dim = hidden

    def forward(self, t, v, has_text, has_image):
        stacked = torch.stack([t, v], dim=1)  # (B, 2, H)
        present = torch.stack([has_text, has_image], dim=1)
        present = present | ~present.any(dim=1, keepdim=True)
        return stacked.masked_fill(~present.unsqueeze(-1), float("-inf")).amax(dim=1)


def build_fusion(name: str, hidden: int, *, heads: int = 4, dropout: float = 0.0) -> Fusion:
    if name == "concat":
        return ConcatFusion(hidden)
    if name == "add":
        return AddFusion(hidden)
    if name == "multiply":
        return MultiplyFusion(hidden)
    if name == "max":
        return MaxFusion(hidden)
    if name == "attention":
        return AttentionFusion(hidden, heads, dropout)
    if name == "tfn":
        return TensorFusion(hidden)
    if name == "lmf":
        return LowRankFusion(hidden)
    if name == "joint":
        return JointPoolingFusion(hidden)
    raise ValueError(f"unknown fusion {name!r}")
