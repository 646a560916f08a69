from django.apps import AppConfig


class AnnotatorConfig(AppConfig):
    name = "annotator"
    verbose_name = "Annotation"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (connects the security receivers)
        from .jobs import register_sweeper
        from .services.import_jobs import sweep_imports

        register_sweeper("imports", sweep_imports)
