#!/usr/bin/env python3
"""Asserts the deployment invariants on the rendered Kubernetes overlays (run by .ci/run).

usage: deploy/k8s/check.py ALL_IN_ONE.yaml DISTRIBUTED.yaml   (the output of `kubectl kustomize` of each overlay)

Checked: every pod is non-root with a read-only root filesystem and no capabilities, has /readyz and /healthz
probes and resource requests and limits; the distributed overlay has a Deployment, Service and
PodDisruptionBudget per role and a CPU HPA for auth/storage/engine/registry; the engine's grace period exceeds
its server.shutdown_grace; the Ingress routes exactly deploy/routes.tsv (as do the nginx configurations of
deploy/docker and, by construction, deploy/local); no Service, Ingress or NetworkPolicy reaches the admin port;
auth and storage accept traffic from the ingress controller only; the engine's egress reaches public addresses
and never a private range; no Secret object is shipped; ConfigMaps hold the reference configs of deploy/config.
Exits 1 with every violation listed.
"""

import ipaddress
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = ["auth", "storage", "engine", "registry", "backend"]
SCALED = ["auth", "storage", "engine", "registry"]
PRIVATE = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16", "127.0.0.0/8"]
ADMIN_PORT = 8082
errors = []


def fail(msg):
    errors.append(msg)


def load(path):
    return [d for d in yaml.safe_load_all(Path(path).read_text()) if d]


def of_kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def name(d):
    return d["metadata"]["name"]


def duration_secs(text):
    m = re.fullmatch(r"(\d+)(ms|s|m|h)", str(text))
    if not m:
        raise ValueError(f"unreadable duration {text!r}")
    return int(m[1]) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m[2]]


