"""No secret reaches a log: a real ``trackstore server`` with an auth file, on a PostgreSQL
database reached with a password (a role made for the test), at ``--log-level debug`` with
the access log on, gets requests with right and wrong Basic credentials and bearer tokens,
and the real mlflow client's (``MLFLOW_TRACKING_USERNAME``/``PASSWORD``, and a wrong
password); ``trackstore server`` and ``trackstore db upgrade`` are then started with a wrong
database password. Nothing they print (stdout and stderr) may hold a password, a token, the
base64 of ``user:password``, or the database password, right or wrong.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests._databases import admin_engine, fresh_database
from tests._server_process import clean_env, run_refused, trackstore_server
from tests.security._helpers import Credentials, Raw, basic, bearer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """(URI with the role's password, the password, a URI with a wrong password) of a fresh
    PostgreSQL database owned by a new role."""
    role, password = f"ts_sec_{secrets.token_hex(4)}", f"dbpw-{secrets.token_hex(12)}"
    engine = admin_engine("postgresql")
    with engine.connect() as connection:
        connection.exec_driver_sql(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    try:
        with fresh_database("postgresql", tmp_path) as admin_uri:
            url = sa.make_url(admin_uri)
            with engine.connect() as connection:
                connection.exec_driver_sql(f'ALTER DATABASE "{url.database}" OWNER TO {role}')
            uri = url.set(username=role, password=password).render_as_string(
                hide_password=False)
            wrong = url.set(username=role, password=f"dbwrong-{secrets.token_hex(8)}")
            yield uri, password, wrong.render_as_string(hide_password=False)
    finally:
        with engine.connect() as connection:
            connection.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")


def _assert_clean(text: str, forbidden: list[str], what: str) -> None:
    for secret in forbidden:
        assert secret not in text, f"{what} shows a secret ({secret[:6]}...): {text[-3000:]}"


def test_no_secret_in_the_server_log(tmp_path: Path, database: tuple[str, str, str]) -> None:
    uri, db_password, wrong_uri = database
    creds = Credentials.write(tmp_path)
    wrong_db_password = sa.make_url(wrong_uri).password
    assert wrong_db_password is not None
    forbidden = [*creds.secrets(), db_password, wrong_db_password, "wrong-" + creds.password]
    with trackstore_server(["--backend-store-uri", uri, "--artifacts-destination",
                            str(tmp_path / "mlartifacts"), "--auth", "basic", "--auth", "token",
                            "--auth-file", str(creds.path), "--log-level", "debug",
                            "--workers", "1"], cwd=tmp_path) as server:
        raw = Raw(server.url)
        api = "/api/2.0/mlflow"
        for headers in (basic(creds.user, creds.password), bearer(creds.token),
                        basic(creds.user, "wrong-" + creds.password), bearer("wrong-token"),
                        basic(creds.other_user, creds.password), {}):
            raw.post(api + "/experiments/create", {"name": secrets.token_hex(4)}, headers)
            raw.get(api + "/experiments/search", {"max_results": 5}, headers)
            raw.request("PUT", "/api/2.0/mlflow-artifacts/artifacts/x.txt", b"x", headers)
            raw.get(api + "/runs/get", {"run_id": "nope"}, headers)
        raw.close()
        env = clean_env({"MLFLOW_TRACKING_USERNAME": creds.user,
                         "MLFLOW_TRACKING_PASSWORD": creds.password, "PYTHONPATH": str(ROOT)})
        logged = subprocess.run([sys.executable, "-m", "tests.security._mlflow_client",
                                 server.url, "3"], cwd=ROOT, env=env, capture_output=True,
                                text=True, timeout=300, check=False)
        assert logged.returncode == 0, logged.stderr[-3000:]
        assert json.loads(logged.stdout.splitlines()[-1])["steps"] == [0, 1, 2]
        env["MLFLOW_TRACKING_PASSWORD"] = "wrong-" + creds.password
        refused = subprocess.run([sys.executable, "-m", "tests.security._mlflow_client",
                                  server.url, "0", "--expect-refusal"], cwd=ROOT, env=env,
                                 capture_output=True, text=True, timeout=300, check=False)
        assert refused.returncode == 0, refused.stdout + refused.stderr[-3000:]
        assert "401" in refused.stdout or "UNAUTHENTICATED" in refused.stdout, refused.stdout
        server.wait_for_log(" 401 ", count=5)
    log = server.stdout() + server.stderr()
    assert " 200 " in log and " 401 " in log  # the access log was on
    _assert_clean(log, forbidden, "the server's log")
    _assert_clean(refused.stdout + refused.stderr, [creds.password, db_password],
                  "the refused mlflow client's output")


def test_no_secret_when_the_database_refuses_the_password(
        tmp_path: Path, database: tuple[str, str, str]) -> None:
    _uri, db_password, wrong_uri = database
    wrong = sa.make_url(wrong_uri).password
    assert wrong is not None
    refusal = run_refused(["--backend-store-uri", wrong_uri, "--log-level", "debug",
                           "--no-serve-artifacts", "--workers", "1"], cwd=tmp_path, timeout=60)
    output = refusal.stdout + refusal.stderr
    assert refusal.returncode != 0
    assert "password authentication failed" in output or "Cannot open" in output, output
    assert "***" in output, output  # the URI is shown, its password masked
    _assert_clean(output, [wrong, db_password], "trackstore server's refusal")
    command = [str(Path(sys.executable).with_name("trackstore")), "db", "upgrade", wrong_uri]
    upgrade = subprocess.run(command, cwd=tmp_path, env=clean_env(), capture_output=True,
                             text=True, timeout=120, check=False)
    assert upgrade.returncode == 1, upgrade.stdout + upgrade.stderr
    assert "***" in upgrade.stderr, upgrade.stderr
    _assert_clean(upgrade.stdout + upgrade.stderr, [wrong, db_password],
                  "trackstore db upgrade's error")
