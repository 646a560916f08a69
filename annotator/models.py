"""The annotation data model of MSED section 3: projects with a label schema,
items (text-image pairs), annotations with one vote per task, majority gold.

One module (about 700 lines): Django finds an app's models here, and the constraints that
tie items, claims, annotations, votes, gold and control answers together read best side by side.

The database guards the invariants that concurrency could break: one
annotation per (item, annotator, round), one vote per (item, annotator,
round, task), unique hotkeys per project, items with at least one modality.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class Project(models.Model):
    class QueueOrder(models.TextChoices):
        FINISH_FIRST = "finish_first", "Finish items first (most votes first)"
        RANDOM = "random", "Random"
        SEQUENTIAL = "sequential", "Sequential (import order)"
        UNCERTAIN = "uncertain", "Most uncertain first (model entropy)"

    class GoldStrategy(models.TextChoices):
        MAJORITY = "majority", "Majority vote"
        DAWID_SKENE = "dawid_skene", "Dawid-Skene (annotator confusion matrices)"
        MACE = "mace", "MACE (annotator competence)"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.TextField(blank=True)
    guidelines = models.TextField(blank=True, help_text="Markdown; shown to annotators beside every item.")
    votes_per_item = models.PositiveSmallIntegerField(default=5)
    ask_inference_order = models.BooleanField(default=True)
    unimodal_rounds = models.BooleanField(
        default=False, help_text="CH-SIMS style: text only, then image only, then both."
    )
    show_suggestions = models.BooleanField(default=False)
    # On by default: suggestions shown first invite anchoring on the model's answer.
    suggestions_after_first_choice = models.BooleanField(
        default=True, help_text="Reveal model suggestions only after the annotator's own first choice."
    )
    queue_order = models.CharField(max_length=20, choices=QueueOrder.choices, default=QueueOrder.FINISH_FIRST)
    claim_minutes = models.PositiveSmallIntegerField(default=10)
    # Quality control (issue 14). Gold: which model turns votes into gold
    # (adjudicated and imported gold always win); a task may override it.
    gold_strategy = models.CharField(
        max_length=12, choices=GoldStrategy.choices, default=GoldStrategy.MAJORITY, db_default=GoldStrategy.MAJORITY
    )
    # When the reliability job last rewrote this project's model-based gold.
    gold_computed_at = models.DateTimeField(null=True, blank=True)
    # Annotators whose competence, control accuracy or agreement with gold
    # falls below this are flagged on the Annotators dashboard.
    reliability_threshold = models.FloatField(
        default=0.6, db_default=0.6, help_text="Flag annotators whose estimated reliability is below this (0-1)."
    )
    # Control items: one in every `control_every` items an annotator gets is a
    # control item they have not seen (0 = none mixed in).
    control_every = models.PositiveSmallIntegerField(
        default=0, db_default=0, help_text="Mix one control item into every N items of an annotator's stream; 0 = off."
    )
    control_feedback = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Tell annotators after submitting a control item whether they matched it.",
    )
    # Anchoring experiment: suggestions are shown for this share of
    # (annotator, item) pairs only; the arm is recorded on each annotation.
    suggestion_share = models.FloatField(
        default=1.0,
        db_default=1.0,
        help_text="Share of (annotator, item) pairs shown suggestions (0-1); below 1 measures anchoring.",
    )
    dispute_threshold = models.FloatField(
        default=0.6, help_text="Gold support (votes for / votes) below this marks an item disputed."
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # A new value on every schema change (services.projects.save_schema): the
    # key under which processes cache the schema for validating submits.
    schema_token = models.UUIDField(default=uuid.uuid4, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(votes_per_item__gte=1, votes_per_item__lte=50), name="project_votes_per_item_range"
            ),
            models.CheckConstraint(
                condition=Q(dispute_threshold__gte=0, dispute_threshold__lte=1), name="project_dispute_threshold_range"
            ),
            models.CheckConstraint(
                condition=Q(reliability_threshold__gte=0, reliability_threshold__lte=1),
                name="project_reliability_threshold_range",
            ),
            models.CheckConstraint(
                condition=Q(suggestion_share__gte=0, suggestion_share__lte=1), name="project_suggestion_share_range"
            ),
            models.CheckConstraint(condition=Q(control_every__lte=1000), name="project_control_every_range"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def rounds(self) -> list[str]:
        """The rounds an item goes through, in CH-SIMS order when unimodal rounds are on."""
        if self.unimodal_rounds:
            return [Annotation.Round.TEXT, Annotation.Round.IMAGE, Annotation.Round.MULTIMODAL]
        return [Annotation.Round.MULTIMODAL]


class Membership(models.Model):
    class Role(models.TextChoices):
        LEAD = "lead", "Lead"
        ANNOTATOR = "annotator", "Annotator"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=12, choices=Role.choices, default=Role.ANNOTATOR)
    pseudonym = models.CharField(max_length=40, help_text="Shown in exports when the lead hides identities.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="membership_unique_user")]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} ({self.role})"


class PrelabelPolicy(models.Model):
    """How a project keeps its pre-labeller current (the inference app acts on it).

    retrain_every_n_gold: retrain the pre-labeller (same configuration) once
    this many gold labels were added since it was last trained; 0 = never.
    suggest_new_items: imported items get suggestions from the pre-labeller.

    A project setting kept here, beside the project, because the labelling
    loop reads it: every project load joins it (selectors.get_project_for)
    so a vote's gold change knows without a query whether to tell the
    pre-labeller (services.gold). Moved from the inference app with its rows.
    """

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="prelabel_policy")
    retrain_every_n_gold = models.PositiveIntegerField(default=0)
    suggest_new_items = models.BooleanField(default=True)
    # Gold labels of the project when the last retrain was started (or the
    # pre-labeller was chosen); the policy counts from here.
    gold_at_last_training = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"pre-labelling policy of {self.project}"


class Task(models.Model):
    """One classification question of a project's schema (e.g. desire)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tasks")
    key = models.SlugField(max_length=40)
    name = models.CharField(max_length=100)
    required = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)
    # Blank: the project's gold strategy (Project.GoldStrategy values otherwise).
    gold_strategy = models.CharField(max_length=12, blank=True, default="", db_default="")

    class Meta:
        ordering = ["project", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["project", "key"], name="task_unique_key")]

    def __str__(self) -> str:
        return self.name


