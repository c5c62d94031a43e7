"""The web app and REST API: `create_app(predictor)` for a FastAPI app, `serve(...)` to run it."""

from __future__ import annotations

from .app import Limits, create_app

__all__ = ["Limits", "create_app", "serve"]


def serve(predictor, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info") -> None:
    """Run the app with uvicorn until interrupted (binds to localhost unless told otherwise)."""
    import uvicorn

    uvicorn.run(create_app(predictor), host=host, port=port, log_level=log_level)
