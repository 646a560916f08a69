"""Hostile names in a real browser, under the Content-Security-Policy.

Item ids, texts, label and user names come from other people's files. Here
they carry markup that would run script if any page put them into HTML
(innerHTML, Plotly's hover text, tick labels or legend): every page shows
them as written, no script runs, the CSP reports no violation and the
console stays clean, and the API docs render from our own files.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from annotator.models import ImportJob, Item, Label, Membership
from annotator.selectors import get_project_schema
from annotator.services.projects import save_schema
from inference.models import EmbeddingMap, PredictionRun, RunStatus, TrainingRun
from tests.analysis.factories import make_voted_project
from tests.e2e.browser import Watched
from tests.factories import make_member

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Each payload sets window.__xss (or opens a dialog) if it ever runs.
HOSTILE_ITEM_ID = "<img src=x onerror=window.__xss='item-id'>"
HOSTILE_TEXT = "<script>window.__xss='text'</script> a family walk"
HOSTILE_LABEL = "<b onmouseover=window.__xss='label'>Family</b>"
LINK_LABEL = "<a href=javascript:window.__xss='link'>Romance</a>"
HOSTILE_USER = "<img src=x onerror=alert('user')>"
HOSTILE_RUN = "<img src=x onerror=window.__xss='run'>"


@pytest.fixture
def hostile_project(project, lead):
    """A voted project whose item, labels, annotator and run carry markup."""
    items, annotators = make_voted_project(project, n_items=16, n_annotators=3)
    hostile = items[0]
    Item.objects.filter(pk=hostile.pk).update(external_id=HOSTILE_ITEM_ID, text=HOSTILE_TEXT)
    # Renamed through the service: a schema change replaces the token the schema cache is keyed by.
    tasks = get_project_schema(project).as_dicts()
    hostile_names = {"family": HOSTILE_LABEL, "romance": LINK_LABEL}
    for label in next(task for task in tasks if task["key"] == "desire")["labels"]:
        label["name"] = hostile_names.get(label["key"], label["name"])
    save_schema(project=project, tasks=tasks)
    get_user_model().objects.filter(pk=annotators[0].pk).update(username=HOSTILE_USER)
    item_ids = [i.pk for i in items]
    # The hostile item alone at the top right, so a test can point the mouse at it.
    xy = [[1.0, 1.0]] + [[-1.0 + 0.1 * (n % 5), -1.0 + 0.1 * (n // 5)] for n in range(1, len(items))]
    desire = [lbl.name for lbl in Label.objects.filter(project=project, task__key="desire").order_by("position")]
    run = TrainingRun.objects.create(
        project=project,
        name=HOSTILE_RUN,
        status=RunStatus.SUCCEEDED,
        config={"epochs": 1},
        epoch=1,
        epochs_total=1,
        history=[{"epoch": 1, "train_loss": 0.9, "dev_macro_f1": 0.4}],
        test_metrics={
            "desire": {
                "macro_f1": 0.5,
                "accuracy": 0.6,
                "confusion": [[1 if r == c else 0 for c in range(len(desire))] for r in range(len(desire))],
            }
        },
    )
    EmbeddingMap.objects.create(run=run, item_ids=item_ids, spaces={"fused": {"xy": xy, "explained": [0.4, 0.2]}})
    PredictionRun.objects.create(project=project, training_run=run, status=RunStatus.SUCCEEDED)
    job = ImportJob.objects.create(
        project=project,
        created_by=lead,
        original_name="<img src=x onerror=window.__xss='file'>.csv",
        path="/nonexistent",
        status=ImportJob.Status.RUNNING,
        rows_total=10,
        rows_done=3,
    )
    return {"project": project, "item": hostile, "annotators": annotators, "run": run, "job": job}


def test_hostile_item_id_on_the_embedding_map_is_shown_as_text_and_runs_nothing(
    logged_in_page, live_server, hostile_project, lead
):
    project, run = hostile_project["project"], hostile_project["run"]
    watched = Watched(logged_in_page(lead), live_server.url)
    page = watched.page
    watched.goto(reverse("inference:run-detail", args=[project.slug, run.pk]) + "?colour=gold&task=desire")
    page.wait_for_selector("#map .js-plotly-plot .main-svg")
    # The legend names the hostile labels as written.
    legend = page.locator("#map .legend").text_content()
    assert HOSTILE_LABEL in legend and LINK_LABEL in legend, legend

    # Point the mouse at the hostile item (alone at data (1, 1)).
    page.locator("#map .js-plotly-plot").scroll_into_view_if_needed()
    x, y = page.evaluate(
        """() => {
          const gd = document.querySelector('#map .js-plotly-plot');
          const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
          const box = gd.querySelector('.nsewdrag').getBoundingClientRect();
          return [box.left + xa.l2p(1.0), box.top + ya.l2p(1.0)];
        }"""
    )
    page.mouse.move(x - 30, y + 30)
    page.mouse.move(x, y, steps=5)
    page.wait_for_selector("#map-preview:not([hidden])")
    caption = page.locator("#map-caption")
    assert caption.locator("strong").inner_text() == HOSTILE_ITEM_ID
    assert HOSTILE_TEXT in caption.inner_text()
    assert caption.locator("img, script, b, a").count() == 0
    # Plotly's own hover label shows the same text, not markup.
    page.wait_for_selector(".hoverlayer .hovertext")
    hover = page.locator(".hoverlayer .hovertext").first.text_content()
    assert HOSTILE_ITEM_ID in hover and "<script>window.__xss='text'</script>" in hover, hover
    page.wait_for_timeout(300)  # an injected onerror would fire by now
    watched.assert_clean("embedding map")


def test_dashboards_and_model_pages_show_hostile_names_as_text(logged_in_page, live_server, hostile_project, lead):
    project, run = hostile_project["project"], hostile_project["run"]
    watched = Watched(logged_in_page(lead), live_server.url)
    page = watched.page
    dashboards = ["agreement", "confusion", "distribution", "keywords", "annotators", "modalities"]
    drawn = ""  # the text Plotly drew: tick labels, legends, annotations
    hovered = []
    for name in dashboards:
        watched.goto(reverse(f"analysis:{name}", args=[project.slug]))
        if page.locator("[data-figure]").count():
            page.wait_for_selector("[data-figure] .main-svg")
            assert page.locator(".js-plotly-plot").count() == page.locator("[data-figure]").count(), name
        drawn += " ".join(page.locator(".js-plotly-plot .main-svg").all_text_contents())
        if name == "annotators":
            # Hover each annotator's bar: the hover label names them as written.
            bars = page.locator(".js-plotly-plot").first.locator(".barlayer .point path")
            for i in range(bars.count()):
                bars.nth(i).hover(force=True)
                hover = page.locator(".hoverlayer .hovertext")
                hover.first.wait_for()
                hovered.append(hover.first.text_content())
        watched.assert_clean(name)
    # Tick labels, legends and hover labels of the dashboards show the names as written.
    assert HOSTILE_LABEL in drawn and LINK_LABEL in drawn
    assert HOSTILE_USER in drawn
    assert any(HOSTILE_USER in h for h in hovered), hovered

    for url in (
        reverse("inference:run-compare", args=[project.slug]) + f"?runs={run.pk}",
        reverse("inference:run-detail", args=[project.slug, run.pk]),
    ):
        watched.goto(url)
        page.wait_for_selector("[data-figure] .main-svg")
        watched.assert_clean(url)
    # The confusion matrix of the run names its hostile labels on its axes, as text.
    ticks = " ".join(page.locator(".inf-grid .js-plotly-plot .xtick").all_text_contents())
    assert HOSTILE_LABEL in ticks and LINK_LABEL in ticks, ticks
    # The comparison chart's legend names the run as written.
    watched.goto(reverse("inference:run-compare", args=[project.slug]) + f"?runs={run.pk}")
    page.wait_for_selector("[data-figure] .main-svg")
    page.locator(".js-plotly-plot .barlayer .point path").first.hover(force=True)
    page.locator(".hoverlayer .hovertext").first.wait_for()
    assert HOSTILE_RUN in page.locator(".hoverlayer .hovertext").first.text_content()
    watched.assert_clean("run compare")


def lead_pages(h) -> list[str]:
    slug, run, item, job = h["project"].slug, h["run"], h["item"], h["job"]
    return [
        reverse("annotator:project-list"),
        reverse("annotator:project-create"),
        reverse("annotator:project-detail", args=[slug]),
        reverse("annotator:project-settings", args=[slug]),
        reverse("annotator:project-schema", args=[slug]),
        reverse("annotator:project-members", args=[slug]),
        reverse("annotator:item-list", args=[slug]),
        reverse("annotator:item-detail", args=[slug, item.pk]),
        reverse("annotator:import-upload", args=[slug]),
        reverse("annotator:import-detail", args=[slug, job.pk]),
        reverse("annotator:export", args=[slug]),
        reverse("annotator:adjudication", args=[slug]),
        reverse("annotator:my-annotations", args=[slug]),
        reverse("analysis:agreement", args=[slug]),
        reverse("inference:run-list", args=[slug]),
        reverse("inference:run-create", args=[slug]),
        reverse("inference:experiment-create", args=[slug]),
        reverse("inference:run-compare", args=[slug]),
        reverse("inference:run-detail", args=[slug, run.pk]),
        reverse("inference:model-vs-annotators", args=[slug]),
        reverse("password_change"),
        reverse("api-docs"),
    ]


def test_every_page_kind_as_lead_runs_under_the_policy(logged_in_page, live_server, hostile_project, lead):
    from tests.factories import allow_project_creation

    allow_project_creation(lead)  # the new-project page is theirs too
    watched = Watched(logged_in_page(lead), live_server.url)
    page = watched.page
    for url in lead_pages(hostile_project):
        watched.goto(url)
        if url == reverse("api-docs"):
            page.wait_for_selector(".opblock")
        elif page.locator("[data-figure]").count():
            page.wait_for_selector("[data-figure] .main-svg")
        if "/import/" in url and url.rstrip("/").split("/")[-1].isdigit():
            # The progress page polls its partial (htmx) under connect-src 'self'.
            page.wait_for_event(
                "response", predicate=lambda r: r.request.headers.get("hx-request") == "true" and r.status == 200
            )
        page.wait_for_load_state("networkidle")
        watched.assert_clean(url)
    # The page showed the hostile import file name literally.
    watched.goto(reverse("annotator:import-detail", args=[hostile_project["project"].slug, hostile_project["job"].pk]))
    assert "<img src=x onerror=window.__xss='file'>.csv" in page.locator("h1").inner_text()
    watched.assert_clean("import detail")
    watched.leave()


def test_annotator_pages_run_under_the_policy_and_label_by_keyboard(logged_in_page, live_server, lead):
    from tests.annotator.factories import make_items
    from tests.factories import make_project

    project = make_project(lead=lead, name="Under CSP")
    first, _ = make_items(project, 2)
    Item.objects.filter(pk=first.pk).update(external_id=HOSTILE_ITEM_ID, text=HOSTILE_TEXT)
    ana = make_member(project, role=Membership.Role.ANNOTATOR, username="ana-csp")
    watched = Watched(logged_in_page(ana), live_server.url)
    page = watched.page
    for url in (
        reverse("annotator:project-list"),
        reverse("annotator:project-detail", args=[project.slug]),
        reverse("annotator:my-annotations", args=[project.slug]),
        reverse("password_change"),
    ):
        watched.goto(url)
        watched.assert_clean(url)
    watched.goto(reverse("api-docs"))
    page.wait_for_selector(".opblock")
    watched.assert_clean("api docs")

    watched.goto(reverse("annotator:item-annotate", args=[project.slug]))
    page.wait_for_selector("#annotate[data-ready]")
    shown = page.locator("#item-id").inner_text()
    assert shown.startswith("<img src=x onerror=")  # the id, as text
    for key in ("4", "q", "a", "Enter"):
        page.keyboard.press(key)
    page.wait_for_function("(shown) => document.getElementById('item-id').textContent !== shown", arg=shown)
    page.wait_for_load_state("networkidle")
    watched.assert_clean("annotate")
    from annotator.models import Annotation

    assert Annotation.objects.filter(annotator=ana).count() == 1


def test_api_docs_render_offline_from_our_own_files(logged_in_page, live_server, lead):
    page = logged_in_page(lead)
    left: list[str] = []
    served: list[str] = []

    def only_local(route):
        url = route.request.url
        if url.startswith((live_server.url, "data:", "blob:")):
            served.append(url)
            route.continue_()
        else:
            left.append(url)
            route.abort()

    page.route("**/*", only_local)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(reverse("api-docs"))
    page.wait_for_selector(".opblock")
    assert page.locator(".opblock").count() >= 10
    assert page.locator(".opblock").first.is_visible()
    assert page.locator(".info .title").inner_text().startswith("Affect Studio API")
    assert left == [], left
    assert errors == [], errors
    assert any(
        re.search(r"/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle\.js", u) for u in served
    ), served


def test_signing_in_and_the_admin_run_under_the_policy(page, live_server, db):
    from tests.factories import PASSWORD, UserFactory

    admin = UserFactory(username="root-admin", is_staff=True, is_superuser=True)
    watched = Watched(page, live_server.url)
    watched.goto(reverse("login"))
    page.fill("input[name=username]", admin.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**" + reverse("annotator:project-list"))
    watched.assert_clean("login")
    for url in ("/admin/", "/admin/annotator/item/", "/admin/auth/user/"):
        watched.goto(url)
        page.wait_for_load_state("networkidle")
        watched.assert_clean(url)
    watched.goto("/no/such/page/", status=404)
    # Chromium logs the document's own 404 as a console error; nothing else may appear.
    assert [e for e in watched.errors if "status of 404" not in e] == [], watched.errors
    watched.errors.clear()
    watched.assert_clean("404")
