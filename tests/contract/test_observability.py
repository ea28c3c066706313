"""The alerts and dashboards: every rule file has the shape the Prometheus operator and
Alertmanager routing expect, and every metric that a rule or a dashboard panel reads is one
that the services (their prometheus_client registry) or a real Envoy actually expose.

promtool is not available here, so the PromQL is tokenized: identifiers that are not
functions, keywords, label names (inside braces or grouping clauses) or durations are
metric names; names with a colon are recording rules and must be recorded in the files."""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

from gateway.edge.settings import ROOT
from tests.contract.real_envoy import http_get, prometheus_stats, running_envoy

OBSERVABILITY = ROOT / "deploy" / "k8s" / "base" / "observability"
SERVICES = ROOT / "services"
DURATION = re.compile(r"^[0-9]+(ms|s|m|h|d|w|y)$")
SEVERITIES = {"critical", "warning", "info"}
KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left"}
KEYWORDS |= {"group_right", "offset", "bool", "inf", "nan", "atan2"}
# Labelled braces, grouping clauses, strings, ranges/subqueries and Grafana variables hold no
# metric names; what they leave behind does.
_NOT_NAMES = re.compile(
    r'"(?:[^"\\]|\\.)*"|\{[^}]*\}|\[[^\]]*\]|\$\w+'
    r"|\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"
)
_IDENTIFIER = re.compile(r"(?<![\w.])([a-zA-Z_:][\w:]*)\s*(\()?")
# prometheus_client's sample names for a family name and its type.
_SAMPLES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("", "_sum", "_count"),
}


def metric_names(expression: str) -> set[str]:
    """The metric (and recording rule) names a PromQL expression reads."""
    stripped = _NOT_NAMES.sub(" ", expression)
    names = set()
    for match in _IDENTIFIER.finditer(stripped):
        name, call = match.groups()
        if call is None and name.lower() not in KEYWORDS:
            names.add(name)
    return names


def rule_files() -> list[dict[str, Any]]:
    return [yaml.safe_load(path.read_text()) for path in sorted(OBSERVABILITY.glob("*-rules.yaml"))]


def rules() -> Iterator[dict[str, Any]]:
    for document in rule_files():
        if document.get("kind") == "PrometheusRule":
            for group in document["spec"]["groups"]:
                yield from group["rules"]


def dashboards() -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in sorted(OBSERVABILITY.glob("dashboards/*"))]


def panel_expressions(dashboard: dict[str, Any]) -> Iterator[str]:
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            yield target["expr"]
    for variable in dashboard["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict):
            yield re.sub(r"^label_values\((.*),\s*\w+\)$", r"\1", query["query"])


def used_names() -> dict[str, str]:
    """Every metric name read anywhere, with where it was first read."""
    used: dict[str, str] = {}
    for rule in rules():
        for name in metric_names(rule["expr"]):
            used.setdefault(name, rule.get("alert") or rule["record"])
    for dashboard in dashboards():
        for expression in panel_expressions(dashboard):
            for name in metric_names(expression):
                used.setdefault(name, dashboard["uid"])
    return used


def service_metric_modules() -> list[str]:
    """Every module under services/ that defines Prometheus metrics."""
    return sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for path in SERVICES.rglob("*.py")
        if "prometheus_client" in path.read_text()
    )


def exposed_by_services() -> set[str]:
    for module in service_metric_modules():
        importlib.import_module(module)
    exposed = set()
    for family in REGISTRY.collect():
        exposed |= {family.name + suffix for suffix in _SAMPLES.get(family.type, ("",))}
        exposed |= {sample.name for sample in family.samples}
    return exposed


def test_the_tokenizer_finds_metric_names_and_nothing_else() -> None:
    expression = (
        'sum by (grpc_service, le) (rate(grpc_server_handling_seconds_bucket{le="0.25",'
        ' grpc_code=~"OK|x"}[$__rate_interval])) / on (pod) group_left'
        " lastmile:slo_calls:rate5m > 14.4 * 0.001 and vector(0) or up offset 5m"
    )
    assert metric_names(expression) == {
        "grpc_server_handling_seconds_bucket",
        "lastmile:slo_calls:rate5m",
        "up",
    }