class Label(models.Model):
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="labels")
    # Denormalised from task so the database can keep hotkeys unique per project.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    key = models.SlugField(max_length=40)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    hotkey = models.CharField(max_length=1, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["task", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["task", "key"], name="label_unique_key"),
            models.UniqueConstraint(fields=["project", "hotkey"], condition=~Q(hotkey=""), name="label_unique_hotkey"),
        ]

    def __str__(self) -> str:
        return self.name


class ImageAsset(models.Model):
    """An image stored once under MEDIA_ROOT, named by its SHA-256."""

    sha256 = models.CharField(max_length=64, unique=True)
    file = models.CharField(max_length=200, help_text="Path relative to MEDIA_ROOT.")
    format = models.CharField(max_length=10)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size_bytes = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.sha256[:12]


# Unimodal rounds concern items with both modalities; an item with one
# modality only has the multimodal round (there is nothing to hide). The
# queue filters with these exact expressions so PostgreSQL can use the
# partial indexes below.
HAS_BOTH_MODALITIES = Q(image__isnull=False) & ~Q(text="")
HAS_ONE_MODALITY = Q(image__isnull=True) | Q(text="")


class ItemQuerySet(models.QuerySet):
    """Filters by progress of the multimodal round (Item.vote_count). They
    take the items' project, whose numbers the caller has at hand: no join."""

    def unlabelled(self):
        """Items nobody has voted on yet."""
        return self.filter(vote_count=0)

    def in_progress(self, project: Project):
        """Items with some votes, fewer than the project's number."""
        return self.filter(vote_count__gt=0, vote_count__lt=project.votes_per_item)

    def complete(self, project: Project):
        """Items that received the project's number of votes."""
        return self.filter(vote_count__gte=project.votes_per_item)

    def disputed(self, project: Project):
        """Items with at least one disputed gold label (GoldQuerySet.disputed)."""
        return self.filter(
            models.Exists(Gold.objects.filter(item=models.OuterRef("pk")).disputed(project.dispute_threshold))
        )


