#!/usr/bin/env bash
# What an idle HBONE tunnel costs the waypoint: heap (live objects after a full GC,
# `jcmd GC.class_histogram`) and RSS (VmRSS) with BASE tunnels open, then with TUNNELS open over the
# same CONN connections at the same trickle rate, and the difference divided by the extra tunnels.
# Each tunnel has carried at least one keep-alive HTTP/1.1 request (so its codecs and the pooled
# upstream exist) and then waits: at RATE req/s over TUNNELS tunnels each one sees a request every
# TUNNELS/RATE seconds (20 s by default). The load tool (benchmarks/target/waypoint-bench.jar) plays
# the source ztunnel; the destination side (terminator + backend) is DestinationSide.
#
#   benchmarks/idle-tunnels.sh                 # 40 connections x 100 tunnels = 4,000 vs 40 x 1
#   JAVA_OPTS='-XX:MaxRAM=256m ...' benchmarks/idle-tunnels.sh
#
# Settings (environment): WAYPOINT_JAR, BENCH_JAR, CONNS (40), TUNNELS (4000; a multiple of CONNS,
# at most 100 per connection: the listener's SETTINGS_MAX_CONCURRENT_STREAMS), RATE (200),
# JAVA_OPTS (the waypoint's JVM flags; default the Helm chart's in a 256 MiB pod), KEEP (a
# directory to keep the histograms in), UPSTREAM_IDLE (5s: the waypoint's --upstream-idle-timeout, so
# that the pooled upstream connections opened while the tunnels' first requests came in a burst are
# closed again before the reading, and what is left is the tunnels' own cost). Binds loopback only (127.234.x.x and 127.0.0.1); kills
# what it starts.
set -euo pipefail
cd "$(dirname "$0")/.."
WAYPOINT_JAR=${WAYPOINT_JAR:-waypoint-server/target/waypoint.jar}
BENCH_JAR=${BENCH_JAR:-benchmarks/target/waypoint-bench.jar}
CONNS=${CONNS:-40}
TUNNELS=${TUNNELS:-4000}
RATE=${RATE:-200}
UPSTREAM_IDLE=${UPSTREAM_IDLE:-5s}
JAVA_OPTS=${JAVA_OPTS:--XX:MaxRAM=256m -XX:+UseSerialGC -XX:MaxRAMPercentage=40 -Xss512k -XX:ReservedCodeCacheSize=64m -XX:MaxMetaspaceSize=128m}
POD_IP=${POD_IP:-127.234.1.1}
VIP=${VIP:-127.234.0.10}
WORK=$(mktemp -d /tmp/waypoint-idle.XXXXXX)
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
cp "$WAYPOINT_JAR" "$WORK/waypoint.jar"
cp "$BENCH_JAR" "$WORK/bench.jar"
bench() { java -cp "$WORK/bench.jar" "$@"; }

bench dev.waypoint.bench.e2e.MakeCerts "$WORK/certs" >/dev/null
read -r HTTP_PORT BULK_PORT HBONE_PORT WP_PORT HEALTH_PORT STATS_PORT ADMIN_PORT \
  <<<"$(bench dev.waypoint.bench.e2e.FreePorts 7 | tr '\n' ' ')"
bench dev.waypoint.bench.e2e.ManifestGen --kind bench --out "$WORK/manifests" --service-vip "$VIP" --pod-ip "$POD_IP" \
  --http-port "$HTTP_PORT" --bulk-port "$BULK_PORT" >/dev/null

java -XX:+UseParallelGC -Xmx256m -cp "$WORK/bench.jar" dev.waypoint.bench.e2e.DestinationSide --pod-ip "$POD_IP" \
  --http-port "$HTTP_PORT" --bulk-port "$BULK_PORT" --hbone-port "$HBONE_PORT" --cert-dir "$WORK/certs/pod" \
  --threads 2 >"$WORK/dest.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 600); do grep -q '^ready' "$WORK/dest.log" 2>/dev/null && break; sleep 0.05; done

# shellcheck disable=SC2086
java $JAVA_OPTS -jar "$WORK/waypoint.jar" run --config-dir "$WORK/manifests" --cert-dir "$WORK/certs/waypoint" \
  --gateway istio-system/waypoint --listen "127.0.0.1:$WP_PORT" --hbone-port "$HBONE_PORT" \
  --health "127.0.0.1:$HEALTH_PORT" --stats "127.0.0.1:$STATS_PORT" --admin "127.0.0.1:$ADMIN_PORT" \
  --workers 2 --upstream-idle-timeout "$UPSTREAM_IDLE" >"$WORK/waypoint.log" 2>&1 &
