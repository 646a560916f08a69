"""The labelling page's layout and keyboard help, in headless Chromium.

An annotator labels for hours at 1366x768 or larger: every label of every
task, the inference order and Submit must be on screen without scrolling,
and messages and the edit banner must be where they are seen. "On screen"
is measured: the element's box lies inside the viewport and the element is
what the browser finds at its centre (not covered by anything).

Set AFFECT_SCREENSHOTS_DIR (e.g. docs/screenshots) to also write the
screenshots of the page at 1366x768 and 1920x1080 there.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from annotator.models import Annotation, ImageAsset, Item
from tests.annotator.factories import make_items, make_suggestions, members
from tests.e2e.browser import Watched, wait_for
from tests.factories import make_project

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1366, "height": 768}
DESKTOP = {"width": 1920, "height": 1080}
TABLET = {"width": 800, "height": 600}

TEXT_280 = (
    "Finally home after three weeks away! The kids ran down the driveway the moment the car stopped, "
    "the dog knocked my suitcase over and my mother had cooked enough soup for an army. Nothing beats "
    "this feeling of being back with the people you love most. #family #home #grateful #love"
)
assert len(TEXT_280) == 280
SUGGESTED = {"desire": "family", "sentiment": "positive", "emotion": "happiness"}


def msed_image(n: int = 1) -> ImageAsset:
    """A 256x256 PNG like MSED's: a few shapes on a gradient."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (256, 256))
    draw = ImageDraw.Draw(image)
    for y in range(256):
        draw.line([(0, y), (255, y)], fill=(90 + y // 3, 140 + y // 5, 200 - y // 4))
    draw.ellipse([40 + n, 60, 120, 140], fill=(250, 210, 90))
    draw.rectangle([130, 120, 220, 230], fill=(70, 110, 60))
    draw.polygon([(120, 120), (175, 70), (230, 120)], fill=(150, 60, 50))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    data = buffer.getvalue()
    import hashlib

    sha = hashlib.sha256(data).hexdigest()
    path = settings.MEDIA_ROOT / "images" / f"{sha}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return ImageAsset.objects.create(
        sha256=sha, file=f"images/{sha}.png", format="PNG", width=256, height=256, size_bytes=len(data)
    )


def msed_project(lead, *, image: bool = True, suggestions: bool = True, n: int = 1, **kwargs):
    project = make_project(lead=lead, name="Layout", show_suggestions=suggestions, **kwargs)
    items = [
        Item.objects.create(
            project=project, external_id=f"msed-{i:04d}", text=TEXT_280, image=msed_image(i) if image else None
        )
        for i in range(n)
    ]
    if suggestions:
        make_suggestions(project, dict.fromkeys(items, 1.0), label_keys=SUGGESTED)
    (ana,) = members(project, 1)
    return project, items, ana


def open_page(logged_in_page, live_server, user, project, viewport):
    page = logged_in_page(user, viewport=viewport)
    watched = Watched(page, live_server.url)
    watched.goto(reverse("annotator:item-annotate", args=[project.slug]))
    page.wait_for_selector("#annotate[data-ready]")
    return page, watched


def wait_for_image(page):
    page.wait_for_function(
        "() => { const i = document.getElementById('item-image'); return i.complete && i.naturalWidth > 0; }"
    )


ON_SCREEN = """(el) => {
  const r = el.getBoundingClientRect();
  const inside = r.width > 0 && r.height > 0 && r.left >= 0 && r.top >= 0
    && r.right <= window.innerWidth && r.bottom <= window.innerHeight;
  const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  return {inside, uncovered: el.contains(hit), box: [r.left, r.top, r.right, r.bottom], hit: hit && (hit.id || hit.className)};
}"""


def assert_on_screen(page, selector: str):
    elements = page.locator(selector)
    assert elements.count() > 0, f"no {selector}"
    for i in range(elements.count()):
        element = elements.nth(i)
        assert element.is_visible(), f"{selector} #{i} is hidden"
        seen = element.evaluate(ON_SCREEN)
        assert seen["inside"], f"{selector} #{i} is outside the viewport: {seen}"
        assert seen["uncovered"], f"{selector} #{i} is covered: {seen}"


def assert_fits_without_scrolling(page):
    assert page.evaluate("() => window.scrollY") == 0
    assert_on_screen(page, ".label-btn")
    assert_on_screen(page, ".order-panel")
    assert_on_screen(page, "#submit-btn")
    assert_on_screen(page, "#submit-hint")
    assert_on_screen(page, "#item-text")


def boxes_overlap(a: dict, b: dict) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


def screenshot(page, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000  # a real picture, not a blank page
    target = os.environ.get("AFFECT_SCREENSHOTS_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / name)
    return path


@pytest.mark.parametrize("viewport", [LAPTOP, DESKTOP], ids=["1366x768", "1920x1080"])
def test_every_label_the_order_and_submit_fit_on_screen_for_an_item_with_image_and_long_text(
    lead, logged_in_page, live_server, viewport, tmp_path
):
    project, _, ana = msed_project(lead)
    page, watched = open_page(logged_in_page, live_server, ana, project, viewport)
    wait_for_image(page)
    assert page.locator("#item-text").inner_text() == TEXT_280.rstrip()
    assert_fits_without_scrolling(page)
    assert_on_screen(page, "#image-button")
    # The text box is as tall as its text: no inner scroll bar for 280 characters.
    assert page.evaluate(
        "() => { const p = document.getElementById('pane-text'); return p.scrollHeight <= p.clientHeight + 1; }"
    )

    # With every task answered the suggestions show (wider buttons) and the order holds three chips: still one screen.
    for key in ("4", "q", "a"):
        page.keyboard.press(key)
    assert page.locator(".label-btn.suggested").count() == 3
    assert page.locator("#order .chip").count() == 3
    assert page.locator("#submit-hint").inner_text() == "Ready: press Enter."
    assert_fits_without_scrolling(page)
    assert_on_screen(page, ".label-desc")
    screenshot(page, tmp_path, f"annotate-{viewport['width']}x{viewport['height']}.png")
    watched.assert_clean("labelling page")
    watched.leave()


def test_a_text_only_item_fits_and_gives_no_pane_to_the_missing_image(lead, logged_in_page, live_server):
    project, _, ana = msed_project(lead, image=False, suggestions=False)
    page, watched = open_page(logged_in_page, live_server, ana, project, LAPTOP)
    assert_fits_without_scrolling(page)
    assert page.locator("#pane-image").is_hidden()
    assert page.locator("#image-absent").inner_text() == "This item has no image."
    assert page.locator("#image-absent").bounding_box()["height"] < 60  # a note, not half the screen
    watched.assert_clean("text-only item")
    watched.leave()


def test_the_page_reflows_to_one_column_on_a_tablet(lead, logged_in_page, live_server):
    project, _, ana = msed_project(lead, suggestions=False)
    page, watched = open_page(logged_in_page, live_server, ana, project, TABLET)
    wait_for_image(page)
    image, tasks = page.locator(".item-panes").bounding_box(), page.locator(".task-column").bounding_box()
    assert tasks["y"] >= image["y"] + image["height"]  # below the item, not squeezed beside it
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scrolling
    for key in ("4", "q", "a"):
        page.keyboard.press(key)
    page.locator("#submit-btn").scroll_into_view_if_needed()
    assert_on_screen(page, "#submit-btn")
    watched.assert_clean("tablet")
    watched.leave()


def scroll_to_bottom(page):
    page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
    assert page.evaluate("() => window.scrollY") > 0, "the page should scroll at this size"


def test_messages_and_the_edit_banner_are_in_view_after_back_skip_and_guidelines_even_when_scrolled(
    lead, logged_in_page, live_server, tmp_path
):
    project, items, ana = msed_project(lead, suggestions=False, n=3)
    page, watched = open_page(logged_in_page, live_server, ana, project, TABLET)

    # Back with nothing earlier: the message shows at the top of the viewport.
    scroll_to_bottom(page)
    page.keyboard.press("<")
    page.wait_for_selector("#message:not([hidden])")
    assert page.locator("#message").inner_text() == "There is nothing earlier to go back to."
    assert_on_screen(page, "#message")
    assert page.locator("#message").get_attribute("role") == "status"

    first = page.locator("#item-id").inner_text()
    for key in ("4", "q", "a", "Enter"):
        page.keyboard.press(key)
    page.wait_for_function("(shown) => document.getElementById('item-id').textContent !== shown", arg=first)
    wait_for(lambda: Annotation.objects.count() == 1, message="the first annotation")

    # Back (unshifted ,) from a scrolled page: the edit banner is on screen, Submit says what it does.
    scroll_to_bottom(page)
    page.keyboard.press(",")
    page.wait_for_selector("#edit-banner:not([hidden])")
    assert_on_screen(page, "#edit-banner")
    assert first in page.locator("#edit-banner").inner_text()
    assert page.locator("#submit-label").inner_text() == "Save change"
    scroll_to_bottom(page)
    assert_on_screen(page, "#edit-banner")  # sticky for as long as the edit lasts
    screenshot(page, tmp_path, "annotate-800x600-edit.png")
    page.keyboard.press("w")
    page.keyboard.press("Enter")
    page.wait_for_selector("#edit-banner", state="hidden")
    assert page.locator("#message").inner_text() == f"Your change to {first} was saved."
    assert_on_screen(page, "#message")
    assert page.locator("#submit-label").inner_text() == "Submit"

    # Forward (unshifted .) from an edit returns to the queue.
    page.keyboard.press(",")
    page.wait_for_selector("#edit-banner:not([hidden])")
    page.keyboard.press(".")
    page.wait_for_selector("#edit-banner", state="hidden")

    # Skip from a scrolled page.
    skipped = page.locator("#item-id").inner_text()
    scroll_to_bottom(page)
    page.keyboard.press("/")
    page.keyboard.type("text not in English")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "(shown) => document.getElementById('message').textContent === `Skipped ${shown}.`", arg=skipped
    )
    assert_on_screen(page, "#message")
    page.wait_for_function("(shown) => document.getElementById('item-id').textContent !== shown", arg=skipped)
    assert page.evaluate("() => window.scrollY") == 0  # the next item starts at its top

    # Guidelines (F1, the unshifted ?) from a scrolled page.
    scroll_to_bottom(page)
    page.evaluate("() => window.scrollTo(0, 0)")
    page.keyboard.press("F1")
    page.wait_for_selector("#guidelines:not([hidden])")
    box = page.locator("#guidelines").bounding_box()
    assert box["y"] < 600 and box["y"] + box["height"] > 0, box  # scrolled into view
    watched.assert_clean("messages")
    watched.leave()


def test_guidelines_open_beside_the_item_without_covering_it_or_the_labels(lead, logged_in_page, live_server, tmp_path):
    project, _, ana = msed_project(lead, suggestions=False)
    project.guidelines = "Label what the **post** expresses, not what you feel."
    project.save()
    page, watched = open_page(logged_in_page, live_server, ana, project, LAPTOP)
    wait_for_image(page)
    page.keyboard.press("?")
    page.wait_for_selector("#guidelines:not([hidden])")
    assert page.locator("#guidelines-btn").get_attribute("aria-expanded") == "true"
    guide = page.locator("#guidelines").bounding_box()
    assert not boxes_overlap(guide, page.locator(".item-panes").bounding_box())
    assert not boxes_overlap(guide, page.locator(".task-column").bounding_box())
    assert_fits_without_scrolling(page)
    assert_on_screen(page, "#guidelines h2")
    assert "not what you feel" in page.locator("#guidelines").inner_text()
    screenshot(page, tmp_path, "annotate-1366x768-guidelines.png")
    page.keyboard.press("Escape")
    page.wait_for_selector("#guidelines", state="hidden")
    watched.assert_clean("guidelines")
    watched.leave()


def test_the_description_of_the_focused_or_chosen_label_shows_under_its_task(lead, logged_in_page, live_server):
    project, _, ana = msed_project(lead, suggestions=False)
    page, watched = open_page(logged_in_page, live_server, ana, project, LAPTOP)
    desire = page.locator('.label-desc[data-task="desire"]')
    assert desire.inner_text() == ""
    page.keyboard.press("4")
    assert desire.inner_text() == "Family: The need to take care of one's offspring."
    page.locator('.label-btn[data-task="desire"][data-label="romance"]').focus()
    assert desire.inner_text() == "Romance: A feeling of excitement and mystery associated with love."
    page.evaluate("() => document.activeElement.blur()")
    assert desire.inner_text() == "Family: The need to take care of one's offspring."
    assert page.locator('.label-desc[data-task="sentiment"]').inner_text() == ""
    watched.assert_clean("descriptions")
    watched.leave()


def test_suggestions_wait_for_the_first_choice_by_default_shift_a_accepts_them_and_ctrl_z_undoes(
    lead, logged_in_page, live_server
):
    project, _, ana = msed_project(lead)
    assert project.suggestions_after_first_choice is True  # the default for a new project
    page, watched = open_page(logged_in_page, live_server, ana, project, LAPTOP)
    suggested = page.locator(".label-btn.suggested")
    assert suggested.count() == 0
    page.keyboard.press("Shift+A")  # nothing to accept yet
    assert page.locator(".label-btn.chosen").count() == 0
    assert page.locator("#message").inner_text() == "Suggestions show after your own first choice."

    page.keyboard.press("1")  # desire: vengeance, the annotator's own choice
    assert suggested.count() == 3
    page.keyboard.press("Shift+A")

    def chosen():
        return {
            b.get_attribute("data-task"): b.get_attribute("data-label") for b in page.locator(".label-btn.chosen").all()
        }

    assert chosen() == SUGGESTED
    assert page.locator("#order .chip").all_inner_texts() == ["Desire", "Sentiment", "Emotion"]

    page.keyboard.press("Control+z")  # undoes the accept-all as one step
    assert chosen() == {"desire": "vengeance"}
    assert page.locator("#order .chip").all_inner_texts() == ["Desire"]
    page.keyboard.press("Control+z")
    assert chosen() == {} and suggested.count() == 0  # back before the first choice: hidden again
    page.keyboard.press("Control+z")
    assert page.locator("#message").inner_text() == "Nothing to undo on this item."

    page.keyboard.press("q")
    page.keyboard.press("Shift+A")
    assert chosen() == SUGGESTED
    page.keyboard.press("Enter")
    page.wait_for_selector("#done:not([hidden])")
    wait_for(lambda: Annotation.objects.exists(), message="the annotation")
    annotation = Annotation.objects.get()
    assert annotation.suggestion_accepted == {"desire": True, "sentiment": True, "emotion": True}
    assert annotation.inference_order == ["sentiment", "desire", "emotion"]
    assert "Shift" in page.locator("#guidelines .keys").inner_text()
    watched.assert_clean("suggestions")
    watched.leave()


def test_space_shows_the_image_larger_than_inline(lead, logged_in_page, live_server):
    project, _, ana = msed_project(lead, suggestions=False)
    page, watched = open_page(logged_in_page, live_server, ana, project, LAPTOP)
    wait_for_image(page)
    # The width the picture is drawn at inside its box (object-fit: contain).
    drawn = """(img) => { const r = img.getBoundingClientRect();
      return Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight) * img.naturalWidth; }"""
    inline = page.locator("#item-image").evaluate(drawn)
    page.keyboard.press(" ")
    page.wait_for_selector("#zoom[open]")
    page.wait_for_function(
        "() => { const i = document.getElementById('zoom-image'); return i.complete && i.naturalWidth > 0; }"
    )
    enlarged = page.locator("#zoom-image").evaluate(drawn)
    assert enlarged > inline * 1.15, (inline, enlarged)
    assert_on_screen(page, "#zoom-image")
    page.keyboard.press("Escape")
    page.wait_for_selector("#zoom[open]", state="detached")
    watched.assert_clean("zoom")
    watched.leave()


def test_a_single_task_project_labels_without_an_order_panel(lead, logged_in_page, live_server):
    project = make_project(lead=lead, name="Sentiment only", template="sentiment")
    make_items(project, 1)
    (ana,) = members(project, 1)
    page, watched = open_page(logged_in_page, live_server, ana, project, LAPTOP)
    assert page.locator(".order-panel").count() == 0
    assert "inference order" not in page.locator("#guidelines").inner_text()
    page.keyboard.press("1")
    assert_on_screen(page, "#submit-btn")
    page.keyboard.press("Enter")
    page.wait_for_selector("#done:not([hidden])")
    wait_for(lambda: Annotation.objects.exists(), message="the annotation")
    assert {v.label.key for v in Annotation.objects.get().votes.all()} == {"positive"}
    watched.assert_clean("single task")
    watched.leave()


def test_an_empty_project_tells_its_lead_to_import(lead, logged_in_page, live_server):
    project = make_project(lead=lead, name="Nothing yet")
    page, watched = open_page(logged_in_page, live_server, lead, project, LAPTOP)
    assert page.locator("#done h2").inner_text() == "This project has no items yet"
    assert "Thank you" not in page.locator("#done").inner_text()
    page.locator("#done").get_by_role("link", name="Import items").click()
    page.wait_for_url(f"**{reverse('annotator:import-upload', args=[project.slug])}")
    watched.assert_clean("empty project")
    watched.leave()


def test_a_lead_changing_an_annotation_at_1366x768_still_sees_every_label_and_submit(
    lead, logged_in_page, live_server, tmp_path
):
    """The worst case at the smallest supported screen: the lead's longer
    header and the edit banner."""
    project, items, _ = msed_project(lead, n=2)
    page, watched = open_page(logged_in_page, live_server, lead, project, LAPTOP)
    wait_for_image(page)
    first = page.locator("#item-id").inner_text()
    for key in ("4", "q", "a", "Enter"):
        page.keyboard.press(key)
    page.wait_for_function("(shown) => document.getElementById('item-id').textContent !== shown", arg=first)
    wait_for(lambda: Annotation.objects.count() == 1, message="the annotation")
    page.keyboard.press("<")
    page.wait_for_selector("#edit-banner:not([hidden])")
    wait_for_image(page)
    assert page.locator(".label-btn.chosen").count() == 3
    assert_fits_without_scrolling(page)
    assert_on_screen(page, "#edit-banner")
    screenshot(page, tmp_path, "annotate-1366x768-edit.png")
    watched.assert_clean("lead editing")
    watched.leave()


def test_back_at_the_oldest_and_forward_from_the_newest_ask_the_server_nothing(lead, logged_in_page, live_server):
    """No request that is expected to 404 (it would be an error in the console)."""
    project, items, ana = msed_project(lead, suggestions=False, n=3)
    page, watched = open_page(logged_in_page, live_server, ana, project, LAPTOP)
    steps: list[str] = []
    page.on(
        "request", lambda request: steps.append(request.url) if "/annotations/mine/previous/" in request.url else None
    )
    first = page.locator("#item-id").inner_text()
    for key in ("4", "q", "a", "Enter"):
        page.keyboard.press(key)
    page.wait_for_function("(shown) => document.getElementById('item-id').textContent !== shown", arg=first)
    wait_for(lambda: Annotation.objects.count() == 1, message="the first annotation")

    page.keyboard.press(",")  # to the one annotation there is
    page.wait_for_selector("#edit-banner:not([hidden])")
    asked = len(steps)
    page.keyboard.press(",")  # nothing earlier: said, not asked
    page.wait_for_function(
        "() => document.getElementById('message').textContent === 'There is nothing earlier to go back to.'"
    )
    assert len(steps) == asked

    # Opened by link to edit the newest annotation: Forward returns to the queue without asking.
    annotation = Annotation.objects.get()
    watched.goto(reverse("annotator:item-annotate", args=[project.slug]) + f"?edit={annotation.pk}")
    page.wait_for_selector("#edit-banner:not([hidden])")
    before = len(steps)
    page.keyboard.press(".")
    page.wait_for_selector("#edit-banner", state="hidden")
    assert len(steps) == before
    watched.assert_clean("back and forward at the ends")
    watched.leave()
