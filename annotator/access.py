"""Project access for HTML views: one decorator that loads the project from
the URL and checks login, membership and role through the selectors."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404

from . import selectors
from .models import Membership, Project


def project_view(role: str | None = None):
    """Decorate a view taking (request, slug, ...): it receives (request, project, ...).

    Non-members get a 404 (a project's existence is not revealed); members
    without the role get a 403.
    """

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, slug, *args, **kwargs):
            project = get_object_or_404(Project, slug=slug)
            user_role = selectors.get_role(request.user, project)
            if user_role is None:
                raise Http404("No such project.")
            if role == Membership.Role.LEAD and user_role != Membership.Role.LEAD:
                raise PermissionDenied("Only the project's leads can do this.")
            request.project_role = user_role
            return view(request, project, *args, **kwargs)

        return wrapper

    return decorator
