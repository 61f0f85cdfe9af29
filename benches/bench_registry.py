"""The model registry end to end: trackstore's SQL store against MLflow's ``SqlAlchemyStore``.

Both through their clients, with MLflow's method names: ``trackstore.TrackingClient(uri)`` and
``mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)``, each library in a database of
its own (``benches/_databases.py``: a SQLite file, or a database on the PostgreSQL / MariaDB
servers of ``.ci/databases``; a dialect whose server is unreachable is skipped, with the
reason). Benchmarks are parametrized ``[<dialect>-trackstore]`` / ``[<dialect>-mlflow]``
(``mysql`` is MariaDB), so ``--benchmark-group-by=func`` puts the pairs side by side and
``benches/report.py`` pairs them by name with the library dropped.

    .ci/databases start; eval "$(.ci/databases env)"   # the PostgreSQL and MariaDB rows
    python -m pytest benches/bench_registry.py --benchmark-only \
        --benchmark-group-by=func --benchmark-autosave --benchmark-storage=benches/results

**Reads at a scale** (the number of model versions is the first parameter, ``[1000-...]``): a
registry of that many versions, 10 per registered model (``s1000-model-0000`` ...), made
through each library's API once per session (its time is ``extra_info["build_seconds"]``).
Each version has 2 tags (``validated`` is ``yes`` on odd versions); in each model version 10
is in ``Production``, 9 in ``Staging``, 8 ``Archived`` and the alias ``champion`` points at
10. Timed: ``get_model_version`` of one version (a different one each round),
``get_latest_versions`` of one model (every stage), ``search_model_versions`` (``by_name``:
the 10 versions of one model, ``name = '...'``; ``by_tag``: every version of the scale with
``tags.validated = 'yes'``, half of them) and ``search_registered_models`` (every model of the
scale, ``name LIKE 's1000-%'``, with their latest versions). ``extra_info`` has the versions
(or models) a call returns, ``versions_per_call`` (``models_per_call``): the throughput column
of ``RESULTS.md`` counts them.

**Writes, one per call**, on a model of 10 versions made untimed: ``set_model_version_tag``,
``transition_model_version_stage`` to ``Production`` with ``archive_existing_versions=True``
(the version before it is archived), ``set_registered_model_alias`` (moving ``champion``), each
call on the next version; ``test_create_registered_model_with_10_versions``: a new model and
its 10 versions (2 tags each) per call.

One database per library and dialect serves the whole module (the scales' models and the
write benchmarks' models have names of their own): MLflow's ~50 schema migrations take 5-20 s
per database on a server. The SQLite file is on the test's disk, so a commit costs what it
costs there (MLflow's commits ``fsync``, trackstore's do not: see ``bench_sql_store.py``).
Untimed (``--benchmark-disable``, as CI runs the benchmarks) the registry has 20 versions
(``[20-...]``) and every benchmark runs once, as a test of its assertions.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import pytest

from _data import timed
from _databases import DIALECTS, fresh_database, server_version, skip_unreachable

LIBS = ["trackstore", "mlflow"]
#: Versions of the registry read by the read benchmarks: timed, untimed.
SCALES = {True: [100, 1000], False: [20]}
VERSIONS_PER_MODEL = 10
#: Stages of a model's last versions (the others stay in ``None``), and its alias.
STAGES = {10: "Production", 9: "Staging", 8: "Archived"}
ALIAS = "champion"

# MLflow deprecated stages (a FutureWarning per call of the stage APIs): measured as they are.
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """The registry's scale: the real ones when timed, a small one when run as a test."""
    if "versions" in metafunc.fixturenames:
        metafunc.parametrize("versions", SCALES[timed(metafunc.config)], scope="session")


def client_of(lib: str, uri: str) -> Any:
    if lib == "trackstore":
        import trackstore

        return trackstore.TrackingClient(uri)
    mlflow = pytest.importorskip("mlflow")
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


def create_schema(lib: str) -> Callable[[str], None]:
    """What makes *lib* create its schema in an empty database: opening its registry."""
    def create(uri: str) -> None:
        client_of(lib, uri).search_registered_models()
        if lib == "trackstore":
            from trackstore.store import registry

            registry.clear_cache()  # SQLite: the -wal file folded into the copied database

    return create


@pytest.fixture(params=DIALECTS)
def dialect(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=LIBS)
def lib(request: pytest.FixtureRequest) -> str:
    if request.param == "mlflow":
        pytest.importorskip("mlflow")
    return str(request.param)


@pytest.fixture(scope="session")
def session_databases() -> Iterator[ExitStack]:
    with ExitStack() as stack:
        yield stack


_databases: dict[tuple[str, str], str] = {}


@pytest.fixture
def db(dialect: str, lib: str, session_databases: ExitStack,
       tmp_path_factory: pytest.TempPathFactory) -> str:
    """The database of (*dialect*, *lib*) for the session (see the module's docstring)."""
    skip_unreachable(dialect)
    key = (dialect, lib)
    if key not in _databases:
        directory = tmp_path_factory.mktemp(f"registry-{dialect}-{lib}")
        _databases[key] = session_databases.enter_context(
            fresh_database(dialect, directory, f"registry_{lib}", create_schema(lib)))
    return _databases[key]


