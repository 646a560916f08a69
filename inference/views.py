"""Model pages for leads: runs and their comparison, training and experiment
forms, a run's progress, curve, metrics, confusion matrices and embedding
map, prediction runs, the pre-labeller and model versus annotators.

Thin views: access through annotator.access.project_view (outsiders 404,
annotators 403), reads through selectors, one service per change. No torch
here: everything heavy ran in a worker and is read from the run rows.
"""

from __future__ import annotations

import itertools
import json

from django import forms
from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRefresh

from annotator import selectors as annotator_selectors
from annotator.access import project_view
from annotator.errors import DomainError
from annotator.models import Membership

from . import figures, selectors, services
from .models import FINISHED_STATUSES, PredictionRun, RunStatus, TrainingRun

LEAD = Membership.Role.LEAD
IMAGE_ENCODER_CHOICES = [
    ("efficientnet-lite0", "EfficientNet-Lite0 (packaged weights)"),
    ("resnet18", "ResNet-18 (weights file below)"),
    ("resnet50", "ResNet-50 (weights file below)"),
    ("tiny-cnn", "Tiny CNN (from scratch, for tests)"),
]
FUSION_CHOICES = [
    ("concat", "concatenate (MSED)"),
    ("add", "add (MSED)"),
    ("multiply", "multiply (MSED)"),
    ("max", "maximum (MSED)"),
    ("attention", "multi-head attention (MSED)"),
    ("tfn", "tensor fusion (CH-SIMS)"),
    ("lmf", "low-rank fusion (CH-SIMS)"),
    ("joint-pooling", "joint max-pooling"),
]
RECIPE_CHOICES = [
    ("cached", "frozen encoders (fast)"),
    ("finetune-text", "fine-tune text encoder"),
    ("finetune-all", "fine-tune both (slow)"),
]
MODALITY_CHOICES = [("both", "text and image"), ("text", "text only"), ("image", "image only")]


class TrainForm(forms.Form):
    """Types only: the domain checks (paths, chain, ranges) are the service's.
    Every field is optional: one left empty keeps TrainConfig's default."""

    name = forms.CharField(max_length=200, required=False, help_text="Optional; a summary of the options otherwise.")
    text_encoder = forms.ChoiceField(
        required=False,
        initial="all-MiniLM-L6-v2",
        help_text="all-MiniLM-L6-v2 (packaged), bilstm or cnn (MSED baselines), or a model an operator placed on the server.",
    )
    image_encoder = forms.ChoiceField(choices=IMAGE_ENCODER_CHOICES, required=False, initial="efficientnet-lite0")
    image_weights = forms.ChoiceField(
        required=False, help_text="ResNet only: a torchvision state-dict file an operator placed on the server."
    )
    modalities = forms.ChoiceField(choices=MODALITY_CHOICES, required=False, initial="both")
    fusion = forms.ChoiceField(
        choices=FUSION_CHOICES,
        required=False,
        initial="concat",
        help_text="How text and image vectors combine (MSED Table 6; tensor and low-rank fusion from CH-SIMS). "
        "Joint max-pooling (seed paper 001) pools over the modalities an item has, so it copes with a missing one.",
    )
    recipe = forms.ChoiceField(
        choices=RECIPE_CHOICES,
        required=False,
        initial="cached",
        help_text="Frozen: encoders stay fixed and their features are cached, only fusion and heads train. "
        "Fine-tuning also trains the text encoder, or both (images decoded every epoch: slow on a CPU).",
    )
    chain = forms.CharField(
        max_length=200,
        required=False,
        label="Task order",
        help_text="Chain the heads in this order (MSED Table 8), e.g. desire > sentiment > emotion; empty for independent heads.",
        widget=forms.TextInput(attrs={"list": "task-orders"}),
    )
    unimodal_heads = forms.BooleanField(
        required=False,
        initial=True,
        help_text="Text-only and image-only heads beside the fused one (items missing a modality).",
    )
    class_weights = forms.BooleanField(required=False, help_text="Weight rare classes up in the loss.")
    contrastive_weight = forms.FloatField(
        required=False,
        initial=0.0,
        min_value=0,
        label="Contrastive loss weight",
        help_text="A modality-agnostic contrastive loss (from MDSE); 0 = off.",
    )
    common_space_weight = forms.FloatField(
        required=False,
        initial=0.0,
        min_value=0,
        label="Text-image alignment loss weight",
        help_text="Pulls a post's text and image vectors together and away from other classes' texts "
        "(the common-space loss of seed paper 001); 0 = off.",
    )
    epochs = forms.IntegerField(
        required=False,
        initial=30,
        help_text=f"{services.EPOCHS_MIN}-{services.EPOCHS_MAX}; training stops early when dev macro-F1 stalls.",
    )
    lr = forms.FloatField(required=False, initial=1e-3, label="Learning rate")
    seed = forms.IntegerField(required=False, initial=13, min_value=0)

    def __init__(self, *args, user=None, **kwargs):
        """Leads choose encoders and weights among what the server offers;
        staff may also type a path inside MODEL_DIR (the service checks it)."""
        super().__init__(*args, **kwargs)
        weights = services.offered_image_weights()
        if getattr(user, "is_staff", False):
            self.fields["text_encoder"] = forms.CharField(
                max_length=500,
                required=False,
                initial="all-MiniLM-L6-v2",
                help_text=self.fields["text_encoder"].help_text + " Staff: or a folder inside MODEL_DIR.",
                widget=forms.TextInput(attrs={"list": "text-encoders"}),
            )
            self.fields["image_weights"] = forms.CharField(
                max_length=500,
                required=False,
                help_text="ResNet only: an offered file name, or (staff) a file inside MODEL_DIR.",
                widget=forms.TextInput(attrs={"list": "image-weights"}),
            )
        else:
            self.fields["text_encoder"].choices = [(name, name) for name in services.offered_text_encoders()]
            self.fields["image_weights"].choices = [("", "none (random weights)")] + [(name, name) for name in weights]

    def options(self) -> dict:
        """The options given; an empty field keeps its default (an unchecked
        box is False, as a browser sends it)."""
        data = {key: value for key, value in self.cleaned_data.items() if value not in (None, "")}
        data.pop("name", None)
        return data


