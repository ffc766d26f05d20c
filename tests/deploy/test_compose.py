"""The docker-compose deployment, checked without a Docker engine.

``docker-compose config`` (Compose v1, or the ``docker compose`` v2 plugin) validates
docker-compose.yaml and resolves it with the values of .env.example, exactly as ``docker compose up``
would; the tests read the resolved file and check that the deployment really has the shape
docs/deployment.md describes. Where Compose is not installed they skip; under CI (``CI=true``) they
fail instead.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.conftest import REPO, service_missing
from tests.fixtures.sqs import LocalSqs

COMPOSE_FILE = REPO / "docker-compose.yaml"
ENV_EXAMPLE = REPO / ".env.example"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
DEPLOYMENT_DOC = REPO / "docs" / "deployment.md"

AIRFLOW_SERVICES = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery worker",
}
REQUIRED_SERVICES = {
    *AIRFLOW_SERVICES,
    "airflow-init",
    "redis",
    "postgres",
    "warehouse-db",
    "sandbox",
    "sqs",
    "sqs-init",
}
ONE_SHOT = {"airflow-init", "airflow-cli", "sqs-init"}  # not long-running: no health check expected
# The services that read or delete on the notifications queue: they start once it exists.
QUEUE_READERS = ("airflow-triggerer", "airflow-worker")
AIRFLOW_HOME = PurePosixPath("/opt/airflow")

SECRET_KEY = re.compile(r"PASSWORD|SECRET|FERNET_KEY|TOKEN|CREDENTIAL", re.IGNORECASE)
# A reference to a variable with no literal default: ${VAR}, ${VAR:-}, ${VAR-}, ${VAR:?msg}, ${VAR?msg}
BARE_REFERENCE = re.compile(r"\$\{[A-Za-z_]\w*(?::?-|:?\?[^}]*)?\}")
VARIABLE_REFERENCE = re.compile(r"(?<!\$)\$\{([A-Za-z_]\w*)")
ENV_ASSIGNMENT = re.compile(r"^([A-Za-z_]\w*)=(.*)$")
# Shapes of real credentials that must never be committed.
REAL_SECRET_SHAPES = [
    re.compile(r"AKIA[0-9A-Z]{16}"),  # AWS access key id
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY"),
    re.compile(r"Atzr\|(?!sandbox-|<)"),  # LWA refresh token
    re.compile(r"amzn1\.application-oa2-client\.(?!sandbox-demo|<|\.\.\.)"),  # LWA client id
    re.compile(r"amzn1\.oa2-cs\.v1\."),  # LWA client secret
]


# --- running Compose -------------------------------------------------------------------------------


def _compose_command() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, text=True, timeout=30, check=False
        )
        if probe.returncode == 0:
            return [docker, "compose"]
    service_missing(
        "docker-compose is not installed (apt-get install docker-compose, or the docker compose plugin): "
        "the deployment's compose file cannot be validated"
    )
    raise AssertionError("unreachable")


def _run_compose(env_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``compose -f docker-compose.yaml --env-file ENV_FILE ARGS`` in a clean environment.

    Only PATH and HOME are passed on, so neither the developer's shell nor their own .env can change
    the result.
    """
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(env_file.parent)}
    return subprocess.run(
        [*_compose_command(), "-f", str(COMPOSE_FILE), "--env-file", str(env_file), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """docker-compose.yaml resolved with .env.example, as ``docker compose up`` would see it."""
    env_file = tmp_path_factory.mktemp("compose") / "example.env"
    shutil.copyfile(ENV_EXAMPLE, env_file)
    result = _run_compose(env_file, "config")
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    resolved: dict[str, Any] = yaml.safe_load(result.stdout)
    return resolved


@pytest.fixture(scope="module")
def services(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = config["services"]
    return found


@pytest.fixture(scope="module")
def raw_compose() -> dict[str, Any]:
    """docker-compose.yaml as written (anchors merged, variables not resolved)."""
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return loaded


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    """The assignments of .env.example, values unquoted as Compose reads them."""
    values: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = ENV_ASSIGNMENT.match(line.strip())
        if match:
            key, value = match.groups()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            values[key] = value
    return values


# --- normalising Compose v1 and v2 output ----------------------------------------------------------


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def command_text(service: dict[str, Any]) -> str:
    command = service.get("command") or ""
    return command if isinstance(command, str) else " ".join(str(part) for part in command)


def command_args(service: dict[str, Any]) -> list[str]:
    command = service.get("command") or []
    return command.split() if isinstance(command, str) else [str(part) for part in command]


def ports(service: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(host ip, published port, container port) of each published port."""
    found = []
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            found.append((port.get("host_ip") or "", str(port.get("published", "")), int(port["target"])))
            continue
        spec = str(port).split("/")[0]
        parts = spec.split(":")
        host_ip = parts[0] if len(parts) == 3 else ""
        published = parts[-2] if len(parts) >= 2 else ""
        found.append((host_ip, published, int(parts[-1])))
    return found


def volumes(service: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """(type, source, target, read-only) of each mount; type is "bind" or "volume"."""
    found = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            found.append(
                (volume["type"], volume.get("source", ""), volume["target"], bool(volume.get("read_only")))
            )
            continue
        source, target, *rest = str(volume).split(":")
        kind = "bind" if source.startswith(("/", ".")) else "volume"
        found.append((kind, source, target, bool(rest) and "ro" in rest[0].split(",")))
    return found


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def healthcheck_test(service: dict[str, Any]) -> list[str]:
    test = (service.get("healthcheck") or {}).get("test") or []
    return [test] if isinstance(test, str) else [str(part) for part in test]


def connection(service: dict[str, Any], conn_id: str) -> dict[str, Any]:
    value = environment(service).get(f"AIRFLOW_CONN_{conn_id.upper()}", "")
    assert value, f"AIRFLOW_CONN_{conn_id.upper()} is not set"
    parsed: dict[str, Any] = json.loads(value)
    return parsed


def airflow_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every service that runs Airflow (the five components, init, and the optional ones)."""
    return {name: svc for name, svc in services.items() if name.startswith("airflow-") or name == "flower"}


# --- the tests -------------------------------------------------------------------------------------


def test_every_required_service_exists(services: dict[str, dict[str, Any]]) -> None:
    missing = REQUIRED_SERVICES - set(services)
    assert not missing, f"docker-compose.yaml lacks {sorted(missing)}"


def test_long_running_services_have_health_checks_and_restart(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        if name in ONE_SHOT:
            continue
        test = healthcheck_test(service)
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} has no health check"
        assert service.get("restart") in ("always", "unless-stopped"), f"{name} is not restarted"


def test_airflow_services_share_one_image_and_the_celery_executor(
    services: dict[str, dict[str, Any]],
) -> None:
    airflow = airflow_services(services)
    assert set(AIRFLOW_SERVICES) | {"airflow-init"} <= set(airflow)
    ours = {**airflow, "sandbox": services["sandbox"], "sqs-init": services["sqs-init"]}
    images = {service["image"] for service in ours.values()}
    assert len(images) == 1, f"Airflow services, the sandbox and sqs-init use different images: {images}"
    for name, service in ours.items():
        build = service.get("build") or {}
        assert Path(build.get("context", "")).resolve() == REPO, f"{name} is not built from the repository"
        assert build.get("dockerfile", "Dockerfile") == "Dockerfile", name

    api_port = {target for _, _, target in ports(services["airflow-apiserver"])}
    shared = None
    for name, service in airflow.items():
        env = environment(service)
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false", name
        assert env["AIRFLOW__CORE__AUTH_MANAGER"] == (
            "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
        ), name
        execution_api = urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
        assert execution_api.hostname == "airflow-apiserver", name
        assert execution_api.port in api_port and execution_api.path == "/execution/", name
        assert urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]).hostname == "postgres", name
        broker = urlsplit(env["AIRFLOW__CELERY__BROKER_URL"])
        assert (broker.scheme, broker.hostname, broker.path) == ("redis", "redis", "/0"), name
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"], f"{name} has no JWT secret"
        # The settings every component must agree on are the same everywhere.
        same = {
            key: env[key]
            for key in env
            if key.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "SPAPI_")) and key != "AIRFLOW__CORE__EXECUTOR"
        }
        shared = same if shared is None else shared
        assert same == shared, f"{name}'s Airflow settings differ from the other services'"


