"""Query parameters read as the OpenAPI schema declares them: a value of the
wrong type or outside its choices is a 400 naming the parameter, never
silently replaced by a default (clients would not learn their mistake, and
the schema and the API would disagree)."""

from __future__ import annotations

from collections.abc import Sequence

from rest_framework.exceptions import ValidationError

TRUE, FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def query_bool(request, name: str, default: bool) -> bool:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if raw.lower() in TRUE:
        return True
    if raw.lower() in FALSE:
        return False
    raise ValidationError({name: ["Must be true or false."]})


def query_int(request, name: str, default: int | None = None) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValidationError({name: ["Must be a whole number."]}) from None


def query_choice(request, name: str, choices: Sequence[str], default: str) -> str:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if raw not in choices:
        raise ValidationError({name: [f"Must be one of {', '.join(choices)}."]})
    return raw