class Item(models.Model):
    class Split(models.TextChoices):
        TRAIN = "train", "Train"
        DEV = "dev", "Dev"
        TEST = "test", "Test"
        UNASSIGNED = "unassigned", "Unassigned"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="items")
    external_id = models.CharField(max_length=200)
    text = models.TextField(blank=True)
    image = models.ForeignKey(ImageAsset, null=True, blank=True, on_delete=models.PROTECT, related_name="items")
    metadata = models.JSONField(default=dict, blank=True)
    split = models.CharField(max_length=12, choices=Split.choices, default=Split.UNASSIGNED)
    # Multimodal-round annotations received, kept in the same transaction as
    # the vote so the queue never counts votes per request.
    vote_count = models.PositiveIntegerField(default=0)
    # The queue's counters (annotator.services.queue), one pair per round,
    # written in the transaction that holds the item's row lock: claims
    # (leases not yet submitted, skipped or swept) and unimodal-round votes.
    # votes + claims < votes_per_item is the queue's "has room" test.
    claim_count = models.PositiveIntegerField(default=0)
    text_vote_count = models.PositiveIntegerField(default=0)
    text_claim_count = models.PositiveIntegerField(default=0)
    image_vote_count = models.PositiveIntegerField(default=0)
    image_claim_count = models.PositiveIntegerField(default=0)
    # A control item ("honeypot"): known answers in ControlAnswer, mixed into
    # annotators' streams; its votes never count toward votes, gold or agreement.
    is_control = models.BooleanField(default=False, db_default=False)
    # Total (calibrated) entropy over tasks of the current suggestions, written
    # with them; the queue's "most uncertain first" order is a scan of its index.
    uncertainty = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ItemQuerySet.as_manager()

    class Meta:
        ordering = ["project", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "external_id"], name="item_unique_external_id"),
            models.CheckConstraint(condition=~Q(text="") | Q(image__isnull=False), name="item_has_text_or_image"),
        ]
        indexes = [
            models.Index(fields=["project", "split", "id"], name="item_project_split"),
            models.Index(fields=["project", "vote_count", "id"], name="item_project_votes"),
            # The head of the finish-first queue (most votes first, then import
            # order) in one index scan: annotator.services.queue._lock_head.
            models.Index(fields=["project", "-vote_count", "id"], name="item_queue_finish_first"),
            # The queue seeks (project, votes of the round, id) one vote level
            # at a time; item_project_votes serves the multimodal round, these
            # two the rounds of unimodal projects.
            models.Index(
                fields=["project", "text_vote_count", "id"], condition=HAS_BOTH_MODALITIES, name="item_queue_text_round"
            ),
            models.Index(
                fields=["project", "vote_count", "id"], condition=HAS_ONE_MODALITY, name="item_queue_one_modality"
            ),
            models.Index(fields=["project", "id"], condition=Q(is_control=True), name="item_control"),
            models.Index(
                fields=["project", "-uncertainty", "id"],
                condition=Q(uncertainty__isnull=False),
                name="item_queue_uncertain",
            ),
        ]

    def __str__(self) -> str:
        return self.external_id

    @property
    def has_text(self) -> bool:
        return bool(self.text)

    @property
    def has_image(self) -> bool:
        return self.image_id is not None


