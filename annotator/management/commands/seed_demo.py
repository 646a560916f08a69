from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from annotator.errors import DomainError
from annotator.services.demo import login_box, save_logins, seed_demo_project


class Command(BaseCommand):
    help = "Create the demo project (MSED schema, a lead, five annotators (one careless), synthetic items, votes and control items) and print the logins."

    def add_arguments(self, parser):
        parser.add_argument("--items", type=int, default=600, help="Number of synthetic items (default 600).")
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, items: int, seed: int, **options):
        if items < 1:
            raise CommandError("--items must be at least 1.")
        try:
            result = seed_demo_project(items=items, seed=seed)
        except (DomainError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        if result.created:
            self.stdout.write(
                f"Created the demo project “{result.project.name}” with {result.items} items and {result.annotations} annotations."
            )
        else:
            self.stdout.write(f"The demo project exists ({result.items} items); new passwords were set.")
        save_logins(settings.DEMO_LOGINS_FILE, result.logins)  # `manage.py serve` prints them again
        # Last, framed: the logins are what a person trying the demo looks for.
        self.stdout.write(login_box(result.logins))
