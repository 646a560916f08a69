"""API token keys: made, hashed and fingerprinted as django-rest-knox does (no Django here)."""

from __future__ import annotations

import hashlib

from knox import crypto

# The first characters of a key find its row (knox's token_key); the rest stays secret.
TOKEN_KEY_LENGTH = 15


def new_key() -> str:
    """64 hex characters from the OS's random source."""
    return crypto.create_token_string()


def hash_key(raw: str) -> str:
    """The SHA-512 digest stored in place of the key."""
    return crypto.hash_token(raw)


def password_stamp(password_hash: str) -> str:
    """A fingerprint of a password hash: it changes whenever the password
    does, and says nothing about the password itself."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:32]