class Annotation(models.Model):
    """One annotator's judgement of one item in one round: a vote per task."""

    class Round(models.TextChoices):
        MULTIMODAL = "multimodal", "Text and image"
        TEXT = "text", "Text only"
        IMAGE = "image", "Image only"

    class SuggestionArm(models.TextChoices):
        NONE = "", "No experiment"
        SHOWN = "shown", "Shown suggestions"
        HIDDEN = "hidden", "Suggestions withheld"

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="annotations")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="annotations")
    round = models.CharField(max_length=12, choices=Round.choices, default=Round.MULTIMODAL)
    # A permutation of the project's task keys: the order in which the
    # annotator inferred the labels (MSED 3.3, e.g. desire -> sentiment -> emotion).
    inference_order = models.JSONField(default=list, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    # The prediction run whose suggestions the page showed (the inference
    # app's PredictionRun): a plain id, so annotator depends on nothing above
    # it. Runs are never deleted while their project lives (the admin is
    # read-only, and a project's deletion takes its annotations along).
    suggestion_run_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    # {task_key: true|false}: whether the shown suggestion was kept.
    suggestion_accepted = models.JSONField(default=dict, blank=True)
    # Anchoring experiment (Project.suggestion_share): whether this
    # (annotator, item) pair was assigned to see suggestions; blank when the
    # project showed none or ran no experiment.
    suggestion_arm = models.CharField(
        max_length=8, choices=SuggestionArm.choices, blank=True, default="", db_default=""
    )
    # Made on a control item: never counted toward votes, gold or agreement.
    is_control = models.BooleanField(default=False, db_default=False)
    # Client-generated key: a retried submit finds its first annotation.
    client_key = models.UUIDField(null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "annotator", "round"], name="annotation_unique_per_round"),
            models.CheckConstraint(condition=Q(duration_ms__lte=86_400_000), name="annotation_duration_below_a_day"),
        ]
        indexes = [
            models.Index(fields=["annotator", "-updated_at"], name="annotation_by_annotator"),
            # Unimodal rounds: an annotator's next image (or multimodal) items
            # are the items of their own text (or image) annotations. With item
            # last, the queue's "not annotated by me" probe is one lookup here
            # too, whichever index the planner picks.
            models.Index(fields=["annotator", "round", "item"], name="annotation_annotator_round"),
        ]

    def __str__(self) -> str:
        return f"{self.annotator} on {self.item} ({self.round})"


# Item's (vote counter, claim counter) of each round (annotator.services.queue).
ROUND_COUNTERS: dict[str, tuple[str, str]] = {
    Annotation.Round.MULTIMODAL: ("vote_count", "claim_count"),
    Annotation.Round.TEXT: ("text_vote_count", "text_claim_count"),
    Annotation.Round.IMAGE: ("image_vote_count", "image_claim_count"),
}


class Vote(models.Model):
    """One label for one task. item, annotator and round are copied from the
    annotation so the database itself forbids two votes for one task, and so
    the dashboards read compact integer columns without joins."""

    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE, related_name="votes")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="votes")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    round = models.CharField(max_length=12, choices=Annotation.Round.choices)
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="votes")
    label = models.ForeignKey(Label, on_delete=models.PROTECT, related_name="votes")
    # Copied from the annotation: dashboards and gold skip control votes without a join.
    is_control = models.BooleanField(default=False, db_default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "annotator", "round", "task"], name="vote_unique_per_task"),
            models.UniqueConstraint(fields=["annotation", "task"], name="vote_unique_in_annotation"),
        ]
        indexes = [models.Index(fields=["task", "round", "item"], name="vote_task_round_item")]

    def __str__(self) -> str:
        return f"{self.task.key}={self.label.key}"


class Claim(models.Model):
    """A lease on one item for one annotator in one round (annotator.services.queue).

    A claim reserves one of the item's votes_per_item slots (counted in the
    item's claim counter) until it is submitted, skipped, or expires and is
    swept. Activity renews expires_at. A page holds at most two: the item on
    screen and the one fetched ahead.
    """

    # Denormalised from item so the expiry sweep and "my claims" are one index probe.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="claims")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    round = models.CharField(max_length=12, choices=Annotation.Round.choices, default=Annotation.Round.MULTIMODAL)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "annotator", "round"], name="claim_unique_per_round"),
        ]
        indexes = [
            models.Index(fields=["project", "expires_at"], name="claim_expiry"),
            models.Index(fields=["annotator", "project", "created_at"], name="claim_by_annotator"),
        ]

    def __str__(self) -> str:
        return f"{self.annotator} holds {self.item} ({self.round}) until {self.expires_at:%H:%M}"


