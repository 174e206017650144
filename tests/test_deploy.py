"""The deploy files, checked without a Docker engine: the compose stack and the Caddyfile parse, every Python
service runs a command the image installs, every variable they use is documented in .env.example, and so is
every setting the code reads."""

import re
import shutil
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent  # the same lock installs the same entry points in the image


def env_example() -> set[str]:
    return set(re.findall(r"(?m)^([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text()))


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def test_every_python_service_runs_an_installed_command_with_health_and_restart():
    services = compose()["services"]
    assert {"postgres", "code", "webserver", "daemon", "app", "caddy"} <= set(services)
    for name, service in services.items():
        assert service.get("restart") == "unless-stopped", name
        assert service.get("healthcheck", {}).get("test"), name
        if service.get("image") != "client360:latest":
            continue
        command = service["command"]
        assert shutil.which(command[0], path=str(BIN)), f"{name}: {command[0]} is not installed by the lock"
        assert service["build"]["dockerfile"] == "deploy/Dockerfile" and "../.env" in service["env_file"]
        for arg in command:
            if arg.startswith("/app/"):
                assert (ROOT / arg.removeprefix("/app/")).exists(), f"{name}: {arg}"
        mounts = {v.split(":")[1]: v.split(":")[0] for v in service["volumes"]}
        assert mounts["/recordings"] == "${C360_RECORDINGS_HOST_DIR}" and service["volumes"][2].endswith(":ro")
        assert (DEPLOY / mounts["/dagster_home/dagster.yaml"]).exists()


def test_the_image_installs_from_the_projects_own_files():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "COPY requirements.lock pyproject.toml" in dockerfile and "-r requirements.lock" in dockerfile
    assert "--no-deps -e ." in dockerfile and "USER c360" in dockerfile


def test_every_variable_is_documented_in_env_example():
    documented = env_example()
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", (DEPLOY / "docker-compose.yml").read_text()))
    used |= set(re.findall(r"\{\$([A-Z][A-Z0-9_]*)\}", (DEPLOY / "Caddyfile").read_text()))
    used |= set(re.findall(r"\{env: ([A-Z][A-Z0-9_]*)\}", (DEPLOY / "dagster.yaml").read_text()))
    settings = (ROOT / "config" / "settings.py").read_text()
    used |= set(re.findall(r'_env\("([A-Z][A-Z0-9_]*)"', settings))
    assert used - documented == set()


def test_caddyfile_puts_the_dagster_ui_behind_a_login():
    text = (DEPLOY / "Caddyfile").read_text()
    assert text.count("{") == text.count("}")
    site = text[text.index("{$C360_DOMAIN}") :]
    dagster = site[site.index("handle /dagster*") :]
    block = dagster[: dagster.index("reverse_proxy")]
    assert "basic_auth" in block and "{$DAGSTER_UI_PASSWORD_HASH}" in block
    assert "reverse_proxy webserver:3000" in dagster and "reverse_proxy app:7860" in site
    webserver = compose()["services"]["webserver"]["command"]
    assert webserver[webserver.index("--path-prefix") + 1] == "/dagster"


def test_service_commands_and_health_checks_exist_in_the_installed_tools():
    import subprocess

    services = compose()["services"]
    commands = [services[n]["command"] for n in ("code", "webserver", "daemon", "app")]
    commands += [services[n]["healthcheck"]["test"][1:] for n in ("code", "daemon")]
    for command in commands:
        words = [w for w in command if not w.startswith("-") and not w[0].isdigit() and "/" not in w][:3]
        words = words[:1] + [w for w in words[1:] if w.replace("-", "").isalpha()]
        run = subprocess.run([str(BIN / words[0]), *words[1:], "--help"], capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, (command, run.stderr[-500:])


def test_the_image_takes_no_secret_data_or_local_environment():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip()}
    assert {".env", ".venv", ".tools", "data", "backups", "dbt_project/target", ".git"} <= ignored
    assert "!.env.example" in ignored, "the settings template stays in the image"


def test_the_app_is_reached_only_through_caddy_and_believes_its_forwarded_address():
    import ipaddress

    services = compose()["services"]
    app = services["app"]
    assert "ports" not in app  # only Caddy (and the other containers) reach it
    # its own environment block must not drop the shared one (YAML merge keys are shallow)
    assert app["environment"]["DAGSTER_PG_HOST"] == services["code"]["environment"]["DAGSTER_PG_HOST"]
    default = re.fullmatch(r"\$\{C360_TRUSTED_PROXIES:-(.+)\}", app["environment"]["C360_TRUSTED_PROXIES"])
    networks = [ipaddress.ip_network(n) for n in default.group(1).split(",")]
    caddy_on_docker_bridge = ipaddress.ip_address("172.18.0.5")  # Docker's default pools: 172.17–31.x, 192.168.x
    assert any(caddy_on_docker_bridge in n for n in networks) and all(n.is_private for n in networks)
