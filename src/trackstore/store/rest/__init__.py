"""The client store for ``http[s]://`` and ``databricks[://<profile>]`` tracking URIs."""

from .store import RestStore

__all__ = ["RestStore"]