def test_each_airflow_component_runs_its_command(services: dict[str, dict[str, Any]]) -> None:
    for name, command in AIRFLOW_SERVICES.items():
        assert command_text(services[name]) == command, name
    assert "DUMB_INIT_SETSID" in environment(services["airflow-worker"])  # Celery's warm shutdown


def test_airflow_init_runs_both_migrations_and_creates_the_admin(services: dict[str, dict[str, Any]]) -> None:
    init = services["airflow-init"]
    env = environment(init)
    assert env["_AIRFLOW_DB_MIGRATE"] == "true"  # the image's entrypoint runs `airflow db migrate`
    assert env["_AIRFLOW_WWW_USER_CREATE"] == "true"
    assert env["_AIRFLOW_WWW_USER_USERNAME"] and env["_AIRFLOW_WWW_USER_PASSWORD"]
    assert str(init.get("user")) == "0:0"
    script = command_text(init)
    steps = [
        "/entrypoint airflow version",
        "airflow db check-migrations",
        "python -m listings_pipeline.warehouse upgrade",
    ]
    positions = [script.find(step) for step in steps]
    assert all(p >= 0 for p in positions), (
        f"airflow-init misses a step: {dict(zip(steps, positions, strict=True))}"
    )
    assert positions == sorted(positions), "the warehouse must be migrated after Airflow's database"
    # Without --url the warehouse migration uses the warehouse_default connection, as the tasks do.
    assert "AIRFLOW_CONN_WAREHOUSE_DEFAULT" in env


