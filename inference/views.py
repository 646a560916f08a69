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
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRefresh

from annotator import selectors as annotator_selectors
from annotator.access import project_view
from annotator.errors import DomainError
from annotator.models import Membership

from . import figures, reports, selectors
from .forms import ExperimentForm, PolicyForm, TrainForm
from .modeling.options import PRESET_CHOICES
from .models import FINISHED_STATUSES, PredictionRun, RunStatus, TrainingRun
from .services.files import hide_server_paths, offered_image_weights, offered_text_encoders, public_config
from .services.prelabelling import mark_prelabeller, update_policy
from .services.runs import cancel_run, start_experiment, start_prediction_run, start_training_run

LEAD = Membership.Role.LEAD


def _figure(fig) -> dict:
    return json.loads(fig.to_json())


def _form_error(form: forms.Form, exc: DomainError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def _task_orders(project) -> list[str]:
    keys = selectors.get_project_schema(project).keys
    return [" > ".join(order) for order in itertools.permutations(keys)] if len(keys) <= 4 else []


def _start_page(request, project, form, template_form: str, *, recipe_error: str = ""):
    return render(
        request,
        "inference/run_create.html",
        {
            "project": project,
            "form": form,
            "kind": template_form,
            "text_encoders": offered_text_encoders(),
            "image_weights": offered_image_weights(),
            "task_orders": _task_orders(project),
            "presets": PRESET_CHOICES,
            "recipe_error": recipe_error,
            "train_gold": selectors.count_train_gold(project),
            "train_gold_items": selectors.count_train_items_with_gold(project),
        },
    )


def _hide_paths(runs):
    """Runs and prediction runs as pages show them: errors and the
    configuration without absolute server paths (rows written before errors
    were stored that way included). Display copies only; nothing is saved."""
    for run in runs:
        run.error = hide_server_paths(run.error)
        if isinstance(run, TrainingRun):
            run.config = public_config(run.config)
            run.warnings = public_config(run.warnings)
            run.phase = reports.phase_text(run)
    return runs


@project_view(role=LEAD)
def run_list(request, project):
    runs = list(selectors.list_training_runs(project)[:50])
    schema = selectors.get_project_schema(project)
    finished = [run for run in runs if run.status == RunStatus.SUCCEEDED][:12]
    comparison = reports.comparison_rows(finished, schema.keys)
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
    if request.method == "POST" and request.POST.get("one_click"):
        # A recipe's button: its options and nothing else (the full form sends every field).
        try:
            run = start_training_run(
                project=project, user=request.user, options={"preset": request.POST.get("preset", "")}
            )
        except DomainError as exc:
            return _start_page(request, project, TrainForm(user=request.user), "train", recipe_error=exc.message)
        return redirect("inference:run-detail", slug=project.slug, run_id=run.pk)
    form = TrainForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            run = start_training_run(
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
            runs = start_experiment(
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
    comparison = reports.comparison_rows(runs, schema.keys)
    scored = [row for row in comparison["rows"] if row["status"] == RunStatus.SUCCEEDED]
    chart = None
    if scored:
        names = [f"{row['name']} (#{row['id']})" for row in scored]
        scores = [[row["tasks"][key]["macro_f1"] for key in schema.keys] for row in scored]
        chart = _figure(figures.comparison_chart(names, [task.name for task in schema.tasks], scores))
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
    if request.htmx:  # polled while the run is active: its progress partial
        if run.status in FINISHED_STATUSES:
            return HttpResponseClientRefresh()  # the page shows the scores, matrices and map
        context = {"project": project, "run": _hide_paths([run])[0], "curve": curve, "finished": False}
        return render(request, "inference/_run_progress.html", context)
    schema = selectors.get_project_schema(project)
    space = request.GET.get("space", "fused")
    colour = request.GET.get("colour", "gold")
    colour = colour if colour in reports.MAP_COLOURS else "gold"
    task_key = request.GET.get("task", schema.keys[0] if schema.keys else "")
    confusions = [
        {**c, "figure": _figure(figures.confusion_matrix(c["name"], c["labels"], c["matrix"]))}
        for c in reports.confusion_data(run, schema)
    ]
    embedding = map_figure = None
    # Before _hide_paths: comparable runs are found by their stored configuration.
    targets_comparison = reports.targets_comparison(run, schema)
    _hide_paths([run])
    if run.status == RunStatus.SUCCEEDED:
        embedding = reports.embedding_points(run, space=space, colour=colour, task_key=task_key)
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
            "comparison": reports.comparison_rows([run], schema.keys),
            "scores": reports.run_scores(run, schema),
            "confusions": confusions,
            "calibration": _calibration(run, schema),
            "targets_comparison": targets_comparison,
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


def _calibration(run: TrainingRun, schema) -> list[dict]:
    """Per task the temperature, ECE before and after scaling and a reliability diagram (issue 14.5)."""
    if run.status != RunStatus.SUCCEEDED:
        return []
    rows = selectors.list_calibration_rows(run, schema)
    for row in rows:
        row["figure"] = None
        if row.get("bins_before"):
            row["figure"] = _figure(
                figures.reliability_diagram(
                    row["name"],
                    row["bins_before"],
                    row.get("bins_after"),
                    temperature=row.get("temperature"),
                    ece_before=row.get("ece_before"),
                    ece_after=row.get("ece_after"),
                )
            )
    return rows


@project_view(role=LEAD)
@require_POST
def run_cancel(request, project, run_id: int):
    run = get_object_or_404(TrainingRun, pk=run_id, project=project)
    try:
        cancel_run(run=run)
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
        mark_prelabeller(run=run)
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
        start_prediction_run(project=project, training_run=run, user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Prediction queued.")
    return redirect("inference:run-detail", slug=project.slug, run_id=run.pk)


@project_view(role=LEAD)
@vary_on_headers("HX-Request")
def prediction_detail(request, project, prediction_id: int):
    """For htmx (the pages that list it poll an active run) a prediction run's
    table row; otherwise the page of its model, which lists it."""
    run = get_object_or_404(PredictionRun, pk=prediction_id, project=project)
    if request.htmx:
        context = {"project": project, "p": _hide_paths([run])[0]}
        return render(request, "inference/_prediction_progress.html", context)
    # Its state as JSON is the API's (GET /api/projects/<slug>/predictions/<id>/); a person who
    # opens this URL gets the page that lists the run: its model's page.
    return redirect("inference:run-detail", project.slug, run.training_run_id)


@project_view(role=LEAD)
@require_POST
def prediction_cancel(request, project, prediction_id: int):
    run = get_object_or_404(PredictionRun, pk=prediction_id, project=project)
    try:
        cancel_run(run=run)
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("inference:run-list", slug=project.slug)


@project_view(role=LEAD)
@require_POST
def policy_update(request, project):
    form = PolicyForm(request.POST)
    if form.is_valid():
        try:
            update_policy(project=project, **form.cleaned_data)
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
    table = reports.model_vs_annotators(project=project, training_run=run)
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
