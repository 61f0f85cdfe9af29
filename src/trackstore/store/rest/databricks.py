"""Credentials for ``databricks`` and ``databricks://<profile>`` tracking URIs.

Resolved as MLflow's legacy providers resolve them (mlflow-spec §8), without the Databricks SDK:

* ``databricks://<profile>``, or bare ``databricks`` with ``DATABRICKS_CONFIG_PROFILE`` set:
  only that section of ``~/.databrickscfg`` (``DATABRICKS_CONFIG_FILE`` overrides the path);
* bare ``databricks``: ``DATABRICKS_HOST`` with ``DATABRICKS_TOKEN`` (or
  ``DATABRICKS_USERNAME`` + ``DATABRICKS_PASSWORD``; ``DATABRICKS_INSECURE``), else the
  ``[DEFAULT]`` section of that file.

A section's keys are ``host``, ``token``, ``username``, ``password`` and ``insecure``; a named
section does not inherit ``[DEFAULT]``'s keys (MLflow reads them so). A token is sent as a bearer
token, a username and password as HTTP Basic; a host without a scheme means ``https://``.
OAuth (client id and secret), notebook tokens and secret-scope URIs
(``databricks://<scope>:<prefix>``) need the Databricks runtime or SDK and are refused with a
message saying so.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping

from ...exceptions import INVALID_PARAMETER_VALUE, TrackstoreError
from ._http import basic_authorization
from .credentials import HostCredentials, read_ini

DEFAULT_CONFIG_FILE = "~/.databrickscfg"
_TRUE = frozenset({"1", "true", "yes", "on"})


def config_file() -> str:
    return os.path.expanduser(os.environ.get("DATABRICKS_CONFIG_FILE") or DEFAULT_CONFIG_FILE)


def _profile(uri: str) -> str | None:
    if uri == "databricks":
        return None
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme.lower() != "databricks" or parts.path not in ("", "/") or parts.query:
        raise TrackstoreError(f"Invalid Databricks tracking URI {uri!r}: expected 'databricks' "
                              "or 'databricks://<profile>'", INVALID_PARAMETER_VALUE)
    if ":" in parts.netloc:
        raise TrackstoreError(
            f"The tracking URI {uri!r} names a Databricks secret scope (databricks://<scope>:"
            "<prefix>), which only a Databricks notebook or job can read. Use 'databricks' or "
            "'databricks://<profile>'.", INVALID_PARAMETER_VALUE)
    return parts.netloc or None


def _credentials(fields: Mapping[str, str | None], where: str) -> HostCredentials | None:
    """Credentials from *fields* (host, token, username, password, insecure); None when they
    do not hold a host with a token or a username and password."""
    host = (fields.get("host") or "").strip().rstrip("/")
    token, username, password = (fields.get(k) for k in ("token", "username", "password"))
    if not host or not (token or (username and password)):
        return None
    authorization = (basic_authorization(username, password) if username and password
                     else f"Bearer {token}")
    if "://" not in host:
        host = "https://" + host
    if urllib.parse.urlsplit(host).scheme.lower() not in ("http", "https"):
        raise TrackstoreError(f"Invalid Databricks host {host!r} in {where}",
                              INVALID_PARAMETER_VALUE)

    def fixed() -> str:
        return authorization

    return HostCredentials(host, fixed,
                           insecure=(fields.get("insecure") or "").strip().lower() in _TRUE)


def _from_profile(profile: str, uri: str) -> HostCredentials:
    path = config_file()
    parser = read_ini(path, "Databricks configuration file")
    hint = (f"Create it with `databricks configure --profile {profile}` or point "
            "DATABRICKS_CONFIG_FILE at the file that has it.")
    if parser is None:
        raise TrackstoreError(f"Databricks profile {profile!r} (tracking URI {uri!r}) not found: "
                              f"{path} does not exist. {hint}", INVALID_PARAMETER_VALUE)
    if not parser.has_section(profile):
        raise TrackstoreError(f"Databricks profile {profile!r} (tracking URI {uri!r}) not found "
                              f"in {path}. {hint}", INVALID_PARAMETER_VALUE)
    where = f"profile [{profile}] of {path}"
    credentials = _credentials(parser[profile], where)
    if credentials is None:
        raise TrackstoreError(f"The {where} needs 'host' and 'token' (or 'username' and "
                              "'password') for tracking to Databricks.", INVALID_PARAMETER_VALUE)
    return credentials


def databricks_credentials(uri: str) -> HostCredentials:
    """The host and credentials of a ``databricks`` / ``databricks://<profile>`` URI."""
    profile = _profile(uri) or os.environ.get("DATABRICKS_CONFIG_PROFILE") or None
    if profile is not None:
        return _from_profile(profile, uri)
    env = {name: os.environ.get(f"DATABRICKS_{name.upper()}")
           for name in ("host", "token", "username", "password", "insecure")}
    credentials = _credentials(env, "DATABRICKS_HOST")
    if credentials is not None:
        return credentials
    parser = read_ini(config_file(), "Databricks configuration file")
    if parser is not None and parser.has_section("DEFAULT"):
        credentials = _credentials(parser["DEFAULT"], f"[DEFAULT] of {config_file()}")
        if credentials is not None:
            return credentials
    raise TrackstoreError(
        f"No Databricks credentials for the tracking URI {uri!r}: set DATABRICKS_HOST and "
        "DATABRICKS_TOKEN, or put 'host' and 'token' in the [DEFAULT] section of "
        f"{config_file()} (DATABRICKS_CONFIG_FILE sets another path), or name a profile "
        "with 'databricks://<profile>' or DATABRICKS_CONFIG_PROFILE.", INVALID_PARAMETER_VALUE)
