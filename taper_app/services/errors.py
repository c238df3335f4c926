"""Errors a service returns to its caller: each carries a message meant for the user."""

from __future__ import annotations

from dataclasses import dataclass


class ServiceError(Exception):
    """A refused action with a message for the user; nothing was written."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: which field (or column) and what."""

    field: str
    message: str
    line: int | None = None
    file: str | None = None

    def __str__(self) -> str:
        if self.file is not None:
            return f"{self.file}:{self.line}: {self.field}: {self.message}"
        return f"{self.field}: {self.message}"


class ValidationError(ServiceError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))

    def for_field(self, name: str) -> list[str]:
        return [p.message for p in self.problems if p.field == name]


class PermissionDenied(ServiceError):
    pass


class NotFound(ServiceError):
    pass


class AuthenticationFailed(ServiceError):
    pass


class FirstPasswordNotChanged(AuthenticationFailed):
    """The password is right, but it is still the one an administrator set (21 CFR
    11.300: not the user's own); the user must choose their own before anything else."""


class StaleData(ServiceError):
    """Someone else changed the record since it was read; the input is kept, nothing saved."""
