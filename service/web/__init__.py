"""The dashboard: the board and channel pages, and their assets, served by the service itself.

Everything the browser needs comes from here (no CDN, no external fonts), so the
dashboard works on an air-gapped network. The pages are plain HTML; JavaScript
modules read the public JSON API (`/v1/...`), as any other client would. Unknown
pages answer with an HTML 404 (`not_found`, the app's handler of 404s); the API's
own paths keep their problem documents.
"""

from service.web.routes import not_found, router

__all__ = ["not_found", "router"]
