"""Errors a scoring client can cause, each with its HTTP status; never a 500."""

from __future__ import annotations


class ScoringError(Exception):
    """A request the server refuses: `status` is the HTTP code, `field` the input at fault."""

    status = 400
    code = "BAD_REQUEST"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def body(self) -> dict[str, str]:
        """MLflow's error shape (`error_code`, `message`) plus the field when known."""
        body = {"error_code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body


class BadRequest(ScoringError):
    status = 400


class Unauthorized(ScoringError):
    status = 401
    code = "UNAUTHENTICATED"


class NotFound(ScoringError):
    status = 404
    code = "ENDPOINT_NOT_FOUND"


class MethodNotAllowed(ScoringError):
    status = 405
    code = "METHOD_NOT_ALLOWED"


class RequestTimeout(ScoringError):
    status = 408
    code = "REQUEST_TIMEOUT"


class PayloadTooLarge(ScoringError):
    status = 413
    code = "REQUEST_TOO_LARGE"


class UnsupportedMediaType(ScoringError):
    status = 415
    code = "UNSUPPORTED_MEDIA_TYPE"


class Overloaded(ScoringError):
    status = 503
    code = "TEMPORARILY_UNAVAILABLE"


class ModelFailed(Exception):
    """The model raised while predicting: the server's fault, answered with a 500."""

    def __init__(self, message: str, version: int | None = None) -> None:
        super().__init__(message)
        self.version = version
