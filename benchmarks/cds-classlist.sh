#!/usr/bin/env bash
# Regenerates waypoint-server/src/main/cds/waypoint.classlist: the classes (and lambda forms) the
# real jar loads from `java -jar waypoint.jar run` on the demo manifests until GET /healthz/ready
# answers 200, as written by the JVM's -XX:DumpLoadedClassList. The Dockerfile turns the list into
# a static CDS archive for the image's own jar (`java -Xshare:dump -XX:SharedClassListFile=...`),
# so the image starts from archived classes without a training launch at build time.
#
#   benchmarks/cds-classlist.sh        # after `mvn -B package -DskipTests -pl waypoint-server,benchmarks -am`
#
# A list made from an older jar still works: classes it names that no longer exist are skipped
# with a warning when the archive is dumped, and classes it misses load from the jar as usual;
# regenerate it when start-up code changes. A list names JDK classes too, so it is made with the
# JDK the image runs (JAVA): waypoint.classlist on Java 17 (the Dockerfile's default base image),
# waypoint-jdk25.classlist on Temurin 25 (an image built with BASE_IMAGE=eclipse-temurin:25-jre-noble).
# Settings (environment): JAVA (the java command, default java), OUT (the list written), WAYPOINT_JAR,
# BENCH_JAR, CONFIG (examples/demo), JVM_FLAGS (the Helm chart's). Binds 127.0.0.1 only; kills what it starts.
set -euo pipefail
cd "$(dirname "$0")/.."
WAYPOINT_JAR=${WAYPOINT_JAR:-waypoint-server/target/waypoint.jar}
BENCH_JAR=${BENCH_JAR:-benchmarks/target/waypoint-bench.jar}
CONFIG=${CONFIG:-examples/demo}
JVM_FLAGS=${JVM_FLAGS:--XX:MaxRAM=256m -XX:+UseSerialGC -XX:MaxRAMPercentage=40 -Xss512k -XX:ReservedCodeCacheSize=64m -XX:MaxMetaspaceSize=128m}
JAVA=${JAVA:-java}
OUT=${OUT:-waypoint-server/src/main/cds/waypoint.classlist}
WORK=$(mktemp -d /tmp/waypoint-classlist.XXXXXX)
PID=
cleanup() { [[ -n "$PID" ]] && kill "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
java -cp "$BENCH_JAR" dev.waypoint.bench.e2e.MakeCerts "$WORK/certs" >/dev/null
read -r wp health stats admin <<<"$(java -cp "$BENCH_JAR" dev.waypoint.bench.e2e.FreePorts 4 | tr '\n' ' ')"
# shellcheck disable=SC2086
"$JAVA" $JVM_FLAGS -Dsun.misc.unsafe.memory.access=allow -XX:DumpLoadedClassList="$WORK/waypoint.classlist" -jar "$WAYPOINT_JAR" run --config-dir "$CONFIG" \
  --cert-dir "$WORK/certs/waypoint" --gateway istio-system/waypoint --listen "127.0.0.1:$wp" \
  --health "127.0.0.1:$health" --stats "127.0.0.1:$stats" --admin "127.0.0.1:$admin" >"$WORK/launch.log" 2>&1 &
PID=$!
for _ in $(seq 6000); do
  curl -fs -o /dev/null "http://127.0.0.1:$health/healthz/ready" && break
  kill -0 "$PID" 2>/dev/null || { cat "$WORK/launch.log" >&2; exit 1; }
  sleep 0.01
done
sleep 1
kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
mkdir -p "$(dirname "$OUT")"
cp "$WORK/waypoint.classlist" "$OUT"
echo "$OUT: $(grep -vc '^#' "$OUT") entries"
