#!/bin/sh
# Start one Redis Cluster node (the redis container's command).
#
# A node remembers its peers in /data/nodes.conf by IP address and host name, and pod IPs
# change on every restart. One pod restarting is fine (it still knows the others, and
# they learn its new address when it pings them), but after a cold restart of all six
# every remembered address is stale and the nodes would never meet again. So before
# starting, re-resolve each peer's announced host name (its pod DNS name through the
# headless Service, which publishes pods before they are ready) and write the current IP
# into nodes.conf. Names that do not resolve within the wait keep their old address;
# gossip corrects it once that peer talks to the cluster.
set -eu
self="$POD_NAME.redis-headless.$POD_NAMESPACE.svc"
conf=/data/nodes.conf
wait_s=${RESOLVE_WAIT_S:-60}

resolve() { getent hosts "$1" | head -n 1 | cut -d ' ' -f 1; }

# The announced host names in nodes.conf (second field: ip:port@cport,hostname).
hosts() {
  while IFS=' ' read -r _ addr _; do
    case "$addr" in *,?*) printf '%s\n' "${addr##*,}" ;; esac
  done < "$conf"
}

if [ -s "$conf" ]; then
  waited=0
  while :; do
    missing=0
    for h in $(hosts); do
      [ -n "$(resolve "$h")" ] || missing=$((missing + 1))
    done
    if [ "$missing" -eq 0 ] || [ "$waited" -ge "$wait_s" ]; then break; fi
    sleep 2
    waited=$((waited + 2))
  done
  tmp="$conf.start.tmp"
  : > "$tmp"
  while IFS= read -r line; do
    id=${line%% *}
    rest=${line#* }
    addr=${rest%% *}
    tail=${rest#* }
    case "$addr" in
      *:*@*,?*)
        host=${addr##*,}
        ports=${addr%%,*}
        ports=${ports##*:}
        ip=$(resolve "$host")
        if [ -n "$ip" ]; then
          line="$id $ip:$ports,$host $tail"
        else
          echo "start.sh: $host does not resolve; keeping its last address" >&2
        fi
        ;;
    esac
    printf '%s\n' "$line" >> "$tmp"
  done < "$conf"
  mv "$tmp" "$conf"
fi

exec redis-server /etc/redis/redis.conf --cluster-announce-hostname "$self"
