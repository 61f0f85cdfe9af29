"""The revisions, oldest first: ``<revision>_<what it does>.py``."""