def selects(selector, labels):
    """A label selector (matchLabels + matchExpressions with In/NotIn/Exists) against a pod's labels."""
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        op, key, values = e["operator"], e["key"], e.get("values", [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
    return True


def route_rows():
    """(path, role, affinity) per route of deploy/routes.tsv; affinity is "" or `client-address`."""
    rows = set()
    for line in (ROOT / "deploy/routes.tsv").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            role, path, *rest = line.split("\t")
            affinity = rest[0] if rest else ""
            if affinity not in ("", "client-address"):
                fail(f"deploy/routes.tsv: unknown affinity {affinity!r} for {path}")
            rows.add((path, role, affinity))
    return rows


def routes():
    return {(path, role) for path, role, _ in route_rows()}


def affine_paths():
    """The paths whose requests must reach one replica per client address."""
    return {path for path, _, affinity in route_rows() if affinity == "client-address"}


HASH_BY = "nginx.ingress.kubernetes.io/upstream-hash-by"


def check_pods(docs, label):
    for dep in of_kind(docs, "Deployment"):
        where = f"{label}: Deployment {name(dep)}"
        pod = dep["spec"]["template"]["spec"]
        psc = pod.get("securityContext", {})
        if psc.get("runAsNonRoot") is not True:
            fail(f"{where}: pod securityContext.runAsNonRoot is not true")
        if pod.get("automountServiceAccountToken") is not False:
            fail(f"{where}: the service account token is mounted")
        for c in pod["containers"]:
            sc = c.get("securityContext", {})
            if sc.get("readOnlyRootFilesystem") is not True:
                fail(f"{where}: root filesystem is writable")
            if sc.get("allowPrivilegeEscalation") is not False:
                fail(f"{where}: privilege escalation allowed")
            if "ALL" not in (sc.get("capabilities", {}).get("drop") or []):
                fail(f"{where}: capabilities not all dropped")
            if sc.get("runAsNonRoot") is False or psc.get("runAsUser", sc.get("runAsUser", 0)) == 0:
                fail(f"{where}: may run as root")
            if c.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/readyz":
                fail(f"{where}: readiness probe is not /readyz")
            if c.get("livenessProbe", {}).get("httpGet", {}).get("path") != "/healthz":
                fail(f"{where}: liveness probe is not /healthz")
            res = c.get("resources", {})
            for part in ("requests", "limits"):
                if not {"cpu", "memory"} <= set(res.get(part, {})):
                    fail(f"{where}: resources.{part} lacks cpu or memory")
            for v in c.get("env", []):
                if "value" in v and re.search(r"(?i)token|secret|password|://[^/]*:[^/]*@", str(v["value"])):
                    if not v["name"].endswith("_FILE"):
                        fail(f"{where}: env {v['name']} carries a secret inline")
        for vol in pod.get("volumes", []):
            if "hostPath" in vol:
                fail(f"{where}: hostPath volume {vol['name']}")
    if of_kind(docs, "Secret"):
        fail(f"{label}: ships Secret objects (secrets are referenced by name only)")


def check_admin_never_exposed(docs, label):
    for svc in of_kind(docs, "Service"):
        for p in svc["spec"]["ports"]:
            if p.get("targetPort") in (ADMIN_PORT, "admin") or p.get("port") == ADMIN_PORT:
                fail(f"{label}: Service {name(svc)} exposes the admin port")
    for ing in of_kind(docs, "Ingress"):
        for rule in ing["spec"]["rules"]:
            for p in rule["http"]["paths"]:
                if "admin" in p["path"] or p["backend"]["service"]["port"].get("name") == "admin":
                    fail(f"{label}: Ingress routes {p['path']} to the admin API")
    for np in of_kind(docs, "NetworkPolicy"):
        for rule in np["spec"].get("ingress", []):
            ports = [p.get("port") for p in rule.get("ports", [])]
            if not ports or ADMIN_PORT in ports or "admin" in ports:
                fail(f"{label}: NetworkPolicy {name(np)} admits traffic to every port or the admin port")


def config_of(docs, cm_name):
    cm = next((c for c in of_kind(docs, "ConfigMap") if name(c).startswith(cm_name + "-") or name(c) == cm_name), None)
    if cm is None:
        fail(f"no ConfigMap {cm_name}")
        return None, {}
    return cm, yaml.safe_load(cm["data"]["walletd.yaml"])


def pod_labels(dep):
    return dep["spec"]["template"]["metadata"]["labels"]


def policies_for(docs, labels, kind):
    return [
        np
        for np in of_kind(docs, "NetworkPolicy")
        if kind in np["spec"].get("policyTypes", []) and selects(np["spec"]["podSelector"], labels)
    ]


def check_distributed(docs):
    label = "distributed"
    deps = {name(d): d for d in of_kind(docs, "Deployment")}
    svcs = {name(s): s for s in of_kind(docs, "Service")}
    pdbs = of_kind(docs, "PodDisruptionBudget")
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in of_kind(docs, "HorizontalPodAutoscaler")}
    for role in ROLES:
        dep = deps.get(f"walletd-{role}")
        if dep is None:
            fail(f"{label}: no Deployment walletd-{role}")
            continue
        args = dep["spec"]["template"]["spec"]["containers"][0].get("args", [])
        if f"--mode={role}" not in args:
            fail(f"{label}: walletd-{role} does not run --mode={role}")
        if f"walletd-{role}" not in svcs:
            fail(f"{label}: no Service walletd-{role}")
        if not any(selects(p["spec"]["selector"], pod_labels(dep)) for p in pdbs):
            fail(f"{label}: no PodDisruptionBudget covers walletd-{role}")
        hpa = hpas.get(f"walletd-{role}")
        if role in SCALED:
            metrics = (hpa or {}).get("spec", {}).get("metrics", [])
            if not any(m.get("resource", {}).get("name") == "cpu" for m in metrics):
                fail(f"{label}: walletd-{role} has no HPA on CPU")
        # Each role reads its own reference config.
        _, cfg = config_of(docs, f"walletd-{role}")
        reference = yaml.safe_load((ROOT / f"deploy/config/{role}.yaml").read_text())
        if cfg != reference:
            fail(f"{label}: ConfigMap walletd-{role} differs from deploy/config/{role}.yaml")
        if role != "engine" and cfg.get("database", {}).get("url") != "${WALLETD_DATABASE_URL}":
            fail(f"{label}: walletd-{role} does not take its database URL from the environment (a Secret)")
        if cfg.get("cache", {}).get("redis_url") != "${WALLETD_REDIS_URL}":
            fail(f"{label}: walletd-{role} does not take its Redis URL from the environment (a Secret)")

    # The engine outlives its own drain.
    engine = deps.get("walletd-engine")
    _, engine_cfg = config_of(docs, "walletd-engine")
    if engine is not None:
        grace = engine["spec"]["template"]["spec"].get("terminationGracePeriodSeconds", 30)
        drain = duration_secs(engine_cfg.get("server", {}).get("shutdown_grace", "30s"))
        if not grace > drain:
            fail(f"{label}: engine terminationGracePeriodSeconds {grace} is not above server.shutdown_grace {drain}")

    # The Ingress routes exactly the route table, each to the role's Service main port.
    ing = of_kind(docs, "Ingress")
    got = set()
    for i in ing:
        for rule in i["spec"]["rules"]:
            for p in rule["http"]["paths"]:
                svc = p["backend"]["service"]["name"]
                if svc not in svcs:
                    fail(f"{label}: Ingress path {p['path']} names the missing Service {svc}")
                got.add((p["path"], svc.removeprefix("walletd-")))
                # Affinity is per Ingress object (an annotation): affine routes live in one that hashes on the
                # client's address, every other route in one that does not.
                hashed = i["metadata"].get("annotations", {}).get(HASH_BY) == "$remote_addr"
                if hashed != (p["path"] in affine_paths()):
                    fail(f"{label}: Ingress {name(i)} path {p['path']}: client-address affinity is "
                         f"{'set' if hashed else 'missing'}, deploy/routes.tsv says otherwise")
    if got != routes():
        fail(f"{label}: Ingress paths differ from deploy/routes.tsv: extra {got - routes()}, missing {routes() - got}")

    # auth and storage: only the ingress controller may connect. The engine: public internet only.
    for role in ["auth", "storage"]:
        labels = pod_labels(deps[f"walletd-{role}"])
        for np in policies_for(docs, labels, "Ingress"):
            for rule in np["spec"].get("ingress", []):
                peers = rule.get("from", [])
                ok = peers and all(
                    set(p) == {"namespaceSelector"}
                    and p["namespaceSelector"].get("matchLabels", {}).get("kubernetes.io/metadata.name")
                    == "ingress-nginx"
                    for p in peers
                )
                if not ok:
                    fail(f"{label}: NetworkPolicy {name(np)} lets more than the ingress controller reach {role}")
        if not policies_for(docs, labels, "Ingress"):
            fail(f"{label}: nothing restricts who reaches {role}")
    if engine is not None:
        check_engine_egress(docs, pod_labels(engine), label)


def check_engine_egress(docs, labels, label):
    policies = policies_for(docs, labels, "Egress")
    if not policies:
        fail(f"{label}: the engine's egress is not restricted")
    internet = False
    for np in policies:
        for rule in np["spec"].get("egress", []):
            ports = {p.get("port") for p in rule.get("ports", [])}
            peers = rule.get("to", [])
            if not peers:
                # Only the data stores' ports may be open towards any address.
                if not ports or not ports <= {5432, 6379}:
                    fail(f"{label}: NetworkPolicy {name(np)} lets the engine reach any address on {ports or 'any port'}")
                continue
            for peer in peers:
                block = peer.get("ipBlock")
                if block is None:
                    continue
                cidr = ipaddress.ip_network(block["cidr"])
                excepts = [ipaddress.ip_network(e) for e in block.get("except", [])]
                if cidr.version == 4:
                    for private in map(ipaddress.ip_network, PRIVATE):
                        if cidr.overlaps(private) and not any(private.subnet_of(e) for e in excepts):
                            fail(f"{label}: NetworkPolicy {name(np)} lets the engine reach {private}")
                    internet = internet or cidr.prefixlen == 0
                else:
                    for private in map(ipaddress.ip_network, ["fc00::/7", "fe80::/10", "::1/128"]):
                        if cidr.overlaps(private) and not any(private.subnet_of(e) for e in excepts):
                            fail(f"{label}: NetworkPolicy {name(np)} lets the engine reach {private}")
    if not internet:
        fail(f"{label}: the engine cannot reach the internet")


def check_all_in_one(docs):
    label = "all-in-one"
    deps = of_kind(docs, "Deployment")
    if len(deps) != 1:
        fail(f"{label}: {len(deps)} Deployments, expected one")
        return
    dep = deps[0]
    spec = dep["spec"]
    if spec.get("replicas") != 1 or spec.get("strategy", {}).get("type") != "Recreate":
        fail(f"{label}: SQLite needs one replica and the Recreate strategy")
    pod = spec["template"]["spec"]
    if "--mode=all" not in pod["containers"][0].get("args", []):
        fail(f"{label}: the Deployment does not run --mode=all")
    claims = {v["name"] for v in pod["volumes"] if "persistentVolumeClaim" in v}
    mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    if not any(mounts.get(c) == "/var/lib/walletd" for c in claims):
        fail(f"{label}: /var/lib/walletd is not on a PersistentVolumeClaim")
    _, cfg = config_of(docs, "walletd-all")
    if not str(cfg.get("database", {}).get("url", "")).startswith("sqlite://"):
        fail(f"{label}: the database is not SQLite")
    reference = yaml.safe_load((ROOT / "deploy/config/all-in-one.yaml").read_text())
    if cfg != reference:
        fail(f"{label}: ConfigMap walletd-all differs from deploy/config/all-in-one.yaml")
    check_engine_egress(docs, pod_labels(dep), label)


def check_nginx_conf():
    """deploy/docker/nginx.conf routes like the table (deploy/local/up generates its own from the table)."""
    text = (ROOT / "deploy/docker/nginx.conf").read_text()
    # A plain route proxies to the role's service (`http://engine:8080`); an affine one to the role's upstream that
    # hashes on the client's address (`http://engine_by_client`).
    found = re.findall(r"location ~ \^(\S+) \{\s*proxy_pass http://([a-z]+)(:8080|_by_client);", text)
    got = {(path, role) for path, role, _ in found}
    if got != routes():
        fail(f"deploy/docker/nginx.conf differs from deploy/routes.tsv: extra {got - routes()}, missing {routes() - got}")
    affine = {path for path, _, how in found if how == "_by_client"}
    if affine != affine_paths():
        fail(f"deploy/docker/nginx.conf: client-address affinity on {sorted(affine)}, the table asks {sorted(affine_paths())}")
    if affine and not re.search(r"upstream engine_by_client \{\s*hash \$remote_addr consistent;", text):
        fail("deploy/docker/nginx.conf: upstream engine_by_client does not hash on $remote_addr")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    all_in_one, distributed = load(sys.argv[1]), load(sys.argv[2])
    for docs, label in [(all_in_one, "all-in-one"), (distributed, "distributed")]:
        check_pods(docs, label)
        check_admin_never_exposed(docs, label)
    check_distributed(distributed)
    check_all_in_one(all_in_one)
    check_nginx_conf()
    for role in ROLES:
        copy = ROOT / f"deploy/k8s/base/config/{role}.yaml"
        if copy.read_text() != (ROOT / f"deploy/config/{role}.yaml").read_text():
            fail(f"{copy.relative_to(ROOT)} differs from deploy/config/{role}.yaml (copy it again)")
    if (ROOT / "deploy/k8s/overlays/all-in-one/config/all-in-one.yaml").read_text() != (
        ROOT / "deploy/config/all-in-one.yaml"
    ).read_text():
        fail("deploy/k8s/overlays/all-in-one/config/all-in-one.yaml differs from deploy/config/all-in-one.yaml")
    if errors:
        print("deployment invariants violated:\n  " + "\n  ".join(errors), file=sys.stderr)
        sys.exit(1)
    print("deployment invariants hold (all-in-one, distributed)")


if __name__ == "__main__":
    main()