class Skip(models.Model):
    """An annotator passed on an item in a round, with an optional reason.

    The queue does not hand a skipped item to the same annotator again while
    it has anything else for them; leads read the reasons on the item page.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="skips")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    round = models.CharField(max_length=12, choices=Annotation.Round.choices, default=Annotation.Round.MULTIMODAL)
    reason = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "annotator", "round"], name="skip_unique_per_round"),
        ]
        indexes = [models.Index(fields=["project", "annotator", "round", "at"], name="skip_by_annotator")]

    def __str__(self) -> str:
        return f"{self.annotator} skipped {self.item} ({self.round})"


class AnnotationEdit(models.Model):
    """The history of an annotation: who changed what, when (old -> new)."""

    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE, related_name="edits")
    editor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)
    old = models.JSONField()
    new = models.JSONField()

    class Meta:
        ordering = ["annotation", "at", "id"]

    def __str__(self) -> str:
        return f"edit of annotation {self.annotation_id} by {self.editor_id}"


class GoldQuerySet(models.QuerySet):
    def disputed(self, threshold: float):
        """Gold still disputed: a tie, or support (votes for / votes) below
        `threshold` (the project's dispute_threshold), unless a lead
        adjudicated it. Gold.is_disputed is the same rule for one row."""
        return (
            self.exclude(source=Gold.Source.ADJUDICATED)
            .filter(votes_total__gt=0)
            .filter(Q(is_tie=True) | Q(votes_for__lt=models.F("votes_total") * threshold))
        )


class Gold(models.Model):
    """The gold label of an item for one task (MSED: the majority vote)."""

    class Source(models.TextChoices):
        MAJORITY = "majority", "Majority vote"
        ADJUDICATED = "adjudicated", "Adjudicated by a lead"
        IMPORTED = "imported", "Imported"
        DAWID_SKENE = "dawid_skene", "Dawid-Skene"
        MACE = "mace", "MACE"

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="gold")
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="gold")
    # Null while the majority is tied: no gold until a vote or a lead settles it.
    label = models.ForeignKey(Label, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=12, choices=Source.choices, default=Source.MAJORITY)
    votes_for = models.PositiveIntegerField(default=0)
    votes_total = models.PositiveIntegerField(default=0)
    is_tie = models.BooleanField(default=False)
    # The plain majority's label (null while tied), kept whatever the source,
    # so model-based gold can be compared with it.
    majority_label = models.ForeignKey(Label, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # Probability of `label` under the source's model (Dawid-Skene or MACE
    # posterior; votes_for / votes_total for majority); null for adjudicated or imported.
    confidence = models.FloatField(null=True, blank=True)
    # {label key: probability} under the project's strategy (soft labels).
    posterior = models.JSONField(null=True, blank=True)
    adjudicated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # When a lead settled it (updated_at moves whenever more votes arrive).
    adjudicated_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = GoldQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "task"], name="gold_unique_per_task"),
            models.CheckConstraint(condition=Q(votes_for__lte=models.F("votes_total")), name="gold_support_le_total"),
        ]
        indexes = [models.Index(fields=["task", "label"], name="gold_task_label")]

    def __str__(self) -> str:
        return f"gold of item {self.item_id}, task {self.task_id}"

    @property
    def support(self) -> float | None:
        return self.votes_for / self.votes_total if self.votes_total else None

    def is_disputed(self, threshold: float) -> bool:
        """GoldQuerySet.disputed for this row."""
        if self.source == self.Source.ADJUDICATED or not self.votes_total:
            return False
        return self.is_tie or self.votes_for < self.votes_total * threshold


class ControlAnswer(models.Model):
    """The known answer of a control item for one task (issue 14, section 3)."""

    class Source(models.TextChoices):
        IMPORTED = "imported", "Imported with the item"
        ADJUDICATED = "adjudicated", "From adjudicated gold"
        LEAD = "lead", "Set by a lead"

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="control_answers")
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="+")
    label = models.ForeignKey(Label, on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=12, choices=Source.choices, default=Source.LEAD)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["item", "task"], name="control_answer_unique_per_task")]

    def __str__(self) -> str:
        return f"control answer of item {self.item_id}, task {self.task_id}"


class ImportJob(models.Model):
    """An import of a dataset file: validated first, then written all at once."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        VALIDATING = "validating", "Validating"
        INVALID = "invalid", "Has errors"
        VALID = "valid", "Ready to import"
        RUNNING = "running", "Importing"
        SUCCEEDED = "succeeded", "Imported"
        FAILED = "failed", "Failed"
        DISCARDED = "discarded", "Discarded"

    class OnDuplicate(models.TextChoices):
        SKIP = "skip", "Skip items whose id exists"
        UPDATE = "update", "Update items whose id exists"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="imports")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    original_name = models.CharField(max_length=255)
    path = models.CharField(max_length=500, help_text="Uploaded file, kept until the import ends.")
    format = models.CharField(max_length=10, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    on_duplicate = models.CharField(max_length=8, choices=OnDuplicate.choices, default=OnDuplicate.SKIP)
    only_valid_rows = models.BooleanField(default=False)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    # [{"row": 3, "column": "image", "message": "..."}], capped.
    errors = models.JSONField(default=list, blank=True)
    error_count = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Check the file only (the lead confirms the import afterwards).
    check_only = models.BooleanField(default=False)
    # When the broker took the job's message (null: waiting to be sent), the
    # "host:pid" of the process working on it and when it last reported;
    # see annotator/jobs.py.
    sent_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    ACTIVE_STATUSES = (Status.QUEUED, Status.VALIDATING, Status.RUNNING)
    WORKING_STATUSES = (Status.VALIDATING, Status.RUNNING)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status"], name="importjob_status")]

    def __str__(self) -> str:
        return f"import {self.pk} ({self.status})"

    @property
    def progress(self) -> float:
        return self.rows_done / self.rows_total if self.rows_total else 0.0

    @property
    def waiting_for_broker(self) -> bool:
        return self.status == self.Status.QUEUED and self.sent_at is None


class WorkerPresence(models.Model):
    """A Celery worker that is listening, and on which queues: the Models
    page's "Workers" line. Written by the worker every few seconds
    (annotator/jobs.py: WorkerPresenceBeat); a row not seen for a while is
    a worker that is gone."""

    name = models.CharField(max_length=200, unique=True)
    queues = models.JSONField(default=list)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.name


class ApiToken(models.Model):
    """An API token, stored hashed (django-rest-knox's scheme).

    The key is shown once, at creation. The table keeps its SHA-512 digest and
    its first 15 characters (`token_key`), by which a request's token is found
    before its digest is compared in constant time. `password_stamp` is a hash
    of the owner's password hash when the token was made: a password change
    (by any route) makes every older token stop working."""

    digest = models.CharField(max_length=128, primary_key=True)
    token_key = models.CharField(max_length=25, db_index=True)
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    password_stamp = models.CharField(max_length=64)
    created = models.DateTimeField(auto_now_add=True)
    expiry = models.DateTimeField(null=True, blank=True)
    # Written at most once a minute per token, so the hot path rarely writes.
    last_used = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.token_key}… ({self.user})"


