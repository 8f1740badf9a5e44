#!/usr/bin/env bash
# End-to-end measurements of the waypoint against the direct path and the C peer (nghttpx), in one
# go, on this machine, loopback only. Writes JSON per run and a markdown table to
# benchmarks/out/<timestamp>/ (and the table to stdout).
#
#   benchmarks/run-e2e.sh                 # full run (~6 min on 2 vCPU)
#   SMOKE=1 benchmarks/run-e2e.sh         # seconds: checks that the tool and the three paths work
#
# Paths (the load tool plays the source ztunnel: mTLS HTTP/2 CONNECT with a workload certificate):
#   direct   : load tool -> destination terminator (podIP:HBONE) -> backend (podIP:HTTP)
#   waypoint : load tool -> waypoint (Service VIP:80) -> HBONE -> destination terminator -> backend
#   nghttpx  : load tool -> nghttpx (h2+TLS in, mTLS) -> CONNECT on h2+TLS -> destination terminator -> backend
# The destination terminator is DestinationZtunnel (waypoint-testing); the backend is BenchBackend
# (HTTP/1.1 keep-alive, POST echoes the body). Both run in one JVM ("dest").
#
# Settings (environment):
#   WARMUP=20s DURATION=15s          fixed-rate and saturation runs: warmup, measured window
#   RATE=1000 CONNS=4 BODY=1024       the fixed-rate run (Istio's published method: 1 KB, 4 connections)
#   SAT_CONNS=4 SAT_TUNNELS=16        the closed-loop saturation run
#   BULK_WARMUP=3s BULK_DURATION=10s  the single-tunnel download
#   WORKERS=2                         waypoint --workers and nghttpx --workers
#   STARTS=3                          start-to-ready launches (median)
#   SCALE_SERVICES=10000              services (and pods) in the config-compile set
#   PATHS="direct waypoint nghttpx"   which paths to run
#   WAYPOINT_JAR=...                  the waypoint to measure (default: waypoint-server/target/waypoint.jar)
#   WAYPOINT_JAVA_OPTS=...            JVM flags of the waypoint (default below); the word STATICCDS stands for
#                                     -XX:SharedArchiveFile=<a static CDS archive of that jar, dumped from the
#                                     committed class list as the Dockerfile does>; words NAME=VALUE (e.g.
#                                     MALLOC_ARENA_MAX=2) are set in the JVM's environment instead
#   SCALE_JAVA_OPTS=...               JVM flags for the start with the 10,000-Service config
#   WAYPOINT2_JAR=... WAYPOINT2_LABEL=waypoint-2 WAYPOINT2_JAVA_OPTS=...
#                                     a second waypoint (another build, or other JVM flags) measured alike
#   KINDS="fixed sat bulk"            which measurements to take (e.g. KINDS=fixed for CPU and RSS at the fixed rate)
#   JVM_DEFAULTS_RUN=1                also measure the fixed-rate run of the waypoint with JVM default flags
#   BUILD=auto|1|0                    build when the jars are missing (auto), always (1), never (0)
#   OUT=dir                           output directory
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")

SMOKE=${SMOKE:-0}
if [[ $SMOKE == 1 ]]; then
  WARMUP=${WARMUP:-1s}; DURATION=${DURATION:-2s}; BULK_WARMUP=${BULK_WARMUP:-0s}; BULK_DURATION=${BULK_DURATION:-1s}
  RATE=${RATE:-200}; STARTS=${STARTS:-1}; SCALE_SERVICES=${SCALE_SERVICES:-200}; SAT_TUNNELS=${SAT_TUNNELS:-2}
  REQUESTS=${REQUESTS:-200}
