"""AES-256-GCM primitives: the stored format of every encrypted value.

Stored form: one version byte, a 96-bit random nonce, then ciphertext and tag. The associated
data binds a value to where it belongs, so a value copied elsewhere fails to decrypt.
"""

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

FORMAT_V1 = 1
NONCE_BYTES = 12
KEY_BYTES = 32

# How many values this process has decrypted: lets tests and the benchmark prove that a search
# decrypts only its candidates.
counters = {"decrypt": 0}


class DecryptionError(Exception):
    """A ciphertext failed its integrity check: wrong key, wrong place, or tampered."""


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def seal(aead: AESGCM, plaintext: bytes, associated_data: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return bytes([FORMAT_V1]) + nonce + aead.encrypt(nonce, plaintext, associated_data)


def unseal(aead: AESGCM, blob: bytes, associated_data: bytes) -> bytes:
    counters["decrypt"] += 1
    if len(blob) < 1 + NONCE_BYTES + 16 or blob[0] != FORMAT_V1:
        raise DecryptionError("Unknown or damaged ciphertext format.")
    nonce = blob[1 : 1 + NONCE_BYTES]
    try:
        return aead.decrypt(nonce, blob[1 + NONCE_BYTES :], associated_data)
    except InvalidTag:
        raise DecryptionError(
            "Integrity check failed: the value was encrypted for another key, row or field, "
            "or it was altered."
        ) from None


def derive_key(root: bytes, purpose: str) -> bytes:
    """Derive an independent 256-bit key for one purpose from a root key (HKDF-SHA256)."""
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=purpose.encode()
    ).derive(root)


def keyed_hash(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()
