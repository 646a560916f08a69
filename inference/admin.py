from django.contrib import admin

from .models import PredictionRun, Suggestion, TrainingRun


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


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
