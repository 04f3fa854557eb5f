"""Every URL pattern of the project, found through Django's resolver, with concrete URLs to request.

The security tests walk this list, so a URL added by any area of the app is covered
without editing them; a URL whose parameters they cannot fill makes them fail loudly.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.resolvers import RoutePattern

_PLACEHOLDER = re.compile(r"<(?:\w+:)?(\w+)>")


@dataclass(frozen=True)
class Route:
    """One URL pattern: its route text, name (with namespace) and parameter names."""

    route: str
    name: str | None
    params: tuple[str, ...]
    pattern: URLPattern
    namespace: str

    @property
    def is_admin(self) -> bool:
        # The admin's own pages, and the redirects from the admin addresses from before the app split.
        return self.namespace == "admin" or self.name == "moved_admin"


def _params(pattern: URLPattern) -> tuple[str, ...]:
    if isinstance(pattern.pattern, RoutePattern):
        return tuple(pattern.pattern.converters)
    return tuple(pattern.pattern.regex.groupindex)


def all_routes() -> list[Route]:
    """Every URL pattern reachable from ROOT_URLCONF."""

    def walk(patterns: list, prefix: str, namespace: str) -> Iterator[Route]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = ":".join(part for part in (namespace, pattern.namespace or "") if part)
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
            else:
                name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name
                yield Route(prefix + str(pattern.pattern), name, _params(pattern), pattern, namespace)

    return list(walk(get_resolver().url_patterns, "", ""))


def url_for(route: Route, fill: Callable[[Route, str], str]) -> str:
    """A concrete URL for `route`, each parameter's value from `fill(route, param)`."""
    kwargs = {param: fill(route, param) for param in route.params}
    if route.name:
        return reverse(route.name, kwargs=kwargs)
    # Unnamed patterns (admin redirects, the admin's catch-all): fill the route text itself.
    if isinstance(route.pattern.pattern, RoutePattern) and "(?P<" not in route.route:
        return "/" + _PLACEHOLDER.sub(lambda match: kwargs[match.group(1)], route.route)
    if route.route.endswith("(?P<url>.*)$"):
        return "/" + route.route.split("(?P<url>")[0].lstrip("^").replace("^", "") + kwargs["url"]
    raise AssertionError(f"cannot build a URL for unnamed pattern {route.route!r}")
