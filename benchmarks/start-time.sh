#!/usr/bin/env bash
# Start to ready of the real jar: `java [JVM flags] -jar waypoint.jar run` on the demo manifests
# (examples/demo), time from process start to the first 200 of GET /healthz/ready, the CPU the
# JVM used until then (utime + stime of every thread, from /proc/PID/stat: on a shared machine this
# moves far less with the load than the wall-clock time does), and the RSS (VmRSS) 2 s after
# ready, idle. Each variant is launched RUNS times, interleaved, so the variants
# share the machine's load; prints one line per launch and the median per variant.
#
#   benchmarks/start-time.sh                       # the variants below
#   VARIANTS='none|-XX:TieredStopAtLevel=1' benchmarks/start-time.sh
#
# Settings (environment): WAYPOINT_JAR (default waypoint-server/target/waypoint.jar), BENCH_JAR
# (benchmarks/target/waypoint-bench.jar: makes the certificates and picks free ports), RUNS (5),
# CONFIG (examples/demo), VARIANTS ('|'-separated JVM flag sets; "none" = no flags; the word
# APPCDS stands for -XX:SharedArchiveFile=<an archive made by one training launch with
# -XX:ArchiveClassesAtExit>; STATICCDS for -XX:SharedArchiveFile=<a static archive dumped from the
# committed class list waypoint-server/src/main/cds/waypoint.classlist, as the Dockerfile does>; words of the form NAME=VALUE, e.g. MALLOC_ARENA_MAX=2, are set in the
# JVM's environment instead of passed as flags). Binds 127.0.0.1 only; kills what it starts.
set -euo pipefail
cd "$(dirname "$0")/.."
WAYPOINT_JAR=${WAYPOINT_JAR:-waypoint-server/target/waypoint.jar}
BENCH_JAR=${BENCH_JAR:-benchmarks/target/waypoint-bench.jar}
RUNS=${RUNS:-5}
CONFIG=${CONFIG:-examples/demo}
VARIANTS=${VARIANTS:-"none|-XX:TieredStopAtLevel=1|-XX:+UseSerialGC -XX:TieredStopAtLevel=1|APPCDS|-XX:+UseSerialGC -XX:TieredStopAtLevel=1 APPCDS"}
WORK=$(mktemp -d /tmp/waypoint-start.XXXXXX)
cp "$WAYPOINT_JAR" "$WORK/waypoint.jar"
PID=
cleanup() { [[ -n "$PID" ]] && kill "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
java -cp "$BENCH_JAR" dev.waypoint.bench.e2e.MakeCerts "$WORK/certs" >/dev/null

# launch FLAGS -> prints "READY_MS CPU_MS RSS_KIB"
launch() {
  local flags=$1 wp health stats admin t0 t1 rss cpu w envs=() jvm=()
  for w in $flags; do if [[ $w == [A-Z_]*=* ]]; then envs+=("$w"); else jvm+=("$w"); fi; done
  read -r wp health stats admin <<<"$(java -cp "$BENCH_JAR" dev.waypoint.bench.e2e.FreePorts 4 | tr '\n' ' ')"
  t0=$(date +%s%N)
  env "${envs[@]}" java "${jvm[@]}" -jar "$WORK/waypoint.jar" run --config-dir "$CONFIG" --cert-dir "$WORK/certs/waypoint" \
    --gateway istio-system/waypoint --listen "127.0.0.1:$wp" --health "127.0.0.1:$health" \
    --stats "127.0.0.1:$stats" --admin "127.0.0.1:$admin" >"$WORK/launch.log" 2>&1 &
  PID=$!
  for _ in $(seq 3000); do
    if curl -fs -o /dev/null "http://127.0.0.1:$health/healthz/ready"; then
      t1=$(date +%s%N)
      cpu=$(awk -v hz="$(getconf CLK_TCK)" '{print int(($14 + $15) * 1000 / hz)}' "/proc/$PID/stat"); break
    fi
    kill -0 "$PID" 2>/dev/null || { cat "$WORK/launch.log" >&2; return 1; }
    sleep 0.01
  done
  sleep 2
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status")
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
  echo "$(( (t1 - t0) / 1000000 )) $cpu $rss"
}

# the AppCDS archive: one training launch that stops at ready (classes loaded up to then)
CDS="-XX:SharedArchiveFile=$WORK/waypoint.jsa"
if [[ "$VARIANTS" == *APPCDS* ]]; then
  launch "-XX:ArchiveClassesAtExit=$WORK/waypoint.jsa" >/dev/null
  echo "AppCDS archive: $(du -k "$WORK/waypoint.jsa" | cut -f1) KiB"
fi
# the static archive: what the Dockerfile builds (java -Xshare:dump over the committed class list)
SCDS="-XX:SharedArchiveFile=$WORK/static.jsa"
if [[ "$VARIANTS" == *STATICCDS* ]]; then
  java -Xmx256m -Xshare:dump -XX:SharedClassListFile=waypoint-server/src/main/cds/waypoint.classlist \
    -XX:SharedArchiveFile="$WORK/static.jsa" -cp "$WORK/waypoint.jar" >"$WORK/dump.log" 2>&1 \
    || { cat "$WORK/dump.log" >&2; exit 1; }
  echo "static CDS archive: $(du -k "$WORK/static.jsa" | cut -f1) KiB"
fi
echo "load (1/5/15 min): $(cut -d' ' -f1-3 /proc/loadavg); java: $(java -version 2>&1 | head -1)"
IFS='|' read -r -a V <<<"$VARIANTS"
declare -A MS CPU RSS
for r in $(seq "$RUNS"); do
  for v in "${V[@]}"; do
    flags=${v//STATICCDS/$SCDS}; flags=${flags//APPCDS/$CDS}; [[ "$flags" == none ]] && flags=
    read -r ms cpu rss <<<"$(launch "$flags")"
    MS[$v]+="$ms "; CPU[$v]+="$cpu "; RSS[$v]+="$rss "
    echo "run $r [$v]: ready ${ms} ms, CPU to ready ${cpu} ms, idle RSS $(( rss / 1024 )) MiB"
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "load after (1/5/15 min): $(cut -d' ' -f1-3 /proc/loadavg)"
for v in "${V[@]}"; do
  echo "median [$v]: ready $(echo "${MS[$v]}" | median) ms (${MS[$v]% }), CPU $(echo "${CPU[$v]}" | median) ms (${CPU[$v]% }), idle RSS $(( $(echo "${RSS[$v]}" | median) / 1024 )) MiB"
done
