"""Start-up cost of the processes the system keeps starting: every Dagster run and every step of it imports the code
location, every CLI call imports the CLI. Each figure is measured in fresh subprocesses (one warm-up, then N repeats;
the median is printed; the imports are measured in rounds, one of each in turn, and compared round by round):

- the import of `orchestration.definitions` (wall and CPU) against `dagster_dbt` alone, the floor of any code
  location with dbt assets (acceptance: at most 1.5× of it);
- `client360 --help` and `client360 ask 10234 "…"` on the demo data (wall; acceptance for ask: ≤ 2 s), and whether
  they imported Dagster;
- runs launched the way the daemon launches them: a `dagster code-server` subprocess (time until it serves its
  repository), then `dagster job launch` against it with the instance's DefaultRunLauncher — the code server starts
  a run worker, which loads the code location; the multiprocess executor starts a process per step, each loading it
  again. A one-step job (unmatched_recordings_job) and the three-step meeting pipeline for one demo recording, with
  the `spawn` default and with `forkserver` (step processes forked from one that loaded the code location once per
  run); with an in-process executor there are no step processes and one row per job. Per run, from its event log:
  launch → done, the run worker's start (RUN_STARTING → RUN_START), each step process's start (STEP_WORKER_STARTING
  → STEP_START: process, instance, code location, plan) and the steps' own work (STEP_START → STEP_SUCCESS).

Python reads compiled bytecode (.pyc) when the install has it; without it every process compiles every module it
imports again. `--no-bytecode` measures that case (an empty PYTHONPYCACHEPREFIX), the default measures the install
as it is (the share of site-packages modules with bytecode is printed).

The ask needs demo data: `--data DIR`, else $C360_DATA_DIR or ./data if it has an index, else `client360 demo` is
built into a temporary data dir (about a minute). The runs use their own temporary data dir and Dagster home.
Run: .venv/bin/python bench/bench_startup.py [--repeats 5] [--run-repeats 3] [--no-bytecode] [--data DIR]
"""

import argparse
import itertools
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PY = sys.executable
BIN = Path(PY).parent
QUESTION = "что обещали на последней встрече?"
CLI = "import sys; from cli.main import main; sys.exit(main())"  # what the console script `client360` runs
# the same, and whether the call imported Dagster (the last line on stderr, also after argparse's exit)
CLI_CHECK = """import sys
from cli.main import main
try:
    code = main()
finally:
    print("dagster loaded:", "dagster" in sys.modules, file=sys.stderr)
sys.exit(code)"""
INSTANCE_YAML = """telemetry:
  enabled: false
run_coordinator:
  module: dagster.core.run_coordinator
  class: DefaultRunCoordinator
concurrency:
  pools:
    default_limit: 1
"""
FORKSERVER = {"execution": {"config": {"multiprocess": {"start_method": {"forkserver": {}}}}}}


