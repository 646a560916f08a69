"""The pages a project lead uses every day, in Chromium at 1366×768:
adjudication from the keyboard (no label chosen for the lead), the import
page of a file that cannot be read, and the item browser's search. No
console error and no CSP violation on any of them; the screenshots in
docs/screenshots are taken here (AFFECT_SCREENSHOTS_DIR=docs/screenshots)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from django.urls import reverse
from PIL import Image, ImageDraw, ImageOps

from annotator.models import Gold, Item, Membership
from annotator.services import image_assets, queue
from tests.annotator.factories import MSED_LABELS, submit
from tests.e2e.browser import Watched
from tests.factories import UserFactory, make_member, make_project

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def screenshot(page, name: str) -> None:
    """Into AFFECT_SCREENSHOTS_DIR (e.g. docs/screenshots) when set; a test run
    never rewrites tracked files otherwise."""
    target = os.environ.get("AFFECT_SCREENSHOTS_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(target) / name))


VIEWPORT = {"width": 1366, "height": 768}


def picture(dark: str, light: str, shape: str) -> bytes:
    """A small JPEG: a gradient with a shape, so the pages show real images."""
    image = ImageOps.colorize(Image.linear_gradient("L").rotate(45).resize((320, 240)), dark, light)
    draw = ImageDraw.Draw(image)
    if shape == "sun":
        draw.ellipse((200, 40, 270, 110), fill="#f6d365")
    elif shape == "hills":
        draw.polygon([(0, 240), (110, 120), (220, 240)], fill="#2e7d4f")
        draw.polygon([(120, 240), (230, 140), (320, 240)], fill="#3f8f5f")
    else:
        draw.rectangle((40, 120, 120, 240), fill="#444")
        draw.rectangle((150, 80, 230, 240), fill="#555")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=88)
    return buffer.getvalue()


@pytest.fixture
def lead_user(db):
    return UserFactory(username="demo-lead")


@pytest.fixture
def disputed(lead_user):
    """Four annotators; the first item is a 2-2 desire tie between
    Tranquility and Curiosity, the second a 2-2 sentiment tie, the third
    agreed by all."""
    project = make_project(lead=lead_user, name="Family photos", votes_per_item=4)
    specs = [
        ("post-0001", "Evening by the lake, the kids finally asleep in the tent.", ("#1d3557", "#e9c46a", "sun")),
        (
            "post-0002",
            "Moved to a new city this week. Still no idea where anything is.",
            ("#264653", "#a8dadc", "city"),
        ),
        ("post-0003", "Sunday walk in the hills with my parents.", ("#2a6f97", "#caf0f8", "hills")),
    ]
    items = [
        Item.objects.create(
            project=project,
            external_id=eid,
            text=text,
            image=image_assets.save_image_asset(data=picture(*art), name=f"{eid}.jpg"),
        )
        for eid, text, art in specs
    ]
    annotators = [
        make_member(project, role=Membership.Role.ANNOTATOR, username=name) for name in ("ana", "ben", "chloe", "dev")
    ]
    choices = {
        items[0].pk: [
            {"desire": "tranquility"},
            {"desire": "curiosity"},
            {"desire": "tranquility"},
            {"desire": "curiosity"},
        ],
        items[1].pk: [
            {"sentiment": "positive"},
            {"sentiment": "negative"},
            {"sentiment": "negative"},
            {"sentiment": "positive"},
        ],
        items[2].pk: [{}, {}, {}, {}],
    }
    orders = [
        ["desire", "sentiment", "emotion"],
        ["sentiment", "desire", "emotion"],
        ["emotion", "sentiment", "desire"],
        ["desire", "emotion", "sentiment"],
    ]
    for n, annotator in enumerate(annotators):
        for _ in items:
            claim = queue.claim_next_item(annotator=annotator, project=project)
            submit(annotator, claim, {**MSED_LABELS, **choices[claim.item_id][n]}, inference_order=orders[n])
    return project, items


def watched_lead(logged_in_page, live_server, user) -> Watched:
    page = logged_in_page(user)
    page.set_viewport_size(VIEWPORT)
    return Watched(page, live_server.url)


def test_adjudication_starts_with_no_choice_and_works_from_the_keyboard(
    logged_in_page, live_server, lead_user, disputed
):
    project, items = disputed
    watched = watched_lead(logged_in_page, live_server, lead_user)
    page = watched.page
    watched.goto(reverse("annotator:adjudication", args=[project.slug]))
    assert page.locator("[data-adj-item]").count() == 2
    assert page.locator("input[type=radio]:checked").count() == 0
    first = page.locator(f"#item-{items[0].pk}")
    assert (
        "Tranquility (2)" in first.inner_text()
        and "Curiosity (2)" in first.inner_text()
        and "Vengeance (0)" in first.inner_text()
    )
    assert "ben: sentiment → desire → emotion" in first.inner_text()
    page.wait_for_function("() => document.querySelector('.adj-image').complete")
    assert page.evaluate("() => document.querySelector('.adj-image').naturalWidth") == 320
    screenshot(page, "adjudication.png")

    # Enter with nothing chosen saves nothing and says why.
    page.keyboard.press("Enter")
    assert "Choose a label first" in first.locator(".gold-note").inner_text()
    assert Gold.objects.get(item=items[0], task__key="desire").source == Gold.Source.MAJORITY

    # 5 is Tranquility's hotkey; Enter sets the gold and opens the next disputed item.
    page.keyboard.press("5")
    assert first.locator("input[value=tranquility]").is_checked()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith(f"#item-{items[1].pk}")
    gold = Gold.objects.get(item=items[0], task__key="desire")
    assert (gold.label.key, gold.source, gold.adjudicated_by) == ("tranquility", Gold.Source.ADJUDICATED, lead_user)
    second = page.locator(f"#item-{items[1].pk}")
    assert "active" in (second.get_attribute("class") or "")

    # e is Negative: the second item's sentiment tie.
    page.keyboard.press("e")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert Gold.objects.get(item=items[1], task__key="sentiment").label.key == "negative"
    assert "No disputed items are left." in page.locator(".messages").inner_text()

    # The item's page says who settled the gold and when, in words.
    watched.goto(reverse("annotator:item-detail", args=[project.slug, items[0].pk]))
    assert "Adjudicated by demo-lead on " in page.locator("#gold").inner_text()
    assert page.locator("#gold input[type=radio]:checked").count() == 0
    watched.assert_clean("adjudication")
    watched.leave()


def test_the_import_page_of_an_unreadable_file_shows_a_file_level_error(
    logged_in_page, live_server, lead_user, tmp_path
):
    project = make_project(lead=lead_user, name="Family photos")
    bad = tmp_path / "posts-export.csv"
    bad.write_bytes(b"id,text,desire\npost-1,Evening by the lake,family\npost-2,Moved to a new\rcity,curiosity\n")
    watched = watched_lead(logged_in_page, live_server, lead_user)
    page = watched.page
    watched.goto(reverse("annotator:import-upload", args=[project.slug]))
    page.set_input_files("input[type=file]", str(bad))
    with page.expect_navigation():
        page.get_by_role("button", name="Upload and validate").click()
    page.wait_for_selector("#import-file-error")
    box = page.locator("#import-file-error").inner_text()
    assert "This file cannot be imported" in box and "line break (a carriage return)" in box
    main = page.locator("main").inner_text()
    assert "None" not in main and "0 / 0" not in main and "universal-newline" not in main
    assert (
        page.get_by_role("button", name="Import the").count() == 0 and page.locator("th", has_text="Row").count() == 0
    )
    assert page.get_by_role("link", name="MSED layout ZIP").count() == 1
    screenshot(page, "import.png")
    watched.assert_clean("import")
    watched.leave()


def test_the_item_browser_finds_parts_of_ids_and_opens_a_row_from_the_keyboard(
    logged_in_page, live_server, lead_user, disputed
):
    project, items = disputed
    watched = watched_lead(logged_in_page, live_server, lead_user)
    page = watched.page
    watched.goto(reverse("annotator:item-list", args=[project.slug]))
    assert page.locator("#item-count").inner_text() == "3 items."
    page.fill("#f-q", "post-000")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("#item-count").inner_text() == "3 items match."
    page.fill("#f-q", "new city")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("#item-count").inner_text() == "1 item matches."
    assert page.locator(".item-row").count() == 1
    # One line per id, and the row's link covers the row: a click on the text opens the item.
    cell = page.locator(".item-id").first
    assert page.evaluate("(el) => getComputedStyle(el).whiteSpace", cell.element_handle()) == "nowrap"
    box = page.locator(".item-text").first.bounding_box()
    with page.expect_navigation():
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert page.url.endswith(reverse("annotator:item-detail", args=[project.slug, items[1].pk]))
    page.go_back()
    page.locator("a.row-link").first.focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith(reverse("annotator:item-detail", args=[project.slug, items[1].pk]))
    watched.assert_clean("items")
    watched.leave()
