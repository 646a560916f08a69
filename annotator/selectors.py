"""Reads that need thought, already limited to what the caller may see.

Permission rules live here once: leads see everything in their project,
annotators see the project, its items and their own annotations only, staff
see everything. Views, the API and permission classes all call these.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from .models import Annotation, Gold, Item, Membership, Project, Task


def get_membership(user: AbstractBaseUser, project: Project) -> Membership | None:
    if not user.is_authenticated:
        return None
    cache = getattr(user, "_membership_cache", None)
    if cache is None:
        cache = user._membership_cache = {}
    if project.pk not in cache:
        cache[project.pk] = Membership.objects.filter(user=user, project=project).first()
    return cache[project.pk]


def get_role(user: AbstractBaseUser, project: Project) -> str | None:
    """'lead', 'annotator' or None. Staff count as leads everywhere."""
    if not user.is_authenticated:
        return None
    if user.is_staff:
        return Membership.Role.LEAD
    membership = get_membership(user, project)
    return membership.role if membership else None


def is_member(user: AbstractBaseUser, project: Project) -> bool:
    return get_role(user, project) is not None


def is_lead(user: AbstractBaseUser, project: Project) -> bool:
    return get_role(user, project) == Membership.Role.LEAD


def list_projects_for_member(user: AbstractBaseUser) -> QuerySet[Project]:
    if not user.is_authenticated:
        return Project.objects.none()
    if user.is_staff:
        return Project.objects.all()
    return Project.objects.filter(memberships__user=user).distinct()


def list_tasks_with_labels(project: Project) -> list[Task]:
    """The project's schema in order, labels prefetched."""
    return list(project.tasks.order_by("position", "id").prefetch_related("labels"))


def list_items_visible_to(user: AbstractBaseUser, project: Project) -> QuerySet[Item]:
    if not is_member(user, project):
        return Item.objects.none()
    return Item.objects.filter(project=project)


def list_annotations_visible_to(user: AbstractBaseUser, project: Project) -> QuerySet[Annotation]:
    """Leads see every annotation of the project; annotators only their own."""
    role = get_role(user, project)
    qs = Annotation.objects.filter(item__project=project)
    if role == Membership.Role.LEAD:
        return qs
    if role == Membership.Role.ANNOTATOR:
        return qs.filter(annotator=user)
    return qs.none()


def list_gold_visible_to(user: AbstractBaseUser, project: Project) -> QuerySet[Gold]:
    """Gold is for leads only: annotators must not be anchored by the majority."""
    if not is_lead(user, project):
        return Gold.objects.none()
    return Gold.objects.filter(item__project=project)


def list_members(project: Project) -> QuerySet[Membership]:
    return project.memberships.select_related("user").order_by("role", "user__username")
