"""The error answers every API operation can give, added to the OpenAPI
schema in one place (drf-spectacular post-processing hook), so the schema
documents what annotator.api.errors and DRF really send."""

from __future__ import annotations

from typing import Any

ERROR = {
    "type": "object",
    "description": "A refusal: `detail` says why.",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
INVALID = {
    "type": "object",
    "description": "Invalid input. A broken rule gives `detail` (and the `field` it concerns); "
    "input that fails validation gives each field's messages under its name.",
    "properties": {"detail": {"type": "string"}, "field": {"type": "string"}},
    "additionalProperties": True,
}
METHODS = ("get", "put", "post", "patch", "delete")


def _response(description: str, component: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{component}"}}},
    }


def add_error_responses(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """401 (no or bad credentials) and 403 (role) everywhere; 404 where a path
    names a project or a row; 400 where input is read (a body, query
    parameters, or a state change a domain rule can refuse)."""
    result.setdefault("components", {}).setdefault("schemas", {}).update(Error=ERROR, InvalidInput=INVALID)
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            responses = operation.setdefault("responses", {})
            parameters = operation.get("parameters", [])
            reads_input = method != "get" or any(p.get("in") == "query" for p in parameters)
            if reads_input:
                responses.setdefault("400", _response("Invalid input, or a domain rule refused it.", "InvalidInput"))
            responses.setdefault(
                "401", _response("Not signed in: send a token (Authorization: Token ...) or a session.", "Error")
            )
            responses.setdefault("403", _response("Signed in, but your role does not allow this.", "Error"))
            if "{" in path:
                responses.setdefault(
                    "404", _response("No such project (or you are not a member), or no such row in it.", "Error")
                )
    return result