def test_every_rule_file_has_the_shape_the_prometheus_operator_loads() -> None:
    documents = rule_files()
    assert {d["kind"] for d in documents} == {"PrometheusRule"}
    for document in documents:
        assert document["apiVersion"] == "monitoring.coreos.com/v1"
        groups = document["spec"]["groups"]
        assert len({g["name"] for g in groups}) == len(groups), "group names must be unique"
        for group in groups:
            assert group["rules"], group["name"]
            assert DURATION.match(group.get("interval", "1m")), group["name"]


def test_every_alert_has_a_duration_a_severity_a_summary_and_a_runbook() -> None:
    alerts = [rule for rule in rules() if "alert" in rule]
    assert len(alerts) >= 10
    for alert in alerts:
        name = alert["alert"]
        assert re.fullmatch(r"Lastmile[A-Z]\w+", name), name
        assert DURATION.match(alert["for"]), name
        assert alert["labels"]["severity"] in SEVERITIES, name
        assert alert["annotations"]["summary"], name
        runbook = alert["annotations"]["runbook_url"]
        anchor = runbook.split("#")[1]
        assert anchor in (ROOT / "deploy" / "k8s" / "runbooks.md").read_text().lower(), name


def test_recording_rules_follow_the_level_metric_operation_convention_and_are_used() -> None:
    recorded = [rule["record"] for rule in rules() if "record" in rule]
    assert len(recorded) == len(set(recorded))
    for name in recorded:
        assert re.fullmatch(r"[a-z_]+:[a-z_]+:[a-z0-9_]+", name), name
    assert {n for n in used_names() if ":" in n} <= set(recorded)


def test_the_slo_alerts_burn_the_budget_at_the_sre_workbook_rates() -> None:
    fast = next(r for r in rules() if r.get("alert") == "LastmileAvailabilityBudgetBurnFast")
    slow = next(r for r in rules() if r.get("alert") == "LastmileAvailabilityBudgetBurnSlow")
    assert re.search(r"ratio_rate1h > 14\.4 \* 0\.001 and \S+ratio_rate5m", fast["expr"])
    assert re.search(r"ratio_rate6h > 6 \* 0\.001 and \S+ratio_rate30m", fast["expr"])
    assert re.search(r"ratio_rate3d > 1 \* 0\.001 and \S+ratio_rate6h", slow["expr"])


def test_dashboards_are_provisioned_with_unique_uids_and_a_datasource_variable() -> None:
    found = dashboards()
    assert {d["uid"] for d in found} == {"lastmile-red", "lastmile-delivery", "lastmile-mesh"}
    for dashboard in found:
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource", dashboard["uid"]
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(ids) == len(set(ids)), dashboard["uid"]
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                assert target["datasource"]["uid"] == "${datasource}", panel["title"]
    kustomization = yaml.safe_load((OBSERVABILITY / "kustomization.yaml").read_text())
    generator = kustomization["configMapGenerator"][0]
    assert generator["options"]["labels"] == {"grafana_dashboard": "1"}
    assert sorted(generator["files"]) == sorted(
        str(p.relative_to(OBSERVABILITY)) for p in OBSERVABILITY.glob("dashboards/*")
    )


def test_every_service_metric_read_by_a_rule_or_a_dashboard_is_exposed() -> None:
    exposed = exposed_by_services()
    missing = {
        name: where
        for name, where in used_names().items()
        if ":" not in name and not name.startswith("envoy_") and name not in exposed
    }
    assert not missing, f"read but exposed by no service: {missing}"


@pytest.mark.slow
def test_every_envoy_metric_read_by_a_rule_or_a_dashboard_is_exposed_by_a_real_envoy(
    tmp_path: Path,
) -> None:
    with running_envoy(tmp_path) as (admin_port, listener_port):
        assert http_get(listener_port, "/upstream").startswith("200")
        page = prometheus_stats(admin_port)
    exposed = set()
    for line in page.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            # Envoy's counters keep their own names (no _total added).
            exposed.add(name)
            if kind == "histogram":
                exposed |= {name + suffix for suffix in _SAMPLES[kind]}
    used = {name: where for name, where in used_names().items() if name.startswith("envoy_")}
    assert len(used) >= 10
    missing = {name: where for name, where in used.items() if name not in exposed}
    assert not missing, f"read but not exposed by Envoy: {missing}"
