"""Exceptions that the HTTP layer turns into 4xx answers."""


class DevstoreError(Exception):
    """Base class for client errors; carries an HTTP status."""

    status = 400


class BadRequest(DevstoreError):
    """The request body or parameters are invalid."""


class NotFound(DevstoreError):
    """The addressed object does not exist."""

    status = 404


class Conflict(DevstoreError):
    """The request conflicts with current state."""

    status = 409
