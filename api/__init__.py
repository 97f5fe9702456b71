"""The v1 HTTP API (FastAPI): routers per audience, schemas, auth and error mapping."""

from api.app import create_app

__all__ = ["create_app"]
