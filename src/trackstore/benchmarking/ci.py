"""Where a benchmark session ran: the commit, the branch and the CI job, from the environment.

The CI services set variables in every job; each provider below is detected by the variable
it documents as its marker, and its own variables give the facts. What the CI does not give
(or a run outside CI) comes from ``git`` in the project's directory. The facts become run tags
(:func:`run_tags`): MLflow's own keys where MLflow has one (``mlflow.source.git.commit``,
``mlflow.source.git.branch``, ``mlflow.source.git.repoURL``, ``mlflow.user``), else
``trackstore.ci.*``.
"""

from __future__ import annotations

import subprocess
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

GIT_COMMIT_TAG = "mlflow.source.git.commit"
GIT_BRANCH_TAG = "mlflow.source.git.branch"
GIT_REPO_URL_TAG = "mlflow.source.git.repoURL"
SOURCE_TYPE_TAG = "mlflow.source.type"
SOURCE_NAME_TAG = "mlflow.source.name"
USER_TAG = "mlflow.user"
CI_PROVIDER_TAG = "trackstore.ci.provider"
CI_JOB_TAG = "trackstore.ci.job"
CI_JOB_ID_TAG = "trackstore.ci.job_id"
CI_URL_TAG = "trackstore.ci.url"

#: Every variable read here (tests clear them to run outside any CI).
ENV_VARS: tuple[str, ...] = (
    "GITHUB_ACTIONS", "GITHUB_SHA", "GITHUB_HEAD_REF", "GITHUB_REF_NAME", "GITHUB_REF_TYPE",
    "GITHUB_WORKFLOW", "GITHUB_JOB", "GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT", "GITHUB_SERVER_URL",
    "GITHUB_REPOSITORY", "GITHUB_ACTOR",
    "GITLAB_CI", "CI_COMMIT_SHA", "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "CI_COMMIT_BRANCH",
    "CI_COMMIT_REF_NAME", "CI_JOB_NAME", "CI_JOB_ID", "CI_JOB_URL", "CI_PROJECT_URL",
    "GITLAB_USER_LOGIN",
    "JENKINS_URL", "GIT_COMMIT", "CHANGE_BRANCH", "BRANCH_NAME", "GIT_BRANCH", "JOB_NAME",
    "BUILD_NUMBER", "BUILD_URL", "GIT_URL",
    "CIRCLECI", "CIRCLE_SHA1", "CIRCLE_BRANCH", "CIRCLE_JOB", "CIRCLE_BUILD_NUM",
    "CIRCLE_BUILD_URL", "CIRCLE_REPOSITORY_URL", "CIRCLE_USERNAME",
    "BUILDKITE", "BUILDKITE_COMMIT", "BUILDKITE_BRANCH", "BUILDKITE_LABEL",
    "BUILDKITE_PIPELINE_SLUG", "BUILDKITE_JOB_ID", "BUILDKITE_BUILD_URL", "BUILDKITE_REPO",
    "BUILDKITE_BUILD_CREATOR",
    "TF_BUILD", "BUILD_SOURCEVERSION", "SYSTEM_PULLREQUEST_SOURCEBRANCH", "BUILD_SOURCEBRANCH",
    "SYSTEM_JOBDISPLAYNAME", "AGENT_JOBNAME", "SYSTEM_JOBID", "BUILD_BUILDID",
    "SYSTEM_COLLECTIONURI", "SYSTEM_TEAMPROJECT", "BUILD_REPOSITORY_URI", "BUILD_REQUESTEDFOR",
)


@dataclass(frozen=True)
class SourceInfo:
    """What is known of where a session ran; None where it is not known."""

    provider: str | None = None
    commit: str | None = None
    branch: str | None = None
    job: str | None = None
    job_id: str | None = None
    url: str | None = None
    repo_url: str | None = None
    user: str | None = None


def _get(env: Mapping[str, str], *names: str) -> str | None:
    """The first of *names* set to a non-blank value."""
    for name in names:
        value = env.get(name, "").strip()
        if value:
            return value
    return None


