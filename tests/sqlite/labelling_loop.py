"""Run by tests/test_sqlite_default.py in a fresh process on a fresh SQLite
file (the zero-config default of `make demo`): the labelling loop's
hand-written SQL must work there too. Prints OK when every check holds."""

import uuid

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from annotator import selectors  # noqa: E402
from annotator.models import Annotation, Claim, ControlAnswer, Gold, Item  # noqa: E402
from annotator.services import projects, queue, votes  # noqa: E402

call_command("migrate", verbosity=0)
User = get_user_model()
lead = User.objects.create_user("lead", password="x")
project = projects.create_project(name="Smoke", created_by=lead, template="msed")
Item.objects.bulk_create(
    [Item(project=project, external_id=f"i{i}", text=f"A walk by the river {i}") for i in range(12)]
)
people = [User.objects.create_user(f"a{i}", password="x") for i in range(5)]
for person in people:
    projects.add_member(project=project, user=person)
labels = {"desire": "family", "sentiment": "positive", "emotion": "happiness"}
order = ["desire", "sentiment", "emotion"]
for _ in range(2):
    for person in people:
        mine = selectors.get_project_for(person, project.slug)
        claim = queue.claim_next_item(annotator=person, project=mine)
        ahead = queue.claim_next_item(annotator=person, project=mine, current_item_id=claim.item_id)
        assert ahead.item_id != claim.item_id
        item = selectors.get_item_in(mine, claim.item_id)
        first = votes.submit_annotation(
            annotator=person, item=item, labels=labels, inference_order=order, client_key=uuid.uuid4()
        )
        retry = votes.submit_annotation(
            annotator=person, item=item, labels=labels, inference_order=order, client_key=first.annotation.client_key
        )
        assert first.created and not retry.created and retry.annotation.pk == first.annotation.pk
        votes.skip_item(annotator=person, item=selectors.get_item_in(mine, ahead.item_id), reason="later")
assert Annotation.objects.count() == 10 and not Claim.objects.exists()
assert sorted(Item.objects.values_list("vote_count", flat=True))[-2:] == [5, 5]
assert set(Gold.objects.filter(votes_total=5).values_list("votes_for", "is_tie")) == {(5, False)}

client = Client(HTTP_HOST="127.0.0.1")
client.force_login(people[0])
work = client.post(f"/api/projects/{project.slug}/queue/next/", {}, content_type="application/json").json()["work"]
done = client.post(
    f"/api/projects/{project.slug}/items/{work['item']['id']}/submit/",
    {"labels": labels, "inference_order": order, "client_key": str(uuid.uuid4())},
    content_type="application/json",
)
assert done.status_code == 201, done.content

# A control item mixed in (every claim draws one): handed out once per person, its votes counted nowhere.
control = Item.objects.create(project=project, external_id="check", text="A quiet street", is_control=True)
sentiment = project.tasks.get(key="sentiment")
ControlAnswer.objects.create(item=control, task=sentiment, label=sentiment.labels.get(key="positive"))
projects.update_project_settings(project=project, control_every=1, control_feedback=True)
for person in people[:3]:
    mine = selectors.get_project_for(person, project.slug)
    claim = queue.claim_next_item(annotator=person, project=mine)
    assert claim.item_id == control.pk, claim.item_id
    result = votes.submit_annotation(
        annotator=person, item=claim.item, labels=labels, inference_order=order, client_key=uuid.uuid4()
    )
    assert result.control_feedback == {"sentiment": {"matched": True, "answer": "Positive"}}
    assert queue.claim_next_item(annotator=person, project=mine).item_id != control.pk
control.refresh_from_db()
assert control.vote_count == 0 and not Gold.objects.filter(item=control).exists()
print("OK")
