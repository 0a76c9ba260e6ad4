"""Two gates that race into an empty MLflow lineage both move the first champion alias to the
same winner at once. The server's alias upsert is a read-then-insert, so one of the two inserts
used to fail with a UNIQUE constraint, and that gate exited 2 ("refused") instead of finishing:
the alias move settles with one retry, like the concurrent tag writes."""

from __future__ import annotations

import threading
import uuid

from mlchecks.registry import open_registry
from mlchecks.registry.mlflow import ALIAS

RACERS = 6
ROUNDS = 5


def test_racing_first_champion_alias_moves_all_succeed(mlflow_server):
    setup = open_registry(mlflow_server.uri)
    client = setup._client
    experiment = client.create_experiment(f"alias-race-{uuid.uuid4().hex[:8]}")
    for _ in range(ROUNDS):
        name = f"alias-race-{uuid.uuid4().hex[:8]}"
        run = client.create_run(experiment)
        client.create_registered_model(name)
        version = client.create_model_version(name, f"{run.info.artifact_uri}/model",
                                              run_id=run.info.run_id).version  # fmt: skip
        racers = [open_registry(mlflow_server.uri) for _ in range(RACERS)]
        barrier = threading.Barrier(RACERS)
        errors: list[BaseException] = []

        def move(reg, barrier=barrier, name=name, version=version, errors=errors) -> None:
            barrier.wait()
            try:
                reg._move_alias(name, version, "tenure")
            except Exception as exc:  # collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=move, args=(r,)) for r in racers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not errors, [str(e) for e in errors]
        assert client.get_registered_model(name).aliases == {ALIAS: version}