def timed(cmd: list[str], env: dict, check: bool = True) -> tuple[float, float, subprocess.CompletedProcess]:
    """Wall and CPU (user + system, the process and the children it waited for) of one subprocess."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if check and proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), proc


def repeat(cmd: list[str], env: dict, n: int) -> tuple[float, float, subprocess.CompletedProcess]:
    timed(cmd, env)  # warm-up: OS file cache, a dbt manifest parsed on first use
    runs = [timed(cmd, env) for _ in range(n)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs), runs[-1][2]


def rounds(cmds: list[list[str]], env: dict, n: int) -> list[list[tuple[float, float]]]:
    """(wall, CPU) of each command in each of n rounds: one after another within a round, so that a busy machine
    weighs on every command alike (compare them round by round)."""
    for cmd in cmds:
        timed(cmd, env)  # warm-up
    results = [[] for _ in cmds]
    for _ in range(n):
        for i, cmd in enumerate(cmds):
            results[i].append(timed(cmd, env)[:2])
    return results


def bytecode_share() -> float:
    site = Path(sysconfig.get_paths()["purelib"])
    sources = compiled = 0
    for py in site.rglob("*.py"):
        sources += 1
        compiled += (py.parent / "__pycache__" / f"{py.stem}.{sys.implementation.cache_tag}.pyc").exists()
    return compiled / max(sources, 1)


def demo_data(arg: Path | None, env: dict, work: Path) -> Path:
    for candidate in (arg, os.environ.get("C360_DATA_DIR"), ROOT / "data"):
        if candidate and (Path(candidate) / "rag_index").is_dir():
            return Path(candidate).resolve()
    if arg:
        raise SystemExit(f"{arg}: no demo data (rag_index) there")
    data = work / "demo"
    print(f"no demo data: building it into {data} (client360 demo) …", flush=True)
    demo_env = {**env, "C360_DATA_DIR": str(data)}
    demo_env.pop("DAGSTER_HOME", None)
    wall, _, _ = timed([PY, "-c", CLI, "demo"], demo_env)
    print(f"  built in {wall:.0f} s", flush=True)
    return data


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LaunchBench:
    """A code server as in production, an instance with the DefaultRunLauncher, runs launched with the CLI."""

    def __init__(self, work: Path, env: dict):
        from dagster import DagsterInstance
        from dagster._grpc.client import DagsterGrpcClient
        from dagster._utils.error import SerializableErrorInfo

        from assets.meetings.discovery import RecordingsFolder
        from devkit.demo import build_demo_company

        home, data, recordings = work / "dagster_home", work / "run_data", work / "run_recordings"
        home.mkdir(parents=True)
        # the embedded instance as deployed, except that a run is launched at once instead of waiting in the queue
        # for the daemon: the same DefaultRunLauncher either way
        (home / "dagster.yaml").write_text(INSTANCE_YAML)
        tz = ZoneInfo("Europe/Moscow")
        build_demo_company(recordings, date.today(), tz)
        ready = RecordingsFolder(recordings, prefix="client", tz=tz, quiet_seconds=0).scan(None, now=time.time() + 3600)
        self.recordings = [r.recording_id for r in ready.ready]
        self.env = {
            **env,
            "DAGSTER_HOME": str(home),
            "C360_DATA_DIR": str(data),
            "C360_RECORDINGS_DIR": str(recordings),
            "C360_LLM_PROVIDER": "offline",
            "C360_STT_PROVIDER": "sidecar",
            "C360_EMBED_PROVIDER": "local",
        }
        os.environ["DAGSTER_HOME"] = str(home)
        self.instance = DagsterInstance.get()
        self.instance.add_dynamic_partitions("meeting_recordings", self.recordings)
        self.port = free_port()
        t0 = time.perf_counter()
        self.server = subprocess.Popen(
            [str(BIN / "dagster"), "code-server", "start", "-h", "127.0.0.1", "-p", str(self.port)]
            + ["-m", "orchestration.definitions"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = DagsterGrpcClient(port=self.port, host="127.0.0.1")
        while True:  # serving = it answers with the repository (the proxy alone answers a ping sooner)
            try:
                if not isinstance(client.list_repositories(), SerializableErrorInfo):
                    break
                time.sleep(0.05)
            except Exception as exc:
                if self.server.poll() is not None:
                    raise SystemExit("the code server exited") from exc
                time.sleep(0.05)
        self.server_ready = time.perf_counter() - t0

    def close(self) -> None:
        self.server.terminate()
        self.server.wait(30)
        self.instance.dispose()

    def run(self, job: str, config: dict | None = None, partition: str | None = None) -> dict:
        from dagster import DagsterRunStatus

        run_id = str(uuid.uuid4())
        cmd = [str(BIN / "dagster"), "job", "launch", "-j", job, "--run-id", run_id]
        cmd += ["--grpc-host", "127.0.0.1", "--grpc-port", str(self.port)]
        if config:
            cmd += ["--config-json", json.dumps(config)]
        if partition:
            cmd += ["--tags", json.dumps({"dagster/partition": partition})]
        t0 = time.perf_counter()
        timed(cmd, self.env)
        while True:
            run = self.instance.get_run_by_id(run_id)
            if run is not None and run.is_finished:
                break
            if time.perf_counter() - t0 > 900:
                raise SystemExit(f"run {run_id} of {job} did not finish in 15 min: {run and run.status}")
            time.sleep(0.05)
        wall = time.perf_counter() - t0
        if run.status != DagsterRunStatus.SUCCESS:
            raise SystemExit(f"run {run_id} of {job}: {run.status}")
        run_ts: dict[str, float] = {}
        step_ts: dict[str, dict[str, float]] = {}  # step → event → time (events in log order)
        for e in self.instance.all_logs(run_id):
            if e.dagster_event is None:
                continue
            kind = e.dagster_event.event_type_value
            if e.step_key:
                step_ts.setdefault(e.step_key, {}).setdefault(kind, e.timestamp)
            else:
                run_ts.setdefault(kind, e.timestamp)
        steps = sorted(step_ts.values(), key=lambda t: t["STEP_START"])
        return {
            "wall": wall,
            "launch_to_done": run_ts["PIPELINE_SUCCESS"] - run_ts["PIPELINE_STARTING"],
            "worker_start": run_ts["PIPELINE_START"] - run_ts["PIPELINE_STARTING"],
            # a step process: from its launch until the step's own code starts (none with the in-process executor)
            "step_starts": [t["STEP_START"] - t["STEP_WORKER_STARTING"] for t in steps if "STEP_WORKER_STARTING" in t],
            "step_work": sum(t["STEP_SUCCESS"] - t["STEP_START"] for t in steps),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--run-repeats", type=int, default=3)
    parser.add_argument("--no-bytecode", action="store_true", help="every process compiles what it imports")
    parser.add_argument("--data", type=Path, help="a data dir with the demo (for ask)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="c360-bench-startup-"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "C360_LLM_PROVIDER": "offline"}
    if args.no_bytecode:
        (work / "pycache").mkdir()
        env.update(PYTHONPYCACHEPREFIX=str(work / "pycache"), PYTHONDONTWRITEBYTECODE="1")
        print("bytecode: none (every process compiles the modules it imports)")
    else:
        print(f"bytecode: as installed ({bytecode_share():.0%} of site-packages modules have .pyc)")
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}, repeats {args.repeats} (median)\n")
    try:
        data = demo_data(args.data, env, work)
        imports = [("python -c pass", "pass"), ("import dagster_dbt", "import dagster_dbt")]
        imports.append(("import orchestration.definitions", "import orchestration.definitions"))
        measured = rounds([[PY, "-c", code] for _, code in imports], env, args.repeats)
        print(f"{'':36}{'wall, s':>9}{'CPU, s':>9}")
        for (label, _), runs in zip(imports, measured, strict=True):
            wall, cpu = (statistics.median(r[i] for r in runs) for i in (0, 1))
            print(f"{label:36}{wall:9.2f}{cpu:9.2f}")
        ref, defs = measured[1], measured[2]
        ratio = [statistics.median(d[i] / r[i] for d, r in zip(defs, ref, strict=True)) for i in (0, 1)]
        print(
            f"definitions / dagster_dbt (median of the rounds): wall {ratio[0]:.2f}×, CPU {ratio[1]:.2f}×"
            " (target ≤ 1.5×)\n"
        )

        for label, cli_args, extra in [
            ("client360 --help", ["--help"], {}),
            (f'client360 ask 10234 "{QUESTION}"', ["ask", "10234", QUESTION], {"C360_DATA_DIR": str(data)}),
        ]:
            wall, cpu, proc = repeat([PY, "-c", CLI_CHECK, *cli_args], {**env, **extra}, args.repeats)
            dagster = proc.stderr.strip().splitlines()[-1]
            print(f"{label:60} wall {wall:5.2f} s, CPU {cpu:5.2f} s, {dagster}")
            if cli_args[0] == "ask":
                first = next((line for line in proc.stdout.splitlines() if line.startswith("—")), proc.stdout[:80])
                print(f"  answer: {first[:110]}")
        print(f"  (ask target ≤ 2 s wall; data: {data})\n")

        bench = LaunchBench(work, env)
        try:
            print(
                f"code server (dagster code-server start -m orchestration.definitions) serving after "
                f"{bench.server_ready:.2f} s"
            )
            bench.run("unmatched_recordings_job")  # warm-up: creates the run's warehouse
            print(
                f"{'run (seconds)':56}{'wall':>7}{'launch→done':>13}{'worker start':>14}{'step starts':>22}"
                f"{'step work':>11}"
            )
            recordings = itertools.cycle(bench.recordings)
            for job, steps in [("unmatched_recordings_job", 1), ("meeting_pipeline_job", 3)]:
                for method, config in [("spawn", None), ("forkserver", FORKSERVER)]:
                    results = []
                    for _ in range(args.run_repeats):
                        partition = next(recordings) if job == "meeting_pipeline_job" else None
                        results.append(bench.run(job, config, partition))
                    keys = ("wall", "launch_to_done", "worker_start", "step_work")
                    med = {k: statistics.median(r[k] for r in results) for k in keys}
                    in_process = not results[0]["step_starts"]
                    if in_process:  # the code location's executor runs the steps inside the run worker
                        method, step_starts = "in-process executor", "—"
                    else:
                        starts = [statistics.median(r["step_starts"][i] for r in results) for i in range(steps)]
                        step_starts = " / ".join(f"{s:.2f}" for s in starts)
                    label = f"{job} ({steps} step{'s' if steps > 1 else ''}, {method})"
                    print(
                        f"{label:56}{med['wall']:7.2f}{med['launch_to_done']:13.2f}{med['worker_start']:14.2f}"
                        f"{step_starts:>22}{med['step_work']:11.2f}",
                        flush=True,
                    )
                    if in_process:
                        break  # no step processes to fork
        finally:
            bench.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