def _note(benchmark: Any, dialect: str, lib: str) -> None:
    benchmark.extra_info["database"] = server_version(dialect)
    if dialect == "sqlite":
        benchmark.extra_info["sqlite_commit"] = (
            "WAL, synchronous=NORMAL (no fsync per commit)" if lib == "trackstore" else
            "rollback journal, synchronous=FULL (MLflow's default)")


def _rounds(benchmark: Any, lib: str, trackstore: int, mlflow: int) -> dict[str, int]:
    if benchmark.disabled:
        return {"rounds": 1}
    return {"rounds": trackstore if lib == "trackstore" else mlflow, "warmup_rounds": 1}


def make_model(client: Any, name: str, team: str = "bench") -> None:
    """Model *name* with its 10 versions, as the module's docstring describes them."""
    client.create_registered_model(name, tags={"team": team}, description=f"model {name}")
    for number in range(1, VERSIONS_PER_MODEL + 1):
        client.create_model_version(
            name, f"file:///srv/artifacts/{name}/{number}",
            tags={"validated": "yes" if number % 2 else "no", "owner": "bench"})


# -- reads at a scale -------------------------------------------------------------------------


@dataclass
class Registry:
    """The models of one scale in a library's database."""

    uri: str
    versions: int
    prefix: str
    models: list[str] = field(default_factory=list)
    build_seconds: float = 0.0


_registries: dict[tuple[str, str, int], Registry] = {}


