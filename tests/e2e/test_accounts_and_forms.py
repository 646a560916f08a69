"""In the browser: a one-time password leads to "choose your own" first;
the Train form's menus show their whole text; removing a member asks first."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotator.models import Membership
from annotator.services import projects as project_services
from tests.e2e.browser import Watched

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_signing_in_with_a_one_time_password_asks_for_a_new_one_first(page, live_server, project, lead):
    user, password = project_services.create_member_account(project=project, username="newcomer", actor=lead)
    watched = Watched(page, live_server.url)
    watched.goto(reverse("login"))
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", password)
    page.click("main button[type=submit]")
    page.wait_for_url("**" + reverse("password_change"))
    assert page.locator("h1").inner_text() == "Choose your own password"
    # Another page leads back here.
    watched.goto(reverse("annotator:project-detail", args=[project.slug]))
    assert page.url.endswith(reverse("password_change"))
    page.fill("#id_old_password", password)
    page.fill("#id_new_password1", "a-much-better-secret-42")
    page.fill("#id_new_password2", "a-much-better-secret-42")
    page.click("main button[type=submit]")
    page.wait_for_url("**" + reverse("password_change_done"))
    watched.goto(reverse("annotator:project-detail", args=[project.slug]))
    assert project.name in page.locator("h1").inner_text()
    watched.assert_clean("first sign-in")


def test_the_train_forms_menus_show_their_whole_text(logged_in_page, live_server, project, lead):
    watched = Watched(logged_in_page(lead), live_server.url)
    page = watched.page
    watched.goto(reverse("inference:run-create", args=[project.slug]))
    cut = page.evaluate(
        """() => {
          const ctx = document.createElement('canvas').getContext('2d');
          const out = [];
          for (const select of document.querySelectorAll('form select')) {
            const style = getComputedStyle(select);
            ctx.font = style.font;
            // Room for the text: the box less its padding and the arrow (about 24px).
            const room = select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - 24;
            for (const option of select.options) {
              if (ctx.measureText(option.text).width > room) out.push(select.name + ': ' + option.text);
            }
          }
          return out;
        }"""
    )
    assert cut == [], cut
    watched.assert_clean("train form")


def test_removing_a_member_goes_through_a_confirmation(logged_in_page, live_server, project, lead, annotator):
    watched = Watched(logged_in_page(lead), live_server.url)
    page = watched.page
    watched.goto(reverse("annotator:project-members", args=[project.slug]))
    page.get_by_role("link", name=f"Remove {annotator.username}").click()
    page.wait_for_url("**" + reverse("annotator:member-remove", args=[project.slug, annotator.pk]))
    page.get_by_role("link", name="Keep them").click()
    page.wait_for_url("**" + reverse("annotator:project-members", args=[project.slug]))
    assert Membership.objects.filter(project=project, user=annotator).exists()
    page.get_by_role("link", name=f"Remove {annotator.username}").click()
    page.get_by_role("button", name=f"Remove {annotator.username}").click()
    page.wait_for_url("**" + reverse("annotator:project-members", args=[project.slug]))
    assert not Membership.objects.filter(project=project, user=annotator).exists()
    watched.assert_clean("member removed")
