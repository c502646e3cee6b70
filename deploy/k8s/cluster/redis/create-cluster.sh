#!/bin/sh
# Create the Redis Cluster once (the Job `redis-cluster-create`). Idempotent: run it any
# number of times.
#   - a node already reports cluster_state:ok: the cluster exists, nothing to do;
#   - all nodes answer and are empty (no slots, they know only themselves): create it,
#     with one replica per primary, and wait until every node reports ok;
#   - anything else (nodes still starting, a cold restart still converging, or a cluster
#     left half-built): wait and look again, and fail after WAIT_S seconds without
#     touching anything (see docs/kubernetes-cluster.md, "Redis Cluster").
# Nodes are found by their pod DNS names; redis-cli --cluster create needs IP addresses
# for CLUSTER MEET, so they are resolved here, while the nodes announce their names.
set -eu
n=${REDIS_NODES:-6}
port=${REDIS_PORT:-6379}
wait_s=${WAIT_S:-600}
domain="redis-headless.$POD_NAMESPACE.svc"
start=$(date +%s)

resolve() { getent hosts "$1" | head -n 1 | cut -d ' ' -f 1; }
field() { redis-cli -h "$1" -p "$port" cluster info 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p"; }

while :; do
  addrs="" up=0 ok=0 empty=0
  i=0
  while [ "$i" -lt "$n" ]; do
    ip=$(resolve "redis-$i.$domain")
    if [ -n "$ip" ] && [ "$(redis-cli -h "$ip" -p "$port" ping 2>/dev/null | tr -d '\r')" = PONG ]; then
      up=$((up + 1))
      addrs="$addrs $ip:$port"
      [ "$(field "$ip" cluster_state)" != ok ] || ok=$((ok + 1))
      if [ "$(field "$ip" cluster_slots_assigned)" = 0 ] && [ "$(field "$ip" cluster_known_nodes)" = 1 ]; then
        empty=$((empty + 1))
      fi
    fi
    i=$((i + 1))
  done
  echo "nodes answering: $up/$n, cluster_state ok: $ok, empty: $empty"
  if [ "$ok" -gt 0 ] && [ "$ok" -eq "$up" ] && [ "$up" -eq "$n" ]; then
    echo "the cluster exists and every node reports ok"
    exit 0
  fi
  if [ "$ok" -eq 0 ] && [ "$up" -eq "$n" ] && [ "$empty" -eq "$n" ]; then
    echo "creating the cluster:$addrs"
    # shellcheck disable=SC2086 # one argument per node
    redis-cli --cluster create $addrs --cluster-replicas 1 --cluster-yes
    # Continue the loop: it exits once every node reports ok.
  fi
  if [ $(($(date +%s) - start)) -ge "$wait_s" ]; then
    echo "giving up after ${wait_s}s: the cluster is neither ok on every node nor empty on every node" >&2
    i=0
    while [ "$i" -lt "$n" ]; do
      echo "redis-$i: $(field "$(resolve "redis-$i.$domain")" cluster_state)" >&2
      i=$((i + 1))
    done
    exit 1
  fi
  sleep 5
done
