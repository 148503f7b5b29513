"""Who may use the dashboard and the HTTP API: users and API tokens from configuration, with their roles.

There is no default user and no default password: with nothing configured nobody can log in, and
``queue-system web user NAME`` prints the line to add. Passwords are kept as argon2id hashes; API tokens are
random and kept as their SHA-256 (a token has 256 bits of entropy, so a fast hash is enough and lookups are
constant-time comparisons).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..errors import ConfigError

_HASHER = PasswordHasher()
# A hash to verify against when the user is unknown, so an unknown name costs as long as a wrong password.
_DUMMY_HASH = _HASHER.hash(secrets.token_hex(16))


class Role(StrEnum):
    ADMIN = "admin"  # may act: retry, remove, promote, abort, pause, resume, clean
    VIEWER = "viewer"  # reads only

    @classmethod
    def parse(cls, value: str) -> Role:
        try:
            return cls(value.strip().lower())
        except ValueError:
            raise ConfigError(f"unknown role {value!r}; use admin or viewer") from None


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a logged-in user (``via="session"``) or an API token (``via="token"``)."""

    name: str
    role: Role
    via: str

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


@dataclass(frozen=True)
class Credential:
    name: str
    role: Role
    secret_hash: str


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise ConfigError("a password needs at least 8 characters")
    return _HASHER.hash(password)


def new_token() -> tuple[str, str]:
    """A fresh API token and the SHA-256 hex digest to configure."""
    token = secrets.token_urlsafe(32)
    return token, token_digest(token)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_credentials(raw: str, what: str) -> dict[str, Credential]:
    """``name:role:hash;…`` (newlines work as separators too) into credentials by name; refuses malformed lines."""
    found: dict[str, Credential] = {}
    for item in raw.replace("\n", ";").split(";"):
        item = item.strip()
        if not item:
            continue
        name, sep1, rest = item.partition(":")
        role, sep2, secret_hash = rest.partition(":")
        if not (sep1 and sep2 and name and secret_hash):
            raise ConfigError(f"QS_WEB_{what.upper()}: {name or item[:10]!r}… is not name:role:hash")
        found[name] = Credential(name, Role.parse(role), secret_hash)
    return found


class Authenticator:
    """Checks passwords and tokens against the configured credentials."""

    def __init__(self, users: dict[str, Credential], tokens: dict[str, Credential]) -> None:
        self.users = users
        self.tokens = tokens

    @classmethod
    def from_strings(cls, users: str, tokens: str) -> Authenticator:
        return cls(parse_credentials(users, "users"), parse_credentials(tokens, "tokens"))

    @property
    def configured(self) -> bool:
        return bool(self.users or self.tokens)

    def login(self, name: str, password: str) -> Principal | None:
        user = self.users.get(name)
        try:
            _HASHER.verify(user.secret_hash if user else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        return Principal(user.name, user.role, "session") if user else None

    def bearer(self, token: str) -> Principal | None:
        digest = token_digest(token)
        for cred in self.tokens.values():
            if hmac.compare_digest(cred.secret_hash.lower(), digest):
                return Principal(cred.name, cred.role, "token")
        return None
