#!/usr/bin/env bash
# Memory under overload: the waypoint offered RATE req/s (default 10,000: 10x the 1000 req/s of the
# targets) of 1 KiB POSTs over CONNS x PER tunnels for DURATION, its VmRSS sampled every 10 s; the
# growth after the first minute is what "bounded" is judged by. The load tool plays the source
# ztunnel and keeps one request per tunnel in flight at most, so when the waypoint falls behind the
# backlog is the tool's schedule (reported as latency), not the waypoint's memory.
#
#   benchmarks/overload.sh
#
# Settings (environment): WAYPOINT_JAR, BENCH_JAR, RATE (10000), CONNS (4), PER (64), DURATION
# (150s), JAVA_OPTS (default: the Helm chart's flags in a 256 MiB pod). Binds loopback only
# (127.234.x.x and 127.0.0.1); kills what it starts.
set -euo pipefail
cd "$(dirname "$0")/.."
WAYPOINT_JAR=${WAYPOINT_JAR:-waypoint-server/target/waypoint.jar}
BENCH_JAR=${BENCH_JAR:-benchmarks/target/waypoint-bench.jar}
RATE=${RATE:-10000}
CONNS=${CONNS:-4}
PER=${PER:-64}
DURATION=${DURATION:-150}
JAVA_OPTS=${JAVA_OPTS:--XX:MaxRAM=256m -XX:+UseSerialGC -XX:MaxRAMPercentage=40 -Xss512k -XX:ReservedCodeCacheSize=64m -XX:MaxMetaspaceSize=128m -XX:+UnlockExperimentalVMOptions -XX:TrimNativeHeapInterval=2000}
UPSTREAM_IDLE=60s
POD_IP=${POD_IP:-127.234.1.1}
VIP=${VIP:-127.234.0.10}
WORK=$(mktemp -d /tmp/waypoint-overload.XXXXXX)
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

echo "load (1/5/15 min): $(cut -d' ' -f1-3 /proc/loadavg); waypoint JVM: $JAVA_OPTS"
echo "offered: $RATE req/s, 1 KiB POST, $CONNS connections x $PER tunnels, ${DURATION}s; RSS after ready: $(awk '/VmRSS/ {print int($2/1024)}' "/proc/$WP/status") MiB"
java -XX:+UseParallelGC -Xmx1g -jar "$WORK/bench.jar" --label overload --target "127.0.0.1:$WP_PORT" \
  --authority "$VIP:80" --cert-dir "$WORK/certs/client" --connections "$CONNS" --tunnels "$PER" --rate "$RATE" \
  --body 1024 --warmup 0s --duration "${DURATION}s" --pid "measured=$WP" >"$WORK/load.txt" 2>&1 &
LP=$!
PIDS+=("$LP")
t=0; line=""; declare -a RSS
while kill -0 "$LP" 2>/dev/null && (( t <= DURATION )); do
  r=$(awk '/VmRSS/ {print int($2/1024)}' "/proc/$WP/status"); RSS+=("$r"); line+="${t}s:${r} "
  sleep 10; t=$(( t + 10 ))
done
wait "$LP" || true
echo "VmRSS MiB by time: $line"
echo "peak $(printf '%s\n' "${RSS[@]}" | sort -n | tail -1) MiB; at 60 s ${RSS[6]:-?} MiB, at the end ${RSS[-1]} MiB (growth after the first minute: $(( ${RSS[-1]} - ${RSS[6]:-${RSS[-1]}} )) MiB)"
grep -E 'req/s|errors|p50|RSS|CPU' "$WORK/load.txt" | head -12
echo "load after (1/5/15 min): $(cut -d' ' -f1-3 /proc/loadavg)"