fi
WARMUP=${WARMUP:-20s}
DURATION=${DURATION:-15s}
RATE=${RATE:-1000}
CONNS=${CONNS:-4}
BODY=${BODY:-1024}
SAT_CONNS=${SAT_CONNS:-4}
SAT_TUNNELS=${SAT_TUNNELS:-16}
BULK_WARMUP=${BULK_WARMUP:-3s}
BULK_DURATION=${BULK_DURATION:-10s}
WORKERS=${WORKERS:-2}
STARTS=${STARTS:-3}
SCALE_SERVICES=${SCALE_SERVICES:-10000}
REQUESTS=${REQUESTS:-0}
PATHS=${PATHS:-direct waypoint nghttpx}
WAYPOINT_JAR=${WAYPOINT_JAR:-$ROOT/waypoint-server/target/waypoint.jar}
BENCH_JAR=${BENCH_JAR:-$HERE/target/waypoint-bench.jar}
# A container-like heap: the JVM default on this 24 GB machine would be a 6 GB max heap, which says
# nothing about what the waypoint needs. Override to measure other settings.
WAYPOINT_JAVA_OPTS=${WAYPOINT_JAVA_OPTS:--XX:+UseSerialGC -Xms16m -Xmx64m -XX:MaxDirectMemorySize=64m -Xss512k}
SCALE_JAVA_OPTS=${SCALE_JAVA_OPTS:-$WAYPOINT_JAVA_OPTS -Xmx256m}
DEST_JAVA_OPTS=${DEST_JAVA_OPTS:--XX:+UseParallelGC -Xmx256m}
LOAD_JAVA_OPTS=${LOAD_JAVA_OPTS:--XX:+UseParallelGC -Xmx512m}
POD_IP=${POD_IP:-127.40.1.1}
VIP=${VIP:-127.40.0.10}
BUILD=${BUILD:-auto}
OUT=${OUT:-$HERE/out/$(date +%Y%m%d-%H%M%S)}

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# ---------------------------------------------------------------- build
if [[ $BUILD == 1 || ( $BUILD == auto && ( ! -f $BENCH_JAR || ! -f $WAYPOINT_JAR ) ) ]]; then
  log "building (mvn -o install -DskipTests -pl benchmarks -am)"
  (cd "$ROOT" && mvn -B -q -o install -DskipTests -pl benchmarks -am)
fi
[[ -f $BENCH_JAR ]] || { echo "missing $BENCH_JAR" >&2; exit 1; }
[[ -f $WAYPOINT_JAR ]] || { echo "missing $WAYPOINT_JAR" >&2; exit 1; }

