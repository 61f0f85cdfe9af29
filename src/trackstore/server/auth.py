"""Access control for ``trackstore server``: who may call it (HTTP Basic and bearer tokens)
and how often (a token bucket per client); both off by default.

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

Rate limits (``--rate-limit 50/s --rate-limit-burst 100``): :class:`RateLimiter` gives each
client a bucket of *burst* tokens refilled at *rate* per second; a request takes one, and a
request that finds the bucket empty is refused (429 ``REQUEST_LIMIT_EXCEEDED``, with
``Retry-After``). A client is its authenticated principal, else its address. The buckets
live in the worker process: with several workers, each enforces the limit on the requests
it serves.
"""

from __future__ import annotations

import base64
import binascii
import configparser
import hashlib
import hmac
import math
import os
import re
import stat
import time
from collections.abc import Callable, Iterable

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


#: Seconds per unit of a rate (``--rate-limit 50/s``, ``3000/min``, ``100000/h``).
_UNITS = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0,
          "h": 3600.0, "hour": 3600.0}
_RATE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*/\s*([a-z]+)\s*$")


def parse_rate(text: str) -> float:
    """Requests per second of a rate such as ``50/s``, ``3000/min`` or ``100000/h``."""
    match = _RATE.match(text.lower())
    unit = _UNITS.get(match.group(2)) if match else None
    if match is None or unit is None:
        raise TrackstoreError(f"Invalid rate limit {text!r}: expected a number of requests per "
                              "s, min or h, e.g. 50/s or 3000/min", INVALID_PARAMETER_VALUE)
    rate = float(match.group(1)) / unit
    if not 0 < rate < math.inf:
        raise TrackstoreError(f"Invalid rate limit {text!r}: it must be more than 0",
                              INVALID_PARAMETER_VALUE)
    return rate


class RateLimiter:
    """Token buckets, one per client: *burst* requests at once, *rate* per second after.

    Called on the worker's event loop only (no lock). Buckets that have refilled are
    forgotten when more than :attr:`MAX_BUCKETS` clients are known, so a flood of new
    addresses costs bounded memory (a full bucket and no bucket behave the same).
    """

    MAX_BUCKETS = 10_000

    def __init__(self, rate: float, burst: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not rate > 0:
            raise TrackstoreError("A rate limit must be more than 0 requests per second",
                                  INVALID_PARAMETER_VALUE)
        self.rate = rate
        self.burst = burst if burst is not None else max(1, math.ceil(rate))
        if self.burst < 1:
            raise TrackstoreError("The rate limit's burst must be at least 1 request",
                                  INVALID_PARAMETER_VALUE)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # client: (tokens, at)

    def take(self, client: str) -> float:
        """Take a token from *client*'s bucket: 0.0 if there was one, else the seconds until
        there is one (the request is refused)."""
        now = self._clock()
        tokens, at = self._buckets.get(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        if tokens >= 1.0:
            if client not in self._buckets and len(self._buckets) >= self.MAX_BUCKETS:
                self._forget_full(now)
            self._buckets[client] = (tokens - 1.0, now)
            return 0.0
        self._buckets[client] = (tokens, now)
        return (1.0 - tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        refill = self.burst / self.rate
        for client, (_tokens, at) in list(self._buckets.items()):
            if now - at >= refill:
                del self._buckets[client]
        if len(self._buckets) >= self.MAX_BUCKETS:  # all busy: forget the oldest half
            for client in list(self._buckets)[:self.MAX_BUCKETS // 2]:
                del self._buckets[client]
