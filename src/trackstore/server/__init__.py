"""``trackstore server``: MLflow's REST API over any trackstore backend store."""

from .app import ServerConfig, TrackingApp, create_app

__all__ = ["ServerConfig", "TrackingApp", "create_app"]
