"""manage.py create_project NAME --template msed|sentiment|custom [--lead USERNAME]

Prints the new project's slug on the last line of its output.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from annotator.errors import DomainError
from annotator.schemas import SCHEMA_TEMPLATES
from annotator.services.projects import create_project


class Command(BaseCommand):
    help = "Create a project from a label-schema template and print its slug."

    def add_arguments(self, parser):
        parser.add_argument("name", help="The project's name.")
        parser.add_argument(
            "--template",
            default="msed",
            help=f"Label schema to start from: {', '.join(SCHEMA_TEMPLATES)} (default msed).",
        )
        parser.add_argument("--lead", help="Username of an existing user who becomes the project's lead.")

    def handle(self, *args, name, template, lead, **options):
        lead_user = None
        if lead:
            lead_user = get_user_model().objects.filter(username=lead).first()
            if lead_user is None:
                raise CommandError(
                    f"There is no user {lead!r}; create it first (manage.py createsuperuser) or leave out --lead."
                )
        try:
            project = create_project(name=name, template=template, created_by=lead_user)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(project.slug)
