"""Short references staff read aloud and write on paper: a letter for the kind of thing and
eight hex digits (``R-1A2B3C4D``). Random, so they say nothing of order or volume."""

import secrets


def new_reference(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4).upper()}"
