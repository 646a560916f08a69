"""django-csp's middleware with its header built once.

django-csp builds the policy string for every response (two dataclass
copies and a join per response, ~30 µs: a twentieth of a labelling-loop
request). Our policy is the same for every response unless a view asks for
a nonce or decorates its response (csp_update, csp_replace, csp_exempt...),
so the plain case reuses the string django-csp built the first time; every
other case goes through django-csp unchanged.
"""

from __future__ import annotations

from csp.constants import HEADER
from csp.middleware import CheckableLazyObject
from csp.middleware import CSPMiddleware as DjangoCSPMiddleware
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

# Attributes django-csp's decorators set on a response to change its policy.
_PER_RESPONSE = (
    "_csp_config",
    "_csp_update",
    "_csp_replace",
    "_csp_exempt",
    "_csp_config_ro",
    "_csp_update_ro",
    "_csp_replace_ro",
    "_csp_exempt_ro",
)
_cached: dict[str, str] = {}


@receiver(setting_changed)
def _forget_policy(setting, **kwargs) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        _cached.clear()


class CSPMiddleware(DjangoCSPMiddleware):
    def process_response(self, request, response):
        plain = (
            getattr(request, "_csp_nonce", None) is None
            and not any(hasattr(response, name) for name in _PER_RESPONSE)
            and not getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None)
            and not (settings.CONTENT_SECURITY_POLICY or {}).get("EXCLUDE_URL_PREFIXES")
            and not settings.DEBUG
        )
        if not plain or HEADER in response:
            return super().process_response(request, response)
        if "policy" not in _cached:
            _cached["policy"] = super().process_response(request, response)[HEADER]
        else:
            response[HEADER] = _cached["policy"]
            # As django-csp does: a nonce asked for after the header is written is an error.
            request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response
