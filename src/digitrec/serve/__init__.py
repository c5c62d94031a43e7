"""The web app and REST API: `create_app(predictor)` for a FastAPI app, `serve(...)` to run it."""

from __future__ import annotations

from .app import Limits, create_app
from .server import bind, run

__all__ = ["Limits", "bind", "create_app", "serve"]


def serve(predictor, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info", limits: Limits = Limits()) -> None:
    """Run the app with uvicorn until interrupted (binds to localhost unless told otherwise).

    The port is bound before the app starts: a busy one is a DigitrecError, not uvicorn's log.
    """
    run(create_app(predictor, limits), bind(host, port), log_level=log_level)
