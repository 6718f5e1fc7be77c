"""Who is acting, from where, in which request: set by the middleware (or a command) and read
by the audit log and the data-key cache. Context variables, so threads never mix them."""

import contextlib
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass
class Scope:
    explicit_actor: object = None
    remote_addr: str | None = None
    cid: str = field(default_factory=lambda: uuid.uuid4().hex)
    request: object = None
    # Unwrapped data keys, kept for this request only.
    data_keys: dict = field(default_factory=dict)
    # Access decisions taken in this scope, by data subject id (privacy.vault.gate).
    decisions: dict = field(default_factory=dict)
    # The audit chain's head as a page's query read it (privacy.audit_chain.with_head).
    chain_head: tuple | None = None

    @property
    def actor(self):
        """The acting user: given explicitly (commands), or the request's user, read only
        when an audit entry needs it."""
        if self.explicit_actor is not None:
            return self.explicit_actor
        return getattr(self.request, "user", None)


_scope: ContextVar[Scope | None] = ContextVar("shiori_scope", default=None)


def current() -> Scope | None:
    return _scope.get()


def current_cid() -> str | None:
    scope = _scope.get()
    return scope.cid if scope else None


@contextlib.contextmanager
def scope(actor=None, remote_addr=None, cid=None, request=None):
    """Open a scope for one request or one command run; data keys are forgotten at its end."""
    new = Scope(explicit_actor=actor, remote_addr=remote_addr, request=request)
    if cid:
        new.cid = cid
    token = _scope.set(new)
    try:
        yield new
    finally:
        new.data_keys.clear()
        new.decisions.clear()
        _scope.reset(token)
