"""Errors the domain raises when a command or a fact breaks one of its rules."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FieldError:
    """One broken rule, located by the path of the offending field."""

    loc: tuple[str | int, ...]
    msg: str


class DomainError(Exception):
    """Base of every rule violation the domain reports."""


@dataclass
class InvalidFact(DomainError):
    """The submitted fact breaks one or more validation rules."""

    errors: list[FieldError] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join(f"{'.'.join(map(str, e.loc))}: {e.msg}" for e in self.errors)


@dataclass
class UnknownActor(DomainError):
    """A fact names an actor that is not registered."""

    actor_id: str
    suggestions: list[str] = field(default_factory=list)
    loc: tuple[str | int, ...] = ("actor",)

    def __str__(self) -> str:
        hint = (
            f"; did you mean {', '.join(repr(s) for s in self.suggestions)}?"
            if self.suggestions
            else ""
        )
        return f"unknown actor {self.actor_id!r}{hint}"


@dataclass
class Conflict(DomainError):
    """An id was used before for different content, or the change is not allowed now."""

    detail: str

    def __str__(self) -> str:
        return self.detail


@dataclass
class NotFound(DomainError):
    """A referenced actor or event does not exist."""

    detail: str

    def __str__(self) -> str:
        return self.detail
