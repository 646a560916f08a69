"""The JSON parser of every API view (REST_FRAMEWORK's DEFAULT_PARSER_CLASSES,
and the labelling loop's own views).

DRF's JSONParser hands the body to json.load as it is: 1,500 nested arrays
in a 3 KB body raise RecursionError (an HTML 500) and a body of any size is
read. This one refuses, with a 400 naming the problem, a body larger than
settings.API_MAX_JSON_BYTES, nesting deeper than jsonsafe.MAX_DEPTH, NaN /
Infinity (as DRF's strict mode does) and absurdly long numbers. The checks
cost two str.count calls on an ordinary body, so the labelling loop keeps
its speed.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from ..io import jsonsafe


class SafeJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.API_MAX_JSON_BYTES
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise ParseError(f"The JSON body is larger than {limit:,} bytes; send less at once.")
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = body.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParseError(f"The JSON body is not valid {encoding} text.") from exc
        try:
            return jsonsafe.loads(text)
        except jsonsafe.JSONProblem as exc:
            raise ParseError(f"JSON parse error: {exc.message}") from exc
