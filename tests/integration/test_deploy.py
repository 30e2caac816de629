"""The shipped deployment files are valid: dashboards are what the code generates, the
Prometheus files pass promtool, the compose file passes docker-compose, the manifests pass
the Kubernetes schemas, and every config they mount is a config Guanchao accepts."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from monitor.metrics.dashboards import OUT as DASHBOARDS
from monitor.metrics.dashboards import build
from monitor.settings import load_settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: scripts/test installs it")
    return found


def run(*command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, env=env, check=False)


def test_the_dashboards_are_exactly_what_the_code_generates() -> None:
    built = build()
    shipped = {path.name: path.read_text(encoding="utf-8") for path in DASHBOARDS.glob("*.json")}
    assert shipped.keys() == built.keys()
    for name, text in built.items():
        regenerate = "python -m monitor.metrics.dashboards"
        assert shipped[name] == text, f"{name} was edited by hand: run {regenerate}"


def test_promtool_accepts_the_config_and_the_rules() -> None:
    checked = run(
        tool("promtool"), "check", "config", str(DEPLOY / "prometheus" / "prometheus.yml")
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    rules = run(
        tool("promtool"), "check", "rules", *map(str, (DEPLOY / "prometheus").glob("rules/*.yml"))
    )
    assert rules.returncode == 0 and "SUCCESS" in rules.stdout, rules.stdout + rules.stderr


def test_the_compose_file_is_valid_and_demands_its_secrets() -> None:
    compose = str(DEPLOY / "compose.yaml")
    secrets = {"GUANCHAO_API_TOKEN": "t", "GRAFANA_ADMIN_PASSWORD": "p"}
    env = {key: value for key, value in os.environ.items() if key not in secrets}
    checked = run(tool("docker-compose"), "-f", compose, "config", env={**env, **secrets})
    assert checked.returncode == 0, checked.stderr
    services = yaml.safe_load(checked.stdout)["services"]
    assert {"kafka", "worker-1", "worker-2", "prometheus", "alertmanager", "grafana"} <= set(
        services
    )
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
            if source.startswith("/"):
                assert Path(source).exists(), f"compose mounts {source}, which is not shipped"
    missing = run(tool("docker-compose"), "-f", compose, "config", env=env)
    assert missing.returncode != 0 and "GUANCHAO_API_TOKEN" in missing.stderr


def test_the_worker_config_of_each_deployment_loads(tmp_path: Path) -> None:
    assert load_settings(DEPLOY / "guanchao.yaml").stream.web_host == "0.0.0.0"
    (config_map,) = [r for r in manifests() if r["kind"] == "ConfigMap"]
    path = tmp_path / "guanchao.yaml"
    path.write_text(config_map["data"]["guanchao.yaml"], encoding="utf-8")
    assert load_settings(path).sentiment.model == "social"


def manifests() -> list[dict[str, Any]]:
    documents = yaml.safe_load_all((DEPLOY / "k8s" / "guanchao.yaml").read_text(encoding="utf-8"))
    return [document for document in documents if document]


def test_the_kubernetes_manifests_pass_the_schemas() -> None:
    resources = manifests()
    assert {r["kind"] for r in resources} == {"ConfigMap", "Secret", "Deployment", "Service"}
    for resource in resources:
        kubernetes_validate.validate(resource, "1.30", strict=True)
    (deployment,) = [r for r in resources if r["kind"] == "Deployment"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
