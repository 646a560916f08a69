"""Parse JSON from strangers without a RecursionError, a NaN or a
5,000-digit number reaching the database.

`loads` is json.loads with three refusals, each a JSONProblem worded for
the person who wrote the JSON:

* nesting deeper than `max_depth` arrays / objects (json.loads itself
  dies with RecursionError near 1,000 levels, and deep values hurt later
  code and PostgreSQL's jsonb), checked by a bounded scan before parsing;
* NaN, Infinity and -Infinity, which Python accepts but JSON (and jsonb)
  does not, and numbers too large for a float (1e400);
* integers with more than `max_digits` digits (Python refuses to convert
  more than 4,300 and arithmetic on huge ones is slow).

Duplicate keys are accepted (the last one wins), as json.loads does.
`find_unstorable` says why parsed text cannot go into PostgreSQL (NUL,
a lone surrogate such as "\\ud800"), which JSON escapes let through.
No Django here: the import readers and the API parser share it.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 32
MAX_DIGITS = 100

# A JSON string (skipped whole, so brackets inside it do not count) or one bracket.
_STRUCTURE = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.S)


# Text PostgreSQL cannot store: NUL, and halves of a surrogate pair (JSON's "\ud800" alone).
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class JSONProblem(ValueError):
    """Why a JSON text was refused, in plain words; `path` locates the bad
    value (["votes", 0, "duration_ms"]) when known."""

    def __init__(self, message: str, path: tuple = ()):
        super().__init__(message)
        self.message, self.path = message, path


def too_deep(text: str, max_depth: int = MAX_DEPTH) -> bool:
    """True when `text` opens more than `max_depth` arrays or objects inside
    each other. Costs two str.count calls unless the text has more brackets
    than the limit, then one regex scan (strings skipped)."""
    if text.count("[") + text.count("{") <= max_depth:
        return False
    depth = 0
    for match in _STRUCTURE.finditer(text):
        char = match.group()
        if char == "[" or char == "{":
            depth += 1
            if depth > max_depth:
                return True
        elif char == "]" or char == "}":
            depth -= 1
    return False


class _Refused:
    """Stands in for a refused number while parsing, so its place is found."""

    __slots__ = ("reason",)

    def __init__(self, reason: str):
        self.reason = reason


def _find_refused(value: Any) -> tuple[tuple, str] | None:
    """(path, reason) of the first _Refused in a parsed value (iterative)."""
    stack: list[tuple[tuple, Any]] = [((), value)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, _Refused):
            return path, node.reason
        if isinstance(node, dict):
            stack.extend((path + (k,), v) for k, v in reversed(list(node.items())))
        elif isinstance(node, list):
            stack.extend((path + (i,), v) for i, v in reversed(list(enumerate(node))))
    return None


def describe_path(path: tuple) -> str:
    """["votes", 0, "duration_ms"] -> 'votes[0].duration_ms'."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH, max_digits: int = MAX_DIGITS) -> Any:
    """json.loads, refusing what the module docstring lists with a JSONProblem."""
    if isinstance(text, (bytes, bytearray)):
        text = text.decode("utf-8")
    if too_deep(text, max_depth):
        raise JSONProblem(
            f"the JSON nests arrays or objects more than {max_depth} levels deep; at most {max_depth} are allowed."
        )
    refused = False

    def constant(name: str) -> _Refused:
        nonlocal refused
        refused = True
        return _Refused(f"{name} is not a number JSON allows; write null or a number.")

    def integer(digits: str) -> Any:
        nonlocal refused
        if len(digits) > max_digits + 1 and len(digits.lstrip("-")) > max_digits:
            refused = True
            return _Refused(
                f"a number with {len(digits.lstrip('-')):,} digits is too long; at most {max_digits} digits are allowed."
            )
        return int(digits)

    def real(digits: str) -> Any:
        nonlocal refused
        value = float(digits)
        if math.isinf(value):
            refused = True
            return _Refused(f"the number {digits[:20]}{'...' if len(digits) > 20 else ''} is too large.")
        return value

    hooks = {"parse_constant": constant, "parse_float": real}
    # The integer hook costs a Python call per integer: only when a long run of digits is there at all.
    if len(text) > max_digits and re.search(rf"\d{{{max_digits + 1}}}", text):
        hooks["parse_int"] = integer
    try:
        value = json.loads(text, **hooks)
    except json.JSONDecodeError as exc:
        raise JSONProblem(f"not valid JSON: {exc.msg} at character {exc.pos + 1}.") from exc
    except RecursionError as exc:  # the scan above should have caught it
        raise JSONProblem(f"the JSON nests arrays or objects more than {max_depth} levels deep.") from exc
    if refused:
        path, reason = _find_refused(value)
        where = describe_path(path)
        raise JSONProblem(f"the value at {where}: {reason}" if where else reason, path=path)
    return value


def find_unstorable(value: Any) -> str | None:
    """Why `value` (text, or parsed JSON: keys and values) cannot be stored
    as text, or None. Iterative, so any depth is safe."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            found = UNSTORABLE.search(node)
            if found:
                if found.group() == "\x00":
                    return "contains a NUL character (byte 0), which text cannot hold; remove it."
                return f"contains \\u{ord(found.group()):04x}, half of a surrogate pair, which is not a character; remove it."
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, (list, tuple)):
            stack.extend(node)
    return None
