#!/usr/bin/env python3
"""Checks on rendered manifests that a schema cannot express (deploy/validate.sh runs it).

Usage: check-policy.py RENDERED.yaml [...]. Exit 1 with one line per problem.
"""

from __future__ import annotations

import sys

import yaml


def containers(pod: dict) -> list[dict]:
    return pod.get("containers", []) + pod.get("initContainers", [])


def check_pod(where: str, pod: dict, problems: list[str]) -> None:
    psc = pod.get("securityContext", {})
    if not psc.get("runAsNonRoot"):
        problems.append(f"{where}: pod securityContext.runAsNonRoot is not true")
    if pod.get("automountServiceAccountToken") is not False:
        problems.append(f"{where}: automountServiceAccountToken should be false")
    for c in containers(pod):
        name = f"{where}/{c['name']}"
        image = c.get("image", "")
        if ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest"):
            problems.append(f"{name}: image `{image}` is not pinned to a tag")
        sc = c.get("securityContext", {})
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation is not false")
        if sc.get("capabilities", {}).get("drop") != ["ALL"]:
            problems.append(f"{name}: capabilities are not dropped")
        if not sc.get("readOnlyRootFilesystem"):
            problems.append(f"{name}: root filesystem is writable")
        res = c.get("resources", {})
        if not res.get("requests") or not res.get("limits", {}).get("memory"):
            problems.append(f"{name}: resource requests or memory limit missing")
        for env in c.get("env", []):
            if "value" in env and any(w in env["name"].upper() for w in ("KEY", "TOKEN", "SECRET", "PASSWORD")):
                problems.append(f"{name}: {env['name']} is a literal; take it from a Secret")


def check(docs: list[dict], path: str) -> list[str]:
    problems: list[str] = []
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for d in docs:
        kind, name = d["kind"], d["metadata"]["name"]
        where = f"{path}: {kind}/{name}"
        if kind == "Secret":
            problems.append(f"{where}: Secrets are created by operators, never rendered from the repository")
        if kind == "StatefulSet":
            spec = d["spec"]
            pod = spec["template"]["spec"]
            check_pod(where, pod, problems)
            server = pod["containers"][0]
            probes = {p: server.get(p, {}).get("httpGet", {}).get("path") for p in ("livenessProbe", "readinessProbe")}
            if probes != {"livenessProbe": "/health/live", "readinessProbe": "/health/ready"}:
                problems.append(f"{where}: probes must use /health/live and /health/ready, got {probes}")
            ann = spec["template"]["metadata"].get("annotations", {})
            if ann.get("prometheus.io/scrape") != "true" or ann.get("prometheus.io/path") != "/metrics":
                problems.append(f"{where}: Prometheus scrape annotations missing")
            claims = [c["metadata"]["name"] for c in spec.get("volumeClaimTemplates", [])]
            mounts = {m["name"]: m["mountPath"] for m in server.get("volumeMounts", [])}
            if "data" not in claims or mounts.get("data") != "/data":
                problems.append(f"{where}: /data must be a volumeClaimTemplate")
            if spec.get("replicas") != 1:
                problems.append(f"{where}: replicas must be 1 (single writer; read replicas are not supported)")
            secrets = {v["name"]: v["secret"].get("secretName") for v in pod.get("volumes", []) if "secret" in v}
            key_mounts = [m for m in server.get("volumeMounts", []) if secrets.get(m["name"]) == "needle-api-keys"]
            if not key_mounts:
                problems.append(f"{where}: the API keys Secret `needle-api-keys` is not mounted")
            refs = [e["configMapRef"]["name"] for e in server.get("envFrom", []) if "configMapRef" in e]
            if not any(("ConfigMap", r) in kinds for r in refs):
                problems.append(f"{where}: envFrom names no rendered ConfigMap ({refs})")
        if kind == "CronJob":
            check_pod(where, d["spec"]["jobTemplate"]["spec"]["template"]["spec"], problems)
        if kind == "ConfigMap" and name.startswith("needle-config"):
            bad = [k for k in d.get("data", {}) if not k.startswith("NEEDLE_")]
            if bad:
                problems.append(f"{where}: keys outside NEEDLE_*: {bad}")
            if str(d.get("data", {}).get("NEEDLE_AUTH__ALLOW_OPEN", "false")).lower() == "true":
                problems.append(f"{where}: NEEDLE_AUTH__ALLOW_OPEN=true serves without API keys")
            if not d.get("data", {}).get("NEEDLE_AUTH__KEYS_FILE"):
                problems.append(f"{where}: NEEDLE_AUTH__KEYS_FILE is not set (API keys from the Secret)")
    for needed in ("StatefulSet", "Service", "PodDisruptionBudget", "ConfigMap", "CronJob"):
        if not any(k == needed for k, _ in kinds):
            problems.append(f"{path}: no {needed} rendered")
    return problems


def main() -> int:
    problems: list[str] = []
    for path in sys.argv[1:]:
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        problems += check(docs, path)
    for p in problems:
        print(f"POLICY {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
