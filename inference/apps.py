from django.apps import AppConfig


class InferenceConfig(AppConfig):
    name = "inference"
    verbose_name = "Models in the loop"

    def ready(self) -> None:
        from annotator.jobs import register_sweeper
        from annotator.suggestions import register_provider

        from .jobs import sweep_runs
        from .suggestions import PrelabellerSuggestions

        register_sweeper("runs", sweep_runs)
        # annotator's queue, votes, gold and imports reach suggestions and
        # the pre-labeller's hooks only through this (annotator/suggestions.py).
        register_provider(PrelabellerSuggestions())
