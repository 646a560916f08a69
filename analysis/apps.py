from django.apps import AppConfig


class AnalysisConfig(AppConfig):
    name = "analysis"
    verbose_name = "Agreement and analysis"

    def ready(self) -> None:
        from annotator.gold_jobs import register_sender

        from .gold_models import CeleryGoldJobSender

        # annotator's labelling loop and settings reach the model-based gold
        # job only through this (annotator/gold_jobs.py).
        register_sender(CeleryGoldJobSender())
