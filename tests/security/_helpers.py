"""Helpers of the security tests: a sentinel outside the store, raw HTTP, auth files.

:class:`Outside` is the check that nothing escaped: a directory *outside* every store and
artifact root, holding a file whose content is a random secret. Its whole tree (and every
other directory the test names) is photographed before an attack and compared after; a
response that contains the secret proves a read escaped.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import secrets
import socket
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def tree(root: Path, skip: tuple[Path, ...] = ()) -> dict[str, tuple[str, str]]:
    """Everything under *root* (links not followed, *skip* subtrees left out): relative
    path -> (kind, content digest or link target)."""
    found: dict[str, tuple[str, str]] = {}
    skipped = {os.path.abspath(p) for p in skip}
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = [d for d in dirs if os.path.abspath(os.path.join(folder, d)) not in skipped]
        for name in dirs + files:
            path = os.path.join(folder, name)
            relative = os.path.relpath(path, root)
            if os.path.islink(path):
                found[relative] = ("link", os.readlink(path))
            elif os.path.isdir(path):
                found[relative] = ("dir", "")
            else:
                with open(path, "rb") as fh:
                    found[relative] = ("file", hashlib.sha256(fh.read()).hexdigest())
    return found


@dataclass
class Outside:
    """A directory no store may touch, with a secret file; see the module doc.

    *watch* is the directory whose tree (less *inside*, the store's and artifact roots,
    where writes are expected) must not change: every escape of ``../`` from a root under
    it, or an absolute path the test chose under it, would show there.
    """

    watch: Path
    inside: tuple[Path, ...]
    directory: Path
    secret: str
    before: dict[str, tuple[str, str]] = field(default_factory=dict)

    @classmethod
    def make(cls, watch: Path, *inside: Path) -> Outside:
        directory = watch / "outside"
        directory.mkdir(parents=True, exist_ok=True)
        secret = f"SENTINEL-{secrets.token_hex(8)}"
        (directory / "secret.txt").write_text(secret)
        (directory / "sub").mkdir(exist_ok=True)
        (directory / "sub" / "meta.yaml").write_text(f"name: {secret}\n")
        outside = cls(watch, inside, directory, secret)
        outside.before = outside.snapshot()
        return outside

    def snapshot(self) -> dict[str, tuple[str, str]]:
        return tree(self.watch, self.inside + tuple(self.watch.glob("server-logs-*")))

    def assert_untouched(self, what: str = "") -> None:
        after = self.snapshot()
        before = self.before
        added = sorted(set(after) - set(before))
        removed = sorted(set(before) - set(after))
        changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
        assert not (added or removed or changed), (
            f"{what}: outside the store, added {added}, removed {removed}, changed {changed}")

    def leaked(self, data: bytes | str) -> bool:
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        return self.secret in text


class Raw:
    """A keep-alive HTTP/1.1 client sending paths exactly as given (no normalisation)."""

    def __init__(self, url: str, source: str | None = None) -> None:
        parsed = urllib.parse.urlsplit(url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self.source = source
        self.conn = self._connect()
        self.headers: dict[str, str] = {}

    def _connect(self) -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60,
                                          source_address=(self.source, 0) if self.source
                                          else None)
        return conn

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, Any, bytes]:
        """(status, JSON body or None, raw body); the connection is reopened when the
        server closed it."""
        for attempt in (0, 1):
            try:
                self.conn.request(method, path, body, headers or {})
                response = self.conn.getresponse()
                raw = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = self._connect()
                if attempt:
                    raise
        self.headers = {k.lower(): v for k, v in response.getheaders()}
        if response.getheader("connection", "").lower() == "close":
            self.conn.close()
            self.conn = self._connect()
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = None
        return response.status, data, raw

    def post(self, path: str, payload: Any, headers: dict[str, str] | None = None
             ) -> tuple[int, Any, bytes]:
        return self.request("POST", path, json.dumps(payload).encode(),
                            {"Content-Type": "application/json", **(headers or {})})

    def get(self, path: str, params: dict[str, Any] | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, Any, bytes]:
        query = "?" + urllib.parse.urlencode(params, doseq=True) if params else ""
        return self.request("GET", path + query, None, headers)

    def close(self) -> None:
        self.conn.close()


def raw_exchange(port: int, data: bytes, timeout: float = 30.0) -> bytes:
    """Send *data* on a new connection as it is (a hand-made request) and read the answer
    until the server closes the connection or *timeout* passes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):
            pass
    return b"".join(chunks)


def status_of(answer: bytes) -> int:
    """The status code of a raw HTTP answer (0 when there is none)."""
    line = answer.split(b"\r\n", 1)[0].split()
    return int(line[1]) if len(line) >= 2 and line[1].isdigit() else 0


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class Credentials:
    """An auth file's secrets, random per test session, and the file."""

    path: Path
    user: str
    password: str
    token_name: str
    token: str
    other_user: str
    other_password: str

    @classmethod
    def write(cls, folder: Path) -> Credentials:
        password = f"pw-{secrets.token_hex(12)}"
        other_password = f"pw2-{secrets.token_hex(12)}"
        token = f"tok-{secrets.token_hex(16)}"
        path = folder / "auth.ini"
        path.write_text(f"[users]\nalice = {password}\nbob = {other_password}\n"
                        f"[tokens]\nci = {token}\n")
        path.chmod(0o600)
        return cls(path, "alice", password, "ci", token, "bob", other_password)

    def secrets(self) -> list[str]:
        """Every string that must never be seen in a log."""
        return [self.password, self.other_password, self.token,
                base64.b64encode(f"{self.user}:{self.password}".encode()).decode(),
                base64.b64encode(f"{self.other_user}:{self.other_password}".encode()).decode()]
