"""The regulator's way between the five chains' views: a small nav of links that every chain's regulator pages render.

``fivechains up`` knows where each chain is served and calls ``set_views(app, {...})`` on each app with the
absolute base URL of every view (``http://127.0.0.1:8700``); a view's own page path is added to a bare base
(``/regulator/`` for supervision, ``/web/`` for the court portal, ``/risk/``, ``/credit/``, ``/service/``), and a URL
that already names a path is used as given. ``nav_html`` writes the links (escaped, the current view marked
``aria-current="page"``); an app nobody called ``set_views`` on shows no nav. No script: plain links.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from markupsafe import Markup

__all__ = ["VIEW_NAMES", "VIEW_PATHS", "NAV_CSS", "set_views", "views_of", "view_url", "nav_html"]

# the five views, in the order the nav shows them: (Chinese, English)
VIEW_NAMES: dict[str, tuple[str, str]] = {
    "supervision": ("监管链", "Supervision chain"),
    "judicial": ("司法链", "Court portal"),
    "risk": ("风控链", "Risk-control chain"),
    "credit": ("征信链", "Credit chain"),
    "service": ("服务链", "Service chain"),
}
# each view's page on its app, added to a bare base URL
VIEW_PATHS: dict[str, str] = {"supervision": "/regulator/", "judicial": "/web/", "risk": "/risk/", "credit": "/credit/", "service": "/service/"}
# how the nav looks; a page's stylesheet may include it (a thin bar under the page's header, gone when printed)
NAV_CSS = (
    "nav.five-views { background: #f2f2f2; border-bottom: 1px solid #ccc; padding: 0.3em 1.5em; font-size: 0.9em; }\n"
    "nav.five-views span.label { color: #555; margin-right: 0.8em; }\n"
    "nav.five-views a { margin-right: 1.1em; color: #1f4e79; }\n"
    "nav.five-views a[aria-current] { font-weight: bold; color: #222; text-decoration: none; }\n"
    "@media print { nav.five-views { display: none; } }\n"
)


def _check_url(name: str, url: Any) -> str:
    if not isinstance(url, str):
        raise ValueError(f"the {name} view's URL must be a string")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c in url for c in "\"'<> \t\r\n"):
        raise ValueError(f"the {name} view's URL must be an absolute http(s) URL, not {url!r}")
    return url


def view_url(name: str, base: str) -> str:
    """The view's page: a bare base URL with the view's path added, or the URL as given when it names a path."""
    parts = urlsplit(base)
    if parts.path in ("", "/") and not parts.query and not parts.fragment:
        return base.rstrip("/") + VIEW_PATHS[name]
    return base


def set_views(app: Any, links: Mapping[str, str]) -> dict[str, str]:
    """Store the views' absolute URLs on ``app.state.five_views`` (in the nav's order); a name that is not a view,
    or a URL that is not absolute http(s), is refused (ValueError). An empty mapping removes the nav."""
    unknown = sorted(set(links) - set(VIEW_NAMES))
    if unknown:
        raise ValueError(f"not a view: {', '.join(unknown)} (the views are {', '.join(VIEW_NAMES)})")
    views = {name: view_url(name, _check_url(name, links[name])) for name in VIEW_NAMES if name in links}
    app.state.five_views = views
    return views


def views_of(app_or_links: Any) -> dict[str, str]:
    """The views' URLs: from an app (``app.state.five_views``, none if never set) or a mapping given directly."""
    if app_or_links is None:
        return {}
    if isinstance(app_or_links, Mapping):
        links = app_or_links
        return {name: view_url(name, _check_url(name, links[name])) for name in VIEW_NAMES if name in links}
    state = getattr(app_or_links, "state", None)
    views = getattr(state, "five_views", None) if state is not None else None
    return dict(views) if isinstance(views, Mapping) else {}


def nav_html(app_or_links: Any, current: str) -> Markup:
    """The nav between the views (empty when no views are set): one link per view, the current one ``aria-current``."""
    views = views_of(app_or_links)
    if not views:
        return Markup("")
    links = []
    for name, url in views.items():
        zh, en = VIEW_NAMES[name]
        mark = Markup(' aria-current="page" class="current"') if name == current else Markup("")
        links.append(Markup('<a href="{}" id="view-{}"{}>{} · {}</a>').format(url, name, mark, zh, en))
    return Markup('<nav class="five-views" id="five-views" aria-label="五链视图 · The five chains\' views">'
                  '<span class="label">五链视图 · Views</span>{}</nav>').format(Markup("").join(links))
