"""What waits for a person: the approvals inbox's sources.

Any layer registers a source (a callable taking the user and returning ``Waiting`` items
that user may act on); the inbox page, the count in the top bar and the start page ask
``waiting_for(user)``. A source answers only with labels and links, never personal data,
and must be cheap: it runs on every page that shows the top bar."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class Waiting:
    kind: str  # short machine name of the source, e.g. "retention", "request"
    label: str  # what the person sees (translated), e.g. "Retention batch R-1234"
    url: str  # where the person acts on it
    since: datetime | None = None


Source = Callable[[object], list[Waiting]]
_SOURCES: dict[str, Source] = {}
_EARLIEST = datetime.min.replace(tzinfo=UTC)


def register(kind: str) -> Callable[[Source], Source]:
    """Decorator: ``@inbox.register("export")`` on ``def waiting(user) -> list[Waiting]``."""

    def add(source: Source) -> Source:
        _SOURCES[kind] = source
        return source

    return add


def waiting_for(user) -> list[Waiting]:
    """Everything waiting for ``user``, oldest first (undated last)."""
    if not getattr(user, "is_authenticated", False):
        return []
    items = [item for source in list(_SOURCES.values()) for item in source(user)]
    return sorted(items, key=lambda item: (item.since is None, item.since or _EARLIEST))
