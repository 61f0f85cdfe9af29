"""The tags MLflow puts on every run it starts: user, source, and the git commit.

``mlflow.source.git.*`` come from the git repository that contains the running script,
read straight from ``.git`` (HEAD, loose and packed refs, worktrees, the origin URL): no git
binary, no GitPython, no subprocess.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from functools import lru_cache

USER = "mlflow.user"
SOURCE_NAME = "mlflow.source.name"
SOURCE_TYPE = "mlflow.source.type"
GIT_COMMIT = "mlflow.source.git.commit"
GIT_BRANCH = "mlflow.source.git.branch"
GIT_REPO_URL = "mlflow.source.git.repoURL"
PARENT_RUN_ID = "mlflow.parentRunId"
NOTE = "mlflow.note.content"


def run_context_tags() -> dict[str, str]:
    """Tags for a new run, resolved as MLflow's default, git and environment providers do."""
    tags = {USER: _user(), SOURCE_NAME: _source_name(), SOURCE_TYPE: _source_type()}
    source = sys.argv[0] if sys.argv and sys.argv[0] else ""
    git = git_info(os.path.dirname(os.path.abspath(source)) if source else os.getcwd())
    if git is not None:
        commit, branch, url = git
        tags[GIT_COMMIT] = commit
        if branch:
            tags[GIT_BRANCH] = branch
        if url:
            tags[GIT_REPO_URL] = url
    extra = os.environ.get("MLFLOW_RUN_CONTEXT")
    if extra:
        try:
            loaded = json.loads(extra)
        except ValueError:
            loaded = None
        if isinstance(loaded, dict):
            tags.update({str(k): str(v) for k, v in loaded.items()})
    return tags


def _user() -> str:
    user = os.environ.get("MLFLOW_TRACKING_USERNAME")
    if user:
        return user
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _source_name() -> str:
    if _in_notebook():
        return "notebook"
    return sys.argv[0] if sys.argv and sys.argv[0] else "<console>"


def _source_type() -> str:
    return "NOTEBOOK" if _in_notebook() else "LOCAL"


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    try:
        ip = shell.get_ipython()
    except AttributeError:
        return False
    return ip is not None and "IPKernelApp" in getattr(ip, "config", {})


@lru_cache(maxsize=64)
def git_info(start: str) -> tuple[str, str | None, str | None] | None:
    """(commit, branch or None, origin URL or None) of the repository containing *start*."""
    git_dir, common_dir = _find_git_dir(start)
    if git_dir is None or common_dir is None:
        return None
    head = _read(os.path.join(git_dir, "HEAD"))
    if head is None:
        return None
    head = head.strip()
    branch = None
    if head.startswith("ref:"):
        ref = head[4:].strip()
        branch = ref[len("refs/heads/"):] if ref.startswith("refs/heads/") else None
        commit = _resolve_ref(git_dir, common_dir, ref)
    else:
        commit = head
    if not commit or len(commit) < 40 or any(c not in "0123456789abcdef" for c in commit):
        return None
    return commit, branch, _origin_url(common_dir)


def _find_git_dir(start: str) -> tuple[str | None, str | None]:
    path = os.path.abspath(start)
    while True:
        candidate = os.path.join(path, ".git")
        if os.path.isdir(candidate):
            return candidate, _common_dir(candidate)
        if os.path.isfile(candidate):  # a worktree or submodule: "gitdir: <path>"
            text = _read(candidate) or ""
            if text.startswith("gitdir:"):
                git_dir = os.path.normpath(os.path.join(path, text[7:].strip()))
                if os.path.isdir(git_dir):
                    return git_dir, _common_dir(git_dir)
            return None, None
        parent = os.path.dirname(path)
        if parent == path:
            return None, None
        path = parent


def _common_dir(git_dir: str) -> str:
    text = _read(os.path.join(git_dir, "commondir"))
    if text:
        return os.path.normpath(os.path.join(git_dir, text.strip()))
    return git_dir


def _resolve_ref(git_dir: str, common_dir: str, ref: str) -> str | None:
    for base in (git_dir, common_dir):
        text = _read(os.path.join(base, *ref.split("/")))
        if text is not None:
            return text.strip()
    packed = _read(os.path.join(common_dir, "packed-refs")) or ""
    for line in packed.splitlines():
        parts = line.split(" ", 1)
        if len(parts) == 2 and parts[1].strip() == ref:
            return parts[0]
    return None


def _origin_url(common_dir: str) -> str | None:
    config = _read(os.path.join(common_dir, "config")) or ""
    in_origin = False
    for raw in config.splitlines():
        line = raw.strip()
        if line.startswith("["):
            in_origin = line.replace(" ", "") in ('[remote"origin"]',)
        elif in_origin and line.startswith("url"):
            key, _, value = line.partition("=")
            if key.strip() == "url":
                return value.strip()
    return None


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError):
        return None
