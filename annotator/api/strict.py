"""Input serializers that take JSON types as the OpenAPI schema states them.

DRF coerces: "yes" and 1 become True, "12" and 12.0 become 12, 12 becomes
"12". The schema says boolean, integer, string, so a client sending the
wrong type should hear so (a 400 naming the field) rather than have it
guessed; the API and its schema then agree (tests/test_api_schema_fuzz.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import QueryDict
from rest_framework import serializers


def type_problem(field: serializers.Field, value: Any) -> str | None:
    """Why `value` (parsed JSON) is not of `field`'s declared type, or None."""
    if value is None:
        return None  # DRF itself answers "may not be null" unless allow_null
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else "Must be true or false."
    if isinstance(field, serializers.IntegerField):
        return None if isinstance(value, int) and not isinstance(value, bool) else "Must be a whole number."
    if isinstance(field, (serializers.FloatField, serializers.DecimalField)):
        return None if isinstance(value, (int, float)) and not isinstance(value, bool) else "Must be a number."
    if isinstance(field, serializers.ChoiceField) and not isinstance(field, serializers.MultipleChoiceField):
        textual = all(isinstance(key, str) for key in field.choices)
        return None if isinstance(value, str) or not textual else "Must be one of the listed strings."
    if isinstance(field, (serializers.CharField, serializers.UUIDField, serializers.DateTimeField)):
        return None if isinstance(value, str) else "Must be a string."
    if isinstance(field, (serializers.ListField, serializers.MultipleChoiceField, serializers.ListSerializer)):
        if not isinstance(value, list):
            return "Must be a list."
        child = getattr(field, "child", None)
        if child is not None and not isinstance(child, serializers.Serializer):
            for item in value:
                problem = type_problem(child, item)
                if problem:
                    return f"Each item: {problem[0].lower()}{problem[1:]}"
        return None
    if isinstance(field, (serializers.DictField, serializers.Serializer)):
        return None if isinstance(value, Mapping) else "Must be an object."
    return None


class StrictInput(serializers.Serializer):
    """A JSON body's values must have their fields' types; nested
    serializers built on this class are checked the same way."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping) and not isinstance(data, QueryDict):
            errors = {}
            for name, field in self.fields.items():
                if field.read_only or name not in data:
                    continue
                problem = type_problem(field, data.get(name))
                if problem:
                    errors[name] = [problem]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)
