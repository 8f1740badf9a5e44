#!/usr/bin/env bash
# A/B of waypoint builds by CPU and allocation per request: several waypoint jars (and nghttpx) run
# side by side behind one destination side, driven by the load tool in interleaved rounds, so every
# build sees the same machine (on a shared 2-vCPU box wall-clock figures are noise; CPU seconds of
# the process per request and bytes allocated per request survive the load far better).
# Same processes as run-e2e.sh (DestinationSide, `java -jar waypoint.jar run`, nghttpx, the load
# tool); the manifests add every stage's config: an HTTPRoute (a header-match rule that does not
# match and a default rule with a RequestHeaderModifier) and three AuthorizationPolicies on the
# Service (DENY /admin*, ALLOW another principal, ALLOW the load tool's GET/POST).
#
#   JARS="base=/tmp/a.jar new=/tmp/b.jar" benchmarks/ab-cpu.sh
#   JARS=... ROUNDS=5 MODES="fixed sat" PREWARM=25s WARMUP=5s DURATION=15s NG=0 benchmarks/ab-cpu.sh
#
# Settings (environment): JARS (label=jar ...), OPTS_<label> (extra JVM flags of one jar), WORKERS_<label>,
# JAVA_<label> (the java command of one jar, e.g. another JDK's bin/java; default java), COPY_JARS=1
# (0: run each jar where it is, as a CDS archive dumped for that path needs; 1: a private copy),
# EXTRA_OPTS (of all; @LABEL@ is replaced by the label, e.g. a JFR file name), WAYPOINT_JAVA_OPTS, EXTRA_MANIFESTS (files),
# ROUNDS=3, MODES=fixed ("fixed sat"; "warm": from a cold JIT, CPU per request each second and the time to
# steady state — put it first and leave PREWARM unset; WARM_SECS=120; "idle": no load, the process's
# own CPU over DURATION), RATE=1000 CONNS=4 BODY=1024, SAT_CONNS=4 SAT_TUNNELS=16,
# PREWARM (a first unmeasured fixed-rate run per path, e.g. 25s: the JIT), WARMUP=20s DURATION=15s,
# NG=1 (nghttpx as the yardstick), STAGES=1, WORKERS=2, PROFILE=strace|perf (round 1, fixed run:
# strace -c -f or perf record -g with a perf map, STRACE_SECS / PERF_SECS), BENCH_JAR, OUT.
# MODES=bulk: the single-tunnel download of run-e2e.sh (Service port 9000, TCP relayed; nghttpx to the
# bulk port) in the same interleaved rounds, WARMUP/DURATION as given; the summary gives MiB/s and the
# CPU seconds of each process per GiB relayed (the robust figure on a shared machine).
# Allocation per request: run with
#   EXTRA_OPTS="-XX:StartFlightRecording=settings=$PWD/benchmarks/alloc.jfc,filename=$OUT/@LABEL@.jfr,dumponexit=true"
# and MODES=fixed; the summary reads jdk.ThreadAllocationStatistics of the hbone-* event loops.
set -euo pipefail
EXTRA_OPTS=${EXTRA_OPTS:-}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_JAR=${BENCH_JAR:-$HERE/target/waypoint-bench.jar}
ROUNDS=${ROUNDS:-3}; RATE=${RATE:-1000}; CONNS=${CONNS:-4}; BODY=${BODY:-1024}
WARMUP=${WARMUP:-20s}; DURATION=${DURATION:-15s}; MODES=${MODES:-fixed}; NG=${NG:-1}; STAGES=${STAGES:-1}
SAT_CONNS=${SAT_CONNS:-4}; SAT_TUNNELS=${SAT_TUNNELS:-16}; WORKERS=${WORKERS:-2}
WAYPOINT_JAVA_OPTS=${WAYPOINT_JAVA_OPTS:--XX:+UseSerialGC -Xms16m -Xmx64m -XX:MaxDirectMemorySize=64m -Xss512k}
POD_IP=${POD_IP:-127.40.2.1}; VIP=${VIP:-127.40.2.10}
OUT=${OUT:-$HERE/out/ab-$(date +%Y%m%d-%H%M%S)}
PROFILE=${PROFILE:-}   # "strace" or "perf": attach to each waypoint during its fixed run of round 1
mkdir -p "$OUT/logs"; LOGS=$OUT/logs
WORK=$(mktemp -d /tmp/waypoint-ab.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; for p in "${PIDS[@]}"; do for _ in $(seq 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; done; for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
bench() { java -cp "$BENCH_JAR" "$@"; }
wait_for_line() { for i in $(seq $(( $3 * 20 ))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done; cat "$1" >&2; return 1; }
bench dev.waypoint.bench.e2e.MakeCerts "$WORK/certs" >/dev/null
read -r HTTP_PORT BULK_PORT HBONE_PORT NG_PORT <<<"$(bench dev.waypoint.bench.e2e.FreePorts 4 | tr '\n' ' ')"
bench dev.waypoint.bench.e2e.ManifestGen --kind bench --out "$WORK/manifests" --service-vip "$VIP" --pod-ip "$POD_IP" \
  --http-port "$HTTP_PORT" --bulk-port "$BULK_PORT" >/dev/null
# EXTRA_MANIFESTS: more YAML files for the config directory (e.g. a DestinationRule)
for f in ${EXTRA_MANIFESTS:-}; do cp "$f" "$WORK/manifests/"; done
if [[ $STAGES == 1 ]]; then cat >"$WORK/manifests/stages.yaml" <<'YAML'
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: bench-canary, namespace: bench}
spec:
  parentRefs: [{group: "", kind: Service, name: bench-http, port: 80}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /canary}, headers: [{name: x-canary, value: "1"}]}]
    backendRefs: [{name: bench-http, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /}}]
    filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-route, value: bench}]}}]
    backendRefs: [{name: bench-http, port: 80}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin, namespace: bench}