def _without_prefix(value: str | None, prefix: str) -> str | None:
    return value[len(prefix):] if value and value.startswith(prefix) else value


def _github(env: Mapping[str, str]) -> SourceInfo:
    server, repository, run_id = (_get(env, "GITHUB_SERVER_URL") or "https://github.com",
                                  _get(env, "GITHUB_REPOSITORY"), _get(env, "GITHUB_RUN_ID"))
    attempt = _get(env, "GITHUB_RUN_ATTEMPT")
    url = None
    if repository and run_id:
        url = f"{server}/{repository}/actions/runs/{run_id}"
        if attempt and attempt != "1":
            url += f"/attempts/{attempt}"
    # A pull request's GITHUB_REF_NAME is "<number>/merge"; GITHUB_HEAD_REF is its branch. A
    # tag build has no branch.
    branch = _get(env, "GITHUB_HEAD_REF")
    if branch is None and _get(env, "GITHUB_REF_TYPE") in (None, "branch"):
        branch = _get(env, "GITHUB_REF_NAME")
    workflow, job = _get(env, "GITHUB_WORKFLOW"), _get(env, "GITHUB_JOB")
    return SourceInfo(
        provider="github-actions", commit=_get(env, "GITHUB_SHA"), branch=branch,
        job=f"{workflow} / {job}" if workflow and job else job or workflow,
        job_id=f"{run_id}-{attempt}" if run_id and attempt and attempt != "1" else run_id,
        url=url, repo_url=f"{server}/{repository}" if repository else None,
        user=_get(env, "GITHUB_ACTOR"))


def _gitlab(env: Mapping[str, str]) -> SourceInfo:
    return SourceInfo(
        provider="gitlab-ci", commit=_get(env, "CI_COMMIT_SHA"),
        branch=_get(env, "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "CI_COMMIT_BRANCH",
                    "CI_COMMIT_REF_NAME"),
        job=_get(env, "CI_JOB_NAME"), job_id=_get(env, "CI_JOB_ID"), url=_get(env, "CI_JOB_URL"),
        repo_url=_get(env, "CI_PROJECT_URL"), user=_get(env, "GITLAB_USER_LOGIN"))


def _jenkins(env: Mapping[str, str]) -> SourceInfo:
    # The Git plugin's GIT_BRANCH names the remote branch ("origin/main").
    return SourceInfo(
        provider="jenkins", commit=_get(env, "GIT_COMMIT"),
        branch=_get(env, "CHANGE_BRANCH", "BRANCH_NAME")
        or _without_prefix(_get(env, "GIT_BRANCH"), "origin/"),
        job=_get(env, "JOB_NAME"), job_id=_get(env, "BUILD_NUMBER"), url=_get(env, "BUILD_URL"),
        repo_url=_get(env, "GIT_URL"))


def _circleci(env: Mapping[str, str]) -> SourceInfo:
    return SourceInfo(
        provider="circleci", commit=_get(env, "CIRCLE_SHA1"), branch=_get(env, "CIRCLE_BRANCH"),
        job=_get(env, "CIRCLE_JOB"), job_id=_get(env, "CIRCLE_BUILD_NUM"),
        url=_get(env, "CIRCLE_BUILD_URL"), repo_url=_get(env, "CIRCLE_REPOSITORY_URL"),
        user=_get(env, "CIRCLE_USERNAME"))


def _buildkite(env: Mapping[str, str]) -> SourceInfo:
    build_url, job_id = _get(env, "BUILDKITE_BUILD_URL"), _get(env, "BUILDKITE_JOB_ID")
    return SourceInfo(
        provider="buildkite", commit=_get(env, "BUILDKITE_COMMIT"),
        branch=_get(env, "BUILDKITE_BRANCH"),
        job=_get(env, "BUILDKITE_LABEL", "BUILDKITE_PIPELINE_SLUG"), job_id=job_id,
        url=f"{build_url}#{job_id}" if build_url and job_id else build_url,
        repo_url=_get(env, "BUILDKITE_REPO"), user=_get(env, "BUILDKITE_BUILD_CREATOR"))


