"""Who is on the other end of a request: the client's address, behind trusted proxies.

Behind a reverse proxy every request comes from the proxy's address; the proxy says whose
request it passes on in `X-Forwarded-For`. That header is only as honest as whoever wrote
it: a client can send one of its own. So it is read only when the request comes from a
proxy named in `TRUSTED_PROXIES` (addresses or networks, e.g. "127.0.0.1, 10.0.0.0/8"),
and then from the right: each trusted proxy appends the address it received the request
from, so the right-most address that is not a trusted proxy is the client; anything left
of it may have been made up by the client. With `TRUSTED_PROXIES` empty (the default) the
header is ignored and the client is `REMOTE_ADDR`.

The sign-in lockout (django-axes, `AXES_CLIENT_IP_CALLABLE`) and the audit trail
(`kernel.audit.client_ip`) both use `client_ip`, so a lockout is per client, not per proxy,
and audit rows name the client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """`values` ("192.0.2.1", "10.0.0.0/8", "::1") as networks; ValueError names a bad one."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"{value!r} is not an IP address or network (CIDR)") from exc
    return tuple(networks)


@lru_cache(maxsize=8)
def _trusted(values: tuple[str, ...]) -> tuple[Network, ...]:
    return parse_networks(values)


def trusted_proxies() -> tuple[Network, ...]:
    """The networks of `settings.TRUSTED_PROXIES` (read on each call: tests change it)."""
    return _trusted(tuple(getattr(settings, "TRUSTED_PROXIES", ()) or ()))


def _address(value: str) -> Address | None:
    """`value` as an address, or None when it is not one ("unknown", garbage, a port)."""
    value = value.strip()
    if value.startswith("[") and value.endswith("]"):  # "[2001:db8::1]"
        value = value[1:-1]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # "::ffff:192.0.2.1" is 192.0.2.1
    return address


def _is_trusted(address: Address, networks: tuple[Network, ...]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def client_ip(request) -> str | None:
    """The address of the client that sent `request` (None when the server gave none).

    `REMOTE_ADDR`, unless it is a trusted proxy: then the right-most `X-Forwarded-For`
    address that is not a trusted proxy. When the header is missing or every address in
    it is a trusted proxy, the left-most trusted one is the client (e.g. a health check
    from the proxy's own network). When the first untrusted entry is not an address at
    all, the client cannot be known: the last trusted proxy stands for it, never the
    garbage.
    """
    remote = request.META.get("REMOTE_ADDR") or None
    if remote is None:
        return None
    networks = trusted_proxies()
    current = _address(remote)
    if current is None or not networks or not _is_trusted(current, networks):
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    for entry in reversed([part for part in forwarded.split(",") if part.strip()]):
        hop = _address(entry)
        if hop is None:
            break  # not written by a trusted proxy: stop at the last one that was
        current = hop
        if not _is_trusted(hop, networks):
            break
    return str(current)