spec:
  targetRefs: [{kind: Service, group: "", name: bench-http}]
  action: DENY
  rules: [{to: [{operation: {paths: ["/admin*"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-other, namespace: bench}
spec:
  targetRefs: [{kind: Service, group: "", name: bench-http}]
  action: ALLOW
  rules: [{from: [{source: {principals: ["cluster.local/ns/other/sa/other"]}}], to: [{operation: {methods: ["GET"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-client, namespace: bench}
spec:
  targetRefs: [{kind: Service, group: "", name: bench-http}]
  action: ALLOW
  rules:
  - from: [{source: {principals: ["cluster.local/ns/bench/sa/bench-client"]}}]
    to: [{operation: {methods: ["GET", "POST"], paths: ["/*"]}}]
  - to: [{operation: {ports: ["9000"]}}]
YAML
# Istio matches an operation's ports against the workload (target) port, not the Service port
sed -i "s/ports: \[\"9000\"\]/ports: [\"$BULK_PORT\"]/" "$WORK/manifests/stages.yaml"
fi
java -XX:+UseParallelGC -Xmx256m -cp "$BENCH_JAR" dev.waypoint.bench.e2e.DestinationSide --pod-ip "$POD_IP" --http-port "$HTTP_PORT" \
  --bulk-port "$BULK_PORT" --hbone-port "$HBONE_PORT" --cert-dir "$WORK/certs/pod" --threads 2 >"$LOGS/dest.log" 2>&1 &
DEST_PID=$!; PIDS+=("$DEST_PID"); wait_for_line "$LOGS/dest.log" '^ready' 30
declare -A TARGET AUTH BULK_AUTH MEASURED
LABELS=()
for spec in $JARS; do
  label=${spec%%=*}; jar=${spec#*=}
  read -r port health stats admin <<<"$(bench dev.waypoint.bench.e2e.FreePorts 4 | tr '\n' ' ')"
  ljar=$jar; if [[ ${COPY_JARS:-1} == 1 ]]; then ljar=$WORK/$label.jar; cp "$jar" "$ljar"; fi
  eval "lopts=\${OPTS_$label:-}"; eval "lworkers=\${WORKERS_$label:-$WORKERS}"; eval "ljava=\${JAVA_$label:-java}"
  "$ljava" $WAYPOINT_JAVA_OPTS ${EXTRA_OPTS//@LABEL@/$label} $lopts -jar "$ljar" run --config-dir "$WORK/manifests" --cert-dir "$WORK/certs/waypoint" \
    --gateway istio-system/waypoint --listen "127.0.0.1:$port" --hbone-port "$HBONE_PORT" \
    --health "127.0.0.1:$health" --stats "127.0.0.1:$stats" --admin "127.0.0.1:$admin" --workers "$lworkers" >"$LOGS/$label.log" 2>&1 &
  pid=$!; PIDS+=("$pid")
  for _ in $(seq 3000); do curl -fs -o /dev/null "http://127.0.0.1:$health/healthz/ready" && break; sleep 0.02; done
  TARGET[$label]=127.0.0.1:$port; AUTH[$label]=$VIP:80; BULK_AUTH[$label]=$VIP:9000; MEASURED[$label]=$pid; LABELS+=("$label")
  echo "$label pid $pid stats 127.0.0.1:$stats" >>"$OUT/pids.txt"
done
if [[ $NG == 1 ]]; then
  C=$WORK/certs/nghttpx
  nghttpx --conf=/dev/null --frontend="127.0.0.1,$NG_PORT" --backend="$POD_IP,$HBONE_PORT;;proto=h2;tls" \
    --verify-client --verify-client-cacert="$C/root-cert.pem" \
    --client-private-key-file="$C/key.pem" --client-cert-file="$C/cert-chain.pem" --insecure \
    --workers="$WORKERS" --no-via --no-ocsp --no-server-push \
    --frontend-http2-window-size=4194304 --frontend-http2-connection-window-size=16777216 \
    --backend-http2-window-size=4194304 --backend-http2-connection-window-size=16777216 \
    --errorlog-file="$LOGS/nghttpx.log" --accesslog-file=/dev/null "$C/key.pem" "$C/cert-chain.pem" >"$LOGS/nghttpx.out" 2>&1 &
  NPID=$!; PIDS+=("$NPID"); sleep 1
  TARGET[nghttpx]=127.0.0.1:$NG_PORT; AUTH[nghttpx]=$POD_IP:$HTTP_PORT; BULK_AUTH[nghttpx]=$POD_IP:$BULK_PORT; MEASURED[nghttpx]=$NPID; LABELS+=(nghttpx)
fi
if [[ -n ${PREWARM:-} ]]; then for label in "${LABELS[@]}"; do log "prewarm $label"; java -XX:+UseParallelGC -Xmx512m -jar "$BENCH_JAR" --label "$label" --target "${TARGET[$label]}" --authority "${AUTH[$label]}" --cert-dir "$WORK/certs/client" --body "$BODY" --warmup 0s --duration "$PREWARM" --rate "$RATE" --connections "$CONNS" --tunnels 1 >/dev/null 2>&1 || true; done; fi
for r in $(seq "$ROUNDS"); do
  for mode in $MODES; do
    for label in "${LABELS[@]}"; do
      win=(--warmup "$WARMUP" --duration "$DURATION"); sampler=""; auth=${AUTH[$label]}
      if [[ $mode == fixed ]]; then args=(--rate "$RATE" --connections "$CONNS" --tunnels 1)
      elif [[ $mode == bulk ]]; then args=(--bulk download); auth=${BULK_AUTH[$label]}
      elif [[ $mode == warm ]]; then
        # from a cold JIT: the fixed rate with no warm-up, the process's CPU (every thread's schedstat, ns) each second
        args=(--rate "$RATE" --connections "$CONNS" --tunnels 1); win=(--warmup 0s --duration "${WARM_SECS:-120}s")
        ( for _ in $(seq $(( ${WARM_SECS:-120} + 5 ))); do t=0
            for f in /proc/"${MEASURED[$label]}"/task/*/schedstat; do read -r a _ <"$f" 2>/dev/null && t=$((t + a)); done
            echo "$(date +%s.%N) $t"; sleep 1; done >"$OUT/$label-warm-$r.cpu" ) &
        sampler=$!
      else args=(--rate 0 --connections "$SAT_CONNS" --tunnels "$SAT_TUNNELS"); fi
      log "round $r $mode $label (load $(cut -d' ' -f1 /proc/loadavg))"
      if [[ $mode == idle ]]; then
        # no load at all: the process's own CPU (timers, config polling, JIT, GC) over the window
        cpu() { local t=0 a p; for p in "$1" $(pgrep -P "$1"); do for f in /proc/"$p"/task/*/schedstat; do read -r a _ <"$f" 2>/dev/null && t=$((t + a)); done; done; echo "$t"; }
        d=${DURATION%s}; a=$(cpu "${MEASURED[$label]}"); sleep "$d"; b=$(cpu "${MEASURED[$label]}")
        echo "$(( (b - a) / d / 1000 ))" >"$OUT/$label-idle-$r.us"; log "    idle: $(( (b - a) / d / 1000 )) us of CPU per second"
        continue
      fi
      prof=""
      if [[ -n $PROFILE && $r == 1 ]]; then
        w=${WARMUP%s}
        ( sleep "$w"; if [[ $PROFILE == strace ]]; then timeout -s INT "${STRACE_SECS:-5}" strace -c -f -p "${MEASURED[$label]}" -o "$OUT/strace-$label-$mode.txt" 2>/dev/null;
          else p=${MEASURED[$label]}
            # nghttpx: its workers are child processes, and jcmd's attach signal (SIGQUIT) would stop it
            if [[ $label == nghttpx ]]; then p=$p,$(pgrep -d, -P "$p"); else jcmd "$p" Compiler.perfmap >/dev/null 2>&1; fi
            perf record -F 999 -g -p "$p" -o "$OUT/perf-$label-$mode.data" -- sleep "${PERF_SECS:-10}" 2>/dev/null; fi ) &
        prof=$!
      fi
      java -XX:+UseParallelGC -Xmx512m -jar "$BENCH_JAR" --label "$label" --target "${TARGET[$label]}" --authority "$auth" \
        --cert-dir "$WORK/certs/client" --pid "measured=${MEASURED[$label]}" --pid "dest=$DEST_PID" --pid loadtool=self \
        --out "$OUT/$label-$mode-$r.json" --body "$BODY" "${win[@]}" "${args[@]}" >"$LOGS/$label-$mode-$r.txt" 2>&1 || cat "$LOGS/$label-$mode-$r.txt" >&2
      [[ -n $prof ]] && wait "$prof" || true
      [[ -n $sampler ]] && kill "$sampler" 2>/dev/null || true
      grep -E 'req/s|MiB/s|measured|p50|error' "$LOGS/$label-$mode-$r.txt" | head -5 | sed 's/^/    /' >&2
    done
  done
done
log "done: $OUT"
cleanup; trap - EXIT   # the waypoints write their JFR recordings when they exit
python3 - "$OUT" "$RATE" <<'PY' | tee "$OUT/summary.txt"
import json,glob,sys,statistics,os,re,subprocess,collections
out=sys.argv[1]
rows=collections.defaultdict(list)
for f in sorted(glob.glob(out+'/*-*-*.json')):
    m=re.match(r'(.+)-(fixed|sat|bulk)-(\d+)\.json',os.path.basename(f))
    if not m: continue
    d=json.load(open(f)); lab,mode,r=m.groups()
    p={x['label']:x for x in d['processes']}
    if mode=='bulk':
        gib=max(d['bulk']['bytes'],1)/2**30
        rows[(lab,mode)].append(dict(r=int(r),mibs=d['bulk']['mibPerSecond'],spg=p['measured']['cpuSeconds']/gib,
            dspg=p['dest']['cpuSeconds']/gib,lspg=p['loadtool']['cpuSeconds']/gib,other=d['otherVcpu'],
            err=sum(d['errors'].values()) if d['errors'] else 0,rss=p['measured']['rssKib']/1024,vcpu=p['measured']['vcpu']))
        continue
    rows[(lab,mode)].append(dict(r=int(r),rps=d['rps'],us=1e6*p['measured']['cpuSeconds']/max(d['requests'],1),
        vk=p['measured']['vcpuPerKrps'],p50=d['latencyMs']['p50'],p99=d['latencyMs']['p99'],other=d['otherVcpu'],err=sum(d['errors'].values()) if d['errors'] else 0,
        rss=p['measured']['rssKib']/1024, vcpu=p['measured']['vcpu']))
for (lab,mode),rs in sorted(rows.items(),key=lambda x:(x[0][1],x[0][0])):
    med=lambda k: statistics.median([x[k] for x in rs])
    if mode=='bulk':
        print(f"bulk  {lab:12} n={len(rs)} MiB/s={med('mibs'):6.0f} [{' '.join('%.0f'%x['mibs'] for x in rs)}] cpu_s/GiB={med('spg'):5.2f} [{' '.join('%.2f'%x['spg'] for x in rs)}] dest_s/GiB={med('dspg'):.2f} loadtool_s/GiB={med('lspg'):.2f} vcpu={med('vcpu'):.3f} rss={med('rss'):.0f} other={' '.join('%.2f'%x['other'] for x in rs)} err={sum(x['err'] for x in rs)}")
        continue
    print(f"{mode:5} {lab:12} n={len(rs)} rps={med('rps'):8.0f} cpu_us/req={med('us'):6.1f} [{' '.join('%.1f'%x['us'] for x in rs)}] vcpu={med('vcpu'):.3f} p50={med('p50'):.3f} p99={med('p99'):.2f} rss={med('rss'):.0f} other={' '.join('%.2f'%x['other'] for x in rs)} err={sum(x['err'] for x in rs)}")
# time to steady state from a cold start (MODES=warm, first in MODES and no PREWARM): CPU per request each second
for f in sorted(glob.glob(out+'/*-warm-*.cpu')):
    lab=os.path.basename(f)[:-4]
    pts=[tuple(map(float,l.split())) for l in open(f) if len(l.split())==2]
    us=[(b[1]-a[1])/1e3/((b[0]-a[0])*float(sys.argv[2])) for a,b in zip(pts,pts[1:]) if b[0]>a[0]]
    if len(us)<40: continue
    steady=statistics.median(us[-30:])
    med5=[statistics.median(us[i:i+5]) for i in range(len(us)-4)]
    t=next((i for i in range(len(med5)) if all(m<=1.10*steady for m in med5[i:])),len(med5))
    tl=json.load(open(f[:-4]+'.json')).get('timeline',[])
    stalls=[x['second'] for x in tl if x['second']>=t and x['maxLatencyMs']>5]
    per10=' '.join('%.0f'%statistics.median(us[i:i+10]) for i in range(0,len(us)-9,10))
    print(f"warm  {lab}: steady {steady:.1f} us/req (median of the last 30 s); within 10 % from second {t} on; "
          f"per 10 s: [{per10}]; seconds with a request over 5 ms after that: {len(stalls)} {stalls[:12]}")
for lab in sorted({os.path.basename(f).rsplit('-idle-',1)[0] for f in glob.glob(out+'/*-idle-*.us')}):
    v=[int(open(f).read()) for f in sorted(glob.glob(out+'/'+lab+'-idle-*.us'))]
    print(f"idle  {lab:12} CPU {statistics.median(v)/1000:.2f} ms per second [{' '.join('%.2f'%(x/1000) for x in v)}]")
# allocation per request from jfr files
for j in sorted(glob.glob(out+'/*.jfr')):
    lab=os.path.basename(j)[:-4]
    txt=subprocess.run(['jfr','print','--json','--events','jdk.ThreadAllocationStatistics',j],capture_output=True,text=True).stdout
    ev=json.loads(txt)['recording']['events']
    bytime=collections.defaultdict(int)
    for e in ev:
        v=e['values']; t=v['thread']['javaName'] if v.get('thread') else ''
        if t and t.startswith('hbone'): bytime[v['startTime'][:19]]+=v['allocated']
    ts=sorted(bytime); deltas=[bytime[b]-bytime[a] for a,b in zip(ts,ts[1:])]
    busy=[d for d in deltas if d>3e6]
    rate=float(sys.argv[2]) if len(sys.argv)>2 else 1000.0
    if busy: print(f"alloc {lab}: {statistics.median(busy)/rate/1000:.2f} KB per request on the event loops (median of {len(busy)} seconds under load; valid with MODES=fixed)")
PY
