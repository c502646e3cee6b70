#!/usr/bin/env bash
# Validate the Kubernetes manifests offline: render the base and every overlay with
# `kubectl kustomize`, validate each rendered resource strictly against the Kubernetes
# schemas (PyPI kubernetes-validate --strict, unknown fields rejected), check deployment
# policy (deploy/check-policy.py), syntax-check the shell scripts the manifests ship
# (Redis Cluster start and creation) and lint sources and output with yamllint.
# Rendered manifests are kept in deploy/out/ for review. Exit 0 when everything passes.
#   K8S_VERSIONS="1.30.0 1.37.0" deploy/validate.sh   (versions to validate against)
set -euo pipefail
deploy="$(cd "$(dirname "$0")" && pwd)"
cd "$deploy"
versions="${K8S_VERSIONS:-1.30.0 1.37.0}"
log() { printf '== %s\n' "$*"; }
start=$SECONDS

# --- tools ---------------------------------------------------------------------------
if ! command -v kubectl >/dev/null; then
  # The machine images ship kubectl (with kustomize v5 built in). Elsewhere: the `kubectl`
  # package where an apt source has it, else Debian's kubernetes-client (older kustomize).
  log "installing kubectl"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubectl >/dev/null 2>&1 ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubernetes-client >/dev/null
fi
kubectl version --client 2>/dev/null | sed 's/^/   /'
venv="${NEEDLE_DEPLOY_VENV:-$deploy/.venv}"
if [ ! -x "$venv/bin/kubernetes-validate" ] || [ ! -x "$venv/bin/yamllint" ]; then
  log "installing kubernetes-validate and yamllint (PyPI) into $venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip >/dev/null
  "$venv/bin/python" -m pip install --quiet "kubernetes-validate>=1.30" "yamllint>=1.29"
fi

# --- render --------------------------------------------------------------------------
rm -rf out && mkdir -p out
targets=(k8s/base)
for overlay in k8s/overlays/*/; do targets+=("${overlay%/}"); done
rendered=()
for target in "${targets[@]}"; do
  name="$(basename "$target")"
  log "kubectl kustomize $target"
  kubectl kustomize "$target" > "out/$name.yaml"
  echo "   $(grep -c '^kind:' "out/$name.yaml") resources -> deploy/out/$name.yaml"
  rendered+=("out/$name.yaml")
done

# --- the validator must refuse what is wrong (guards against a silently lenient run) ---
sed 's/periodSeconds:/periodSecondz:/' out/base.yaml > out/.broken.yaml
if "$venv/bin/kubernetes-validate" --strict --quiet out/.broken.yaml >/dev/null 2>&1; then
  echo "kubernetes-validate accepted an unknown field: strict validation is not working" >&2
  exit 1
fi
rm -f out/.broken.yaml

# --- validate ------------------------------------------------------------------------
for version in $versions; do
  log "kubernetes-validate --strict -k $version"
  "$venv/bin/kubernetes-validate" --strict --quiet -k "$version" "${rendered[@]}"
done
log "deployment policy (check-policy.py)"
"$venv/bin/python" check-policy.py "${rendered[@]}"
# ... and it must refuse replicas that do not replicate (the cluster overlay without NATS).
if [ -f out/cluster.yaml ]; then
  grep -v '^  NEEDLE_CLUSTER__NATS: ' out/cluster.yaml > out/.broken.yaml
  if "$venv/bin/python" check-policy.py out/.broken.yaml >/dev/null 2>&1; then
    echo "check-policy.py accepted 3 Needle replicas without NATS: the policy is not working" >&2
    exit 1
  fi
  rm -f out/.broken.yaml
fi
log "sh -n (scripts shipped in ConfigMaps)"
while IFS= read -r script; do sh -n "$script"; done < <(find k8s -name '*.sh')
log "yamllint"
"$venv/bin/yamllint" --strict -c .yamllint.yaml k8s "${rendered[@]}"
log "manifests valid: ${#rendered[@]} renders x $(wc -w <<<"$versions") Kubernetes versions in $((SECONDS - start)) s"
