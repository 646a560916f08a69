"""The sweep of training and prediction runs (annotator/jobs.py says why
and when it runs): fail the runs whose worker is gone, send the runs whose
message never reached the broker, remove the model files nobody keeps."""

from __future__ import annotations

from datetime import datetime

from annotator.jobs import SweepReport, send_unsent

from . import storage as model_files
from .models import PredictionRun, RunStatus, TrainingRun
from .services.execution import fail_abandoned_run, list_abandoned_runs

KIND = {TrainingRun: "training run", PredictionRun: "prediction run"}


def sweep_runs(report: SweepReport, now: datetime) -> None:
    _fail_abandoned(report, now)
    _send_unsent(report, now)
    _remove_unkept_files(report)


def _fail_abandoned(report: SweepReport, now: datetime) -> None:
    for model, pk, worker in list_abandoned_runs(now):
        if report.dry_run:
            report.add(f"would fail {KIND[model]} {pk}: its worker {worker} is gone")
        elif fail_abandoned_run(model=model, pk=pk, worker=worker, now=now):
            report.add(f"failed {KIND[model]} {pk}: its worker {worker} is gone")


def _send_unsent(report: SweepReport, now: datetime) -> None:
    from .tasks import predict_items, train_model

    for model, task in ((TrainingRun, train_model), (PredictionRun, predict_items)):
        send_unsent(
            report,
            now,
            model=model,
            queued_status=RunStatus.QUEUED,
            kind=KIND[model],
            send=lambda run, task=task: task.apply_async((run.pk,), retry=False),
        )


def _remove_unkept_files(report: SweepReport) -> None:
    """Artefact folders of deleted, failed or cancelled runs, and the
    temporary folders a killed write left (runs/.<id>.tmp-*)."""
    entries = model_files.list_run_entries()
    if not entries:
        return
    statuses = dict(TrainingRun.objects.values_list("pk", "status"))
    for name in entries:
        if name.isdigit():
            status = statuses.get(int(name))
            if status in (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.SUCCEEDED):
                continue
            why = "was deleted" if status is None else f"ended {status}"
        elif name.startswith(".") and ".tmp-" in name and name[1:].split(".tmp-")[0].isdigit():
            if statuses.get(int(name[1:].split(".tmp-")[0])) in (RunStatus.RUNNING, RunStatus.QUEUED):
                continue
            why = "is a leftover of an interrupted write"
        else:
            continue
        if report.dry_run:
            report.add(f"would remove model files {name} (its run {why})")
        else:
            model_files.remove_run_entry(name)
            report.add(f"removed model files {name} (its run {why})")
