#!/usr/bin/env python3
"""Checks on rendered manifests that a schema cannot express (deploy/validate.sh runs it).

Usage: check-policy.py RENDERED.yaml [...]. Exit 1 with one line per problem.

Every pod (Needle, NATS, Redis, Jobs): non-root, RuntimeDefault seccomp, no service-account
token, pinned images, no privilege escalation, capabilities dropped, read-only root
filesystem, requests and a memory limit, no literal secrets. Every StatefulSet: probes, a
headless Service, and with several replicas a PodDisruptionBudget, Parallel pod management,
spreading over nodes and per-pod volume claims. Needle's own StatefulSet: its probes,
scrape annotations, /data claim, API keys, ConfigMap, and 1 replica unless it runs as a
cluster (NEEDLE_CLUSTER__NATS), which then needs a per-pod node id, a ReadWriteMany shared
directory, and NATS/Redis addresses that are pod DNS names covering every pod.
"""

from __future__ import annotations

import ipaddress
import re
import sys
from urllib.parse import urlsplit

import yaml

WORKLOADS = ("StatefulSet", "Deployment", "DaemonSet", "Job", "CronJob")


def pod_spec(d: dict) -> dict:
    if d["kind"] == "CronJob":
        return d["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return d["spec"]["template"]["spec"]


def pod_labels(d: dict) -> dict:
    if d["kind"] == "CronJob":
        return d["spec"]["jobTemplate"]["spec"]["template"].get("metadata", {}).get("labels", {})
    return d["spec"]["template"].get("metadata", {}).get("labels", {})


def selects(selector: dict, labels: dict) -> bool:
    """A label selector (matchLabels only, as these manifests use) matches these labels."""
    match = selector.get("matchLabels", {})
    return bool(match) and not selector.get("matchExpressions") and all(labels.get(k) == v for k, v in match.items())


def is_needle_server(d: dict) -> bool:
    return d["kind"] == "StatefulSet" and d["metadata"].get("labels", {}).get("app.kubernetes.io/name", "needle") == "needle"


def container_env(c: dict, configmaps: dict[str, dict]) -> dict[str, object]:
    """Environment of a container: envFrom ConfigMaps, then env (a literal value or the valueFrom dict)."""
    env: dict[str, object] = {}
    for e in c.get("envFrom", []):
        if "configMapRef" in e:
            env.update(configmaps.get(e["configMapRef"]["name"], {}).get("data", {}))
    for e in c.get("env", []):
        env[e["name"]] = e["value"] if "value" in e else e.get("valueFrom", {})
    return env


def containers(pod: dict) -> list[dict]:
    return pod.get("containers", []) + pod.get("initContainers", [])


def check_pod(where: str, pod: dict, problems: list[str]) -> None:
    psc = pod.get("securityContext", {})
    if not psc.get("runAsNonRoot"):
        problems.append(f"{where}: pod securityContext.runAsNonRoot is not true")
    if pod.get("automountServiceAccountToken") is not False:
        problems.append(f"{where}: automountServiceAccountToken should be false")
    if psc.get("runAsUser") == 0:
        problems.append(f"{where}: pod securityContext.runAsUser is 0")
    pod_seccomp = psc.get("seccompProfile", {}).get("type")
    for c in containers(pod):
        name = f"{where}/{c['name']}"
        if c.get("securityContext", {}).get("seccompProfile", {}).get("type", pod_seccomp) != "RuntimeDefault":
            problems.append(f"{name}: seccompProfile is not RuntimeDefault")
        if c.get("securityContext", {}).get("runAsUser") == 0:
            problems.append(f"{name}: runAsUser is 0")
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


def check_statefulset(where: str, d: dict, docs: list[dict], problems: list[str]) -> None:
    """Rules for every StatefulSet: probes, headless Service, and for several replicas a
    PodDisruptionBudget, Parallel pod management, spreading over nodes, volume claims."""
    spec, pod = d["spec"], pod_spec(d)
    labels = pod_labels(d)
    for c in pod.get("containers", []):
        for probe in ("livenessProbe", "readinessProbe"):
            if not c.get(probe):
                problems.append(f"{where}/{c['name']}: no {probe}")
    headless = [
        x for x in docs
        if x["kind"] == "Service" and x["metadata"]["name"] == spec.get("serviceName")
        and x["spec"].get("clusterIP") == "None" and selects({"matchLabels": x["spec"].get("selector", {})}, labels)
    ]
    if not headless:
        problems.append(f"{where}: serviceName `{spec.get('serviceName')}` is not a rendered headless Service selecting its pods")
    if spec.get("replicas", 1) > 1:
        pdbs = [x for x in docs if x["kind"] == "PodDisruptionBudget" and selects(x["spec"].get("selector", {}), labels)]
        if not pdbs:
            problems.append(f"{where}: {spec['replicas']} replicas and no PodDisruptionBudget selecting them")
        for x in pdbs:
            if x["spec"].get("maxUnavailable") != 1:
                problems.append(f"{where}: PodDisruptionBudget/{x['metadata']['name']} should be maxUnavailable: 1 for several replicas")
        if spec.get("podManagementPolicy") != "Parallel":
            problems.append(f"{where}: several replicas need podManagementPolicy: Parallel (a cold restart must not wait on pod 0)")
        spread = [t for t in pod.get("topologySpreadConstraints", []) if t.get("topologyKey") == "kubernetes.io/hostname"
                  and t.get("whenUnsatisfiable") == "DoNotSchedule" and selects(t.get("labelSelector", {}), labels)]
        anti = [t for t in pod.get("affinity", {}).get("podAntiAffinity", {}).get("requiredDuringSchedulingIgnoredDuringExecution", [])
                if t.get("topologyKey") == "kubernetes.io/hostname" and selects(t.get("labelSelector", {}), labels)]
        if not spread and not anti:
            problems.append(f"{where}: several replicas are not spread over nodes (required anti-affinity or a "
                            "DoNotSchedule topology spread on kubernetes.io/hostname selecting its pods)")
        if not spec.get("volumeClaimTemplates"):
            problems.append(f"{where}: several replicas without volumeClaimTemplates (each pod needs its own volume)")


def pod_hosts(docs: list[dict]) -> dict[str, set[str]]:
    """StatefulSet name -> the stable DNS names of its pods (<name>-<i>.<serviceName>)."""
    out: dict[str, set[str]] = {}
    for x in docs:
        if x["kind"] == "StatefulSet":
            n, svc = x["metadata"]["name"], x["spec"].get("serviceName")
            out[n] = {f"{n}-{i}.{svc}" for i in range(x["spec"].get("replicas", 1))}
    return out


def check_addresses(where: str, key: str, value: str, scheme: str, target: str, docs: list[dict],
                    problems: list[str]) -> None:
    """Every address of a URL list is the pod DNS name of a StatefulSet `target` pod (never an
    IP), and the list covers every pod of it."""
    wanted = pod_hosts(docs).get(target)
    if wanted is None:
        problems.append(f"{where}: {key} is set but no StatefulSet `{target}` is rendered")
        return
    seen = set()
    for url in [u.strip() for u in value.split(",") if u.strip()]:
        parts = urlsplit(url if "://" in url else f"{scheme}://{url}")
        host = parts.hostname or ""
        try:
            ipaddress.ip_address(host)
            problems.append(f"{where}: {key} names {url} by IP; use the pod DNS name")
            continue
        except ValueError:
            pass
        short = re.sub(r"\.svc(\.cluster\.local)?$", "", host)
        short = ".".join(short.split(".")[:2])
        if parts.scheme != scheme or short not in wanted:
            problems.append(f"{where}: {key} entry {url} is not {scheme}://<pod>.<headless service> of StatefulSet/{target}")
        seen.add(short)
    if seen and wanted - seen:
        problems.append(f"{where}: {key} leaves out {sorted(wanted - seen)}; list every pod")


def check_needle(where: str, d: dict, docs: list[dict], kinds: set, problems: list[str]) -> None:
    spec = d["spec"]
    pod = pod_spec(d)
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
    secrets = {v["name"]: v["secret"].get("secretName") for v in pod.get("volumes", []) if "secret" in v}
    key_mounts = [m for m in server.get("volumeMounts", []) if secrets.get(m["name"]) == "needle-api-keys"]
    if not key_mounts:
        problems.append(f"{where}: the API keys Secret `needle-api-keys` is not mounted")
    refs = [e["configMapRef"]["name"] for e in server.get("envFrom", []) if "configMapRef" in e]
    if not any(("ConfigMap", r) in kinds for r in refs):
        problems.append(f"{where}: envFrom names no rendered ConfigMap ({refs})")

    configmaps = {x["metadata"]["name"]: x for x in docs if x["kind"] == "ConfigMap"}
    env = container_env(server, configmaps)
    nats = str(env.get("NEEDLE_CLUSTER__NATS", "") or "").strip()
    if not nats:
        if spec.get("replicas") != 1:
            problems.append(f"{where}: replicas must be 1 without NEEDLE_CLUSTER__NATS "
                            "(standalone replicas do not replicate; see docs/kubernetes-cluster.md)")
        return
    # A cluster replica.
    node_id = env.get("NEEDLE_CLUSTER__NODE_ID")
    if not (isinstance(node_id, dict) and node_id.get("fieldRef", {}).get("fieldPath") == "metadata.name"):
        problems.append(f"{where}: NEEDLE_CLUSTER__NODE_ID must be the pod name (valueFrom.fieldRef metadata.name)")
    shared = str(env.get("NEEDLE_CLUSTER__SHARED_DIR", "") or "").rstrip("/")
    if not shared:
        problems.append(f"{where}: a Needle cluster needs NEEDLE_CLUSTER__SHARED_DIR (snapshots and models)")
    else:
        pvcs = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod.get("volumes", []) if "persistentVolumeClaim" in v}
        rendered = {x["metadata"]["name"]: x for x in docs if x["kind"] == "PersistentVolumeClaim"}
        mount = [m for m in server.get("volumeMounts", []) if m["mountPath"].rstrip("/") == shared]
        claim = rendered.get(pvcs.get(mount[0]["name"], "")) if mount else None
        if not claim or "ReadWriteMany" not in claim["spec"].get("accessModes", []):
            problems.append(f"{where}: NEEDLE_CLUSTER__SHARED_DIR {shared} must be the mount of a rendered ReadWriteMany PersistentVolumeClaim")
    check_addresses(where, "NEEDLE_CLUSTER__NATS", nats, "nats", "nats", docs, problems)
    redis = str(env.get("NEEDLE_CLUSTER__REDIS", "") or "").strip()
    if redis:
        check_addresses(where, "NEEDLE_CLUSTER__REDIS", redis, "redis", "redis", docs, problems)
    nats_sts = [x for x in docs if x["kind"] == "StatefulSet" and x["metadata"]["name"] == "nats"]
    log_replicas = int(env.get("NEEDLE_CLUSTER__LOG_REPLICAS", 3))
    if nats_sts and log_replicas > nats_sts[0]["spec"].get("replicas", 1):
        problems.append(f"{where}: NEEDLE_CLUSTER__LOG_REPLICAS {log_replicas} exceeds the NATS servers")


