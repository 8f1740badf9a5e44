package dev.waypoint.bench.load;

import dev.waypoint.transport.EventLoops;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.ssl.SslContext;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.HdrHistogram.Histogram;

/**
 * Runs one load: opens the connections and tunnels, drives requests (fixed rate or closed loop)
 * or the bulk stream, reads /proc at the edges of the measured window, stops everything and
 * returns the {@link Report}. Every run stops by itself: after warmup + duration (or the request
 * limit) it closes its connections and waits at most a few seconds for them.
 *
 * <h2>Timing</h2>
 * At a fixed rate, request {@code j} of tunnel {@code k} (of {@code K}) is due at
 * {@code start + (k + j·K) / rate}; its latency is measured from that due time, not from when it
 * was really sent, so a stall makes every request queued behind it slow (no coordinated
 * omission). A tunnel carries one request at a time: a late response delays the next send, and the
 * delay is counted. Closed loop measures from the actual send. Only responses completing inside
 * the window are recorded.
 */
public final class LoadRunner {
    final LoadSpec spec;
    final SslContext tls;
    /** Due time of the first request (fixed rate). */
    final long scheduleStart;
    final long measureStart;
    /** Set when the window closes; nothing completing after it is recorded. */
    volatile long measureEnd = Long.MAX_VALUE;
    volatile boolean stopping;
    final LongAdder recorded = new LongAdder();
    final LongAdder inFlight = new LongAdder();

    private LoadRunner(LoadSpec spec, SslContext tls, long now) {
        this.spec = spec;
        this.tls = tls;
        this.scheduleStart = now;
        this.measureStart = now + spec.warmup().toNanos();
    }

    /** Whole seconds since the run started. */
    int second(long nanoTime) {
        return (int) ((nanoTime - scheduleStart) / 1_000_000_000L);
    }

    /** Timeline length: warmup + duration + the drain. */
    int timelineSeconds() {
        return (int) (spec.warmup().toSeconds() + spec.duration().toSeconds() + 5);
    }

    boolean inWindow(long nanoTime) {
        return nanoTime >= measureStart && nanoTime < measureEnd;
    }

    /** Due time of request {@code j} of the tunnel with global index {@code k}. */
    long dueTime(int k, long j) {
        double perSecond = spec.rate();
        return scheduleStart + (long) ((k + (double) j * spec.totalTunnels()) * 1e9 / perSecond);
    }

