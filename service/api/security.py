"""Security headers on every response: a same-origin Content-Security-Policy and friends.

`SecurityHeaders` is the outermost middleware, so API answers, problems (the
last-resort 500 included), dashboard pages, static files and the API docs all
carry the headers. The policy allows only the service's own origin; a response
that needs more (the API docs' inline script, allowed by its hash) sets its own
policy, built here with `content_security_policy`, and the middleware keeps it.
Scripts run only from our origin or by the hash of their exact text, everywhere.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from html.parser import HTMLParser

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = "Content-Security-Policy"
# Only our own origin; images may also be data: URIs (Swagger UI's and ReDoc's icons).
SAME_ORIGIN: dict[str, tuple[str, ...]] = {
    "default-src": ("'self'",),
    "script-src": ("'self'",),
    "style-src": ("'self'",),
    "img-src": ("'self'", "data:"),
    "connect-src": ("'self'",),
    "font-src": ("'self'",),
    "object-src": ("'none'",),
    "base-uri": ("'none'",),
    "form-action": ("'self'",),
    "frame-ancestors": ("'none'",),
}


def content_security_policy(**extra: Iterable[str]) -> str:
    """The same-origin policy, each `extra` source appended to its directive
    (`script_src=["'sha256-…'"]` extends `script-src`)."""
    directives = {name: list(sources) for name, sources in SAME_ORIGIN.items()}
    for name, sources in extra.items():
        directives.setdefault(name.replace("_", "-"), ["'self'"]).extend(sources)
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


HEADERS = {
    CSP: content_security_policy(),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class SecurityHeaders:
    """Add the security headers to every HTTP response (a route's own CSP is kept)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _InlineCode(HTMLParser):
    """The text of every inline <script> (one without `src`) and <style> of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self._into: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script" and not any(name == "src" for name, _ in attrs):
            self._into = self.scripts
        elif tag == "style":
            self._into = self.styles
        if self._into is not None:
            self._into.append("")

    def handle_endtag(self, tag: str) -> None:
        self._into = None

    def handle_data(self, data: str) -> None:
        if self._into is not None:
            self._into[-1] += data


def csp_hash(text: str) -> str:
    """The CSP source allowing exactly this inline script or style."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def policy_for_page(html: str, *, any_style: bool = False, blob_workers: bool = False) -> str:
    """The same-origin policy, plus the hash of each inline script and style in `html`;
    with `any_style`, inline styles of any content (scripts still by hash only); with
    `blob_workers`, workers the page's own scripts build from blob: URLs."""
    parser = _InlineCode()
    parser.feed(html)
    parser.close()
    # A hash in style-src would disable 'unsafe-inline': give one or the other.
    styles = ["'unsafe-inline'"] if any_style else [csp_hash(style) for style in parser.styles]
    return content_security_policy(
        script_src=map(csp_hash, parser.scripts),
        style_src=styles,
        worker_src=["blob:"] if blob_workers else [],
    )