def check_nats_routes(docs: list[dict], problems: list[str], path: str) -> None:
    """A NATS server's config names every server of its StatefulSet as a route, by pod DNS name."""
    configmaps = {x["metadata"]["name"]: x for x in docs if x["kind"] == "ConfigMap"}
    hosts = pod_hosts(docs)
    for d in docs:
        if d["kind"] != "StatefulSet":
            continue
        for v in pod_spec(d).get("volumes", []):
            conf = configmaps.get(v.get("configMap", {}).get("name", ""), {}).get("data", {}).get("nats.conf")
            if conf is None:
                continue
            where = f"{path}: StatefulSet/{d['metadata']['name']}"
            body = "\n".join(line.split("#", 1)[0] for line in conf.splitlines())
            routes = set(re.findall(r"nats://([^\s,:\]]+):6222", body))
            if routes != hosts[d["metadata"]["name"]]:
                problems.append(f"{where}: nats.conf routes {sorted(routes)} are not its pods {sorted(hosts[d['metadata']['name']])}")
            if not re.search(r"^\s*server_name:\s*\$POD_NAME\s*$", body, re.M):
                problems.append(f"{where}: nats.conf server_name is not $POD_NAME")


def check(docs: list[dict], path: str) -> list[str]:
    problems: list[str] = []
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    statefulsets = {d["metadata"]["name"]: d for d in docs if d["kind"] == "StatefulSet"}
    for d in docs:
        kind, name = d["kind"], d["metadata"]["name"]
        where = f"{path}: {kind}/{name}"
        if kind == "Secret":
            problems.append(f"{where}: Secrets are created by operators, never rendered from the repository")
        if kind in WORKLOADS:
            check_pod(where, pod_spec(d), problems)
            for c in containers(pod_spec(d)):
                nodes = next((e.get("value") for e in c.get("env", []) if e["name"] == "REDIS_NODES"), None)
                if nodes is not None and ("redis" not in statefulsets or int(nodes) != statefulsets["redis"]["spec"].get("replicas", 1)):
                    problems.append(f"{where}/{c['name']}: REDIS_NODES={nodes} is not the replicas of StatefulSet/redis")
        if kind == "StatefulSet":
            check_statefulset(where, d, docs, problems)
            if is_needle_server(d):
                check_needle(where, d, docs, kinds, problems)
        if kind == "ConfigMap" and name.startswith("needle-config"):
            bad = [k for k in d.get("data", {}) if not k.startswith("NEEDLE_")]
            if bad:
                problems.append(f"{where}: keys outside NEEDLE_*: {bad}")
            if str(d.get("data", {}).get("NEEDLE_AUTH__ALLOW_OPEN", "false")).lower() == "true":
                problems.append(f"{where}: NEEDLE_AUTH__ALLOW_OPEN=true serves without API keys")
            if not d.get("data", {}).get("NEEDLE_AUTH__KEYS_FILE"):
                problems.append(f"{where}: NEEDLE_AUTH__KEYS_FILE is not set (API keys from the Secret)")
    check_nats_routes(docs, problems, path)
    if not any(is_needle_server(d) for d in docs):
        problems.append(f"{path}: no Needle StatefulSet rendered")
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
