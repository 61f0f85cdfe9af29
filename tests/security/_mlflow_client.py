"""The real ``mlflow`` client against a server, in a child process (MLflow reads its
credentials from the environment: ``MLFLOW_TRACKING_USERNAME``/``PASSWORD`` or
``MLFLOW_TRACKING_TOKEN``).

``python -m tests.security._mlflow_client URL POINTS`` creates an experiment, a run, logs
``POINTS`` metric points one call each (``step = value = 0..POINTS-1``), a param and an
artifact, and prints one JSON line: the ids, the artifact's path and what it read back. With
``--expect-refusal`` it only checks that a call is refused and prints the error's text.
"""

from __future__ import annotations

import json
import sys
import tempfile
import uuid


def main(argv: list[str]) -> int:
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    url, points = argv[0], int(argv[1])
    mlflow.set_tracking_uri(url)
    client = MlflowClient(url)
    if "--expect-refusal" in argv:
        try:
            client.search_experiments()
        except MlflowException as exc:
            print(json.dumps({"refused": str(exc)[:500]}))
            return 0
        print(json.dumps({"refused": None}))
        return 1
    experiment = client.create_experiment(f"mlflow-client-{uuid.uuid4().hex[:8]}")
    run = client.create_run(experiment).info.run_id
    for step in range(points):
        client.log_metric(run, "m", float(step), timestamp=1000 + step, step=step)
    client.log_param(run, "p", "v")
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
        fh.write("artifact")
    client.log_artifact(run, fh.name, "files")
    history = client.get_metric_history(run, "m")
    print(json.dumps({"experiment": experiment, "run": run,
                      "steps": sorted(m.step for m in history),
                      "params": client.get_run(run).data.params,
                      "artifact": f"files/{fh.name.rsplit('/', 1)[-1]}"}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
