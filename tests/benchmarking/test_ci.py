"""Commit, branch and CI job from each CI service's variables, and from git."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from trackstore.benchmarking import ci
from trackstore.benchmarking.ci import SourceInfo

SHA = "0123456789abcdef0123456789abcdef01234567"

CASES = {
    "github push": ({
        "GITHUB_ACTIONS": "true", "GITHUB_SHA": SHA, "GITHUB_REF_NAME": "main",
        "GITHUB_REF_TYPE": "branch", "GITHUB_WORKFLOW": "CI", "GITHUB_JOB": "bench",
        "GITHUB_RUN_ID": "42", "GITHUB_RUN_ATTEMPT": "1", "GITHUB_SERVER_URL":
        "https://github.com", "GITHUB_REPOSITORY": "acme/widgets", "GITHUB_ACTOR": "ada",
    }, SourceInfo("github-actions", SHA, "main", "CI / bench", "42",
                  "https://github.com/acme/widgets/actions/runs/42",
                  "https://github.com/acme/widgets", "ada")),
    "github pull request, second attempt": ({
        "GITHUB_ACTIONS": "true", "GITHUB_SHA": SHA, "GITHUB_REF_NAME": "17/merge",
        "GITHUB_HEAD_REF": "feature/x", "GITHUB_JOB": "bench", "GITHUB_RUN_ID": "42",
        "GITHUB_RUN_ATTEMPT": "2", "GITHUB_REPOSITORY": "acme/widgets",
    }, SourceInfo("github-actions", SHA, "feature/x", "bench", "42-2",
                  "https://github.com/acme/widgets/actions/runs/42/attempts/2",
                  "https://github.com/acme/widgets")),
    "github tag": ({
        "GITHUB_ACTIONS": "true", "GITHUB_SHA": SHA, "GITHUB_REF_NAME": "v1.0",
        "GITHUB_REF_TYPE": "tag",
    }, SourceInfo("github-actions", SHA)),
    "gitlab merge request": ({
        "GITLAB_CI": "true", "CI_COMMIT_SHA": SHA, "CI_COMMIT_REF_NAME": "refs/merge",
        "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feature", "CI_JOB_NAME": "bench",
        "CI_JOB_ID": "7", "CI_JOB_URL": "https://gitlab.com/acme/w/-/jobs/7",
        "CI_PROJECT_URL": "https://gitlab.com/acme/w", "GITLAB_USER_LOGIN": "ada",
    }, SourceInfo("gitlab-ci", SHA, "feature", "bench", "7",
                  "https://gitlab.com/acme/w/-/jobs/7", "https://gitlab.com/acme/w", "ada")),
    "jenkins": ({
        "JENKINS_URL": "https://ci.example/", "GIT_COMMIT": SHA, "GIT_BRANCH": "origin/main",
        "JOB_NAME": "widgets/bench", "BUILD_NUMBER": "12",
        "BUILD_URL": "https://ci.example/job/widgets/12/", "GIT_URL": "https://git.example/w",
    }, SourceInfo("jenkins", SHA, "main", "widgets/bench", "12",
                  "https://ci.example/job/widgets/12/", "https://git.example/w")),
    "circleci": ({
        "CIRCLECI": "true", "CIRCLE_SHA1": SHA, "CIRCLE_BRANCH": "main", "CIRCLE_JOB": "bench",
        "CIRCLE_BUILD_NUM": "99", "CIRCLE_BUILD_URL": "https://circleci.com/gh/acme/w/99",
        "CIRCLE_REPOSITORY_URL": "git@github.com:acme/w.git", "CIRCLE_USERNAME": "ada",
    }, SourceInfo("circleci", SHA, "main", "bench", "99", "https://circleci.com/gh/acme/w/99",
                  "git@github.com:acme/w.git", "ada")),
    "buildkite": ({
        "BUILDKITE": "true", "BUILDKITE_COMMIT": SHA, "BUILDKITE_BRANCH": "main",
        "BUILDKITE_LABEL": ":zap: bench", "BUILDKITE_JOB_ID": "j-1",
        "BUILDKITE_BUILD_URL": "https://buildkite.com/acme/w/builds/5",
        "BUILDKITE_REPO": "https://github.com/acme/w.git", "BUILDKITE_BUILD_CREATOR": "Ada",
    }, SourceInfo("buildkite", SHA, "main", ":zap: bench", "j-1",
                  "https://buildkite.com/acme/w/builds/5#j-1", "https://github.com/acme/w.git",
                  "Ada")),
    "azure pipelines": ({
        "TF_BUILD": "True", "BUILD_SOURCEVERSION": SHA,
        "BUILD_SOURCEBRANCH": "refs/heads/feature/x", "SYSTEM_JOBDISPLAYNAME": "Bench",
        "SYSTEM_JOBID": "abc-1", "BUILD_BUILDID": "314",
        "SYSTEM_COLLECTIONURI": "https://dev.azure.com/acme/", "SYSTEM_TEAMPROJECT": "My W",
        "BUILD_REPOSITORY_URI": "https://dev.azure.com/acme/w/_git/w",
        "BUILD_REQUESTEDFOR": "Ada",
    }, SourceInfo("azure-pipelines", SHA, "feature/x", "Bench", "abc-1",
                  "https://dev.azure.com/acme/My%20W/_build/results?buildId=314",
                  "https://dev.azure.com/acme/w/_git/w", "Ada")),
}


@pytest.mark.parametrize("case", CASES)
def test_ci_services(case: str) -> None:
    env, expected = CASES[case]
    assert ci.detect_ci(env) == expected


def test_outside_ci() -> None:
    assert ci.detect_ci({"CI": "true", "GITHUB_ACTIONS": "false", "HOME": "/root"}) == \
        SourceInfo()


def test_blank_variables_are_not_values() -> None:
    found = ci.detect_ci({"GITLAB_CI": "true", "CI_COMMIT_SHA": "  ",
                          "CI_COMMIT_BRANCH": "", "CI_COMMIT_REF_NAME": "main"})
    assert found.commit is None and found.branch == "main"


def test_tags_use_mlflow_keys_and_drop_credentials() -> None:
    tags = ci.run_tags(SourceInfo("jenkins", SHA, "main", "bench", "12", "https://ci/12",
                                  "https://user:secret@git.example/w.git", "ada"))
    assert tags == {
        "mlflow.source.type": "JOB", "mlflow.source.name": "pytest-benchmark",
        "mlflow.source.git.commit": SHA, "mlflow.source.git.branch": "main",
        "mlflow.source.git.repoURL": "https://git.example/w.git", "mlflow.user": "ada",
        "trackstore.ci.provider": "jenkins", "trackstore.ci.job": "bench",
        "trackstore.ci.job_id": "12", "trackstore.ci.url": "https://ci/12"}
    assert ci.run_tags(SourceInfo()) == {"mlflow.source.type": "JOB",
                                         "mlflow.source.name": "pytest-benchmark"}


def git(directory: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(directory), *args], capture_output=True,
                          text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q", "-b", "topic")
    (tmp_path / "f").write_text("x")
    git(tmp_path, "add", "f")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one")
    return tmp_path


def test_git_fills_in_what_the_ci_does_not_say(repository: Path) -> None:
    head = git(repository, "rev-parse", "HEAD")
    assert ci.detect_source({}, str(repository)) == SourceInfo(commit=head, branch="topic")
    # The CI's word wins; git gives only what is missing.
    found = ci.detect_source({"CIRCLECI": "true", "CIRCLE_SHA1": SHA}, str(repository))
    assert (found.provider, found.commit, found.branch) == ("circleci", SHA, "topic")


def test_detached_head_has_no_branch(repository: Path) -> None:
    git(repository, "checkout", "-q", "--detach")
    found = ci.detect_source({}, str(repository))
    assert found.commit == git(repository, "rev-parse", "HEAD") and found.branch is None


def test_no_repository(tmp_path: Path) -> None:
    assert ci.detect_source({}, str(tmp_path)) == SourceInfo()
