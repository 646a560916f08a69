"""The client's address, as sign-in lockouts, throttles and security events see it."""

from __future__ import annotations

import ipaddress

from django.conf import settings


def client_ip(request) -> str | None:
    """REMOTE_ADDR, or behind TRUSTED_PROXY_COUNT proxies the address the
    outermost of them saw (counted from the right of X-Forwarded-For, as
    DRF's NUM_PROXIES does: the entries to its left are the client's to
    forge). None when that is not an IP address."""
    candidate = request.META.get("REMOTE_ADDR")
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if settings.TRUSTED_PROXY_COUNT and forwarded:
        hops = [part.strip() for part in forwarded.split(",")]
        candidate = hops[-min(settings.TRUSTED_PROXY_COUNT, len(hops))]
    try:
        return str(ipaddress.ip_address(candidate)) if candidate else None
    except ValueError:
        return None
