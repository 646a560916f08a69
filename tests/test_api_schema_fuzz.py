"""Schemathesis against the whole API: the OpenAPI schema and the app must agree.

Every operation of the schema (every JSON endpoint, all under /api/) is
called with generated valid and invalid inputs, as a project's lead with an
API token, on a project with items, an annotation, runs and an import.
Checks (Schemathesis' defaults): no 5xx, responses match their documented
status codes, content types and bodies, invalid inputs are refused and valid
ones accepted. Bounded: a few examples per operation, so the module runs in
a couple of minutes.

The schema is built by drf-spectacular's generator, the one /api/schema/
serves (test_the_served_schema_is_the_one_fuzzed checks that), at import
time: Schemathesis' lazy pytest loader (from_fixture) does not run under
pytest 9. The rows the path parameters name get fixed ids for the same reason.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from annotator.models import Annotation, ImportJob, Item, Membership, Vote
from annotator.services.bulk import AnnotationRow, write_annotations
from annotator.services.projects import add_member
from inference.models import PredictionRun, RunStatus, TrainingRun
from tests.factories import UserFactory, make_project, make_token

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

# A few per operation keeps the module near a minute; FUZZ_EXAMPLES=50 digs deeper.
EXAMPLES_PER_OPERATION = int(os.environ.get("FUZZ_EXAMPLES", "6"))
# Far above what the sequences reach in a test database.
IDS = {
    "item_id": 900_001,
    "annotation_id": 900_002,
    "run_id": 900_003,
    "prediction_id": 900_004,
    "job_id": 900_005,
    "user_id": 900_006,
}
SLUG = "fuzz"


# Operations whose schema-valid input a domain rule may still refuse with a
# 400 and its reason: the input names this project's tasks and labels, a
# user, an uploaded file's contents, or a run or import that must be in some
# state; the schema cannot know which. For them a 400 answers valid data too;
# every other check stays on, and all other operations must accept valid data.
DOMAIN_CHECKED = [
    "PATCH /api/projects/{slug}/annotations/mine/{annotation_id}/",  # labels of this project's schema
    "POST /api/projects/{slug}/items/{item_id}/submit/",  # idem, and the claim
    "POST /api/projects/{slug}/items/{item_id}/skip/",  # the project's rounds
    "POST /api/projects/{slug}/items/{item_id}/adjudicate/",  # task and label keys
    "PUT /api/projects/{slug}/schema/",  # validate_schema: two labels a task, unique hotkeys...
    "PATCH /api/projects/{slug}/",  # task_gold_strategies names this project's tasks
    "GET /api/projects/{slug}/gold/doubts/",  # ?task= names one of them
    "POST /api/projects/{slug}/members/",  # the user must exist; the last lead stays
    "DELETE /api/projects/{slug}/members/{user_id}/",  # must be a member; the last lead stays
    "POST /api/projects/{slug}/imports/",  # the file's contents
    "POST /api/projects/{slug}/imports/{job_id}/confirm/",  # the import's state
    "POST /api/projects/{slug}/imports/{job_id}/retry/",  # a failed import whose file is kept
    "POST /api/projects/{slug}/imports/{job_id}/discard/",  # a checked or failed import
    "POST /api/projects/{slug}/runs/",  # offered encoders, gold labels, limits
    "POST /api/projects/{slug}/experiments/",  # idem
    "POST /api/projects/{slug}/predictions/",  # a pre-labeller, limits
    "POST /api/projects/{slug}/runs/{run_id}/cancel/",  # the run's state
    "POST /api/projects/{slug}/predictions/{prediction_id}/cancel/",  # idem
    "POST /api/projects/{slug}/runs/{run_id}/prelabeller/",  # a succeeded run with model files
    "POST /api/projects/{slug}/controls/mark/",  # this project's items, with adjudicated gold
    "POST /api/projects/{slug}/controls/unmark/",  # this project's items
] + [
    f"GET /api/projects/{{slug}}/{page}/"  # date_to before date_from: a rule across two parameters
    for page in ("agreement", "annotators", "confusion", "distribution", "keywords", "modalities")
]


def _schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def _fuzzed_schema() -> dict:
    return _schema()


schema = schemathesis.openapi.from_dict(
    _fuzzed_schema(),
    config=schemathesis.Config.from_dict(
        {
            "parameters": {"slug": SLUG, **IDS},
            "operations": [
                {
                    "include-name": name,
                    "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", 400, 401, 403, 404, 409]}},
                }
                for name in DOMAIN_CHECKED
            ],
        }
    ),
)
# In-process calls (Schemathesis' own probes included) reach the app, no network.
schema.app = get_wsgi_application()


@pytest.fixture
def keep_connection():
    """Keep the test's database connection open across requests, as Django's
    test client does (the handler's request signals would close it, and with
    it the test's transaction)."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_world(settings):
    """A lead with a token on a project with items, an annotation, runs and
    an import; returns the token's key."""
    settings.ALLOWED_HOSTS = ["*"]
    lead = UserFactory(username="fuzz-lead")
    project = make_project(lead=lead, name="Fuzz study", slug=SLUG)
    add_member(
        project=project, user=UserFactory(id=IDS["user_id"], username="fuzz-annotator"), role=Membership.Role.ANNOTATOR
    )
    items = [Item.objects.create(id=IDS["item_id"], project=project, external_id="fuzz-0", text="A walk by the river.")]
    items += [
        Item.objects.create(project=project, external_id=f"fuzz-{i}", text=f"Post {i}.", split=split)
        for i, split in enumerate(("train", "dev", "test", "train", "test"), start=1)
    ]
    write_annotations(
        project=project,
        rows=[
            AnnotationRow(
                item_id=items[1].pk,
                annotator_id=lead.pk,
                labels={"desire": "none", "sentiment": "neutral", "emotion": "neutral"},
            )
        ],
    )
    old_id = lead.annotations.get().pk
    Annotation.objects.filter(pk=old_id).update(id=IDS["annotation_id"])
    Vote.objects.filter(annotation_id=old_id).update(annotation_id=IDS["annotation_id"])
    run = TrainingRun.objects.create(
        id=IDS["run_id"], project=project, status=RunStatus.SUCCEEDED, config={"epochs": 1}, name="fuzz run"
    )
    PredictionRun.objects.create(id=IDS["prediction_id"], project=project, training_run=run, status=RunStatus.SUCCEEDED)
    ImportJob.objects.create(
        id=IDS["job_id"], project=project, created_by=lead, original_name="items.csv", status=ImportJob.Status.FAILED
    )
    return make_token(lead)


@schema.parametrize()
@hypothesis_settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_answers_as_its_schema_says(case, fuzz_world, keep_connection):
    case.call_and_validate(headers={"Authorization": f"Token {fuzz_world}"})


def test_the_served_schema_is_the_one_fuzzed(api):
    api.force_authenticate(UserFactory(username="reader"))
    served = api.get("/api/schema/?format=json").json()
    assert served["paths"].keys() == _schema()["paths"].keys()
    assert {path.split("projects/")[0] for path in served["paths"] if "/projects/" in path} == {"/api/"}
    assert {"/api/projects/{slug}/agreement/", "/api/projects/{slug}/runs/"} <= served["paths"].keys()
    assert "/api/tokens/" in served["paths"]  # the fuzzed schema covers the token endpoints too