class ExperimentForm(TrainForm):
    grids = forms.MultipleChoiceField(
        choices=[
            ("modalities", "text only, image only and fused (MSED Table 5)"),
            ("fusions", "every fusion strategy (Table 6)"),
            ("orders", "every task order (Table 8)"),
        ],
        initial=["modalities", "fusions", "orders"],
        widget=forms.CheckboxSelectMultiple,
    )

    def options(self) -> dict:
        data = super().options()
        data.pop("grids", None)
        return data


class PolicyForm(forms.Form):
    retrain_every_n_gold = forms.IntegerField(
        min_value=0, label="Retrain after this many new gold labels", help_text="0 = never."
    )
    suggest_new_items = forms.BooleanField(required=False, label="Suggest labels for new items")


def _figure(fig) -> dict:
    return json.loads(fig.to_json())


def _form_error(form: forms.Form, exc: DomainError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def _task_orders(project) -> list[str]:
    keys = selectors.get_project_schema(project).keys
    return [" > ".join(order) for order in itertools.permutations(keys)] if len(keys) <= 4 else []


def _start_page(request, project, form, template_form: str):
    return render(
        request,
        "inference/run_create.html",
        {
            "project": project,
            "form": form,
            "kind": template_form,
            "text_encoders": services.offered_text_encoders(),
            "image_weights": services.offered_image_weights(),
            "task_orders": _task_orders(project),
            "train_gold": selectors.count_train_gold(project),
            "train_gold_items": selectors.count_train_items_with_gold(project),
        },
    )


def _hide_paths(runs):
    """Runs and prediction runs as pages show them: errors and the
    configuration without absolute server paths (rows written before errors
    were stored that way included). Display copies only; nothing is saved."""
    for run in runs:
        run.error = services.hide_server_paths(run.error)
        if isinstance(run, TrainingRun):
            run.config = services.public_config(run.config)
            run.warnings = services.public_config(run.warnings)
            run.phase = services.phase_text(run)
    return runs


@project_view(role=LEAD)
def run_list(request, project):
    runs = list(selectors.list_training_runs(project)[:50])
    schema = selectors.get_project_schema(project)
    finished = [run for run in runs if run.status == RunStatus.SUCCEEDED][:12]
    comparison = services.comparison_rows(finished, schema.keys)
    policy = selectors.get_policy(project)
    return render(
        request,
        "inference/run_list.html",
        {
            "project": project,
            "runs": runs,
            "schema": schema,
            "comparison": comparison,
            "prelabeller": selectors.get_prelabeller(project),
            "predictions": _hide_paths(list(selectors.list_prediction_runs(project, limit=5))),
            "experiments": selectors.list_experiments(project)[:10],
            "policy_form": PolicyForm(
                initial={
                    "retrain_every_n_gold": policy.retrain_every_n_gold,
                    "suggest_new_items": policy.suggest_new_items,
                }
            ),
            "policy": policy,
            "workers": _workers_line(),
        },
    )


def _workers_line() -> dict:
    """What the Models page says about the workers that run training and predictions."""
    from django.conf import settings

    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"in_process": True}
    queues = annotator_selectors.list_worker_queues()
    return {
        "queues": sorted(queues.items()),
        "training": queues.get("training", 0),
        "predictions": queues.get("predictions", 0),
    }


