"""The HTTP API's documentation pages, ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc).

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so on an office intranet
without internet they stay blank. The same bundles ship inside the ``fastapi-offline``
package (with their favicon); callagent serves them from there under
:data:`ASSETS_URL`, and the pages' Content-Security-Policy lets them load nothing from
anywhere else.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_URL = "/static/api-docs"  # under /static: never held by the in-flight limit
# Both pages start their bundle from an inline script, and ReDoc styles itself inline
# and searches in a blob: worker; everything else comes from callagent itself.
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; worker-src 'self' blob:; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
}


def assets_dir() -> Path:
    """The folder of the installed ``fastapi-offline`` that holds the two bundles."""
    return Path(str(files("fastapi_offline") / "static"))


def install(app: FastAPI) -> None:
    """Serve ``/docs`` and ``/redoc`` with their assets from the installed package.

    ``app`` must be made with ``docs_url=None, redoc_url=None`` (FastAPI's CDN pages),
    and this must run before anything mounts ``/static`` itself, which would otherwise
    take the assets' requests.
    """
    openapi_url = app.openapi_url or "/openapi.json"
    favicon = f"{ASSETS_URL}/favicon.png"
    app.mount(ASSETS_URL, StaticFiles(directory=assets_dir()), name="api-docs-assets")

    async def swagger_ui(_request: Request) -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=favicon,
            swagger_ui_parameters=app.swagger_ui_parameters,
        )
        page.headers.update(_HEADERS)
        return page

    async def redoc(_request: Request) -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=favicon,
            with_google_fonts=False,
        )
        page.headers.update(_HEADERS)
        return page

    # plain routes, as FastAPI adds its own docs pages: no dependencies, not API operations
    app.add_route("/docs", swagger_ui, include_in_schema=False)
    app.add_route("/redoc", redoc, include_in_schema=False)
