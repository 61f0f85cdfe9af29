"""Which tracking URI is in force: ``set_tracking_uri()`` → ``MLFLOW_TRACKING_URI`` → ``./mlruns``.

Unlike MLflow >= 3.7, whose default became ``sqlite:///mlflow.db`` (and whose file store now
refuses to start), trackstore keeps the ``mlruns`` directory as the first-class default.
"""

from __future__ import annotations

import os
import pathlib

_uri: str | None = None

ENV_TRACKING_URI = "MLFLOW_TRACKING_URI"


def set_tracking_uri(uri: str | os.PathLike[str]) -> None:
    """Set the tracking URI for this process and its children.

    A path (``pathlib.Path`` or plain string) means a local ``mlruns`` directory. Like MLflow,
    the value is also exported as ``MLFLOW_TRACKING_URI`` so subprocesses inherit it.
    """
    global _uri
    if isinstance(uri, pathlib.PurePath):
        uri = pathlib.Path(os.path.abspath(uri)).as_uri()
    text = os.fspath(uri)
    if not text:
        _uri = None
        os.environ.pop(ENV_TRACKING_URI, None)
        return
    _uri = text
    os.environ[ENV_TRACKING_URI] = text


def get_tracking_uri() -> str:
    """The tracking URI in force: set > ``MLFLOW_TRACKING_URI`` > ``file://<cwd>/mlruns``."""
    if _uri is not None:
        return _uri
    env = os.environ.get(ENV_TRACKING_URI)
    if env:
        return env
    return pathlib.Path(os.path.abspath("mlruns")).as_uri()


def _reset() -> None:
    """Forget a URI set in this process (tests)."""
    global _uri
    _uri = None
