"""HTTP authentication for ``trackstore server``: Basic and bearer tokens, off by default.

Credentials live in a file (``--auth-file``), INI style::

    # who may use this server
    [users]
    alice = correct horse battery staple
    [tokens]
    ci-pipeline = 3f9c0e...

Users authenticate with HTTP Basic (MLflow's client sends it from ``MLFLOW_TRACKING_USERNAME``
and ``MLFLOW_TRACKING_PASSWORD``), tokens with ``Authorization: Bearer`` (from
``MLFLOW_TRACKING_TOKEN``). Only SHA-256 digests of the secrets are kept in memory, and a
presented secret is compared digest to digest in constant time.
"""

from __future__ import annotations

import base64
import binascii
import configparser
import hashlib
import hmac
import os
import stat
from collections.abc import Iterable

from ..exceptions import INVALID_PARAMETER_VALUE, TrackstoreError

SCHEMES = ("basic", "token")


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


class Authenticator:
    """Checks an ``Authorization`` header against the configured users and tokens."""

    def __init__(self, users: dict[str, str], tokens: dict[str, str],
                 schemes: Iterable[str] = SCHEMES) -> None:
        self.schemes = frozenset(schemes)
        unknown = self.schemes - set(SCHEMES)
        if unknown or not self.schemes:
            raise TrackstoreError(f"Unknown authentication scheme(s) {sorted(unknown)}: "
                                  f"expected {' and/or '.join(SCHEMES)}", INVALID_PARAMETER_VALUE)
        self._users = {name: _digest(pw) for name, pw in users.items()} if "basic" in self.schemes \
            else {}
        self._tokens = [(name, _digest(tok)) for name, tok in tokens.items()] \
            if "token" in self.schemes else []
        if "basic" in self.schemes and not self._users:
            raise TrackstoreError("Basic authentication needs at least one user in the [users] "
                                  "section of the auth file", INVALID_PARAMETER_VALUE)
        if "token" in self.schemes and not self._tokens:
            raise TrackstoreError("Token authentication needs at least one token in the "
                                  "[tokens] section of the auth file", INVALID_PARAMETER_VALUE)

    @classmethod
    def from_file(cls, path: str, schemes: Iterable[str] = SCHEMES) -> Authenticator:
        try:
            mode = os.stat(path).st_mode
        except OSError as exc:
            raise TrackstoreError(f"Cannot read the auth file {path!r}: {exc.strerror}",
                                  INVALID_PARAMETER_VALUE) from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise TrackstoreError(
                f"The auth file {path!r} holds secrets but others may read it "
                f"(mode {stat.filemode(mode)}); run: chmod 600 {path}", INVALID_PARAMETER_VALUE)
        parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
        parser.optionxform = str  # type: ignore[assignment,method-assign]  # keep user names
        try:
            with open(path, encoding="utf-8") as fh:
                parser.read_file(fh)
        except (configparser.Error, UnicodeDecodeError) as exc:
            raise TrackstoreError(f"Malformed auth file {path!r}: {exc}",
                                  INVALID_PARAMETER_VALUE) from None
        users = dict(parser["users"]) if parser.has_section("users") else {}
        tokens = dict(parser["tokens"]) if parser.has_section("tokens") else {}
        return cls(users, tokens, schemes)

    def principal(self, header: bytes | None) -> str | None:
        """The user or token name an ``Authorization`` header proves, or ``None``."""
        if not header:
            return None
        scheme, _, credentials = header.partition(b" ")
        scheme = scheme.lower()
        if scheme == b"basic" and self._users:
            try:
                decoded = base64.b64decode(credentials.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return None
            user, sep, password = decoded.partition(":")
            expected = self._users.get(user)
            # Compare even for an unknown user, so timing does not tell which users exist.
            ok = hmac.compare_digest(expected or b"\0" * 32, _digest(password))
            return user if sep and expected is not None and ok else None
        if scheme == b"bearer" and self._tokens:
            try:
                presented = _digest(credentials.strip().decode())
            except UnicodeDecodeError:
                return None
            found = None
            for name, digest in self._tokens:
                if hmac.compare_digest(digest, presented):
                    found = name
            return found
        return None

    def challenge(self) -> str:
        """The ``WWW-Authenticate`` value of a 401."""
        return 'Basic realm="trackstore"' if "basic" in self.schemes \
            else 'Bearer realm="trackstore"'
