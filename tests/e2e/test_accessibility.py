"""Accessibility: axe-core on every page kind, as a lead and as an annotator.

axe-core comes from the npm registry (package.json at the repo root, installed
into node_modules/ by `make test`). It is injected with
`context.add_init_script(path=...)`: Playwright runs init scripts through the
devtools protocol, so the page's Content-Security-Policy (no inline script)
does not block it, while `page.add_script_tag(path=...)` would add an inline
<script> the CSP refuses (test_axe_cannot_be_added_as_an_inline_script_tag).

Every page must have no violation of impact "serious" or "critical", no
console error and no CSP violation.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import Error as PlaywrightError

from annotator.models import ImportJob, Membership
from inference.models import EmbeddingMap, PredictionRun, RunStatus, TrainingRun
from tests.analysis.factories import make_voted_project
from tests.e2e.browser import Watched
from tests.factories import make_member

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")

# Known issues on pages whose structure other branches own: {url name: {rule ids}}.
# Each is reported to the page's owner rather than fixed here.
KNOWN: dict[str, set[str]] = {}


@pytest.fixture
def axe_page(logged_in_page):
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (make test does) to install axe-core from package.json.")

    def make(user, *, dark: bool = False):
        page = logged_in_page(user)
        page.context.add_init_script(path=str(AXE))
        if dark:
            page.emulate_media(color_scheme="dark")
        return page

    return make


def violations(page) -> list[dict]:
    result = page.evaluate(
        """async () => {
          const r = await axe.run(document, {resultTypes: ["violations"]});
          return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + " :: " + n.failureSummary)}));
        }"""
    )
    return [v for v in result if v["impact"] in BLOCKING]


def check(watched: Watched, name: str, url: str, *, status: int = 200, ready: str | None = None) -> list[str]:
    page = watched.page
    watched.goto(url, status=status)
    if ready:
        page.wait_for_selector(ready)
    elif page.locator("[data-figure]").count():
        page.wait_for_selector("[data-figure] .main-svg")
    page.wait_for_load_state("networkidle")
    found = [v for v in violations(page) if v["id"] not in KNOWN.get(name, set())]
    return [f"{name} {url}: {v['id']} ({v['impact']}) {v['help']} {v['nodes']}" for v in found]


@pytest.fixture
def studio(project, lead):
    items, annotators = make_voted_project(project, n_items=16, n_annotators=3, with_unimodal=True)
    run = TrainingRun.objects.create(
        project=project,
        name="text+image late fusion",
        status=RunStatus.SUCCEEDED,
        config={"epochs": 3},
        epoch=2,
        epochs_total=3,
        history=[
            {"epoch": 1, "train_loss": 0.9, "dev_macro_f1": 0.4},
            {"epoch": 2, "train_loss": 0.7, "dev_macro_f1": 0.38},
        ],
        test_metrics={
            "desire": {
                "macro_f1": 0.5,
                "accuracy": 0.6,
                "confusion": [[1 if r == c else 0 for c in range(7)] for r in range(7)],
            }
        },
    )
    EmbeddingMap.objects.create(
        run=run,
        item_ids=[i.pk for i in items],
        spaces={"fused": {"xy": [[0.1 * n, 0.05 * n] for n in range(len(items))], "explained": [0.4, 0.2]}},
    )
    prediction = PredictionRun.objects.create(project=project, training_run=run, status=RunStatus.SUCCEEDED)
    job = ImportJob.objects.create(
        project=project,
        created_by=lead,
        original_name="posts.csv",
        path="/nonexistent",
        status=ImportJob.Status.RUNNING,
        rows_total=10,
        rows_done=3,
    )
    return {
        "project": project,
        "item": items[0],
        "annotators": annotators,
        "run": run,
        "job": job,
        "prediction": prediction,
    }


def lead_pages(s) -> list[tuple[str, str]]:
    slug = s["project"].slug
    named = [
        ("project-list", reverse("annotator:project-list")),
        ("project-create", reverse("annotator:project-create")),
        ("project-detail", reverse("annotator:project-detail", args=[slug])),
        ("project-settings", reverse("annotator:project-settings", args=[slug])),
        ("project-schema", reverse("annotator:project-schema", args=[slug])),
        ("project-members", reverse("annotator:project-members", args=[slug])),
        ("member-remove", reverse("annotator:member-remove", args=[slug, s["annotators"][0].pk])),
        ("member-reset-password", reverse("annotator:member-reset-password", args=[slug, s["annotators"][0].pk])),
        ("import-upload", reverse("annotator:import-upload", args=[slug])),
        ("import-detail", reverse("annotator:import-detail", args=[slug, s["job"].pk])),
        ("export", reverse("annotator:export", args=[slug])),
        ("item-list", reverse("annotator:item-list", args=[slug])),
        ("item-detail", reverse("annotator:item-detail", args=[slug, s["item"].pk])),
        ("adjudication", reverse("annotator:adjudication", args=[slug])),
        ("my-annotations", reverse("annotator:my-annotations", args=[slug])),
        ("api-tokens", reverse("annotator:api-tokens")),
        ("password-change", reverse("password_change")),
    ]
    named += [
        (name, reverse(f"analysis:{name}", args=[slug]))
        for name in ("agreement", "confusion", "distribution", "keywords", "annotators", "modalities")
    ]
    named += [
        ("run-list", reverse("inference:run-list", args=[slug])),
        ("run-create", reverse("inference:run-create", args=[slug])),
        ("experiment-create", reverse("inference:experiment-create", args=[slug])),
        ("run-compare", reverse("inference:run-compare", args=[slug]) + f"?runs={s['run'].pk}"),
        ("run-compare-empty", reverse("inference:run-compare", args=[slug])),
        ("run-detail", reverse("inference:run-detail", args=[slug, s["run"].pk])),
        ("model-vs-annotators", reverse("inference:model-vs-annotators", args=[slug])),
    ]
    return named


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_every_page_a_lead_sees_has_no_serious_accessibility_violation(axe_page, live_server, studio, lead, dark):
    from tests.factories import allow_project_creation

    allow_project_creation(lead)  # the new-project page is theirs too
    watched = Watched(axe_page(lead, dark=dark), live_server.url)
    problems: list[str] = []
    for name, url in lead_pages(studio):
        problems += check(watched, name, url)
        watched.assert_clean(url)
    problems += check(watched, "404", "/projects/no-such-project/", status=404)
    watched.errors = [e for e in watched.errors if "status of 404" not in e]
    watched.assert_clean("404")
    watched.leave()
    assert problems == [], "\n".join(problems)


def test_every_page_an_annotator_sees_has_no_serious_accessibility_violation(axe_page, live_server, studio):
    project = studio["project"]
    ana = make_member(project, role=Membership.Role.ANNOTATOR, username="ana-axe")
    watched = Watched(axe_page(ana), live_server.url)
    slug = project.slug
    problems: list[str] = []
    for name, url in (
        ("project-list", reverse("annotator:project-list")),
        ("project-detail", reverse("annotator:project-detail", args=[slug])),
        ("my-annotations", reverse("annotator:my-annotations", args=[slug])),
        ("api-tokens", reverse("annotator:api-tokens")),
        ("password-change", reverse("password_change")),
    ):
        problems += check(watched, name, url)
        watched.assert_clean(url)
    problems += check(
        watched, "item-annotate", reverse("annotator:item-annotate", args=[slug]), ready="#annotate[data-ready]"
    )
    watched.assert_clean("annotate")
    # A lead-only page refused: the 403 page itself is checked too.
    problems += check(watched, "403", reverse("annotator:project-settings", args=[slug]), status=403)
    watched.errors = [e for e in watched.errors if "status of 403" not in e]
    watched.assert_clean("403")
    watched.leave()
    assert problems == [], "\n".join(problems)


def test_the_sign_in_page_has_no_serious_accessibility_violation(browser, live_server, transactional_db):
    from tests.e2e.conftest import _new_context

    context = _new_context(browser, live_server)
    context.add_init_script(path=str(AXE))
    try:
        watched = Watched(context.new_page(), live_server.url)
        problems = check(watched, "login", reverse("login"))
        watched.assert_clean("login")
        assert problems == [], "\n".join(problems)
        # The check is not vacuous: an unlabelled field is caught.
        watched.page.evaluate("() => document.querySelector('main').appendChild(document.createElement('input'))")
        assert "label" in [v["id"] for v in violations(watched.page)]
    finally:
        context.close()


def test_axe_cannot_be_added_as_an_inline_script_tag_under_the_policy(page, live_server):
    """Why the tests use an init script: add_script_tag(path=...) inlines the
    file, and the CSP (script-src 'self') refuses inline script."""
    page.goto(reverse("login"))
    with pytest.raises(PlaywrightError):  # the page refuses the inline script
        page.add_script_tag(path=str(AXE))
    assert page.evaluate("() => typeof window.axe") == "undefined"
