"""factory_boy factories. Projects are made through the real service so
their schema is the template's."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from django.test import RequestFactory

from annotator.models import Item, Membership
from annotator.services.projects import add_member, create_project
from annotator.services.security import create_api_token

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.django.Password(PASSWORD)


def login(client, user, password: str = PASSWORD) -> bool:
    """client.login through django-axes, which needs the sign-in's request."""
    return client.login(request=RequestFactory().post("/accounts/login/"), username=user.username, password=password)


def make_token(user, name: str = "script") -> str:
    """A new API token of `user`; returns its key."""
    return create_api_token(user=user, name=name)[1]


def make_project(*, lead=None, template: str = "msed", name: str = "Desire study", **kwargs):
    return create_project(name=name, template=template, created_by=lead, **kwargs)


def allow_project_creation(user) -> None:
    """What a staff member's admin action does: grant annotator.add_project."""
    from annotator.selectors import get_project_creation_permission

    user.user_permissions.add(get_project_creation_permission())


def make_member(project, *, role: str = Membership.Role.ANNOTATOR, username: str | None = None):
    user = UserFactory(username=username) if username else UserFactory()
    add_member(project=project, user=user, role=role)
    return user


class ItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Item

    external_id = factory.Sequence(lambda n: f"item-{n:05d}")
    text = factory.Sequence(lambda n: f"A family walk along the river, post number {n}.")
    split = Item.Split.TRAIN
