from django.contrib import admin

from annotator.admin import ReadOnlyAdmin

from .models import EmbeddingMap, PredictionRun, Suggestion, TrainingRun


@admin.register(TrainingRun)
class TrainingRunAdmin(ReadOnlyAdmin):
    list_display = ["pk", "project", "name", "status", "epoch", "epochs_total", "is_prelabeller", "created_at"]
    list_filter = ["status", "project"]


@admin.register(PredictionRun)
class PredictionRunAdmin(ReadOnlyAdmin):
    list_display = ["pk", "project", "training_run", "status", "items_done", "items_total", "created_at"]
    list_filter = ["status"]


@admin.register(Suggestion)
class SuggestionAdmin(ReadOnlyAdmin):
    list_display = ["item", "task", "label", "probability", "entropy", "run"]
    show_full_result_count = False


@admin.register(EmbeddingMap)
class EmbeddingMapAdmin(ReadOnlyAdmin):
    list_display = ["pk", "run", "created_at"]