def _azure(env: Mapping[str, str]) -> SourceInfo:
    collection, project = _get(env, "SYSTEM_COLLECTIONURI"), _get(env, "SYSTEM_TEAMPROJECT")
    build_id = _get(env, "BUILD_BUILDID")
    url = None
    if collection and project and build_id:
        url = (f"{collection.rstrip('/')}/{urllib.parse.quote(project)}/_build/results"
               f"?buildId={build_id}")
    # BUILD_SOURCEBRANCHNAME is only the last path segment ("feature/x" → "x"): not used.
    branch = _get(env, "SYSTEM_PULLREQUEST_SOURCEBRANCH", "BUILD_SOURCEBRANCH")
    return SourceInfo(
        provider="azure-pipelines", commit=_get(env, "BUILD_SOURCEVERSION"),
        branch=_without_prefix(branch, "refs/heads/"),
        job=_get(env, "SYSTEM_JOBDISPLAYNAME", "AGENT_JOBNAME"),
        job_id=_get(env, "SYSTEM_JOBID") or build_id, url=url,
        repo_url=_get(env, "BUILD_REPOSITORY_URI"), user=_get(env, "BUILD_REQUESTEDFOR"))


#: (marker variable, the value it has (any case) or None for "set", reader), in the order
#: checked.
_PROVIDERS: tuple[tuple[str, str | None, Callable[[Mapping[str, str]], SourceInfo]], ...] = (
    ("GITHUB_ACTIONS", "true", _github),
    ("GITLAB_CI", "true", _gitlab),
    ("BUILDKITE", "true", _buildkite),
    ("CIRCLECI", "true", _circleci),
    ("TF_BUILD", "true", _azure),
    ("JENKINS_URL", None, _jenkins),
)


def detect_ci(env: Mapping[str, str]) -> SourceInfo:
    """The CI service running this process and what it tells, from the variables in *env*
    (an empty :class:`SourceInfo` outside CI)."""
    for marker, value, reader in _PROVIDERS:
        found = _get(env, marker)
        if found is not None and (value is None or found.lower() == value):
            return reader(env)
    return SourceInfo()


def _git(directory: str, *args: str) -> str | None:
    """The output of ``git -C directory args``, or None where git or the repository is not."""
    try:
        done = subprocess.run(["git", "-C", directory, *args], capture_output=True, text=True,
                              timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def detect_source(env: Mapping[str, str], directory: str) -> SourceInfo:
    """:func:`detect_ci`, with the commit and branch the CI did not give read by ``git`` in
    *directory* (a detached HEAD has no branch)."""
    found = detect_ci(env)
    if found.commit is None:
        found = replace(found, commit=_git(directory, "rev-parse", "HEAD"))
    if found.branch is None:
        branch = _git(directory, "rev-parse", "--abbrev-ref", "HEAD")
        found = replace(found, branch=branch if branch != "HEAD" else None)
    return found


def _without_credentials(url: str) -> str:
    """*url* without a ``user:password@`` part (CI checkouts may put a token there)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme and "@" in parts.netloc:
        host = parts.netloc.rpartition("@")[2]
        return urllib.parse.urlunsplit(parts._replace(netloc=host))
    return url


def run_tags(source: SourceInfo) -> dict[str, str]:
    """The run tags for *source*: what is known, nothing for what is not."""
    tags = {SOURCE_TYPE_TAG: "JOB", SOURCE_NAME_TAG: "pytest-benchmark"}
    for key, value in ((GIT_COMMIT_TAG, source.commit), (GIT_BRANCH_TAG, source.branch),
                       (GIT_REPO_URL_TAG, source.repo_url and _without_credentials(
                           source.repo_url)),
                       (USER_TAG, source.user), (CI_PROVIDER_TAG, source.provider),
                       (CI_JOB_TAG, source.job), (CI_JOB_ID_TAG, source.job_id),
                       (CI_URL_TAG, source.url)):
        if value:
            tags[key] = value
    return tags
