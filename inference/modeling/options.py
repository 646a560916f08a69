"""The training options a person may set, described once.

TRAIN_OPTIONS is the one description of them: name, type, bounds, choices,
label and help, with the default read from TrainConfig. The web form
(inference/forms.py), the API's input serializer (inference/api.py) and
`manage.py train` build their fields and help from it, and the service
(inference/services/options.py) checks values against the same bounds.

Pure Python, no Django and no torch: a web process imports it freely.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .config import DEFAULT_MAX_LENGTHS, MAX_ENSEMBLE, MAX_LABEL_SMOOTHING, LossConfig, TrainConfig

# Where a person can set an option. The form keeps to the options a lead
# usually changes; the API adds the finer ones; the operator's command takes
# every option.
FORM, API, COMMAND = "form", "api", "command"
EVERYWHERE = frozenset({FORM, API, COMMAND})
API_AND_COMMAND = frozenset({API, COMMAND})
COMMAND_ONLY = frozenset({COMMAND})

EPOCHS_MIN, EPOCHS_MAX = 1, 200
# Names a person may use for a fusion besides FUSIONS' own.
FUSION_ALIASES = {"joint-pooling": "joint"}

_FROM_CONFIG = object()

# Named recipes (issue 13): options on top of TrainConfig's defaults that a
# lead starts with one click. "default" is what the Train button does with
# no options. What each measured on MSED: README, "Model recipes".
DEFAULT_PRESET = "default"
PRESETS: dict[str, dict[str, Any]] = {
    "default": {
        "text_encoder": "all-mpnet-base-v2",
        "ensemble": 5,
        "hidden_size": 512,
        "losses": {"unimodal_weight": 0.5},
    },
    "accurate": {
        "text_encoder": "all-mpnet-base-v2",
        "text_fields": "mixed",
        "ensemble": 10,
        "hidden_size": 512,
        "losses": {"unimodal_weight": 0.5},
    },
}
PRESET_CHOICES = (
    ("default", "default (5 networks)"),
    ("accurate", "accurate (10 networks, two texts)"),
)


@dataclass(frozen=True)
class OptionSpec:
    """One training option.

    type: str, int, float or bool. choices: (value, label) pairs a form
    offers (the service checks the value). offered: the values are what the
    server offers (files an operator placed), known only at run time.
    minimum / maximum: inclusive bounds of a number. group: "losses" for a
    member of TrainConfig.losses. nullable: an empty value means None.
    where: the surfaces (FORM, API, COMMAND) that expose it. help may use
    {minimum} and {maximum}.
    """

    name: str
    type: type
    help: str
    label: str = ""
    choices: tuple[tuple[str, str], ...] = ()
    offered: bool = False
    minimum: float | None = None
    maximum: float | None = None
    group: str = ""
    nullable: bool = False
    where: frozenset[str] = EVERYWHERE
    shown_default: Any = _FROM_CONFIG

    @property
    def default(self) -> Any:
        """The default recipe's value, else TrainConfig's default (LossConfig's for the losses group),
        or the name leads know it by."""
        if self.shown_default is not _FROM_CONFIG:
            return self.shown_default
        preset = PRESETS[DEFAULT_PRESET]
        preset = preset.get("losses", {}) if self.group == "losses" else preset
        if self.name in preset:
            return preset[self.name]
        return getattr(LossConfig() if self.group == "losses" else TrainConfig(), self.name)

    @property
    def choice_values(self) -> tuple[str, ...]:
        return tuple(value for value, _ in self.choices)

    @property
    def help_text(self) -> str:
        """The help every surface shows: the text, the choices, then the default."""
        text = self.help.format(
            minimum=_number(self.minimum),
            maximum=_number(self.maximum),
            caption_length=DEFAULT_MAX_LENGTHS["caption"],
            title_length=DEFAULT_MAX_LENGTHS["title+caption"],
        )
        if self.choices:
            text += f" One of {', '.join(self.choice_values)}."
        default = self.default
        if default is None or default == "":
            return text
        return f"{text} Default: {_shown(default)}."


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:g}" if isinstance(value, float) else str(value)


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


TRAIN_OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec(
        "preset",
        str,
        "A named recipe whose options the run starts from; any option you set below overrides it "
        "(in the form, a field left at its shown default follows the recipe).",
        label="Recipe",
        choices=PRESET_CHOICES,
        shown_default=DEFAULT_PRESET,
    ),
    OptionSpec(
        "text_encoder",
        str,
        "all-MiniLM-L6-v2 or all-mpnet-base-v2 (packaged; mpnet is larger, slower and more accurate), bilstm or "
        "cnn (MSED baselines), or a model an operator placed in the "
        "model folder's weights/ (GET train-options/ lists them). Staff may also give a folder inside MODEL_DIR.",
        offered=True,
    ),
    OptionSpec(
        "tokenizer",
        str,
        "bilstm / cnn only: a text encoder whose tokenizer to use; empty for MiniLM's.",
        nullable=True,
        where=API_AND_COMMAND,
    ),
    OptionSpec(
        "text_fields",
        str,
        "Which text the model reads: the caption, or the title (MSED's Title column, kept when importing) "
        "followed by the caption, or (mixed, an ensemble only) each: the members take turns. Title and caption "
        "are longer, so max_length then defaults to {title_length} tokens instead of {caption_length}.",
        label="Text",
        choices=(
            ("caption", "caption"),
            ("title+caption", "title, then caption"),
            ("mixed", "both, members taking turns"),
        ),
    ),
    OptionSpec(
        "image_encoder",
        str,
        "How images become vectors: the EfficientNet-Lites ship with weights, a ResNet needs a weights file. "
        "Lite1 (240 px) and Lite2 (260 px) are more accurate on ImageNet than Lite0 (224 px) and encode "
        "about 1.6x and 3x slower.",
        choices=(
            ("efficientnet-lite0", "EfficientNet-Lite0 (packaged weights)"),
            ("efficientnet-lite1", "EfficientNet-Lite1 (240 px)"),
            ("efficientnet-lite2", "EfficientNet-Lite2 (260 px)"),
            ("resnet18", "ResNet-18 (weights file below)"),
            ("resnet50", "ResNet-50 (weights file below)"),
            ("tiny-cnn", "Tiny CNN (from scratch, for tests)"),
        ),
    ),
    OptionSpec(
        "image_weights",
        str,
        "ResNet only: a torchvision state-dict file an operator placed in the model folder's weights/; "
        "empty for random weights. Staff may also give a file inside MODEL_DIR.",
        offered=True,
        nullable=True,
    ),
    OptionSpec(
        "modalities",
        str,
        "Train on text and image, or on one of them (a unimodal baseline, MSED Table 5).",
        choices=(("both", "text and image"), ("text", "text only"), ("image", "image only")),
    ),
    OptionSpec(
        "fusion",
        str,
        "How text and image vectors combine (MSED Table 6; tensor and low-rank fusion from CH-SIMS). "
        "Joint max-pooling (seed paper 001) pools over the modalities an item has, so it copes with a missing one.",
        choices=(
            ("concat", "concatenate (MSED)"),
            ("add", "add (MSED)"),
            ("multiply", "multiply (MSED)"),
            ("max", "maximum (MSED)"),
            ("attention", "multi-head attention (MSED)"),
            ("tfn", "tensor fusion (CH-SIMS)"),
            ("lmf", "low-rank fusion (CH-SIMS)"),
            ("joint-pooling", "joint max-pooling"),
        ),
    ),
    OptionSpec(
        "recipe",
        str,
        "Frozen: encoders stay fixed and their features are cached, only fusion and heads train. "
        "Fine-tuning also trains the text encoder, or both (images decoded every epoch: slow on a CPU).",
        label="Encoder training",
        choices=(
            ("cached", "frozen encoders (fast)"),
            ("finetune-text", "fine-tune text encoder"),
            ("finetune-all", "fine-tune both (slow)"),
        ),
    ),
    OptionSpec(
        "chain",
        str,
        "Chain the heads in this order (MSED Table 8), e.g. desire > sentiment > emotion (the API also "
        "takes a list of task keys); empty for independent heads.",
        label="Task order",
        nullable=True,
    ),
    OptionSpec(
        "unimodal_heads",
        bool,
        "Text-only and image-only heads beside the fused one (items missing a modality).",
    ),
    OptionSpec(
        "targets",
        str,
        "What the loss compares predictions with: each item's gold label, or its label distribution "
        "(the gold strategy's posterior, else the share of annotators' votes per label; adjudicated or "
        "imported gold counts as certain). Test scores and calibration are measured on gold labels either way.",
        label="Training targets",
        choices=(("hard", "gold labels (hard)"), ("soft", "label distributions (soft)")),
    ),
    OptionSpec(
        "joint_decoding",
        bool,
        "When the training labels nest one task in another (every emotion has one sentiment in MSED), "
        "their heads answer together, so predictions never contradict each other; labels that do not nest "
        "are unaffected.",
        where=API_AND_COMMAND,
    ),
    OptionSpec("class_weights", bool, "Weight rare classes up in the loss.", group="losses"),
    OptionSpec(
        "contrastive_weight",
        float,
        "A modality-agnostic contrastive loss (from MDSE), {minimum} to {maximum}; 0 = off.",
        label="Contrastive loss weight",
        minimum=0.0,
        maximum=100.0,
        group="losses",
    ),
    OptionSpec(
        "contrastive_temperature",
        float,
        "Temperature of the contrastive loss, {minimum} to {maximum}.",
        minimum=1e-3,
        maximum=10.0,
        group="losses",
        where=API_AND_COMMAND,
    ),
    OptionSpec(
        "common_space_weight",
        float,
        "Pulls a post's text and image vectors together and away from other classes' texts "
        "(the common-space loss of seed paper 001), {minimum} to {maximum}; 0 = off.",
        label="Text-image alignment loss weight",
        minimum=0.0,
        maximum=100.0,
        group="losses",
    ),
    OptionSpec(
        "common_space_margin",
        float,
        "Hinge margin of the text-image alignment loss in cosine units, {minimum} to {maximum}.",
        minimum=0.0,
        maximum=100.0,
        group="losses",
        where=API_AND_COMMAND,
    ),
    OptionSpec(
        "unimodal_weight",
        float,
        "Weight of the text-only and image-only heads' losses against the fused head's, {minimum} to {maximum}.",
        minimum=0.0,
        maximum=100.0,
        group="losses",
        where=API_AND_COMMAND,
    ),
    OptionSpec(
        "label_smoothing",
        float,
        "Share of each training target spread evenly over the labels (label smoothing), {minimum} to {maximum}; "
        "0 = off.",
        minimum=0.0,
        maximum=MAX_LABEL_SMOOTHING,
        group="losses",
        where=API_AND_COMMAND,
    ),
    OptionSpec(
        "ensemble",
        int,
        "Networks trained side by side on the cached features, each from its own initial weights and batch "
        "order, predicting with their mean probabilities: steadier scores and better-calibrated suggestions, "
        "for one network's training time per member. {minimum} to {maximum}; frozen encoders only "
        "(a recipe that fine-tunes an encoder trains one network unless you ask for more).",
        label="Ensemble members",
        minimum=1,
        maximum=MAX_ENSEMBLE,
    ),
    OptionSpec(
        "mixed_widths",
        bool,
        "An ensemble's members alternate between the hidden size and twice it: members that differ in "
        "more than their seed average better.",
        where=API_AND_COMMAND,
    ),
    OptionSpec(
        "epochs",
        int,
        "Passes over the train split, {minimum} to {maximum}; training stops early when dev macro-F1 stalls.",
        minimum=EPOCHS_MIN,
        maximum=EPOCHS_MAX,
    ),
    OptionSpec(
        "lr",
        float,
        "Learning rate of everything but pretrained encoders, {minimum} to {maximum}.",
        label="Learning rate",
        minimum=1e-7,
        maximum=1.0,
    ),
    OptionSpec(
        "encoder_lr",
        float,
        "Learning rate of fine-tuned pretrained encoders, {minimum} to {maximum}.",
        minimum=1e-8,
        maximum=1.0,
        where=API_AND_COMMAND,
    ),
    OptionSpec(
        "weight_decay",
        float,
        "L2 weight decay (MSED eq. 1), {minimum} to {maximum}.",
        minimum=0.0,
        maximum=1.0,
        where=COMMAND_ONLY,
    ),
    OptionSpec(
        "seed",
        int,
        "Random seed, {minimum} to {maximum}: the same seed and options train the same model.",
        minimum=0,
        maximum=2**31 - 1,
    ),
    OptionSpec(
        "hidden_size",
        int,
        "Size of the projected text and image vectors and of the fused vector, {minimum} to {maximum}.",
        minimum=4,
        maximum=4096,
        where=API_AND_COMMAND,
    ),
    OptionSpec(
        "batch_size",
        int,
        "Items per training step, {minimum} to {maximum}.",
        minimum=1,
        maximum=1024,
        where=API_AND_COMMAND,
    ),
    OptionSpec(
        "patience",
        int,
        "Epochs without a better dev macro-F1 before training stops, {minimum} to {maximum}.",
        minimum=0,
        maximum=EPOCHS_MAX,
        where=API_AND_COMMAND,
    ),
    OptionSpec(
        "dropout",
        float,
        "Dropout rate, {minimum} to {maximum}.",
        minimum=0.0,
        maximum=0.95,
        where=API_AND_COMMAND,
    ),
    OptionSpec(
        "pooling",
        str,
        "How a transformers encoder's last layer becomes one vector: its first token (cls) or the mean.",
        choices=(("cls", "first token"), ("mean", "mean of the tokens")),
        where=API_AND_COMMAND,
    ),
    OptionSpec(
        "max_length",
        int,
        "Tokens per text (MSED pads or truncates to 50), {minimum} to {maximum}; "
        "left out, {title_length} when the model reads title and caption.",
        minimum=4,
        maximum=512,
        where=API_AND_COMMAND,
    ),
)

OPTIONS_BY_NAME = {spec.name: spec for spec in TRAIN_OPTIONS}
LOSS_OPTIONS = tuple(spec for spec in TRAIN_OPTIONS if spec.group == "losses")


def options_for(surface: str) -> tuple[OptionSpec, ...]:
    """The options `surface` (FORM, API or COMMAND) exposes, in the description's order."""
    return tuple(spec for spec in TRAIN_OPTIONS if surface in spec.where)
