"""Every error leaves as ``application/problem+json`` (RFC 9457), never a traceback."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from api.schemas import Problem
from dispatch.errors import DispatchError

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
DEFAULT_PROBLEMS = {
    "401": "Missing or unknown bearer token",
    "403": "The token's role may not do this, or the data is someone else's",
    "404": "An id in the path does not exist",
    "422": "Invalid input: `field` names the (first) wrong field, `errors` lists them all",
}


def problem(
    status: int, title: str, detail: str, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """A problem response (with ``headers``, e.g. the ``Allow`` of a 405)."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    body.update({k: v for k, v in extra.items() if v is not None})
    sent = dict(headers or {})
    if status == 401:
        sent["WWW-Authenticate"] = "Bearer"
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=sent or None)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _located(error: Any) -> dict[str, str]:
    """One validation error as ``{field, message}``. Malformed JSON blames the body
    (its ``loc`` holds a character offset, not a field) and says where it broke."""
    loc = tuple(error.get("loc", ()))
    message = str(error.get("msg", "")).removeprefix("Value error, ")  # pydantic's words for our own checks
    if error.get("type") == "json_invalid":
        offset = loc[1] if len(loc) > 1 else 0
        reason = (error.get("ctx") or {}).get("error", "")
        return {"field": "body", "message": f"malformed JSON at character {offset}: {reason}".rstrip(": ")}
    bound = _DATE_BOUNDS.get(str(error.get("type")))
    if bound is not None:
        key, words = bound
        limit = _DATE_REPR.fullmatch(str((error.get("ctx") or {}).get(key, "")))
        if limit is not None:  # pydantic's message says datetime.date(2000, 1, 1)
            message = f"must be {words} {dt.date(*map(int, limit.groups())).isoformat()}"
    return {"field": _field(loc), "message": message}


_DATE_REPR = re.compile(r"datetime\.date\((\d+), (\d+), (\d+)\)")
_DATE_BOUNDS = {
    "greater_than_equal": ("ge", "on or after"),
    "greater_than": ("gt", "after"),
    "less_than_equal": ("le", "on or before"),
    "less_than": ("lt", "before"),
}


REQUIRED_HEADER = "x-required-header"
"""Marks a header a handler checks itself (with its own 4xx naming it) as required in the
OpenAPI document: ``Header(json_schema_extra={REQUIRED_HEADER: True})``."""


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Make the OpenAPI document say what the handlers below send: every 4xx/5xx
    of every operation is an ``application/problem+json`` Problem (FastAPI would
    document 422 as its own JSON shape and leave 401/403/404 out)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            parameters = operation.get("parameters", [])
            for parameter in parameters:
                if parameter.get("schema", {}).pop(REQUIRED_HEADER, False):
                    parameter["required"] = True
            expected = []
            if operation.get("security"):
                expected += ["401", "403"]
            if any(p.get("in") == "path" for p in parameters):
                expected.append("404")
            if parameters or "requestBody" in operation:
                expected.append("422")
            for code in expected:
                responses.setdefault(code, {"description": DEFAULT_PROBLEMS[code]})
            for code, response in responses.items():
                if code[0] in "45":
                    response["content"] = {PROBLEM: {"schema": PROBLEM_REF}}
                    if code == "422":
                        response["description"] = DEFAULT_PROBLEMS["422"]
    text = repr(schema["paths"])
    for unused in ("HTTPValidationError", "ValidationError"):
        if f"/{unused}'" not in text:
            components.pop(unused, None)
    return schema


HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def allowed_methods(schema: dict[str, Any], path: str) -> set[str]:
    """Every method the documented paths matching ``path`` take (HEAD with GET), for
    the ``Allow`` of a 405: Starlette's lists only the one route it tried first."""
    paths: dict[str, Any] = schema.get("paths", {})
    if path in paths:  # a literal path wins over templates it also matches (/v1/jobs/import)
        matching = [paths[path]]
    else:
        matching = [
            item
            for template, item in paths.items()
            if re.fullmatch(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)), path)
        ]
    methods = {m.upper() for item in matching for m in item if m.lower() in HTTP_METHODS}
    if "GET" in methods:
        methods.add("HEAD")
    return methods


def install(app: FastAPI) -> None:
    """Register the problem handlers on ``app``, and document them in its OpenAPI."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(DispatchError)
    async def dispatch_error(_request: Request, exc: DispatchError) -> JSONResponse:
        return problem(exc.status, exc.title, exc.detail, getattr(exc, "headers", None), field=exc.field)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [_located(e) for e in exc.errors()]
        first = errors[0] if errors else {"field": "body", "message": "invalid"}
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return problem(422, "Invalid input", detail, field=first["field"], errors=errors)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeError):
            # FastAPI's answer to a JSON body that is not even text: malformed JSON, like any other
            detail = "malformed JSON: the body is not UTF-8 text"
            return problem(422, "Invalid input", detail, field="body", errors=[{"field": "body", "message": detail}])
        headers = dict(exc.headers or {})
        if exc.status_code == 405 and (methods := allowed_methods(app.openapi(), request.url.path)):
            headers["Allow"] = ", ".join(sorted(methods))
        return problem(exc.status_code, str(exc.detail), str(exc.detail), headers=headers)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=exc)
        return problem(500, "Internal error", "an unexpected error occurred; it has been logged")
