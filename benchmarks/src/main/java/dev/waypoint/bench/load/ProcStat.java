package dev.waypoint.bench.load;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * CPU time and memory of a process and its descendants (nghttpx runs its workers in a child
 * process), from Linux {@code /proc}: {@code utime + stime} (fields 14
 * and 15 of {@code /proc/PID/stat}, in clock ticks of {@code getconf CLK_TCK}) and {@code VmRSS} /
 * {@code VmHWM} of {@code /proc/PID/status}.
 *
 * @param cpuTicks user + system CPU time so far, in clock ticks
 * @param rssKib resident set size now
 * @param hwmKib peak resident set size
 * @param nanoTime when it was read ({@link System#nanoTime()})
 */
public record ProcStat(long cpuTicks, long rssKib, long hwmKib, long nanoTime) {

    /** A process to watch, with a label for the report ({@code waypoint=1234}). */
    public record Watched(String label, long pid) {
        /** Parses {@code label=PID} or {@code PID} (label {@code pid<PID>}); {@code self} is this process. */
        public static Watched parse(String text) {
            int eq = text.indexOf('=');
            String label = eq < 0 ? null : text.substring(0, eq);
            String pid = eq < 0 ? text : text.substring(eq + 1);
            long p = pid.equals("self") ? ProcessHandle.current().pid() : Long.parseLong(pid.trim());
            return new Watched(label != null ? label : pid.equals("self") ? "loadtool" : "pid" + p, p);
        }
    }

    private static final long CLK_TCK = clockTicks();

    /** Clock ticks per second ({@code getconf CLK_TCK}; 100 if that cannot be run). */
    public static long clockTicksPerSecond() {
        return CLK_TCK;
    }

    /** Reads {@code pid} and its descendants now, summed; null if the process is gone or /proc is unreadable. */
    public static ProcStat read(long pid) {
        ProcStat total = readOne(pid);
        if (total == null) {
            return null;
        }
        for (long child : ProcessHandle.of(pid).map(h -> h.descendants().mapToLong(ProcessHandle::pid).toArray())
                .orElse(new long[0])) {
            ProcStat c = readOne(child);
            if (c != null) {
                total = new ProcStat(total.cpuTicks + c.cpuTicks, total.rssKib + c.rssKib, total.hwmKib + c.hwmKib,
                        total.nanoTime);
            }
        }
        return total;
    }

    private static ProcStat readOne(long pid) {
        try {
            long now = System.nanoTime();
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"), StandardCharsets.US_ASCII);
            // the command name (field 2) is in parentheses and may hold spaces: split after the last ')'
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).trim().split(" ");
            // f[0] is field 3 (state); utime is field 14, stime field 15
            long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]);
            long rss = 0;
            long hwm = 0;
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"), StandardCharsets.US_ASCII)) {
                if (line.startsWith("VmRSS:")) {
                    rss = kib(line);
                } else if (line.startsWith("VmHWM:")) {
                    hwm = kib(line);
                }
            }
            return new ProcStat(ticks, rss, hwm, now);
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /**
     * CPU time of every process on the machine except {@code excluded} (and their descendants), per
     * PID, in clock ticks: {@code utime + stime}. Per-process accounting, the same as {@link #read}
     * (the machine-wide {@code cpu} line of {@code /proc/stat} is tick-sampled and under-counts
     * short bursts at low load on this kind of VM). Children's times ({@code cutime}) are left out:
     * they arrive all at once when a child is reaped, however long it ran before the window.
     */
    public static java.util.Map<Long, Long> otherProcessesTicks(java.util.Collection<Long> excluded) {
        java.util.Set<Long> skip = new java.util.HashSet<>();
        for (long pid : excluded) {
            skip.add(pid);
            ProcessHandle.of(pid).ifPresent(h -> h.descendants().forEach(d -> skip.add(d.pid())));
        }
        java.util.Map<Long, Long> ticks = new java.util.HashMap<>();
        java.io.File[] dirs = new java.io.File("/proc").listFiles((d, name) -> name.chars().allMatch(Character::isDigit));
        if (dirs == null) {
            return ticks;
        }
        for (java.io.File d : dirs) {
            long pid = Long.parseLong(d.getName());
            if (skip.contains(pid)) {
                continue;
            }
            try {
                String stat = Files.readString(d.toPath().resolve("stat"), StandardCharsets.US_ASCII);
                String[] f = stat.substring(stat.lastIndexOf(')') + 2).trim().split(" ");
                ticks.put(pid, Long.parseLong(f[11]) + Long.parseLong(f[12]));
            } catch (IOException | RuntimeException e) {
                // gone meanwhile
            }
        }
        return ticks;
    }

    /**
     * vCPU used by other processes between two {@link #otherProcessesTicks} readings: the growth of
     * each PID seen in both, plus all of a PID that appeared in between (it started meanwhile). A
     * lower bound: what a process used before it exited within the window is not seen.
     */
    public static double otherVcpu(java.util.Map<Long, Long> before, java.util.Map<Long, Long> after, double seconds) {
        long ticks = 0;
        for (java.util.Map.Entry<Long, Long> e : after.entrySet()) {
            Long b = before.get(e.getKey());
            ticks += b == null ? e.getValue() : Math.max(0, e.getValue() - b);
        }
        return ticks / (double) CLK_TCK / seconds;
    }

    /** CPU seconds used between {@code earlier} and this reading. */
    public double cpuSecondsSince(ProcStat earlier) {
        return (cpuTicks - earlier.cpuTicks) / (double) CLK_TCK;
    }

    private static long kib(String line) {
        String v = line.substring(line.indexOf(':') + 1).trim();
        int sp = v.indexOf(' ');
        return Long.parseLong(sp < 0 ? v : v.substring(0, sp));
    }

    private static long clockTicks() {
        try {
            Process p = new ProcessBuilder("getconf", "CLK_TCK").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).trim();
            p.waitFor();
            long v = Long.parseLong(out);
            return v > 0 ? v : 100;
        } catch (IOException | RuntimeException e) {
            return 100;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 100;
        }
    }
}
