from django.apps import AppConfig


class AnnotatorConfig(AppConfig):
    name = "annotator"
    verbose_name = "Annotation"

    def ready(self):
        from . import signals  # noqa: F401  (connects the security receivers)
