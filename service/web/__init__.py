"""The dashboard: the board and channel pages, and their assets, served by the service itself.

Everything the browser needs comes from here (no CDN, no external fonts), so the
dashboard works on an air-gapped network. The pages are plain HTML; JavaScript
modules read the public JSON API (`/v1/...`), as any other client would.
"""

from service.web.routes import router

__all__ = ["router"]
