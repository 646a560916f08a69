"""Model API for leads: start, poll, cancel, choose the pre-labeller, predict,
compare, model versus annotators. Annotators get a 403, outsiders a 404,
bad options a 400 carrying the service's message."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotator.models import Item, PrelabelPolicy
from inference.models import PredictionRun, RunStatus, Suggestion, TrainingRun
from inference.services.prelabelling import mark_prelabeller
from inference.services.runs import start_training_run
from tests.inference.factories import add_votes, tiny_options

pytestmark = pytest.mark.django_db


def endpoints(slug: str, run_id: int, prediction_id: int) -> list[tuple[str, str, dict]]:
    return [
        ("get", reverse("api:run-list", args=[slug]), {}),
        ("post", reverse("api:run-list", args=[slug]), {"epochs": 1}),
        ("get", reverse("api:run-detail", args=[slug, run_id]), {}),
        ("post", reverse("api:run-cancel", args=[slug, run_id]), {}),
        ("post", reverse("api:run-prelabeller", args=[slug, run_id]), {}),
        ("get", reverse("api:run-embedding", args=[slug, run_id]), {}),
        ("post", reverse("api:experiment-create", args=[slug]), {}),
        ("get", reverse("api:compare", args=[slug]) + f"?runs={run_id}", {}),
        ("get", reverse("api:prediction-list", args=[slug]), {}),
        ("post", reverse("api:prediction-list", args=[slug]), {}),
        ("get", reverse("api:prediction-detail", args=[slug, prediction_id]), {}),
        ("post", reverse("api:prediction-cancel", args=[slug, prediction_id]), {}),
        ("get", reverse("api:model-vs-annotators", args=[slug]), {}),
        ("get", reverse("api:policy", args=[slug]), {}),
        ("put", reverse("api:policy", args=[slug]), {"retrain_every_n_gold": 5, "suggest_new_items": True}),
    ]


@pytest.fixture
def runs(project):
    run = TrainingRun.objects.create(project=project, status=RunStatus.SUCCEEDED, config={"epochs": 1})
    return run, PredictionRun.objects.create(project=project, training_run=run)


@pytest.mark.parametrize("who, code", [("annotator", 403), ("outsider", 404)])
def test_every_endpoint_refuses_non_leads(api, project, runs, request, who, code):
    api.force_authenticate(request.getfixturevalue(who))
    run, prediction = runs
    for method, url, body in endpoints(project.slug, run.pk, prediction.pk):
        response = getattr(api, method)(url, body, format="json")
        assert response.status_code == code, (method, url, response.status_code)
    assert TrainingRun.objects.count() == 1 and not PrelabelPolicy.objects.exists()
    run.refresh_from_db()
    assert not run.is_prelabeller and run.status == RunStatus.SUCCEEDED


def test_anonymous_requests_are_refused(api, project, runs):
    run, prediction = runs
    for method, url, body in endpoints(project.slug, run.pk, prediction.pk):
        assert getattr(api, method)(url, body, format="json").status_code in (401, 403)


def test_lead_starts_polls_and_compares_a_run(
    api, lead, project, demo_items, offered_tiny_bert, django_capture_on_commit_callbacks
):
    api.force_authenticate(lead)
    body = {
        **tiny_options(offered_tiny_bert),
        "chain": ["sentiment", "desire", "emotion"],
        "losses": {"class_weights": True},
        "name": "api run",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(reverse("api:run-list", args=[project.slug]), body, format="json")
    assert response.status_code == 201, response.data
    run_id = response.data["id"]
    assert response.data["status"] == "queued" and response.data["config"]["chain"] == [
        "sentiment",
        "desire",
        "emotion",
    ]
    detail = api.get(reverse("api:run-detail", args=[project.slug, run_id])).data
    assert detail["status"] == "succeeded", detail["error"]
    assert set(detail["test_metrics"]) == {"desire", "sentiment", "emotion"}
    assert len(detail["history"]) == detail["epochs_total"] == 3 and detail["config"]["losses"]["class_weights"] is True
    listed = api.get(reverse("api:run-list", args=[project.slug])).data
    assert [r["id"] for r in listed] == [run_id] and listed[0]["name"] == "api run"
    compared = api.get(reverse("api:compare", args=[project.slug]), {"runs": str(run_id)}).data
    assert compared["tasks"] == ["desire", "sentiment", "emotion"]
    assert compared["rows"][0]["tasks"]["desire"]["macro_f1"] == detail["test_metrics"]["desire"]["macro_f1"]
    points = api.get(
        reverse("api:run-embedding", args=[project.slug, run_id]), {"colour": "gold", "task": "sentiment"}
    ).data
    with_both = Item.objects.filter(project=project, image__isnull=False).exclude(text="").count()
    assert len(points["points"]) == with_both and points["categorical"]  # the fused space: items with both modalities
    assert points["points"][0]["url"].startswith(f"/projects/{project.slug}/items/")


@pytest.mark.parametrize(
    "body, field, words",
    [
        ({"fusion": "sum"}, "fusion", "fusion must be one of"),
        ({"chain": ["desire", "emotion"]}, "chain", "exactly once"),
        ({"chain": "sentiment > nonsense > desire"}, "chain", "exactly once"),
        ({"epochs": 0}, "epochs", "between 1 and 200"),
        ({"epochs": 1000}, "epochs", "between 1 and 200"),
        ({"text_encoder": "/nowhere/model"}, "text_encoder", "Choose a text encoder this server offers"),
        ({"losses": {"magic_weight": 1}}, "losses.magic_weight", "Unknown training options"),
    ],
)
def test_bad_options_are_a_400_with_a_message(api, lead, project, demo_items, options, body, field, words):
    api.force_authenticate(lead)
    response = api.post(reverse("api:run-list", args=[project.slug]), {**options, **body}, format="json")
    assert response.status_code == 400
    assert words in response.data["detail"] and response.data.get("field") == field
    assert not TrainingRun.objects.exists()


def test_wrong_types_are_a_400_from_the_serializer(api, lead, project, demo_items):
    api.force_authenticate(lead)
    response = api.post(reverse("api:run-list", args=[project.slug]), {"epochs": "lots"}, format="json")
    assert response.status_code == 400 and "epochs" in response.data


def test_no_gold_in_the_train_split_is_a_400(api, lead, project, options):
    api.force_authenticate(lead)
    response = api.post(reverse("api:run-list", args=[project.slug]), options, format="json")
    assert response.status_code == 400 and "No item of the train split has a gold label" in response.data["detail"]


def test_experiment_endpoint_queues_the_grid(
    api, lead, project, demo_items, options, django_capture_on_commit_callbacks
):
    api.force_authenticate(lead)
    with django_capture_on_commit_callbacks(execute=False):
        response = api.post(
            reverse("api:experiment-create", args=[project.slug]),
            {**options, "grids": ["fusions"], "fusions": ["concat", "add", "multiply", "max"]},
            format="json",
        )
    assert response.status_code == 201
    assert [r["name"] for r in response.data["runs"]] == [
        "fusion: concat",
        "fusion: add",
        "fusion: multiply",
        "fusion: max",
    ]
    compared = api.get(reverse("api:compare", args=[project.slug]), {"experiment": response.data["experiment"]}).data
    assert len(compared["rows"]) == 4
    bad = api.post(
        reverse("api:experiment-create", args=[project.slug]),
        {**options, "grids": ["fusions"], "fusions": ["sum"]},
        format="json",
    )
    assert bad.status_code == 400 and bad.data["field"] == "fusions"


def test_cancel_prelabeller_and_prediction_through_the_api(
    api, lead, project, demo_items, trained_run, options, django_capture_on_commit_callbacks
):
    api.force_authenticate(lead)
    with django_capture_on_commit_callbacks(execute=False):
        queued = start_training_run(project=project, options=options)
    cancelled = api.post(reverse("api:run-cancel", args=[project.slug, queued.pk]))
    assert cancelled.status_code == 200 and cancelled.data["status"] == "cancelled"
    assert api.post(reverse("api:run-cancel", args=[project.slug, queued.pk])).status_code == 400
    assert api.post(reverse("api:run-prelabeller", args=[project.slug, queued.pk])).status_code == 400

    with django_capture_on_commit_callbacks(execute=True):
        marked = api.post(reverse("api:run-prelabeller", args=[project.slug, trained_run.pk]))
    assert marked.status_code == 200 and marked.data["is_prelabeller"]
    predictions = api.get(reverse("api:prediction-list", args=[project.slug])).data
    assert predictions[0]["status"] == "succeeded" and predictions[0]["reason"] == "new pre-labeller"
    assert Suggestion.objects.filter(run_id=predictions[0]["id"]).exists()

    with django_capture_on_commit_callbacks(execute=False):
        again = api.post(reverse("api:prediction-list", args=[project.slug]), {}, format="json")
    assert (
        again.status_code == 201 and again.data["status"] == "queued" and again.data["training_run"] == trained_run.pk
    )
    stopped = api.post(reverse("api:prediction-cancel", args=[project.slug, again.data["id"]]))
    assert stopped.data["status"] == "cancelled"
    detail = api.get(reverse("api:prediction-detail", args=[project.slug, again.data["id"]])).data
    assert detail["status"] == "cancelled"


def test_predicting_without_a_prelabeller_is_a_400(api, lead, project):
    api.force_authenticate(lead)
    response = api.post(reverse("api:prediction-list", args=[project.slug]), {}, format="json")
    assert response.status_code == 400 and "no pre-labeller" in response.data["detail"]


def test_model_vs_annotators_endpoint(api, lead, project, demo_items, trained_run, django_capture_on_commit_callbacks):
    api.force_authenticate(lead)
    add_votes(project, [item for item in demo_items if item.split != Item.Split.TRAIN])
    with django_capture_on_commit_callbacks(execute=True):
        mark_prelabeller(run=trained_run)
    data = api.get(reverse("api:model-vs-annotators", args=[project.slug])).data
    assert data["run"] == trained_run.pk and data["message"] is None
    assert [t["key"] for t in data["tasks"]] == ["desire", "sentiment", "emotion"]
    assert all(len(t["annotators"]) == 3 and t["model"]["n"] > 0 for t in data["tasks"])
    assert api.get(reverse("api:model-vs-annotators", args=[project.slug]), {"run": "x"}).status_code == 400


def test_policy_endpoint(api, lead, project):
    api.force_authenticate(lead)
    assert api.get(reverse("api:policy", args=[project.slug])).data["retrain_every_n_gold"] == 0
    response = api.put(
        reverse("api:policy", args=[project.slug]),
        {"retrain_every_n_gold": 50, "suggest_new_items": False},
        format="json",
    )
    assert response.status_code == 200 and response.data["retrain_every_n_gold"] == 50
    assert (
        api.put(
            reverse("api:policy", args=[project.slug]),
            {"retrain_every_n_gold": -1, "suggest_new_items": True},
            format="json",
        ).status_code
        == 400
    )


def test_the_api_schema_documents_the_model_endpoints(api, lead):
    api.force_authenticate(lead)
    response = api.get(reverse("api-schema"), {"format": "json"})
    assert response.status_code == 200
    text = response.content.decode()
    for fragment in (
        "/api/projects/{slug}/runs/",
        "model-vs-annotators",
        "/experiments/",
        "/predictions/",
        "Start a training run",
    ):
        assert fragment in text
