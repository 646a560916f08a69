"""Losses: masked, class-weighted cross-entropy (against gold labels or
against label distributions) and two auxiliary losses.

Labels are int64 with -1 for "no gold label"; such entries add nothing.
Soft targets are (B, n_labels) distributions; a zero row adds nothing.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def balanced_class_weights(labels: np.ndarray, n_labels: int) -> np.ndarray:
    """n / (k * n_c) over the known labels (scikit-learn's "balanced");
    a class absent from training gets weight 1 (it has no loss terms anyway)."""
    known = labels[labels >= 0]
    counts = np.bincount(known, minlength=n_labels).astype(np.float64)
    weights = np.ones(n_labels, dtype=np.float64)
    present = counts > 0
    weights[present] = known.size / (n_labels * counts[present])
    return weights.astype(np.float32)


def masked_cross_entropy(
    logits: torch.Tensor,
    labels: torch.Tensor,
    mask: torch.Tensor,
    weight: torch.Tensor | None = None,
    smoothing: float = 0.0,
) -> torch.Tensor:
    """Weighted mean cross-entropy over rows where mask is True and label >= 0;
    0 (still part of the graph) when there are none, where plain
    F.cross_entropy would return NaN. smoothing: the share of each target
    spread evenly over the labels (label smoothing; a row keeps its label's
    class weight)."""
    keep = mask & (labels >= 0)
    if not bool(keep.any()):
        return logits.sum() * 0.0
    selected = labels[keep]
    losses = F.cross_entropy(logits[keep], selected, reduction="none", label_smoothing=smoothing)
    if weight is None:
        return losses.mean()
    row_weights = weight[selected]
    return (losses * row_weights).sum() / row_weights.sum()


def soft_cross_entropy(
    logits: torch.Tensor,
    targets: torch.Tensor,
    mask: torch.Tensor,
    weight: torch.Tensor | None = None,
    smoothing: float = 0.0,
) -> torch.Tensor:
    """Cross-entropy against target distributions (issue 14.4):

        l_i = -sum_c t_ic log softmax(z_i)_c,   r_i = sum_c w_c t_ic (1 without weights)
        L = sum_i r_i l_i / sum_i r_i   over rows where mask is True and t_i has mass

    For one-hot targets this is masked_cross_entropy exactly (r_i = w of
    the label). smoothing s mixes each target with the uniform distribution,
    (1 - s) t_i + s / n_labels, for the loss (the row weights r_i keep t_i).
    logits and targets (B, n_labels); 0 (still part of the graph) when no
    row counts."""
    keep = mask & (targets.sum(dim=1) > 0)
    if not bool(keep.any()):
        return logits.sum() * 0.0
    selected = targets[keep].to(logits.dtype)
    smoothed = selected if not smoothing else selected * (1.0 - smoothing) + smoothing / selected.shape[1]
    losses = -(smoothed * F.log_softmax(logits[keep], dim=-1)).sum(dim=1)
    if weight is None:
        return losses.mean()
    row_weights = selected @ weight.to(logits.dtype)
    return (losses * row_weights).sum() / row_weights.sum()


def modality_agnostic_contrastive_loss(
    embeddings: torch.Tensor, labels: torch.Tensor, temperature: float = 0.1
) -> torch.Tensor | None:
    """MDSE's MACL (eq. 10-11): text, image and fused vectors of a batch are
    one pool of samples; same-label pairs should be close, others far:

        L = -log( sum_{i != j, l_i = l_j} exp(C_ij / tau) / sum_{i != j} exp(C_ij / tau) )

    with C_ij the cosine similarity. The paper writes the ratio of raw
    cosines, which is undefined once cosines go negative; the exponential
    with a temperature (as in supervised contrastive learning) keeps the
    ratio in (0, 1]. embeddings (M, d), labels (M,) with -1 left out.
    Returns None when there is no same-label pair.
    """
    keep = labels >= 0
    embeddings, labels = embeddings[keep], labels[keep]
    m = embeddings.shape[0]
    if m < 2:
        return None
    normalised = F.normalize(embeddings, dim=-1)
    scores = normalised @ normalised.T / temperature
    off_diagonal = ~torch.eye(m, dtype=torch.bool, device=embeddings.device)
    positive = (labels.unsqueeze(0) == labels.unsqueeze(1)) & off_diagonal
    if not bool(positive.any()):
        return None
    return torch.logsumexp(scores[off_diagonal], 0) - torch.logsumexp(scores[positive], 0)


def common_space_loss(
    text: torch.Tensor, image: torch.Tensor, labels: torch.Tensor, margin: float = 0.5
) -> torch.Tensor | None:
    """The common-space auxiliary task of 001: a post's text and image
    vectors should be similar, and the image closer to its own text than to
    texts of other classes. A hinge on cosine similarity:

        L = mean_{i, j: l_j != l_i} max(0, margin - cos(t_i, v_i) + cos(t_j, v_i))

    text, image (B, d) of items that have both; labels (B,), -1 unknown.
    Returns None when no (i, j) pair of different known labels exists.
    """
    if text.shape[0] < 2:
        return None
    t = F.normalize(text, dim=-1)
    v = F.normalize(image, dim=-1)
    similarity = v @ t.T  # [i, j] = cos(v_i, t_j)
    own = similarity.diagonal().unsqueeze(1)
    known = labels >= 0
    negative = (labels.unsqueeze(0) != labels.unsqueeze(1)) & known.unsqueeze(0) & known.unsqueeze(1)
    if not bool(negative.any()):
        return None
    hinge = F.relu(margin - own + similarity)
    return hinge[negative].mean()


def total_loss(
    output,
    batch,
    *,
    task_keys: list[str],
    loss_config,
    class_weights: dict[str, torch.Tensor] | None = None,
) -> torch.Tensor:
    """The training objective of one batch (a NetOutput and its Batch).

    Sum over tasks of the masked cross-entropy of each branch, weighted
    alpha = 1 for the fused head and losses.unimodal_weight for the text /
    image heads next to it (004 eq. 5-7): a pair trains all three heads, an
    item with only text (only an image) trains its own head only. Unimodal
    heads learn from text_labels / image_labels, which fall back to labels.
    A batch with soft_labels (targets="soft") uses soft_cross_entropy
    against them instead; the auxiliary losses keep the hard labels.
    Plus, when weighted > 0, MACL over text, image and fused vectors and the
    common-space loss, each averaged over the tasks where it is defined.
    """
    from .network import ROUTE_FUSED

    has_text, has_image, route = batch.has_text, batch.has_image, output.route
    smoothing = loss_config.label_smoothing
    # A text-only or image-only model has one head, the main one: alpha = 1.
    single_modality = "fused" not in output.logits
    total = None

    def add(term: torch.Tensor, weight: float) -> None:
        nonlocal total
        total = term * weight if total is None else total + term * weight

    for branch, branch_logits in output.logits.items():
        if branch == "fused":
            rows, labels, soft, alpha = route == ROUTE_FUSED, batch.labels, batch.soft_labels, 1.0
        elif branch == "text":
            rows, labels, soft = has_text, batch.text_labels, batch.text_soft_labels
            alpha = 1.0 if single_modality else loss_config.unimodal_weight
        else:
            rows, labels, soft = has_image, batch.image_labels, batch.image_soft_labels
            alpha = 1.0 if single_modality else loss_config.unimodal_weight
        if alpha == 0:
            continue
        for column, task in enumerate(task_keys):
            weight = class_weights.get(task) if class_weights else None
            if soft is not None:
                add(soft_cross_entropy(branch_logits[task], soft[task], rows, weight, smoothing), alpha)
            else:
                add(masked_cross_entropy(branch_logits[task], labels[:, column], rows, weight, smoothing), alpha)

    if loss_config.contrastive_weight > 0:
        terms = []
        for column in range(len(task_keys)):
            pool, pool_labels = [], []
            if output.text is not None:
                pool.append(output.text[has_text])
                pool_labels.append(batch.text_labels[has_text, column])
            if output.image is not None:
                pool.append(output.image[has_image])
                pool_labels.append(batch.image_labels[has_image, column])
            if output.fused is not None:
                fused_rows = route == ROUTE_FUSED
                pool.append(output.fused[fused_rows])
                pool_labels.append(batch.labels[fused_rows, column])
            term = modality_agnostic_contrastive_loss(
                torch.cat(pool), torch.cat(pool_labels), loss_config.contrastive_temperature
            )
            if term is not None:
                terms.append(term)
        if terms:
            add(torch.stack(terms).mean(), loss_config.contrastive_weight)

    if loss_config.common_space_weight > 0 and output.text is not None and output.image is not None:
        both = has_text & has_image
        terms = []
        for column in range(len(task_keys)):
            term = common_space_loss(
                output.text[both], output.image[both], batch.labels[both, column], loss_config.common_space_margin
            )
            if term is not None:
                terms.append(term)
        if terms:
            add(torch.stack(terms).mean(), loss_config.common_space_weight)

    if total is None:  # a network without heads cannot happen; keep the type honest
        raise ValueError("the network produced no logits")
    return total