def test_the_warehouse_cli_that_airflow_init_calls_exists(capsys: pytest.CaptureFixture[str]) -> None:
    from listings_pipeline.warehouse.__main__ import main

    for command in (["upgrade"], ["current"], ["url"]):
        with pytest.raises(SystemExit) as exited:
            main([*command, "--help"])
        assert exited.value.code == 0, command
    capsys.readouterr()


def test_dependencies_wait_for_health_and_for_init(services: dict[str, dict[str, Any]]) -> None:
    for name, service in airflow_services(services).items():
        deps = depends_on(service)
        for backend in ("postgres", "redis", "warehouse-db"):
            assert deps.get(backend) == "service_healthy", f"{name} does not wait for a healthy {backend}"
        if name not in ONE_SHOT:
            assert deps.get("airflow-init") == "service_completed_successfully", name
    assert depends_on(services["airflow-worker"]).get("airflow-apiserver") == "service_healthy"
    for name, service in services.items():
        for dependency, condition in depends_on(service).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            if condition == "service_healthy":
                assert healthcheck_test(services[dependency]), f"{dependency} has no health check"
            if condition == "service_completed_successfully":
                assert dependency in ONE_SHOT, f"{dependency} never completes"


def test_the_warehouse_connection_points_at_warehouse_db(services: dict[str, dict[str, Any]]) -> None:
    warehouse_db = services["warehouse-db"]
    db_env = environment(warehouse_db)
    conn = connection(services["airflow-worker"], "warehouse_default")
    assert conn["conn_type"] == "postgres"
    assert conn["host"] == "warehouse-db"
    assert int(conn["port"]) in {target for _, _, target in ports(warehouse_db)}
    assert conn["login"] == db_env["POSTGRES_USER"]
    assert conn["password"] == db_env["POSTGRES_PASSWORD"]
    assert conn["schema"] == db_env["POSTGRES_DB"]
    assert (
        healthcheck_test(warehouse_db)[0] == "CMD-SHELL" and "pg_isready" in healthcheck_test(warehouse_db)[1]
    )


