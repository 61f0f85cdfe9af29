"""Who the client is to a tracking server, and which TLS certificates it trusts.

For ``http[s]://`` URIs these come from MLflow's settings (mlflow-spec §5.8), so a deployment
configured for the ``mlflow`` client works unchanged:

* ``user:password@`` in the URI itself → HTTP Basic (as ``requests`` takes it from the URL);
* else ``MLFLOW_TRACKING_USERNAME`` + ``MLFLOW_TRACKING_PASSWORD`` → HTTP Basic, either one
  falling back to ``mlflow_tracking_username`` / ``mlflow_tracking_password`` in the
  ``[mlflow]`` section of ``~/.mlflow/credentials``;
* else ``MLFLOW_TRACKING_TOKEN`` → ``Authorization: Bearer``.

They are read for every request, as MLflow reads them, so a rotated token or password is used
as soon as it is written (the file is parsed again only when it changes).

TLS: ``MLFLOW_TRACKING_INSECURE_TLS=true`` skips verification; ``MLFLOW_TRACKING_SERVER_CERT_PATH``
is the CA bundle (a file, or a directory of hashed certificates) to trust instead of the system's
(else ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE``, which ``requests`` honours);
``MLFLOW_TRACKING_CLIENT_CERT_PATH`` is a PEM file holding the client certificate and its key.
"""

from __future__ import annotations

import configparser
import os
import ssl
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

from ...exceptions import INVALID_PARAMETER_VALUE, TrackstoreError
from ._http import basic_authorization, env_flag, redact, split_url

CREDENTIALS_FILE = "~/.mlflow/credentials"


@dataclass(frozen=True, slots=True)
class HostCredentials:
    """A tracking server: its base URL (no credentials in it), how to authenticate, TLS."""

    url: str
    authorization: Callable[[], str | None]
    insecure: bool = False
    server_cert_path: str | None = None
    client_cert_path: str | None = None

    def ssl_context(self) -> ssl.SSLContext:
        """The TLS settings for an ``https`` server, checked now rather than at first use."""
        if self.insecure and self.server_cert_path:
            raise TrackstoreError(
                "MLFLOW_TRACKING_INSECURE_TLS=true and MLFLOW_TRACKING_SERVER_CERT_PATH contradict "
                "each other: set only one", INVALID_PARAMETER_VALUE)
        ca = (self.server_cert_path or os.environ.get("REQUESTS_CA_BUNDLE")
              or os.environ.get("CURL_CA_BUNDLE") or None)
        try:
            if self.insecure:
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            elif ca and os.path.isdir(ca):
                context = ssl.create_default_context(capath=ca)
            else:
                context = ssl.create_default_context(cafile=ca)
        except (OSError, ssl.SSLError) as exc:
            raise TrackstoreError(
                f"Cannot load the CA bundle {ca!r} (from MLFLOW_TRACKING_SERVER_CERT_PATH, else "
                f"REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE): {exc}", INVALID_PARAMETER_VALUE) from None
        if self.client_cert_path:
            try:
                context.load_cert_chain(self.client_cert_path)
            except (OSError, ssl.SSLError) as exc:
                raise TrackstoreError(
                    f"Cannot load the client certificate {self.client_cert_path!r} "
                    f"(MLFLOW_TRACKING_CLIENT_CERT_PATH, a PEM file with the certificate and its "
                    f"key): {exc}", INVALID_PARAMETER_VALUE) from None
        return context


def read_ini(path: str, what: str) -> configparser.ConfigParser | None:
    """An INI file whose ``[DEFAULT]`` is a section like any other (configparser would otherwise
    copy its keys into every section), read without ``%`` interpolation (a password may contain
    ``%``). None if the file does not exist."""
    parser = configparser.ConfigParser(default_section="\0", interpolation=None)
    try:
        with open(path, encoding="utf-8") as f:
            parser.read_file(f)
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        raise TrackstoreError(f"Cannot read {what} {path}: {exc}",
                              INVALID_PARAMETER_VALUE) from None
    return parser


class _CredentialsFile:
    """``~/.mlflow/credentials``, parsed again only when its identity or size or mtime change:
    it is consulted on every request that has no credentials in the environment."""

    def __init__(self) -> None:
        self._cached: tuple[object, tuple[str | None, str | None]] = (None, (None, None))

    def read(self) -> tuple[str | None, str | None]:
        path = os.path.expanduser(CREDENTIALS_FILE)
        try:
            st = os.stat(path)
        except OSError:
            return None, None
        key = (path, st.st_ino, st.st_size, st.st_mtime_ns)
        cached_key, value = self._cached
        if key != cached_key:
            parser = read_ini(path, "MLflow credentials file")
            section = parser["mlflow"] if parser is not None and "mlflow" in parser else {}
            value = (section.get("mlflow_tracking_username") or None,
                     section.get("mlflow_tracking_password") or None)
            self._cached = (key, value)
        return value


_credentials_file = _CredentialsFile()


def _mlflow_authorization(userinfo: tuple[str, str] | None) -> Callable[[], str | None]:
    def authorization() -> str | None:
        if userinfo is not None:
            return basic_authorization(*userinfo)
        username = os.environ.get("MLFLOW_TRACKING_USERNAME") or None
        password = os.environ.get("MLFLOW_TRACKING_PASSWORD") or None
        if username is None or password is None:
            file_username, file_password = _credentials_file.read()
            username, password = username or file_username, password or file_password
        if username and password:
            return basic_authorization(username, password)
        token = os.environ.get("MLFLOW_TRACKING_TOKEN")
        return f"Bearer {token}" if token else None

    return authorization


def mlflow_credentials(uri: str) -> HostCredentials:
    """The credentials and TLS settings of an ``http[s]://`` tracking URI."""
    origin, base_path, userinfo = split_url(uri)
    parts = urllib.parse.urlsplit(uri)
    if parts.query or parts.fragment:
        raise TrackstoreError(f"Invalid tracking server URL {redact(uri)!r}: a query string or "
                              "fragment has no meaning here", INVALID_PARAMETER_VALUE)
    return HostCredentials(
        url=f"{origin}{base_path}",
        authorization=_mlflow_authorization(userinfo),
        insecure=env_flag("MLFLOW_TRACKING_INSECURE_TLS", False),
        server_cert_path=os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH") or None,
        client_cert_path=os.environ.get("MLFLOW_TRACKING_CLIENT_CERT_PATH") or None,
    )
