"""The production Dagster topology, started for real on this machine.

The commands of deploy/docker-compose.yml run as subprocesses (the code server over gRPC, the daemon, the webserver
behind /dagster), each with its own DAGSTER_HOME holding the production deploy/dagster.yaml (as each container has
its own), the run history in a throwaway database on the real PostgreSQL, and the client360 settings pointing at
folders and fakes on 127.0.0.1. For tests of what only the daemon does: sensors ticking, the run queue and its pools,
run-failure notices, a process killed mid-work. Every process runs in its own process group, so stopping the stack
also stops the runs and steps the code server launched.

    with production_stack(tmp_path / "stack", {"C360_DATA_DIR": ..., "C360_RECORDINGS_DIR": ...}) as stack:
        stack.start()                      # or start(daemon=False), then stack.start_service("daemon")
        run_id = stack.launch_run("warehouse_job")
        runs = stack.wait_for_runs(1, timeout=120)
        stack.restart("code")              # a code-server crash: its runs die with it; kill(name, sig) alone too

tests/test_production_topology.py has the fixture that adds the fake Bot API and offline providers.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LOCATION = "client360"
SERVICES = ("code", "webserver", "daemon")

PG = {
    "host": os.environ.get("C360_TEST_PG_HOST", "127.0.0.1"),
    "port": int(os.environ.get("C360_TEST_PG_PORT", "5432")),
    "user": os.environ.get("C360_TEST_PG_USER", "postgres"),
}


def production_home(home, database: str) -> dict:
    """A DAGSTER_HOME with the production dagster.yaml, and the environment that points it at `database`."""
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    return {
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_HOST": PG["host"],
        "DAGSTER_PG_PORT": str(PG["port"]),
        "DAGSTER_PG_DB": database,
        "DAGSTER_PG_USER": PG["user"],
        "DAGSTER_PG_PASSWORD": "unused-with-trust",
        # beside the homes: the services of one stack share it, as the compose services share the data volume
        "DAGSTER_COMPUTE_LOGS_DIR": str(home.parent / "compute_logs"),
    }


RUNS_QUERY = """
query Runs($filter: RunsFilter, $limit: Int) {
  runsOrError(filter: $filter, limit: $limit) {
    __typename
    ... on Runs { results { runId jobName status creationTime startTime endTime tags { key value } } }
    ... on PythonError { message }
  }
}
"""
LAUNCH_RUN = """
mutation Launch($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
    ... on RunConflict { message }
    ... on UnauthorizedError { message }
  }
}
"""
TICKS_QUERY = """
query Ticks($selector: SensorSelector!, $limit: Int) {
  sensorOrError(sensorSelector: $selector) {
    __typename
    ... on Sensor { sensorState { ticks(limit: $limit) {
        tickId status timestamp endTimestamp runIds runKeys skipReason error { message } } } }
    ... on PythonError { message }
  }
}
"""
WORKSPACE_QUERY = """
{ workspaceOrError { __typename ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def throwaway_database(prefix: str = "c360_stack") -> Iterator[str]:
    """A fresh database on the real PostgreSQL for one test, dropped afterwards (even with sessions still open)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(dbname="postgres", autocommit=True, connect_timeout=5, **PG)
    except psycopg.OperationalError as exc:
        where = f"{PG['host']}:{PG['port']}"
        raise AssertionError(f"PostgreSQL на {where} недоступен (.ci/run запускает его): {exc}") from exc
    admin.execute(f'create database "{name}"')
    try:
        yield name
    finally:
        admin.execute(f'drop database "{name}" with (force)')
        admin.close()


def compose_commands(code_port: int, web_port: int, workspace: Path) -> dict[str, list[str]]:
    """The services' commands exactly as deploy/docker-compose.yml has them, bound to 127.0.0.1 and free ports."""
    services = yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text())["services"]
    swap = {
        "0.0.0.0": "127.0.0.1",
        "4000": str(code_port),
        "3000": str(web_port),
        "/app/deploy/workspace.docker.yaml": str(workspace),
    }
    commands = {}
    for name in SERVICES:
        command = [swap.get(arg, arg) for arg in services[name]["command"]]
        commands[name] = [str(BIN / command[0]), *command[1:]]
    return commands


def grpc_workspace(path: Path, code_port: int) -> Path:
    """deploy/workspace.docker.yaml with the code container's address replaced by 127.0.0.1:<code_port>."""
    workspace = yaml.safe_load((ROOT / "deploy" / "workspace.docker.yaml").read_text())
    [entry] = workspace["load_from"]
    entry["grpc_server"].update(host="127.0.0.1", port=code_port)
    assert entry["grpc_server"]["location_name"] == LOCATION
    path.write_text(yaml.safe_dump(workspace))
    return path


class ProductionStack:
    """Code server, webserver and daemon of one client360 deployment, as the compose stack runs them."""

    def __init__(self, root: Path, database: str, settings: dict[str, str]):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.database = database
        self.code_port, self.web_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.web_port}/dagster"
        workspace = grpc_workspace(root / "workspace.yaml", self.code_port)
        self.commands = compose_commands(self.code_port, self.web_port, workspace)
        self.cwd = root / "cwd"  # no developer's .env is read: settings come from the environment only
        self.cwd.mkdir(parents=True, exist_ok=True)
        self.settings = {"C360_DAGSTER_URL": self.url, **settings}  # failure notices link to this webserver
        self.env: dict[str, dict[str, str]] = {}
        for name in SERVICES:  # one DAGSTER_HOME per service, as each container has its own
            pg_env = production_home(root / f"home-{name}", database)
            self.env[name] = {
                "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
                "HOME": os.environ.get("HOME", str(root)),
                "LANG": "C.UTF-8",
                "PYTHONUNBUFFERED": "1",
                **({"PYTHONPATH": os.environ["PYTHONPATH"]} if os.environ.get("PYTHONPATH") else {}),  # same code
                **pg_env,
                **self.settings,
            }
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}
        self.starts: dict[str, int] = {}
        self.http = httpx.Client(timeout=30)

    # processes

    def start_service(self, name: str) -> None:
        assert name not in self.processes or self.processes[name].poll() is not None, f"{name} is running"
        self.starts[name] = self.starts.get(name, 0) + 1
        log = self.root / f"{name}-{self.starts[name]}.log"
        self.logs[name] = log
        with log.open("wb") as out:
            self.processes[name] = subprocess.Popen(
                self.commands[name],
                cwd=self.cwd,
                env=self.env[name],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: runs and steps it starts are stopped with it
            )

    def kill(self, name: str, sig: int = signal.SIGKILL, timeout: float = 20) -> None:
        """Signal the service's whole process group (the service and the runs and steps it started) and wait for
        the service to exit; after a SIGTERM, whatever of the group is still there gets a SIGKILL."""
        process = self.processes.get(name)
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def start(self, *, daemon: bool = True, timeout: float = 120) -> ProductionStack:
        """As compose does: the code server first, healthy; then the webserver and the daemon. With
        `daemon=False` the daemon is left to the test (to catch its very first tick)."""
        self.start_service("code")
        self.wait_for("the code server answers its gRPC health check", self._code_healthy, timeout, every=1)
        self.start_service("webserver")
        if daemon:
            self.start_service("daemon")
        self.wait_for(f"the webserver has loaded code location {LOCATION}", self._location_loaded, timeout)
        return self

    def restart(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Kill a service (by default as a crash would) and start it again, as `restart: unless-stopped` does."""
        self.kill(name, sig)
        self.start_service(name)

    def stop(self) -> None:
        for name in ("daemon", "webserver", "code"):  # the daemon first: it launches nothing more
            self.kill(name, signal.SIGTERM, timeout=15)
        self.http.close()

    def _code_healthy(self) -> bool:
        self.assert_alive("code")
        check = subprocess.run(
            [str(BIN / "dagster"), "api", "grpc-health-check", "-p", str(self.code_port)],
            env=self.env["code"],
            cwd=self.cwd,
            capture_output=True,
            timeout=60,
        )
        return check.returncode == 0

    def _location_loaded(self) -> bool:
        self.assert_alive("webserver", "code")
        try:
            data = self.graphql(WORKSPACE_QUERY)
        except (httpx.HTTPError, AssertionError):
            return False
        entries = {e["name"]: e for e in data["workspaceOrError"].get("locationEntries", [])}
        entry = entries.get(LOCATION)
        if not entry or entry["loadStatus"] != "LOADED":
            return False
        loaded = entry["locationOrLoadError"]
        assert loaded["__typename"] == "RepositoryLocation", f"code location failed to load: {loaded}"
        return True

    def assert_alive(self, *names: str) -> None:
        for name in names or tuple(self.processes):
            code = self.processes[name].poll()
            assert code is None, f"{name} exited with {code}\n{self.log_tails()}"

    def log_tails(self, lines: int = 40) -> str:
        parts = []
        for name, log in self.logs.items():
            text = log.read_text(errors="replace").splitlines() if log.exists() else []
            parts.append(f"----- {name} ({log.name}), last {lines} lines -----\n" + "\n".join(text[-lines:]))
        return "\n".join(parts)

    def wait_for(self, what: str, probe: Callable[[], object], timeout: float, every: float = 0.5):
        """Poll `probe` until it returns something truthy (returned); fail after `timeout` s with the logs."""
        deadline = time.monotonic() + timeout
        while True:
            value = probe()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f} s waiting until {what}\n{self.log_tails()}")
            time.sleep(every)

    # the webserver's GraphQL API

    def graphql(self, query: str, **variables) -> dict:
        response = self.http.post(f"{self.url}/graphql", json={"query": query, "variables": variables})
        response.raise_for_status()
        body = response.json()
        assert not body.get("errors"), body["errors"]
        return body["data"]

    def runs(self, job_name: str | None = None) -> list[dict]:
        """Every run (newest first), with its tags as a dict."""
        data = self.graphql(RUNS_QUERY, filter={"pipelineName": job_name} if job_name else {}, limit=1000)
        result = data["runsOrError"]
        assert result["__typename"] == "Runs", result
        return [{**r, "tags": {t["key"]: t["value"] for t in r["tags"]}} for r in result["results"]]

    def launch_run(self, job_name: str, run_config: dict | None = None) -> str:
        params = {
            "selector": {"repositoryLocationName": LOCATION, "repositoryName": "__repository__", "jobName": job_name},
            "runConfigData": run_config or {},
        }
        result = self.graphql(LAUNCH_RUN, executionParams=params)["launchRun"]
        assert result["__typename"] == "LaunchRunSuccess", result
        return result["run"]["runId"]

    def ticks(self, sensor_name: str, limit: int = 50) -> list[dict]:
        """The sensor's ticks, newest first."""
        selector = {"repositoryLocationName": LOCATION, "repositoryName": "__repository__", "sensorName": sensor_name}
        result = self.graphql(TICKS_QUERY, selector=selector, limit=limit)["sensorOrError"]
        assert result["__typename"] == "Sensor", result
        return result["sensorState"]["ticks"]

    def wait_for_runs(self, count: int, timeout: float, job_name: str | None = None) -> list[dict]:
        """Wait until at least `count` runs (of `job_name`) exist and all of them have finished."""

        def finished():
            self.assert_alive("code", "webserver")
            runs = self.runs(job_name)
            return runs if len(runs) >= count and all(r["status"] in TERMINAL for r in runs) else None

        return self.wait_for(f"{count} runs{f' of {job_name}' if job_name else ''} have finished", finished, timeout)

    # the run history, straight from PostgreSQL (what GraphQL does not expose in one query)

    def sql(self, query: str, params=None) -> list[tuple]:
        with psycopg.connect(dbname=self.database, connect_timeout=5, **PG) as con:
            return con.execute(query, params).fetchall()

    def explain(self, runs: list[dict]) -> str:
        """The event logs of the runs that did not succeed, then the tail of each process's log."""
        failed = [self.run_log(r["runId"]) for r in runs if r["status"] != "SUCCESS"]
        return "\n".join([*failed, self.log_tails()])

    def run_log(self, run_id: str) -> str:
        """A run's event log as text (event type, message, error): what to show when a run did not do as expected."""
        lines = []
        for kind, step, at, raw in self.sql(
            "select dagster_event_type, step_key, timestamp, event from event_logs where run_id = %s order by id",
            [run_id],
        ):
            entry = json.loads(raw)
            error = (((entry.get("dagster_event") or {}).get("event_specific_data") or {}).get("error")) or {}
            message = entry.get("user_message") or ""
            lines.append(f"{at:%H:%M:%S.%f} {kind or 'log'} {step or ''} {message} {error.get('message') or ''}")
        return f"run {run_id}:\n" + "\n".join(lines)


@contextlib.contextmanager
def production_stack(root: Path, settings: dict[str, str]) -> Iterator[ProductionStack]:
    """A throwaway database and the stack on it, not started; always stopped and dropped afterwards."""
    with throwaway_database() as database:
        stack = ProductionStack(root, database, settings)
        try:
            yield stack
        finally:
            stack.stop()
