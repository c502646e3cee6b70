#!/usr/bin/env bash
# Build the Needle container image with Debian's buildah, then smoke-test it with podman.
#
#   deploy/build-image.sh [--tag localhost/needle:dev] [--binary PATH] [--no-smoke]
#
# No registry is needed: the binary is built on the host (`cargo build --release -p needle`,
# or --binary), its shared libraries are found with ldd, and both are staged with a non-root
# user into a root filesystem that deploy/Containerfile copies onto `scratch`.
# The smoke test runs the image with host networking on 127.0.0.1, writes and searches a
# record, restarts the container on the same volume and checks the record survived.
# buildah/podman run rootful here with a private containers.conf (runc, cgroupfs, lower
# ulimits); the system configuration is not touched.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
tag="localhost/needle:dev"
binary=""
smoke=1
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag="$2"; shift 2 ;;
    --binary) binary="$2"; shift 2 ;;
    --no-smoke) smoke=0; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

log() { printf '== %s\n' "$*"; }
start=$SECONDS

# --- tools ---------------------------------------------------------------------------
need=()
command -v buildah >/dev/null || need+=(buildah)
command -v podman >/dev/null || need+=(podman)
command -v runc >/dev/null || need+=(runc)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]} (Debian)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

work="$(mktemp -d /tmp/needle-image.XXXXXX)"
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

# Rootful podman in this kind of sandbox: crun is unavailable, systemd is not PID 1 and
# podman's default nofile/nproc ulimits (1048576/4194304) are above the sandbox's hard limits.
nofile="$(ulimit -Hn)"
if [ "$nofile" = unlimited ] || [ "$nofile" -gt 65536 ]; then nofile=65536; fi
nproc="$(ulimit -Hu)"
if [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; then nproc=32768; fi
cat > "$work/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
export CONTAINERS_CONF="$work/containers.conf"

# --- binary --------------------------------------------------------------------------
if [ -z "$binary" ]; then
  log "cargo build --release -p needle"
  (cd "$repo" && cargo build --release -p needle)
  target="${CARGO_TARGET_DIR:-$repo/target}"
  case "$target" in /*) ;; *) target="$repo/$target" ;; esac
  binary="$target/release/needle"
fi
[ -x "$binary" ] || { echo "no executable at $binary" >&2; exit 1; }

# --- root filesystem -----------------------------------------------------------------
log "staging the root filesystem"
ctx="$work/context"
root="$ctx/rootfs"
mkdir -p "$root/usr/local/bin" "$root/etc" "$root/tmp" "$ctx/data"
chmod 1777 "$root/tmp"
strip --strip-debug -o "$root/usr/local/bin/needle" "$binary"
# Each library the binary links, at the path the loader looks for it (symlinks resolved).
ldd "$binary" | awk '$1 ~ /^\// {print $1} $3 ~ /^\// {print $3}' | sort -u | while read -r lib; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
cat > "$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
needle:x:10001:10001:needle:/data:/sbin/nologin
EOF
cat > "$root/etc/group" <<'EOF'
root:x:0:
needle:x:10001:
EOF
cp "$repo/deploy/Containerfile" "$ctx/Containerfile"
du -sh "$root" | awk '{print "rootfs: " $1}'

# --- build ---------------------------------------------------------------------------
version="$("$binary" --version | awk '{print $2}')"
revision="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
old_id="$(podman image inspect "$tag" --format '{{.Id}}' 2>/dev/null || true)"
log "buildah build -t $tag (needle $version, $revision)"
buildah build --quiet --layers=false -f "$ctx/Containerfile" \
  --build-arg VERSION="$version" --build-arg REVISION="$revision" -t "$tag" "$ctx"
podman image inspect "$tag" --format 'image {{.Id}}: {{.Size}} bytes, user {{.Config.User}}' | cut -c1-120
new_id="$(podman image inspect "$tag" --format '{{.Id}}')"
if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then podman rmi "$old_id" >/dev/null 2>&1 || true; fi

if [ "$smoke" = 0 ]; then
  log "built in $((SECONDS - start)) s (smoke test skipped)"
  exit 0
fi

# --- smoke test ----------------------------------------------------------------------
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
name="needle-smoke-$$"
volume="needle-smoke-$$"
base="http://127.0.0.1:$port"
# An admin key, as the Kubernetes manifests require keys (here inline in the environment).
key="smoke-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
auth=(-H "authorization: Bearer $key")
podman volume create "$volume" >/dev/null
stop_container() { podman rm -f -t 10 "$name" >/dev/null 2>&1 || true; }
trap 'stop_container; podman volume rm -f "$volume" >/dev/null 2>&1 || true; cleanup' EXIT

run_container() {
  # As the Kubernetes manifests run it: read-only root, no capabilities, tmpfs /tmp.
  podman run -d --name "$name" --network host -v "$volume:/data" \
    --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges \
    -e NEEDLE_HTTP_ADDR="127.0.0.1:$port" \
    -e "NEEDLE_AUTH__KEYS=[{name=\"smoke\", key=\"$key\", scopes=[\"admin\"]}]" "$tag" >/dev/null
  for _ in $(seq 1 150); do
    if curl -fsS "$base/health/ready" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "container not ready; its log:" >&2
  podman logs "$name" >&2 || true
  return 1
}

log "smoke test: podman run --network host on $base"
run_container
user="$(podman top "$name" user | tail -n 1 | tr -d ' ')"
[ "$user" != "root" ] && [ "$user" != "0" ] || { echo "server runs as root ($user)" >&2; exit 1; }
echo "server runs as: $user"
# Bodies are read whole before grep: `curl | grep -q` fails under pipefail when grep quits early.
expect() { # expect PATTERN WHAT CURL-ARGS...: the answer must contain PATTERN
  local pattern="$1" what="$2" body
  shift 2
  body="$(curl -fsS "$@")" || { echo "$what: request failed" >&2; return 1; }
  grep -q -- "$pattern" <<<"$body" || { echo "$what: no \`$pattern\` in the answer" >&2; return 1; }
}
status="$(curl -s -o /dev/null -w '%{http_code}' "$base/v1/stats")"
[ "$status" = 401 ] || { echo "a request without the API key got $status, not 401" >&2; exit 1; }
echo "API key required: ok"
expect '"accepted":1' "catalog write" "$base/v1/catalog" "${auth[@]}" -H 'content-type: application/x-ndjson' \
  --data-binary '{"id":"ar:smoke","type":"artist","name":"Smoke Test Band","popularity":1}'
for _ in $(seq 1 50); do
  expect '"id":"ar:smoke"' "search" "$base/v1/search?q=smoke%20tst&limit=1" "${auth[@]}" 2>/dev/null && break
  sleep 0.1
done
expect '"id":"ar:smoke"' "search with a typo" "$base/v1/search?q=smoke%20tst&limit=1" "${auth[@]}"
expect 'needle_engine_up 1' "metrics" "$base/metrics"
echo "write, search and metrics: ok"

log "restarting on the same volume (SIGTERM, then a new container)"
podman stop -t 20 "$name" >/dev/null
code="$(podman inspect "$name" --format '{{.State.ExitCode}}')"
[ "$code" = 0 ] || { echo "needle exited with $code on SIGTERM" >&2; podman logs "$name" | tail -20 >&2; exit 1; }
echo "clean shutdown on SIGTERM: ok"
stop_container
run_container
expect '"Smoke Test Band"' "the record after a restart" "$base/v1/catalog/ar:smoke" "${auth[@]}"
echo "data survived the restart: ok"
stop_container
log "image $tag built and smoke-tested in $((SECONDS - start)) s"