WP=$!
PIDS+=("$WP")
for _ in $(seq 6000); do
  curl -fs -o /dev/null "http://127.0.0.1:$HEALTH_PORT/healthz/ready" && break
  kill -0 "$WP" 2>/dev/null || { cat "$WORK/waypoint.log" >&2; exit 1; }
  sleep 0.01
done

# measure LABEL TUNNELS -> "HEAP_BYTES RSS_KIB OBJECTS": the load tool holds the tunnels open while
# every tunnel gets its first request (warmup), then the histogram and RSS are read mid-window
measure() {
  local label=$1 tunnels=$2 per=$(( $2 / CONNS )) warm hist
  warm=$(( tunnels / RATE + 10 ))
  java -XX:+UseParallelGC -Xmx1g -jar "$WORK/bench.jar" --label "$label" --target "127.0.0.1:$WP_PORT" \
    --authority "$VIP:80" --cert-dir "$WORK/certs/client" --connections "$CONNS" --tunnels "$per" --rate "$RATE" \
    --warmup "${warm}s" --duration 20s --timeout 30s --pid "measured=$WP" >"$WORK/load-$label.txt" 2>&1 &
  local lp=$!
  PIDS+=("$lp")
  sleep $(( warm + 5 ))
  hist=$WORK/histogram-$label.txt
  jcmd "$WP" GC.class_histogram >"$hist"
  curl -fs "http://127.0.0.1:$STATS_PORT/stats/prometheus" | awk '/^waypoint_hbone_outbound_streams / {print $2}' \
    >"$WORK/streams-$label" || true
  sleep 1
  local rss; rss=$(awk '/VmRSS/ {print $2}' "/proc/$WP/status")
  jcmd "$WP" VM.native_memory summary >"$WORK/nmt-$label.txt" 2>/dev/null || true
  wait "$lp" || { cat "$WORK/load-$label.txt" >&2; return 1; }
  grep -q ' errors 0\|"errors": *0\|errors: 0' "$WORK/load-$label.txt" || true
  awk '/^Total/ {print $3, '"$rss"', $2}' "$hist"
  if [[ -n ${KEEP:-} ]]; then mkdir -p "$KEEP"; cp "$hist" "$WORK/load-$label.txt" "$KEEP/"; cp "$WORK/nmt-$label.txt" "$KEEP/" 2>/dev/null || true; fi
}

BASE=$CONNS
echo "load (1/5/15 min): $(cut -d' ' -f1-3 /proc/loadavg); waypoint JVM: $JAVA_OPTS"
read -r h0 r0 o0 <<<"$(measure base "$BASE")"
echo "$CONNS connections x 1 tunnel ($BASE): live heap $(( h0 / 1024 )) KiB ($o0 objects), RSS $(( r0 / 1024 )) MiB"
read -r h1 r1 o1 <<<"$(measure many "$TUNNELS")"
echo "$CONNS connections x $(( TUNNELS / CONNS )) tunnels ($TUNNELS): live heap $(( h1 / 1024 )) KiB ($o1 objects), RSS $(( r1 / 1024 )) MiB"
n=$(( TUNNELS - BASE ))
echo "per idle tunnel: live heap $(( (h1 - h0) / n )) B ($(( (o1 - o0) / n )) objects), RSS $(( (r1 - r0) * 1024 / n )) B"
echo "outbound HBONE streams (pooled upstream connections) at the readings: $(cat "$WORK/streams-base") and $(cat "$WORK/streams-many")"
echo "top of the histogram difference (bytes per extra tunnel, class):"
join -1 2 -2 2 -o 0,1.1,2.1 \
  <(awk '/^ *[0-9]+:/ {print $3, $4}' "$WORK/histogram-base.txt" | sort -k2,2) \
  <(awk '/^ *[0-9]+:/ {print $3, $4}' "$WORK/histogram-many.txt" | sort -k2,2) -a 2 -e 0 \
  | awk -v n="$n" '{d = ($3 - $2) / n; if (d >= 8) printf "%8.0f  %s\n", d, $1}' | sort -rn | head -25
echo "load after (1/5/15 min): $(cut -d' ' -f1-3 /proc/loadavg)"
