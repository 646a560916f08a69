from django.apps import AppConfig


class InferenceConfig(AppConfig):
    name = "inference"
    verbose_name = "Models in the loop"

    def ready(self) -> None:
        from annotator.jobs import register_sweeper

        from .jobs import sweep_runs

        register_sweeper("runs", sweep_runs)