@project_view(role=LEAD)
@require_http_methods(["GET", "POST"])
def run_create(request, project):
    form = TrainForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            run = services.start_training_run(
                project=project, user=request.user, options=form.options(), name=form.cleaned_data["name"]
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            return redirect("inference:run-detail", slug=project.slug, run_id=run.pk)
    return _start_page(request, project, form, "train")


@project_view(role=LEAD)
@require_http_methods(["GET", "POST"])
def experiment_create(request, project):
    form = ExperimentForm(request.POST or None, initial={"epochs": 30}, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            runs = services.start_experiment(
                project=project,
                user=request.user,
                options=form.options(),
                grids=form.cleaned_data["grids"],
                name=form.cleaned_data["name"],
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f"{len(runs)} runs queued; they train one after another.")
            return redirect(f"{reverse('inference:run-compare', args=[project.slug])}?experiment={runs[0].experiment}")
    return _start_page(request, project, form, "experiment")


@project_view(role=LEAD)
def run_compare(request, project):
    """One experiment (?experiment=...) or chosen runs (?runs=3,5,8) side by side."""
    experiment = request.GET.get("experiment", "")
    if experiment:
        runs = selectors.list_experiment_runs(project, experiment)
    else:
        # ?runs=3,5,8 from links, or ?runs=3&runs=5 from the picker's boxes.
        ids = [
            int(part) for value in request.GET.getlist("runs") for part in value.split(",") if part.strip().isdigit()
        ]
        runs = list(TrainingRun.objects.filter(project=project, pk__in=ids).order_by("id"))
    if not experiment and not runs:
        choices = TrainingRun.objects.filter(project=project).order_by("-created_at")[:100]
        return render(request, "inference/run_compare.html", {"project": project, "pick": True, "choices": choices})
    schema = selectors.get_project_schema(project)
    comparison = services.comparison_rows(runs, schema.keys)
    scored = [row for row in comparison["rows"] if row["status"] == RunStatus.SUCCEEDED]
    chart = None
    if scored:
        names = [f"{row['name']} (#{row['id']})" for row in scored]
        scores = [[row["tasks"][key]["macro_f1"] for key in schema.keys] for row in scored]
        chart = _figure(figures.comparison_chart(names, [task[2] for task in schema.tasks], scores))
    running = any(run.status in (RunStatus.QUEUED, RunStatus.RUNNING) for run in runs)
    return render(
        request,
        "inference/run_compare.html",
        {
            "project": project,
            "experiment": experiment,
            "runs": runs,
            "schema": schema,
            "comparison": comparison,
            "chart": chart,
            "running": running,
        },
    )


@project_view(role=LEAD)
@vary_on_headers("HX-Request")
def run_detail(request, project, run_id: int):
    run = get_object_or_404(TrainingRun, pk=run_id, project=project)
    curve = _figure(figures.training_curve(run.history or [], best_epoch=run.best_epoch or None))
    if request.GET.get("format") == "json":
        return JsonResponse({**services.run_status(run), "curve": curve})
    if request.htmx:  # polled while the run is active: its progress partial
        if run.status in FINISHED_STATUSES:
            return HttpResponseClientRefresh()  # the page shows the scores, matrices and map
        context = {"project": project, "run": _hide_paths([run])[0], "curve": curve, "finished": False}
        return render(request, "inference/_run_progress.html", context)
    schema = selectors.get_project_schema(project)
    space = request.GET.get("space", "fused")
    colour = request.GET.get("colour", "gold")
    colour = colour if colour in services.MAP_COLOURS else "gold"
    task_key = request.GET.get("task", schema.keys[0] if schema.keys else "")
    confusions = [
        {**c, "figure": _figure(figures.confusion_matrix(c["name"], c["labels"], c["matrix"]))}
        for c in services.confusion_data(run, schema)
    ]
    embedding = map_figure = None
    _hide_paths([run])
    if run.status == RunStatus.SUCCEEDED:
        embedding = services.embedding_points(run, space=space, colour=colour, task_key=task_key)
        if embedding["points"]:
            map_figure = _figure(
                figures.embedding_map(
                    embedding["points"],
                    categorical=embedding["categorical"],
                    legend=embedding["legend"],
                    categories=embedding["categories"],
                    explained=embedding["explained"],
                )
            )
    return render(
        request,
        "inference/run_detail.html",
        {
            "project": project,
            "run": run,
            "schema": schema,
            "curve": curve,
            "comparison": services.comparison_rows([run], schema.keys),
            "confusions": confusions,
            "embedding": embedding,
            "map_figure": map_figure,
            "map_space": space,
            "map_colour": colour,
            "map_task": task_key,
            "predictions": _hide_paths(list(run.prediction_runs.order_by("-created_at")[:5])),
            "config_json": json.dumps(run.config, indent=1),
            "split_counts": [
                (split, run.data_counts[split])
                for split in ("train", "dev", "test")
                if isinstance((run.data_counts or {}).get(split), dict)
            ],
            "finished": run.status in FINISHED_STATUSES,
        },
    )


@project_view(role=LEAD)
@require_POST
def run_cancel(request, project, run_id: int):
    run = get_object_or_404(TrainingRun, pk=run_id, project=project)
    try:
        services.cancel_run(run=run)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Cancelling: the run stops after the current batch.")
    return redirect("inference:run-detail", slug=project.slug, run_id=run.pk)


@project_view(role=LEAD)
@require_POST
def run_mark_prelabeller(request, project, run_id: int):
    run = get_object_or_404(TrainingRun, pk=run_id, project=project)
    try:
        services.mark_prelabeller(run=run)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, f"“{run.name}” is now the pre-labeller; suggestions for unlabelled items are being written."
        )
    return redirect("inference:run-detail", slug=project.slug, run_id=run.pk)


@project_view(role=LEAD)
@require_POST
def run_predict(request, project, run_id: int):
    run = get_object_or_404(TrainingRun, pk=run_id, project=project)
    try:
        services.start_prediction_run(project=project, training_run=run, user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Prediction queued.")
    return redirect("inference:run-detail", slug=project.slug, run_id=run.pk)


@project_view(role=LEAD)
@vary_on_headers("HX-Request")
def prediction_detail(request, project, prediction_id: int):
    """A prediction run's state as JSON; for htmx (the pages that list it poll
    an active run) its table row."""
    run = get_object_or_404(PredictionRun, pk=prediction_id, project=project)
    if request.htmx:
        context = {"project": project, "p": _hide_paths([run])[0]}
        return render(request, "inference/_prediction_progress.html", context)
    return JsonResponse(
        {
            "id": run.pk,
            "status": run.status,
            "status_display": run.get_status_display(),
            "items_done": run.items_done,
            "items_total": run.items_total,
            "progress": run.progress,
            "error": services.hide_server_paths(run.error),
            "finished": run.status in FINISHED_STATUSES,
        }
    )


@project_view(role=LEAD)
@require_POST
def prediction_cancel(request, project, prediction_id: int):
    run = get_object_or_404(PredictionRun, pk=prediction_id, project=project)
    try:
        services.cancel_run(run=run)
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("inference:run-list", slug=project.slug)


@project_view(role=LEAD)
@require_POST
def policy_update(request, project):
    form = PolicyForm(request.POST)
    if form.is_valid():
        try:
            services.update_policy(project=project, **form.cleaned_data)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Pre-labelling policy saved.")
    else:
        messages.error(request, "Retrain after: a whole number, 0 or more.")
    return redirect("inference:run-list", slug=project.slug)


@project_view(role=LEAD)
def model_vs_annotators(request, project):
    run = None
    if request.GET.get("run", "").isdigit():
        run = get_object_or_404(TrainingRun, pk=int(request.GET["run"]), project=project)
    table = services.model_vs_annotators(project=project, training_run=run)
    chart = (
        _figure(figures.model_vs_annotators_chart(table["tasks"]))
        if any(t["n_items"] for t in table["tasks"])
        else None
    )
    candidates = TrainingRun.objects.filter(project=project, status=RunStatus.SUCCEEDED).order_by("-created_at")[:30]
    return render(
        request,
        "inference/model_vs_annotators.html",
        {
            "project": project,
            "table": table,
            "chart": chart,
            "candidates": candidates,
            "min_votes": selectors.MIN_VOTES_FOR_HUMAN_EVAL,
        },
    )
