"""The write pass of an import: valid rows written in batches inside the
import's transaction (annotator.services.imports opens it).

Votes name their annotator. A name matches a project member with that
username (or the username `<name>.<project slug>`, which is what an earlier
import created when the name was taken); otherwise an inactive user with an
unusable password is created and added as an annotator. An existing account
outside the project is never attached from a file.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from django.contrib.auth import get_user_model

from .. import storage, suggestions
from ..errors import DomainError
from ..io import images as image_io
from ..io.readers import Dataset
from ..io.validate import CleanRow
from ..models import Annotation, ControlAnswer, Gold, ImageAsset, ImportJob, Item, Membership, Project
from ..schemas import ProjectSchema
from .bulk import AnnotationRow, refresh_vote_counts, write_annotations
from .gold import recompute_gold
from .projects import add_member

BATCH_SIZE = 2000


class Members:
    """Project members by lower-cased username, for matching vote annotators."""

    def __init__(self, project: Project):
        self.project = project
        self.by_name = {
            name.lower(): user_id
            for name, user_id in Membership.objects.filter(project=project).values_list("user__username", "user_id")
        }

    def alias(self, name: str) -> str:
        return f"{name}.{self.project.slug}"[:150]

    def find(self, name: str) -> int | None:
        return self.by_name.get(name.lower()) or self.by_name.get(self.alias(name).lower())


class BatchWriter:
    """Writes batches of valid rows inside the import's transaction."""

    def __init__(
        self, *, project: Project, schema: ProjectSchema, on_duplicate: str, dataset: Dataset, created_files: list[str]
    ):
        self.project, self.schema, self.on_duplicate = project, schema, on_duplicate
        self.dataset, self.created_files = dataset, created_files
        self.task_ids = dict(project.tasks.values_list("key", "id"))
        self.label_ids = {
            (task_key, label_key): label_id
            for label_id, task_key, label_key in project.tasks.values_list("labels__id", "key", "labels__key")
            if label_id is not None
        }
        self.members = Members(project)
        self.user_ids: dict[str, int] = {}
        self.sha_ids: dict[str, int] = {}
        self.counts: Counter = Counter()

    # images
    def _store_file(self, info: image_io.ImageInfo, data: bytes) -> None:
        # content-addressed: when the same bytes are stored already, nothing is written
        if storage.save_image(info.storage_name, data):
            self.created_files.append(info.storage_name)

    def _image_ids(self, rows: list[CleanRow]) -> None:
        wanted = {r.image_info.sha256: r for r in rows if r.image_info and r.image_info.sha256 not in self.sha_ids}
        if not wanted:
            return
        self.sha_ids.update(ImageAsset.objects.filter(sha256__in=wanted).values_list("sha256", "id"))
        new: list[ImageAsset] = []
        for sha, row in wanted.items():
            if sha in self.sha_ids:
                continue
            info = row.image_info
            data = self.dataset.read_image(row.image)
            if image_io.sha256_of(data) != sha:
                raise DomainError(
                    f"The image {row.image} changed while the file was being imported; start the import again."
                )
            self._store_file(info, data)
            new.append(
                ImageAsset(
                    sha256=sha,
                    file=info.storage_name,
                    format=info.format,
                    width=info.width,
                    height=info.height,
                    size_bytes=info.size_bytes,
                )
            )
        # ignore_conflicts: a concurrent import may have stored the same image.
        ImageAsset.objects.bulk_create(new, ignore_conflicts=True)
        self.sha_ids.update(ImageAsset.objects.filter(sha256__in=[a.sha256 for a in new]).values_list("sha256", "id"))
        self.counts["images"] += len(new)

    # annotators
    def _user_id(self, name: str) -> int:
        key = name.lower()
        if key in self.user_ids:
            return self.user_ids[key]
        user_id = self.members.find(name)
        if user_id is None:
            user_id = self._create_annotator(name)
        self.user_ids[key] = user_id
        return user_id

    def _create_annotator(self, name: str) -> int:
        users = get_user_model()
        candidates = [name[:150], self.members.alias(name)] + [
            f"{self.members.alias(name)[:140]}-{i}" for i in range(2, 100)
        ]
        username = next((c for c in candidates if not users.objects.filter(username__iexact=c).exists()), None)
        if username is None:
            raise DomainError(f"No free username could be found for the annotator {name!r}; rename them in the file.")
        user = users(username=username, is_active=False)
        user.set_unusable_password()
        user.save()
        add_member(project=self.project, user=user, role=Membership.Role.ANNOTATOR)
        self.members.by_name[username.lower()] = user.pk
        self.counts["annotators"] += 1
        return user.pk

    def _control_answers(self, written: list[tuple[int, CleanRow]]) -> None:
        """The known answers of control items the file gives (replacing the item's earlier ones)."""
        answers = [
            ControlAnswer(
                item_id=item_id,
                task_id=self.task_ids[task_key],
                label_id=self.label_ids[(task_key, label_key)],
                source=ControlAnswer.Source.IMPORTED,
            )
            for item_id, row in written
            for task_key, label_key in row.control.items()
        ]
        if not answers:
            return
        ControlAnswer.objects.filter(item_id__in={a.item_id for a in answers}).delete()
        ControlAnswer.objects.bulk_create(answers, batch_size=BATCH_SIZE)
        self.counts["control"] += len({a.item_id for a in answers})

    def write(self, rows: list[CleanRow]) -> None:
        if not rows:
            return
        existing = {
            item.external_id: item
            for item in Item.objects.select_for_update()
            .filter(project=self.project, external_id__in=[r.external_id for r in rows])
            .order_by("id")
        }
        creates: list[CleanRow] = []
        updates: list[tuple[Item, CleanRow]] = []
        for row in rows:
            item = existing.get(row.external_id)
            if item is None:
                creates.append(row)
            elif self.on_duplicate == ImportJob.OnDuplicate.SKIP:
                self.counts["skipped"] += 1
            else:
                updates.append((item, row))
        self._image_ids(list(creates) + [r for _, r in updates])

        def image_id(row: CleanRow) -> int | None:
            return self.sha_ids[row.image_info.sha256] if row.image_info else None

        def metadata(row: CleanRow, old: dict | None) -> dict:
            meta = dict(row.metadata) if row.metadata is not None else dict(old or {})
            if row.inference_order is not None:
                meta["inference_order"] = list(row.inference_order)
            return meta

        new_items = Item.objects.bulk_create(
            [
                Item(
                    project=self.project,
                    external_id=row.external_id,
                    text=row.text,
                    image_id=image_id(row),
                    metadata=metadata(row, None),
                    split=row.split or Item.Split.UNASSIGNED,
                    is_control=bool(row.control),
                )
                for row in creates
            ],
            batch_size=BATCH_SIZE,
        )
        for item, row in updates:
            item.text, item.image_id = row.text, image_id(row)
            item.split = row.split or item.split
            item.metadata = metadata(row, item.metadata)
            item.is_control = item.is_control or bool(row.control)  # a file without answers does not unmark
        Item.objects.bulk_update(
            [item for item, _ in updates], ["text", "image", "split", "metadata", "is_control"], batch_size=BATCH_SIZE
        )
        self.counts["created"] += len(new_items)
        self.counts["updated"] += len(updates)
        written = [(item.pk, row) for item, row in zip(new_items, creates)] + [(item.pk, row) for item, row in updates]
        updated_ids = {item.pk for item, _ in updates}

        # Gold the file gives; gold it marks as majority is recomputed below.
        gold: list[Gold] = []
        back_to_majority: dict[int, list[int]] = defaultdict(list)
        for item_id, row in written:
            for task_key, value in row.gold.items():
                task_id = self.task_ids[task_key]
                if value.source == Gold.Source.MAJORITY:
                    if item_id in updated_ids:
                        back_to_majority[task_id].append(item_id)
                    continue
                gold.append(
                    Gold(
                        item_id=item_id,
                        task_id=task_id,
                        label_id=self.label_ids[(task_key, value.label)],
                        source=value.source,
                        is_tie=False,
                    )
                )
        for task_id, item_ids in back_to_majority.items():
            Gold.objects.filter(task_id=task_id, item_id__in=item_ids).exclude(source=Gold.Source.MAJORITY).delete()
        Gold.objects.bulk_create(
            gold,
            batch_size=BATCH_SIZE,
            update_conflicts=True,
            unique_fields=["item", "task"],
            update_fields=["label", "source", "is_tie", "adjudicated_by"],
        )
        self.counts["gold"] += len(gold)
        self._control_answers(written)

        # Votes: on update, the file's vote replaces that annotator's vote in that round.
        annotations = [
            AnnotationRow(
                item_id=item_id,
                annotator_id=self._user_id(vote.annotator),
                labels=vote.labels,
                round=vote.round,
                inference_order=vote.inference_order,
                duration_ms=vote.duration_ms,
            )
            for item_id, row in written
            for vote in row.votes
        ]
        if updated_ids and annotations:
            incoming = {(a.item_id, a.annotator_id, a.round) for a in annotations if a.item_id in updated_ids}
            stale = [
                pk
                for pk, item_id, annotator_id, round_ in Annotation.objects.filter(item_id__in=updated_ids).values_list(
                    "id", "item_id", "annotator_id", "round"
                )
                if (item_id, annotator_id, round_) in incoming
            ]
            Annotation.objects.filter(id__in=stale).delete()
        if annotations:
            result = write_annotations(project=self.project, rows=annotations, update_items=False)
            self.counts["votes"] += result["votes"]
        item_ids = sorted(item_id for item_id, _ in written)
        refresh_vote_counts(item_ids)
        recompute_gold(item_ids=item_ids, project=self.project)
        if new_items:
            # New items get suggestions from the project's pre-labeller (queued on commit).
            suggestions.get_provider().on_items_added(project=self.project, item_ids=[item.pk for item in new_items])
