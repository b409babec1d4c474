"""Encrypt secrets at rest with the configured Fernet keys (newest first, older still read)."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class KeyringNotConfigured(RuntimeError):
    """Encryption was used before ``configure`` was called."""


class DecryptionError(RuntimeError):
    """A stored secret was written with a key we no longer have, or was tampered with."""


_cipher: MultiFernet | None = None


def configure(keys: tuple[str, ...]) -> None:
    """Install the keyring; the first key encrypts, every key decrypts."""
    global _cipher
    _cipher = MultiFernet([Fernet(key) for key in keys])


def _get() -> MultiFernet:
    if _cipher is None:
        raise KeyringNotConfigured("encryption keys are not configured (create_app does it)")
    return _cipher


def encrypt(plaintext: str) -> str:
    """Return the token for ``plaintext``."""
    return _get().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    """Return the plaintext of ``token``; ``DecryptionError`` if no key opens it."""
    try:
        return _get().decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise DecryptionError("stored secret cannot be decrypted with the configured keys") from error
