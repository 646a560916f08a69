"""manage.py train / predict / evaluate: JSON on the last line; bad input is a
CommandError with a clear message (non-zero exit)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from inference.models import PredictionRun, RunStatus, Suggestion, TrainingRun
from tests.inference.factories import unlabelled_ids

pytestmark = pytest.mark.django_db
TINY = ["--image-encoder", "tiny-cnn", "--epochs", "2", "--seed", "3", "--hidden-size", "32", "--batch-size", "16"]


def run(*args) -> list[str]:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip().splitlines()


def test_train_prints_its_test_metrics_as_json_on_the_last_line(project, demo_items, tiny_bert):
    lines = run(
        "train",
        project.slug,
        "--text-encoder",
        tiny_bert,
        "--fusion",
        "add",
        "--chain",
        "desire>sentiment>emotion",
        *TINY,
    )
    metrics = json.loads(lines[-1])
    assert set(metrics) == {"desire", "sentiment", "emotion"}
    assert {"precision", "recall", "macro_f1", "weighted_f1", "accuracy", "confusion"} == set(metrics["desire"])
    assert any(line.startswith("epoch 2/2") for line in lines)
    run_ = TrainingRun.objects.get()
    assert (
        run_.status == RunStatus.SUCCEEDED
        and run_.config["fusion"] == "add"
        and run_.config["chain"] == ["desire", "sentiment", "emotion"]
    )
    assert run_.test_metrics["desire"]["macro_f1"] == metrics["desire"]["macro_f1"]

    evaluated = json.loads(run("evaluate", str(run_.pk))[-1])
    assert evaluated["run"] == run_.pk and evaluated["test_metrics"] == metrics


def test_predict_writes_suggestions_with_the_prelabeller_or_a_chosen_run(project, demo_items, tiny_bert):
    run("train", project.slug, "--text-encoder", tiny_bert, *TINY)
    trained = TrainingRun.objects.get()
    with pytest.raises(CommandError, match="no pre-labeller"):
        run("predict", project.slug)
    summary = json.loads(run("predict", project.slug, "--run", str(trained.pk))[-1])
    expected = len(unlabelled_ids(demo_items))
    assert summary["items"] == expected and summary["suggestions"] == expected * 3
    prediction = PredictionRun.objects.get()
    assert (
        prediction.status == RunStatus.SUCCEEDED and Suggestion.objects.filter(run=prediction).count() == expected * 3
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "no-such-project"], "There is no project 'no-such-project'"),
        (["train", "{slug}", "--fusion", "sum"], "fusion must be one of"),
        (["train", "{slug}", "--chain", "desire>emotion"], "must order each of the project's tasks exactly once"),
        (["train", "{slug}", "--epochs", "0"], "epochs must be between 1 and 200"),
        (["train", "{slug}", "--text-encoder", "/no/such/model"], "does not exist on the server"),
        (["predict", "{slug}", "--run", "999999"], "has no training run 999999"),
        (["evaluate", "999999"], "There is no training run 999999"),
    ],
)
def test_bad_input_is_a_command_error_with_a_clear_message(project, demo_items, args, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run(*[a.format(slug=project.slug) for a in args])
    assert not TrainingRun.objects.exists()


def test_train_fails_without_gold_labels(project):
    with pytest.raises(CommandError, match="No item of the train split has a gold label"):
        run("train", project.slug)


def test_evaluate_refuses_a_run_without_metrics(project):
    failed = TrainingRun.objects.create(project=project, status=RunStatus.FAILED, error="out of memory")
    with pytest.raises(CommandError, match="failed: out of memory"):
        run("evaluate", str(failed.pk))


def test_bad_input_exits_non_zero_with_the_message_on_stderr(tmp_path):
    """Through manage.py itself: the exit status and stderr a script sees."""
    from django.db import connection

    root = Path(__file__).resolve().parents[2]
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "TEST_MODEL_DIR": str(tmp_path / "models"),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "train", "no-such-project", "--epochs", "3"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert "There is no project 'no-such-project'" in result.stderr
