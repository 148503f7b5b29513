"""Authenticated encryption for sensitive payloads (Laravel's ``ShouldBeEncrypted``).

Fernet (AES-128-CBC + HMAC-SHA256) from ``cryptography``; ``MultiFernet`` gives key rotation: the first key
encrypts, every key decrypts, and :func:`rotate_token` re-encrypts old tokens under the first key.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from .errors import ConfigError


class Cipher:
    """Encrypts and decrypts byte strings with a rotating list of keys."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ConfigError("sensitive jobs need encryption keys: set QS_ENCRYPTION_KEYS (see `queue-system keygen`)")
        try:
            self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"invalid encryption key: {exc}") from exc

    def encrypt(self, data: bytes) -> str:
        return self._fernet.encrypt(data).decode()

    def decrypt(self, token: str) -> bytes:
        """Raises ``InvalidToken`` when the token was tampered with or no configured key fits."""
        return self._fernet.decrypt(token.encode())

    def rotate_token(self, token: str) -> str:
        return self._fernet.rotate(token.encode()).decode()


def generate_key() -> str:
    return Fernet.generate_key().decode()


__all__ = ["Cipher", "InvalidToken", "generate_key"]
