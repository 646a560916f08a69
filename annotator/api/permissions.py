"""Permission classes backed by the same selectors as the HTML views.

A view using them defines `get_project()`; outsiders get a 404 so a
project's existence is not revealed, members without the role a 403.
"""

from django.http import Http404
from rest_framework.permissions import BasePermission

from .. import selectors
from ..models import Project


class ProjectMixin:
    """Loads the project named by the URL's slug once per request, with the
    user's membership (one query: see selectors.get_project_for)."""

    def get_project(self) -> Project:
        if not hasattr(self, "_project"):
            project = selectors.get_project_for(self.request.user, self.kwargs["slug"])
            if project is None:
                raise Http404("No such project.")
            self._project = project
        return self._project


class IsProjectMember(BasePermission):
    message = "You are not a member of this project."

    def has_permission(self, request, view) -> bool:
        project = view.get_project()
        if not selectors.is_member(request.user, project):
            raise Http404("No such project.")
        return True


class IsProjectLead(IsProjectMember):
    message = "Only the project's leads can do this."

    def has_permission(self, request, view) -> bool:
        super().has_permission(request, view)
        return selectors.is_lead(request.user, view.get_project())


class IsProjectLeadOrReadOnlyMember(IsProjectMember):
    message = "Only the project's leads can change this."

    def has_permission(self, request, view) -> bool:
        super().has_permission(request, view)
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return True
        return selectors.is_lead(request.user, view.get_project())


class CanCreateProjects(BasePermission):
    """Creating (POST) is for staff and users a staff member allowed; reading is for anyone signed in."""

    message = selectors.PROJECT_CREATION_REFUSED

    def has_permission(self, request, view) -> bool:
        return request.method != "POST" or selectors.can_create_projects(request.user)