class SecurityEvent(models.Model):
    """Who did what to whose access, when and from where (append-only)."""

    class Kind(models.TextChoices):
        SIGN_IN = "sign_in", "Signed in"
        SIGN_IN_FAILED = "sign_in_failed", "Sign-in failed"
        LOCKED_OUT = "locked_out", "Locked out"
        MEMBER_ADDED = "member_added", "Member added"
        MEMBER_REMOVED = "member_removed", "Member removed"
        ROLE_CHANGED = "role_changed", "Role changed"
        TOKEN_CREATED = "token_created", "API token created"
        TOKEN_REVOKED = "token_revoked", "API token revoked"
        EXPORT = "export", "Export"
        ACCOUNT_CREATED = "account_created", "Account created"
        ACCOUNT_DEACTIVATED = "account_deactivated", "Account deactivated"
        PASSWORD_RESET = "password_reset", "Password reset by a lead"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    kind = models.CharField(max_length=24, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    target = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    ip = models.GenericIPAddressField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["kind", "created_at"], name="securityevent_kind_time")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.created_at:%Y-%m-%d %H:%M}"


class Profile(models.Model):
    """What the app keeps about an account beyond Django's user.

    must_change_password: the account signs in with a one-time password a
    lead made (annotator.services.projects.create_member_account) and may do
    nothing but choose its own until it has (annotator.middleware)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    must_change_password = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"profile of {self.user}"
