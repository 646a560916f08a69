from django.core.management.base import BaseCommand, CommandError

from annotator.errors import DomainError
from annotator.services.demo import seed_demo_project


class Command(BaseCommand):
    help = "Create the demo project (MSED schema, a lead, five annotators, synthetic items and votes) and print the logins."

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
        self.stdout.write("Sign in at http://127.0.0.1:8000/ with:")
        for username, password, role in result.logins:
            self.stdout.write(f"  {role:<10} {username:<12} {password}")