if [[ " $PATHS " == *" nghttpx "* ]] && ! command -v nghttpx >/dev/null; then
  if [[ $(id -u) == 0 ]]; then
    log "installing nghttpx (apt-get install -y nghttp2-proxy)"
    apt-get install -y -q nghttp2-proxy >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q nghttp2-proxy >/dev/null; }
  fi
  command -v nghttpx >/dev/null || { log "nghttpx not available: skipping that path"; PATHS=${PATHS//nghttpx/}; }
fi

# ---------------------------------------------------------------- processes, cleaned up on exit
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  [[ -n ${WORK:-} ]] && rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Private copies of the jars (other builds may rewrite target/ while this runs), certificates and
# manifests live in a temporary directory; logs, JSON reports and the table in $OUT.
mkdir -p "$OUT/logs"
WORK=$(mktemp -d /tmp/waypoint-e2e.XXXXXX)
LOGS=$OUT/logs
cp "$WAYPOINT_JAR" "$WORK/waypoint.jar"
cp "$BENCH_JAR" "$WORK/waypoint-bench.jar"
WAYPOINT_JAR_SOURCE=$WAYPOINT_JAR
WAYPOINT_JAR=$WORK/waypoint.jar
BENCH_JAR=$WORK/waypoint-bench.jar
bench() { java -cp "$BENCH_JAR" "$@"; }
load() { java $LOAD_JAVA_OPTS -jar "$BENCH_JAR" "$@"; }

wait_for_line() { # file pattern seconds
  local i
  for i in $(seq $(( $3 * 20 ))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  echo "timed out waiting for '$2' in $1:" >&2; cat "$1" >&2; return 1
}
wait_for_port() { # host port seconds
  local i
  for i in $(seq $(( $3 * 20 ))); do (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0; sleep 0.05; done
  echo "timed out waiting for $1:$2" >&2; return 1
}

# ---------------------------------------------------------------- identities, ports, manifests
bench dev.waypoint.bench.e2e.MakeCerts "$WORK/certs" >/dev/null
read -r HTTP_PORT BULK_PORT HBONE_PORT WP_PORT HEALTH_PORT STATS_PORT ADMIN_PORT NG_PORT \
  <<<"$(bench dev.waypoint.bench.e2e.FreePorts 8 | tr '\n' ' ')"
bench dev.waypoint.bench.e2e.ManifestGen --kind bench --out "$WORK/manifests" --service-vip "$VIP" --pod-ip "$POD_IP" \
  --http-port "$HTTP_PORT" --bulk-port "$BULK_PORT" >/dev/null

# ---------------------------------------------------------------- machine
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "machine: $(nproc) vCPU, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -m | awk '/Mem:/ {print $2}') MiB RAM, kernel $(uname -r)"
  echo "java: $(java -version 2>&1 | head -2 | tr '\n' ' ')"
  echo "nghttpx: $(command -v nghttpx >/dev/null && nghttpx --version | head -1 || echo none)"
  echo "load before the run (1/5/15 min): $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "settings: WARMUP=$WARMUP DURATION=$DURATION RATE=$RATE CONNS=$CONNS BODY=$BODY SAT=${SAT_CONNS}x$SAT_TUNNELS BULK=$BULK_WARMUP+$BULK_DURATION WORKERS=$WORKERS"
  echo "waypoint JVM: $WAYPOINT_JAVA_OPTS (10,000-Service start: $SCALE_JAVA_OPTS)"
  echo "waypoint jar: $WAYPOINT_JAR_SOURCE ($(date -u -r "$WAYPOINT_JAR_SOURCE" '+%Y-%m-%d %H:%M UTC'))"
} >"$OUT/machine.txt"

# ---------------------------------------------------------------- config compile (before anything runs)
log "config compile: $SCALE_SERVICES Services + pods"
bench dev.waypoint.bench.e2e.ManifestGen --kind scale --services "$SCALE_SERVICES" --namespaces 100 \
  --out "$WORK/scale" >/dev/null
java $(for w in ${WAYPOINT_JAVA_OPTS//STATICCDS/}; do [[ $w == [A-Z_]*=* ]] || echo "$w"; done) -Xmx512m -cp "$BENCH_JAR" dev.waypoint.bench.e2e.CompileTime "$WORK/scale" --repeat 3 >"$OUT/compile.json"

# ---------------------------------------------------------------- destination side
log "starting the destination side (terminator + backend) on $POD_IP"
java $DEST_JAVA_OPTS -cp "$BENCH_JAR" dev.waypoint.bench.e2e.DestinationSide --pod-ip "$POD_IP" --http-port "$HTTP_PORT" \
  --bulk-port "$BULK_PORT" --hbone-port "$HBONE_PORT" --cert-dir "$WORK/certs/pod" --threads 2 >"$LOGS/dest.log" 2>&1 &
DEST_PID=$!
PIDS+=("$DEST_PID")
wait_for_line "$LOGS/dest.log" '^ready' 30

# ---------------------------------------------------------------- waypoints
# launch_waypoint NAME JAR "JVM OPTS" CONFIG-DIR LOG: starts a waypoint on fresh loopback ports and
# waits until GET /healthz/ready answers 200; sets WP_PID, WP_PORT, READY_MS (process start to ready).
cds_opts() { # OPTS JAR -> OPTS with STATICCDS replaced by a static archive of JAR (dumped once)
  local opts=$1 jsa=${2%.jar}.jsa
  if [[ " $opts " == *" STATICCDS "* ]]; then
    [[ -f $jsa ]] || java -Xmx256m -Xshare:dump -XX:SharedClassListFile="$ROOT/waypoint-server/src/main/cds/waypoint.classlist" \
      -XX:SharedArchiveFile="$jsa" -cp "$2" >/dev/null 2>&1
    opts=${opts//STATICCDS/-XX:SharedArchiveFile=$jsa}
  fi
  echo "$opts"
}
launch_waypoint() {
  local name=$1 jar=$2 opts=$3 cfg=$4 logf=$5 t0 t1 health stats admin w envs=() jvm=()
  opts=$(cds_opts "$opts" "$jar")
  # words of the form NAME=VALUE (e.g. MALLOC_ARENA_MAX=2) go to the JVM's environment, the rest are flags
  for w in $opts; do if [[ $w == [A-Z_]*=* ]]; then envs+=("$w"); else jvm+=("$w"); fi; done
  read -r WP_PORT health stats admin <<<"$(bench dev.waypoint.bench.e2e.FreePorts 4 | tr '\n' ' ')"
  t0=$(date +%s%N)
  # shellcheck disable=SC2086
  env "${envs[@]}" java "${jvm[@]}" "-Xlog:gc,safepoint:file=$LOGS/$name-jvm.log:uptime,level,tags" -jar "$jar" run --config-dir "$cfg" \
    --cert-dir "$WORK/certs/waypoint" \
    --gateway istio-system/waypoint --listen "127.0.0.1:$WP_PORT" --hbone-port "$HBONE_PORT" \
    --health "127.0.0.1:$health" --stats "127.0.0.1:$stats" --admin "127.0.0.1:$admin" \
    --workers "$WORKERS" >"$logf" 2>&1 &
  WP_PID=$!
  PIDS+=("$WP_PID")
  for _ in $(seq 6000); do
    if curl -fs -o /dev/null "http://127.0.0.1:$health/healthz/ready"; then
      t1=$(date +%s%N); READY_MS=$(( (t1 - t0) / 1000000 )); return 0
    fi
    kill -0 "$WP_PID" 2>/dev/null || { echo "waypoint $name exited:" >&2; cat "$logf" >&2; return 1; }
    sleep 0.01
  done
  echo "waypoint $name not ready after 60 s" >&2; cat "$logf" >&2; return 1
}
stop_pid() {
  kill "$1" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true
}

declare -A TARGET AUTH BULK_AUTH MEASURED
TARGET[direct]=$POD_IP:$HBONE_PORT; AUTH[direct]=$POD_IP:$HTTP_PORT; BULK_AUTH[direct]=$POD_IP:$BULK_PORT
MEASURED[direct]=$DEST_PID

if [[ " $PATHS " == *" waypoint "* ]]; then
  RUNS=()
  for i in $(seq "$STARTS"); do
    launch_waypoint start "$WAYPOINT_JAR" "$WAYPOINT_JAVA_OPTS" "$WORK/manifests" "$LOGS/waypoint-start-$i.log"
    RUNS+=("$READY_MS"); stop_pid "$WP_PID"
  done
  # 10,000 Services do not fit the small heap above: this start gets SCALE_JAVA_OPTS
  SCALE_MS=-1; SCALE_HWM=-1
  if launch_waypoint scale "$WAYPOINT_JAR" "$SCALE_JAVA_OPTS" "$WORK/scale" "$LOGS/waypoint-scale.log"; then
    SCALE_MS=$READY_MS
    SCALE_HWM=$(awk '/^VmHWM:/ {print $2}' "/proc/$WP_PID/status")
    stop_pid "$WP_PID"
  else
    log "the waypoint did not start with the $SCALE_SERVICES-service config ($SCALE_JAVA_OPTS); see $LOGS/waypoint-scale.log"
  fi
  MEDIAN=$(printf '%s\n' "${RUNS[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  printf '{"medianMs": %s, "runsMs": [%s], "scaleMs": %s, "scaleHwmKib": %s, "scaleJavaOpts": "%s"}\n' "$MEDIAN" \
    "$(IFS=,; echo "${RUNS[*]}")" "$SCALE_MS" "$SCALE_HWM" "$SCALE_JAVA_OPTS" >"$OUT/startup.json"
  log "start to ready: ${RUNS[*]} ms (median $MEDIAN); with $SCALE_SERVICES services: $SCALE_MS ms"
fi
# every waypoint path: NAME=JAR|JVM-OPTS|RUNS (RUNS: which measurements, "fixed sat bulk" or "fixed")
declare -A WP_SPEC
WP_SPEC[waypoint]="$WAYPOINT_JAR|$WAYPOINT_JAVA_OPTS|fixed sat bulk"
if [[ -n ${WAYPOINT2_JAR:-} ]]; then
  cp "$WAYPOINT2_JAR" "$WORK/waypoint2.jar"
  WP_SPEC[${WAYPOINT2_LABEL:=waypoint-2}]="$WORK/waypoint2.jar|${WAYPOINT2_JAVA_OPTS:-$WAYPOINT_JAVA_OPTS}|fixed sat bulk"
  NEWPATHS=""
  for p in $PATHS; do
    NEWPATHS="$NEWPATHS $p"
    if [[ $p == waypoint ]]; then NEWPATHS="$NEWPATHS $WAYPOINT2_LABEL"; fi
  done
  PATHS=${NEWPATHS# }
  echo "second waypoint ($WAYPOINT2_LABEL): $WAYPOINT2_JAR, JVM: ${WAYPOINT2_JAVA_OPTS:-$WAYPOINT_JAVA_OPTS}" >>"$OUT/machine.txt"
fi
if [[ ${JVM_DEFAULTS_RUN:-1} == 1 && " $PATHS " == *" waypoint "* ]]; then
  WP_SPEC[waypoint-jvmdefaults]="$WAYPOINT_JAR||fixed"
  PATHS="$PATHS waypoint-jvmdefaults"
fi
for p in $PATHS; do
  [[ -n ${WP_SPEC[$p]:-} ]] || continue
  IFS='|' read -r jar opts _ <<<"${WP_SPEC[$p]}"
  launch_waypoint "$p" "$jar" "$opts" "$WORK/manifests" "$LOGS/$p.log"
  TARGET[$p]=127.0.0.1:$WP_PORT; AUTH[$p]=$VIP:80; BULK_AUTH[$p]=$VIP:9000; MEASURED[$p]=$WP_PID
done

# ---------------------------------------------------------------- nghttpx, the C peer
if [[ " $PATHS " == *" nghttpx "* ]]; then
  C=$WORK/certs/nghttpx
  # h2+TLS in (client certificate required, verified against the mesh root), CONNECT forwarded on
  # h2+TLS to the destination terminator, presenting its own mesh certificate. --insecure: the
  # backend certificate chain is not checked (the mesh certificates carry a URI SAN only, which
  # nghttpx cannot match against a host name); the waypoint does check it.
  nghttpx --conf=/dev/null --frontend="127.0.0.1,$NG_PORT" --backend="$POD_IP,$HBONE_PORT;;proto=h2;tls" \
    --verify-client --verify-client-cacert="$C/root-cert.pem" \
    --client-private-key-file="$C/key.pem" --client-cert-file="$C/cert-chain.pem" --insecure \
    --workers="$WORKERS" --no-via --no-ocsp --no-server-push \
    --frontend-http2-window-size=4194304 --frontend-http2-connection-window-size=16777216 \
    --backend-http2-window-size=4194304 --backend-http2-connection-window-size=16777216 \
    --errorlog-file="$LOGS/nghttpx.log" --accesslog-file=/dev/null "$C/key.pem" "$C/cert-chain.pem" \
    >"$LOGS/nghttpx.out" 2>&1 &
  NGHTTPX_PID=$!
  PIDS+=("$NGHTTPX_PID")
  wait_for_port 127.0.0.1 "$NG_PORT" 10
  TARGET[nghttpx]=127.0.0.1:$NG_PORT; AUTH[nghttpx]=$POD_IP:$HTTP_PORT; BULK_AUTH[nghttpx]=$POD_IP:$BULK_PORT
  MEASURED[nghttpx]=$NGHTTPX_PID
fi

runs_of() { # path -> the measurements it takes part in
  if [[ -n ${WP_SPEC[$1]:-} ]]; then IFS='|' read -r _ _ r <<<"${WP_SPEC[$1]}"; echo "$r"; else echo "fixed sat bulk"; fi
}

run_load() { # path kind extra-args...
  local path=$1 kind=$2; shift 2
  [[ " $(runs_of "$path") " == *" $kind "* ]] || return 0
  [[ " ${KINDS:-fixed sat bulk} " == *" $kind "* ]] || return 0
  local authority=${AUTH[$path]}
  if [[ $kind == bulk ]]; then authority=${BULK_AUTH[$path]}; fi
  log "$path $kind"
  load --label "$path" --target "${TARGET[$path]}" --authority "$authority" --cert-dir "$WORK/certs/client" \
    --pid "measured=${MEASURED[$path]}" --pid "dest=$DEST_PID" --pid loadtool=self --out "$OUT/$path-$kind.json" "$@" \
    >"$LOGS/$path-$kind.txt" 2>&1 || { cat "$LOGS/$path-$kind.txt" >&2; echo "load run $path $kind failed" >&2; return 1; }
  sed 's/^/    /' "$LOGS/$path-$kind.txt" >&2
}

# one measurement kind at a time across all paths, so slow drift of the machine hits every path alike
for p in $PATHS; do
  run_load "$p" fixed --rate "$RATE" --connections "$CONNS" --tunnels 1 --body "$BODY" --warmup "$WARMUP" \
    --duration "$DURATION" --requests "$REQUESTS"
done
for p in $PATHS; do
  run_load "$p" sat --rate 0 --connections "$SAT_CONNS" --tunnels "$SAT_TUNNELS" --body "$BODY" --warmup "$WARMUP" \
    --duration "$DURATION" --requests "$REQUESTS"
done
for p in $PATHS; do
  run_load "$p" bulk --bulk download --warmup "$BULK_WARMUP" --duration "$BULK_DURATION"
done

# ---------------------------------------------------------------- the table
{
  echo "## End-to-end results ($(date -u '+%Y-%m-%d'))"
  echo
  sed 's/^/    /' "$OUT/machine.txt"
  echo
  bench dev.waypoint.bench.e2e.ResultsTable "$OUT" --paths "$(echo $PATHS | tr ' ' ',')"
} >"$OUT/results.md"
cat "$OUT/results.md"
mkdir -p "$HERE/out" && cp "$OUT/results.md" "$HERE/out/latest.md"
log "wrote $OUT/results.md"
