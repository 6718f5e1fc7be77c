"""Who is acting, from where, in which request: set by the middleware (or a command) and read
by the audit log and the data-key cache. Context variables, so threads never mix them."""

import contextlib
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass
class Scope:
    actor: object = None
    remote_addr: str | None = None
    cid: str = field(default_factory=lambda: uuid.uuid4().hex)
    # Unwrapped data keys, kept for this request only.
    data_keys: dict = field(default_factory=dict)


_scope: ContextVar[Scope | None] = ContextVar("shiori_scope", default=None)


def current() -> Scope | None:
    return _scope.get()


def current_cid() -> str | None:
    scope = _scope.get()
    return scope.cid if scope else None


@contextlib.contextmanager
def scope(actor=None, remote_addr=None, cid=None):
    """Open a scope for one request or one command run; data keys are forgotten at its end."""
    new = Scope(actor=actor, remote_addr=remote_addr)
    if cid:
        new.cid = cid
    token = _scope.set(new)
    try:
        yield new
    finally:
        new.data_keys.clear()
        _scope.reset(token)