@pytest.mark.airflow
def test_the_code_resolves_the_warehouse_to_warehouse_db(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The warehouse URL the tasks (and airflow-init) would use, from the compose environment."""
    from sqlalchemy.engine import make_url

    from listings_pipeline.warehouse import db

    monkeypatch.delenv("SPAPI_WAREHOUSE_URL", raising=False)
    monkeypatch.setenv(
        "AIRFLOW_CONN_WAREHOUSE_DEFAULT",
        environment(services["airflow-worker"])["AIRFLOW_CONN_WAREHOUSE_DEFAULT"],
    )
    url = make_url(db.warehouse_url())
    db_env = environment(services["warehouse-db"])
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port, url.username, url.database) == (
        "warehouse-db",
        5432,
        db_env["POSTGRES_USER"],
        db_env["POSTGRES_DB"],
    )
    assert url.password == db_env["POSTGRES_PASSWORD"]


def test_spapi_connections_point_at_the_sandbox_and_share_redis(services: dict[str, dict[str, Any]]) -> None:
    from spapi.config import SpApiConfig

    pipeline = yaml.safe_load((REPO / "include" / "pipeline.yaml").read_text())
    sellers_file = yaml.safe_load((REPO / "sandbox" / "sellers.example.yaml").read_text())
    app_secrets = {app["client_id"]: app["client_secret"] for app in sellers_file["apps"]}
    sandbox_sellers = {seller["seller_id"]: seller for seller in sellers_file["sellers"]}

    sandbox_args = command_args(services["sandbox"])
    sandbox_port = int(sandbox_args[sandbox_args.index("--port") + 1])
    broker_db = urlsplit(environment(services["airflow-worker"])["AIRFLOW__CELERY__BROKER_URL"]).path

    worker = services["airflow-worker"]
    assert pipeline["sellers"], "include/pipeline.yaml names no seller"
    for seller in pipeline["sellers"]:
        conn = connection(worker, seller["spapi_conn_id"])
        extra = conn["extra"]
        assert conn["conn_type"] == "spapi"
        # Every field is one the client knows (SpApiConfig forbids others), with valid values.
        config = SpApiConfig(client_id=conn["login"], client_secret=conn["password"], **extra)
        assert config.seller_id == seller["seller_id"]
        assert config.region == seller["region"]
        endpoint = urlsplit(config.base_url)
        assert (endpoint.hostname, endpoint.port) == ("sandbox", sandbox_port)
        assert config.token_url == f"{config.base_url}/auth/o2/token"
        # The sandbox knows these credentials (sandbox/sellers.example.yaml).
        known = sandbox_sellers[seller["seller_id"]]
        assert config.client_id == known["client_id"]
        assert config.client_secret.get_secret_value() == app_secrets[known["client_id"]]
        assert config.refresh_token is not None
        assert config.refresh_token.get_secret_value() == known["refresh_token"]
        # One limiter and one token cache for every worker: Redis, not Celery's database.
        for url in (config.rate_limit_url, config.token_cache_url):
            parts = urlsplit(url)
            assert (parts.scheme, parts.hostname) == ("redis", "redis"), url
            assert parts.path != broker_db, f"{url} shares Celery's Redis database"


def test_sandbox_command_is_what_the_sandbox_cli_accepts(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    import sandbox.__main__
    import sandbox.app

    sandbox_service = services["sandbox"]
    args = command_args(sandbox_service)
    assert args[:3] == ["python", "-m", "sandbox"]
    ran: dict[str, Any] = {}
    monkeypatch.setattr(sandbox.app, "create_app", lambda settings: settings)
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: ran.update(settings=app, **kwargs))
    for name in [k for k in os.environ if k.startswith("SPAPI_SANDBOX_")]:
        monkeypatch.delenv(name)
    sandbox.__main__.main(args[3:])

    assert ran["host"] == "0.0.0.0"
    assert ran["port"] in {target for _, _, target in ports(sandbox_service)}
    data_dir = str(ran["settings"].data_dir)
    assert any(kind == "volume" and target == data_dir for kind, _, target, _ in volumes(sandbox_service)), (
        "the sandbox's state is not on a volume"
    )
    health = " ".join(healthcheck_test(sandbox_service))
    assert f"localhost:{ran['port']}/_sandbox/" in health


def test_published_ports(services: dict[str, dict[str, Any]], env_example: dict[str, str]) -> None:
    def published(name: str) -> dict[int, tuple[str, str]]:
        return {target: (host_ip, port) for host_ip, port, target in ports(services[name])}

    assert published("airflow-apiserver")[8080][1] == env_example["AIRFLOW_API_PORT"]
    assert published("sandbox")[8900] == ("127.0.0.1", env_example["SANDBOX_PORT"])
    assert published("warehouse-db")[5432] == ("127.0.0.1", env_example["WAREHOUSE_DB_PORT"])
    assert published("flower")[5555][1] == env_example["FLOWER_PORT"]
    assert published("sqs")[5000] == ("127.0.0.1", env_example["SQS_PORT"])
    # Airflow's database and the broker are for the containers only.
    assert not ports(services["postgres"]) and not ports(services["redis"])


def test_mounted_paths_exist_in_the_repository(services: dict[str, dict[str, Any]]) -> None:
    mounted: dict[str, Path] = {}
    for name, service in services.items():
        for kind, source, target, read_only in volumes(service):
            if kind != "bind":
                continue
            host = Path(source).resolve()
            assert host.is_relative_to(REPO), f"{name} mounts {host}, outside the repository"
            assert host.is_dir(), f"{name} mounts {host}, which does not exist"
            assert read_only, f"{name} mounts {host} writable"
            mounted[target] = host
    for folder in ("dags", "plugins", "include"):
        assert mounted.get(str(AIRFLOW_HOME / folder)) == REPO / folder, f"{folder}/ is not mounted"
    assert list((REPO / "dags").glob("*.py")), "dags/ holds no DAG file"
    for package in ("spapi", "listings_pipeline"):
        assert (REPO / "plugins" / package / "__init__.py").is_file()
    # The pipeline config the containers are told to read is in a mounted folder.
    config_path = PurePosixPath(environment(services["airflow-worker"])["SPAPI_PIPELINE_CONFIG"])
    folder = AIRFLOW_HOME / config_path.relative_to(AIRFLOW_HOME).parts[0]
    assert (mounted[str(folder)] / config_path.relative_to(folder)).is_file()


def test_compose_file_holds_no_secret(raw_compose: dict[str, Any]) -> None:
    """Every password-like value is a variable reference without a default; URLs and JSON too."""
    for name, service in raw_compose["services"].items():
        env = service.get("environment") or {}
        for key, value in env.items():
            text = "" if value is None else str(value)
            if SECRET_KEY.search(key):
                assert BARE_REFERENCE.fullmatch(text) or text == "", f"{name}: {key} has a literal value"
            for match in re.finditer(r"://[^:/@\s]*:([^@\s]*)@", text):
                password = match.group(1)
                assert password == "" or BARE_REFERENCE.fullmatch(password), (
                    f"{name}: {key} embeds a password"
                )
            for match in re.finditer(r'"(password|secret|refresh_token|client_secret)":\s*"([^"]*)"', text):
                assert BARE_REFERENCE.fullmatch(match.group(2)), f"{name}: {key} embeds a {match.group(1)}"


def test_no_real_credential_in_any_deployment_file() -> None:
    for path in (COMPOSE_FILE, ENV_EXAMPLE, DOCKERFILE, DOCKERIGNORE, DEPLOYMENT_DOC):
        text = path.read_text()
        for shape in REAL_SECRET_SHAPES:
            found = shape.search(text)
            assert not found, f"{path.name} contains something shaped like a credential: {found.group(0)!r}"


def test_env_example_secrets_are_placeholders_or_sandbox_demo_credentials(
    env_example: dict[str, str],
) -> None:
    sellers_file = yaml.safe_load((REPO / "sandbox" / "sellers.example.yaml").read_text())
    demo_secrets = {app["client_secret"] for app in sellers_file["apps"]}
    demo_tokens = {seller["refresh_token"] for seller in sellers_file["sellers"]}
    for key, value in env_example.items():
        if key.startswith("AIRFLOW_CONN_SPAPI_"):
            conn = json.loads(value)
            assert conn["password"] in demo_secrets, f"{key}: not the sandbox's documented demo secret"
            assert conn["extra"]["refresh_token"] in demo_tokens, f"{key}: not a sandbox demo token"
        elif SECRET_KEY.search(key):
            assert value == "" or "change-me" in value, f"{key} in .env.example must be empty or a change-me"


def test_env_example_documents_every_variable(env_example: dict[str, str]) -> None:
    used = set(VARIABLE_REFERENCE.findall(COMPOSE_FILE.read_text()))
    undocumented = used - set(env_example)
    assert not undocumented, f".env.example does not document {sorted(undocumented)}"
    unused = {key for key in env_example if not key.startswith("COMPOSE_")} - used
    assert not unused, f".env.example sets variables docker-compose.yaml never reads: {sorted(unused)}"


def test_a_missing_password_stops_compose(tmp_path: Path) -> None:
    """Nothing in docker-compose.yaml stands in for a password: without .env it refuses to start."""
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = _run_compose(empty, "config")
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr


def test_dockerfile_base_image_matches_the_pins() -> None:
    dockerfile = DOCKERFILE.read_text()
    bases = re.findall(r"^FROM\s+(\S+)", dockerfile, re.MULTILINE)
    assert len(bases) == 1, f"expected one FROM, found {bases}"
    match = re.fullmatch(r"apache/airflow:(\d+\.\d+\.\d+)-python(\d+\.\d+)", bases[0])
    assert match, f"the base image {bases[0]} is not an apache/airflow:<version>-python<x.y> tag"
    airflow_version, python_version = match.groups()

    pins = dict(
        line.split("==", 1)
        for line in (REPO / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    assert airflow_version == pins["apache-airflow"], "Dockerfile's Airflow differs from requirements.txt"

    from packaging.specifiers import SpecifierSet

    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    assert python_version in SpecifierSet(requires), f"Python {python_version} is outside {requires}"


def test_dockerfile_installs_the_runtime_pins_and_the_project() -> None:
    dockerfile = DOCKERFILE.read_text()
    assert "requirements.txt" in dockerfile
    assert re.search(r"pip install [^\n]*-e /opt/airflow", dockerfile), "the project is not installed"
    # The test-tool filter keeps every runtime pin and drops the test tools.
    pattern = re.search(r"grep -vE '([^']+)'", dockerfile)
    assert pattern, "no requirements filter found"
    exclude = re.compile(pattern.group(1))
    kept = {
        re.split(r"[=<>~!\[ ]", line, maxsplit=1)[0]
        for line in (REPO / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#") and not exclude.search(line)
    }
    runtime = {"apache-airflow", "apache-airflow-providers-amazon", "psycopg", "redis", "httpx", "pydantic"}
    assert runtime <= kept, f"the Dockerfile drops runtime pins: {sorted(runtime - kept)}"
    assert not kept & {"pytest", "ruff", "mypy"}, "the Dockerfile installs test tools"

    # Everything the Dockerfile copies exists, and .dockerignore does not hide it.
    ignored = {
        line.strip().rstrip("/")
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith(("#", "!"))
    }
    for sources in re.findall(r"^COPY\s+(?:--\S+\s+)*(.+)\s+\S+$", dockerfile, re.MULTILINE):
        for source in sources.split():
            top = source.rstrip("/").split("/")[0]
            assert (REPO / source).exists(), f"COPY {source}: not in the repository"
            assert top not in ignored, f"COPY {source}: excluded by .dockerignore"
    for private in (".env", ".git", ".venv", "var"):
        assert private in ignored, f".dockerignore does not exclude {private}"


# --- Amazon's notifications: the local SQS ---------------------------------------------------------


def _pins() -> dict[str, str]:
    """requirements.txt's pins by distribution name (extras dropped: ``moto[s3]`` is ``moto``)."""
    pins = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[name.split("[")[0].strip()] = version.strip()
    return pins


def sqs_endpoint(services: dict[str, dict[str, Any]]) -> str:
    """The local SQS as the other containers reach it: the sqs service's name and port."""
    args = command_args(services["sqs"])
    port = int(args[args.index("-p") + 1])
    assert port in {target for _, _, target in ports(services["sqs"])}
    return f"http://sqs:{port}"


def test_the_local_sqs_is_moto_at_the_pinned_version(services: dict[str, dict[str, Any]]) -> None:
    sqs = services["sqs"]
    assert sqs["image"] == f"motoserver/moto:{_pins()['moto']}", (
        "the moto image differs from requirements.txt"
    )
    entrypoint = sqs.get("entrypoint") or []
    assert [*([entrypoint] if isinstance(entrypoint, str) else entrypoint), *command_args(sqs)][:3] == [
        "moto_server",
        "-H",
        "0.0.0.0",
    ]
    assert not any(kind == "volume" for kind, *_ in volumes(sqs)), "moto keeps its queues in memory"


def test_queue_readers_start_after_the_queue_exists(services: dict[str, dict[str, Any]]) -> None:
    for name in QUEUE_READERS:
        deps = depends_on(services[name])
        assert deps.get("sqs") == "service_healthy", f"{name} does not wait for a healthy sqs"
        assert deps.get("sqs-init") == "service_completed_successfully", f"{name} does not wait for sqs-init"
    # sqs-init only needs the server started (it waits for it to answer); sqs is healthy once the queue
    # exists, so waiting for its health there would never end.
    assert depends_on(services["sqs-init"]) == {"sqs": "service_started"}


def test_queue_setup_config_connection_and_sandbox_agree(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """sqs-init creates exactly the queue the config names, on the endpoint the connection and the
    sandbox use, with the dead-letter queue make services has."""
    from demo import local_sqs
    from listings_pipeline.config import NOTIFICATIONS_ENV, NotificationsConfig, load_config

    endpoint = sqs_endpoint(services)
    init = command_args(services["sqs-init"])
    assert init[:3] == ["python", "-m", "demo.local_sqs"]
    assert init[init.index("--endpoint-url") + 1] == endpoint
    assert environment(services["sqs-init"]).get("CONNECTION_CHECK_MAX_COUNT") == "0"

    worker = environment(services["airflow-worker"])
    section = NotificationsConfig.model_validate(json.loads(worker[NOTIFICATIONS_ENV]))
    assert section.queue_arn == local_sqs.queue_arn()  # what the sellers subscribe (Amazon is told)
    assert section.queue_url == local_sqs.queue_url(endpoint)  # what the watcher reads
    assert section.visibility_timeout == local_sqs.VISIBILITY_TIMEOUT  # the queue's own, as in make services

    # make services' connection, on the sqs service: moto's placeholder keys, which open nothing else
    conn = connection(services["airflow-worker"], section.aws_conn_id)
    same = local_sqs.aws_connection(endpoint)
    assert {k: conn.get(k) for k in ("conn_type", "login", "password")} == {
        k: same[k] for k in ("conn_type", "login", "password")
    }
    assert conn["extra"] == json.loads(same["extra"])
    assert conn["extra"]["region_name"] == section.queue_arn.split(":")[3]

    assert environment(services["sandbox"])["SPAPI_SANDBOX_SQS_ENDPOINT_URL"] == endpoint

    # The config the containers read has no section of its own, so the variable's is the one in force.
    config_path = PurePosixPath(worker["SPAPI_PIPELINE_CONFIG"]).relative_to(AIRFLOW_HOME)
    monkeypatch.setenv(NOTIFICATIONS_ENV, worker[NOTIFICATIONS_ENV])
    assert load_config(REPO / config_path).notifications == section


def test_the_sqs_health_check_passes_once_sqs_init_ran(
    services: dict[str, dict[str, Any]], local_sqs: LocalSqs
) -> None:
    """Both commands, run against a moto server here: the health check is the queue's existence."""
    from demo import local_sqs as demo_sqs

    init = command_args(services["sqs-init"])
    init[init.index("--endpoint-url") + 1] = local_sqs.endpoint_url
    demo_sqs.main(init[3:])

    test = healthcheck_test(services["sqs"])
    assert test[:3] == ["CMD", "python3", "-c"]
    script = test[3]
    args = command_args(services["sqs"])
    in_container = f"http://localhost:{args[args.index('-p') + 1]}/"
    assert in_container in script and f"QueueName={demo_sqs.QUEUE}'" in script
    here = script.replace(in_container, local_sqs.endpoint_url + "/")
    assert subprocess.run([sys.executable, "-c", here], capture_output=True, timeout=30).returncode == 0
    missing = here.replace(f"QueueName={demo_sqs.QUEUE}'", "QueueName=no-such-queue'")
    assert subprocess.run([sys.executable, "-c", missing], capture_output=True, timeout=30).returncode != 0
