"""The one error of the pair API: a refused request and its HTTP status."""

from __future__ import annotations


class PairError(Exception):
    """A refused or impossible request; ``status`` is the HTTP status to answer, ``message``
    says why (answered as ``{"message": ...}``), ``headers`` go with the answer."""

    def __init__(self, status: int, message: str, *, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
