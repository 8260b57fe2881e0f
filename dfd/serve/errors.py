"""Every error the API answers is JSON: `{"error": code, "detail": text}`."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException


class ApiError(Exception):
    """A request the API refuses: its HTTP status, a short code and a sentence."""

    def __init__(
        self, status: int, code: str, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.headers = status, code, detail, headers


class BodyTooLarge(Exception):
    """The request body passed `limit` bytes while it was being received."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the request is larger than {limit} bytes")
        self.limit = limit


def error_response(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The JSON body and status of one error."""
    return JSONResponse({"error": code, "detail": detail}, status_code=status, headers=headers)


def too_large(limit: int) -> JSONResponse:
    """413 for a request body over `limit` bytes; the connection is not kept."""
    return error_response(
        413, "too_large", f"the request is larger than {limit} bytes", {"Connection": "close"}
    )


def install_error_handlers(app: FastAPI) -> None:
    """Answer ApiError, HTTP errors (404 routes, 405) and invalid requests in the same shape."""

    @app.exception_handler(ApiError)
    async def api_error(_: Request, error: ApiError) -> JSONResponse:
        return error_response(error.status, error.code, error.detail, error.headers)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, error: HTTPException) -> JSONResponse:
        if isinstance(error.__cause__, BodyTooLarge):  # FastAPI wraps body-reading errors
            return too_large(error.__cause__.limit)
        code = "not_found" if error.status_code == 404 else f"http_{error.status_code}"
        return error_response(error.status_code, code, str(error.detail), error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        return error_response(422, "invalid_request", problems)