    /** Runs {@code spec} with client TLS context {@code tls} (mTLS, ALPN h2). Blocks until done. */
    public static Report run(LoadSpec spec, SslContext tls) throws InterruptedException {
        EventLoopGroup group = EventLoops.newGroup(spec.threads(), "load");
        try {
            return new LoadRunner(spec, tls, System.nanoTime()).execute(group);
        } finally {
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS);
        }
    }

    private Report execute(EventLoopGroup group) throws InterruptedException {
        int connections = spec.bulk() != null ? 1 : spec.connections();
        int tunnels = spec.bulk() != null ? 1 : spec.tunnels();
        List<ConnectionSlot> slots = new ArrayList<>();
        for (int i = 0; i < connections; i++) {
            slots.add(new ConnectionSlot(this, group.next(), i, tunnels));
        }
        slots.forEach(ConnectionSlot::start);

        sleepUntil(measureStart);
        List<Long> watchedPids = new ArrayList<>();
        spec.pids().forEach(w -> watchedPids.add(w.pid()));
        watchedPids.add(ProcessHandle.current().pid());
        Map<Long, Long> othersBefore = ProcStat.otherProcessesTicks(watchedPids);
        List<ProcStat> before = new ArrayList<>();
        for (ProcStat.Watched w : spec.pids()) {
            before.add(ProcStat.read(w.pid()));
        }
        long plannedEnd = measureStart + spec.duration().toNanos();
        while (true) {
            long now = System.nanoTime();
            if (now >= plannedEnd || (spec.maxRequests() > 0 && recorded.sum() >= spec.maxRequests())) {
                break;
            }
            Thread.sleep(Math.max(1, Math.min(20, TimeUnit.NANOSECONDS.toMillis(plannedEnd - now))));
        }
        long end = System.nanoTime();
        measureEnd = end;
        List<ProcStat> after = new ArrayList<>();
        for (ProcStat.Watched w : spec.pids()) {
            after.add(ProcStat.read(w.pid()));
        }
        Map<Long, Long> othersAfter = ProcStat.otherProcessesTicks(watchedPids);
        stopping = true;
        // let requests in flight finish (they are not recorded any more), then close
        long drainUntil = System.nanoTime() + Math.min(TimeUnit.SECONDS.toNanos(2), spec.requestTimeout().toNanos());
        while (inFlight.sum() > 0 && System.nanoTime() < drainUntil) {
            Thread.sleep(5);
        }
        CountDownLatch closed = new CountDownLatch(slots.size());
        for (ConnectionSlot s : slots) {
            s.loop.execute(() -> {
                try {
                    s.close();
                } finally {
                    closed.countDown();
                }
            });
        }
        closed.await(5, TimeUnit.SECONDS);
        // the loops' last writes to the slots happen-before this read: each close ran on its loop
        // and counted the latch down afterwards
        Stats total = new Stats(timelineSeconds());
        long incomplete = 0;
        for (ConnectionSlot s : slots) {
            s.stats.addTo(total);
            incomplete += s.incomplete;
        }
        Double otherVcpu = othersBefore.isEmpty() ? null
                : ProcStat.otherVcpu(othersBefore, othersAfter, (end - measureStart) / 1e9);
        return report(total, incomplete, (end - measureStart) / 1e9, before, after, otherVcpu);
    }

    private Report report(Stats total, long incomplete, double window, List<ProcStat> before, List<ProcStat> after,
                          Double otherVcpu) {
        Histogram h = total.latencyUs;
        Report.Latency latency = new Report.Latency(h.getTotalCount(), ms(h.getValueAtPercentile(50)),
                ms(h.getValueAtPercentile(90)), ms(h.getValueAtPercentile(99)), ms(h.getValueAtPercentile(99.9)),
                ms(h.getMaxValue()), h.getTotalCount() == 0 ? 0 : h.getMean() / 1000.0);
        double rps = total.ok / window;
        List<Report.Proc> procs = new ArrayList<>();
        for (int i = 0; i < spec.pids().size(); i++) {
            ProcStat.Watched w = spec.pids().get(i);
            ProcStat a = before.get(i);
            ProcStat b = after.get(i);
            if (a == null || b == null) {
                procs.add(new Report.Proc(w.label(), w.pid(), -1, -1, null, -1, -1));
                continue;
            }
            double cpu = b.cpuSecondsSince(a);
            double seconds = (b.nanoTime() - a.nanoTime()) / 1e9;
            double vcpu = cpu / seconds;
            Double perKrps = spec.bulk() == null && rps > 0 ? vcpu / (rps / 1000.0) : null;
            procs.add(new Report.Proc(w.label(), w.pid(), round(cpu, 3), round(vcpu, 4),
                    perKrps == null ? null : round(perKrps, 4), b.rssKib(), b.hwmKib()));
        }
        Report.Bulk bulk = null;
        if (spec.bulk() != null) {
            bulk = new Report.Bulk(spec.bulk().name().toLowerCase(java.util.Locale.ROOT), total.bytes,
                    round(total.bytes / window / (1 << 20), 1));
        }
        Map<String, Long> errors = new TreeMap<>(total.errors);
        List<Report.Second> timeline = new ArrayList<>();
        long lastSecond = (long) Math.ceil((measureStart - scheduleStart) / 1e9 + window);
        for (int s = 0; s < total.perSecondOk.length && s <= lastSecond; s++) {
            timeline.add(new Report.Second(s, total.perSecondOk[s], total.perSecondMaxUs[s] / 1000.0));
        }
        String mode = spec.bulk() != null ? "bulk" : spec.rate() > 0 ? "fixed" : "closed";
        return new Report(spec.label(), mode, spec.target().getHostString() + ":" + spec.target().getPort(),
                spec.authority(), spec.bulk() != null ? "tcp" : spec.h2c() ? "h2c" : "http/1.1",
                spec.bulk() != null ? 1 : spec.connections(), spec.bulk() != null ? 1 : spec.tunnels(), spec.rate(),
                spec.bodyBytes(), spec.warmup().toMillis() / 1000.0, round(window, 3), total.ok, round(rps, 1), latency,
                errors, total.errorsOutsideWindow, incomplete, total.tunnelsOpened, bulk, procs, otherVcpu == null ? null : round(otherVcpu, 3), timeline);
    }

    private static double ms(long micros) {
        return micros / 1000.0;
    }

    private static double round(double v, int digits) {
        double f = Math.pow(10, digits);
        return Math.round(v * f) / f;
    }

    private static void sleepUntil(long nanoTime) throws InterruptedException {
        long left;
        while ((left = nanoTime - System.nanoTime()) > 0) {
            Thread.sleep(Math.max(1, Math.min(100, TimeUnit.NANOSECONDS.toMillis(left))));
        }
    }
}