@pytest.fixture
def registry(dialect: str, lib: str, versions: int, db: str) -> Registry:
    """*versions* versions, 10 per model, through *lib*'s API (made once per session)."""
    key = (dialect, lib, versions)
    if key not in _registries:
        started = time.perf_counter()
        client = client_of(lib, db)
        found = Registry(db, versions, f"s{versions}-")
        for m in range(versions // VERSIONS_PER_MODEL):
            name = f"{found.prefix}model-{m:04d}"
            make_model(client, name, team=f"team-{m % 4}")
            for number, stage in STAGES.items():
                client.transition_model_version_stage(name, str(number), stage)
            client.set_registered_model_alias(name, ALIAS, str(VERSIONS_PER_MODEL))
            found.models.append(name)
        found.build_seconds = time.perf_counter() - started
        _registries[key] = found
    return _registries[key]


def _read(benchmark: Any, dialect: str, lib: str, registry: Registry, returned: int,
          what: str = "versions") -> None:
    """Notes of a read: *returned* versions (or models) a call gives, for its throughput."""
    benchmark.extra_info[f"{what}_per_call"] = returned
    benchmark.extra_info["versions"] = registry.versions
    benchmark.extra_info["build_seconds"] = round(registry.build_seconds, 1)
    _note(benchmark, dialect, lib)


def test_get_model_version(benchmark: Any, dialect: str, lib: str, versions: int,
                           registry: Registry) -> None:
    """One version by name and number, a different one each round."""
    client = client_of(lib, registry.uri)
    pairs = itertools.cycle((name, str(number)) for name in registry.models
                            for number in range(1, VERSIONS_PER_MODEL + 1))
    asked: list[tuple[str, str]] = []

    def next_pair() -> tuple[tuple[str, str], dict[str, Any]]:
        asked.append(next(pairs))
        return asked[-1], {}

    _read(benchmark, dialect, lib, registry, 1)
    found = benchmark.pedantic(client.get_model_version, setup=next_pair, iterations=1,
                               **_rounds(benchmark, lib, 200, 50))
    name, number = asked[-1]
    assert (found.name, str(found.version), found.source) == \
        (name, number, f"file:///srv/artifacts/{name}/{number}")
    assert found.tags == {"validated": "yes" if int(number) % 2 else "no", "owner": "bench"}


def test_get_latest_versions(benchmark: Any, dialect: str, lib: str, versions: int,
                             registry: Registry) -> None:
    """The latest version of every stage of one model."""
    client = client_of(lib, registry.uri)
    name = registry.models[len(registry.models) // 2]
    _read(benchmark, dialect, lib, registry, len(STAGES) + 1)
    latest = benchmark.pedantic(client.get_latest_versions, args=(name,), iterations=1,
                                **_rounds(benchmark, lib, 100, 30))
    assert sorted((str(v.version), v.current_stage) for v in latest) == \
        [("10", "Production"), ("7", "None"), ("8", "Archived"), ("9", "Staging")]


@pytest.mark.parametrize("query", ["by_name", "by_tag"])
def test_search_model_versions(benchmark: Any, dialect: str, lib: str, versions: int,
                               query: str, registry: Registry) -> None:
    """``by_name``: one model's versions; ``by_tag``: half the versions of the scale."""
    client = client_of(lib, registry.uri)
    name = registry.models[-1]
    filter_string = f"name = '{name}'" if query == "by_name" else \
        f"name LIKE '{registry.prefix}%' AND tags.validated = 'yes'"
    _read(benchmark, dialect, lib, registry,
          VERSIONS_PER_MODEL if query == "by_name" else versions // 2)
    found = benchmark.pedantic(client.search_model_versions, args=(filter_string,),
                               iterations=1, **_rounds(benchmark, lib, 30, 10))
    if query == "by_name":
        assert sorted(int(v.version) for v in found) == list(range(1, VERSIONS_PER_MODEL + 1))
    else:
        assert len(found) == versions // 2
        assert {v.tags["validated"] for v in found} == {"yes"}


def test_search_registered_models(benchmark: Any, dialect: str, lib: str, versions: int,
                                  registry: Registry) -> None:
    """Every model of the scale (``name LIKE``), with their latest versions."""
    client = client_of(lib, registry.uri)
    filter_string = f"name LIKE '{registry.prefix}%'"
    _read(benchmark, dialect, lib, registry, len(registry.models), "models")
    found = benchmark.pedantic(client.search_registered_models, args=(filter_string, 1000),
                               iterations=1, **_rounds(benchmark, lib, 30, 10))
    assert sorted(m.name for m in found) == registry.models
    assert sorted(str(v.version) for v in found[0].latest_versions) == ["10", "7", "8", "9"]


# -- writes, one per call ---------------------------------------------------------------------


def _write_model(lib: str, db: str, label: str) -> tuple[Any, str]:
    """A client and a new model of 10 versions for one write benchmark (untimed)."""
    client = client_of(lib, db)
    name = f"w-{label}-{uuid.uuid4().hex[:8]}"
    make_model(client, name)
    return client, name


def _each_version() -> Iterator[str]:
    return (str(1 + n % VERSIONS_PER_MODEL) for n in itertools.count())


def test_set_model_version_tag_one_per_call(benchmark: Any, dialect: str, lib: str,
                                            db: str) -> None:
    """A tag on the next version (a new value each call)."""
    client, name = _write_model(lib, db, "tag")
    numbers, values = _each_version(), itertools.count()

    def set_tag() -> None:
        client.set_model_version_tag(name, next(numbers), "checked", f"v{next(values)}")

    _note(benchmark, dialect, lib)
    benchmark.pedantic(set_tag, iterations=1, **_rounds(benchmark, lib, 100, 30))
    last = next(values) - 1
    number = str(1 + last % VERSIONS_PER_MODEL)
    assert client.get_model_version(name, number).tags["checked"] == f"v{last}"


def test_transition_model_version_stage_one_per_call(benchmark: Any, dialect: str, lib: str,
                                                     db: str) -> None:
    """The next version to Production, the one there before archived."""
    client, name = _write_model(lib, db, "stage")
    numbers = _each_version()
    moved: list[str] = []

    def transition() -> None:
        moved.append(next(numbers))
        client.transition_model_version_stage(name, moved[-1], "Production",
                                              archive_existing_versions=True)

    _note(benchmark, dialect, lib)
    benchmark.pedantic(transition, iterations=1, **_rounds(benchmark, lib, 100, 30))
    stages = {str(v.version): v.current_stage
              for v in client.search_model_versions(f"name = '{name}'")}
    assert [n for n, stage in stages.items() if stage == "Production"] == [moved[-1]]
    assert {stages[n] for n in set(moved) - {moved[-1]}} <= {"Archived"}


def test_set_registered_model_alias_one_per_call(benchmark: Any, dialect: str, lib: str,
                                                 db: str) -> None:
    """The alias ``champion`` moved to the next version."""
    client, name = _write_model(lib, db, "alias")
    numbers = _each_version()
    moved: list[str] = []

    def set_alias() -> None:
        moved.append(next(numbers))
        client.set_registered_model_alias(name, ALIAS, moved[-1])

    _note(benchmark, dialect, lib)
    benchmark.pedantic(set_alias, iterations=1, **_rounds(benchmark, lib, 100, 30))
    assert str(client.get_model_version_by_alias(name, ALIAS).version) == moved[-1]


def test_create_registered_model_with_10_versions(benchmark: Any, dialect: str, lib: str,
                                                  db: str) -> None:
    """A new registered model (a tag, a description) and its 10 versions (2 tags each)."""
    client = client_of(lib, db)
    made: list[str] = []

    def create() -> None:
        made.append(f"w-new-{uuid.uuid4().hex[:12]}")
        make_model(client, made[-1])

    benchmark.extra_info["versions_per_call"] = VERSIONS_PER_MODEL
    _note(benchmark, dialect, lib)
    benchmark.pedantic(create, iterations=1, **_rounds(benchmark, lib, 20, 8))
    for name in (made[0], made[-1]):
        found = client.search_model_versions(f"name = '{name}'")
        assert sorted(int(v.version) for v in found) == list(range(1, VERSIONS_PER_MODEL + 1))
