"""The reader's own address, for lockouts (django-axes), behind TRUSTED_PROXIES proxies.

Each trusted proxy appends the address it received the request from to X-Forwarded-For, so
the reader's address is the TRUSTED_PROXIES-th entry from the right; anything further left
was written by the client and is not believed. Without trusted proxies it is REMOTE_ADDR.
"""

import ipaddress

from django.conf import settings


def client_ip(request) -> str | None:
    remote = request.META.get("REMOTE_ADDR")
    proxies = settings.TRUSTED_PROXIES
    if not proxies:
        return remote
    hops = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    hops = [hop for hop in hops if hop]
    if len(hops) < proxies:
        return remote  # not through every proxy: the connecting address is all we know
    candidate = hops[-proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
