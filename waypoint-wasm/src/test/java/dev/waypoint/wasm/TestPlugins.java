package dev.waypoint.wasm;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Builds the test plugins from their sources at test time, with real toolchains: Debian's clang
 * ({@code --target=wasm32-wasi}, lld, wasi-libc) for the C plugins written against the raw ABI,
 * and AssemblyScript 0.14 with {@code @solo-io/proxy-runtime} 0.1.8 (a proxy-wasm SDK) for the
 * AssemblyScript ones. {@code .ci/run} installs both (the npm packages into
 * {@code $WASM_NPM_DIR}, default {@code /tmp/waypoint-wasm-npm}). Without a toolchain the test is
 * skipped with the reason, unless {@code CI} is set: then it fails.
 */
public final class TestPlugins {
    private static final Path SOURCES = locate("src/test/plugins");
    private static final Map<String, Path> BUILT = new ConcurrentHashMap<>();

    private TestPlugins() {}

    private static Path locate(String rel) {
        for (Path p : List.of(Path.of(rel), Path.of("waypoint-wasm").resolve(rel))) {
            if (Files.isDirectory(p)) {
                return p.toAbsolutePath();
            }
        }
        throw new IllegalStateException("test plugin sources not found: " + rel);
    }

    /** The directory npm installed the AssemblyScript toolchain into. */
    static Path npmDir() {
        String d = System.getenv("WASM_NPM_DIR");
        return Path.of(d != null ? d : "/tmp/waypoint-wasm-npm");
    }

    /** {@code src/test/plugins/c/<name>.c} built with clang; {@code defines} such as {@code ABI_0_2_0}. */
    public static Path c(String name, String... defines) {
        String key = "c:" + name + ":" + String.join(",", defines);
        return BUILT.computeIfAbsent(key, k -> {
            Path clang = tool("/usr/bin/clang", "clang");
            Path out = outDir().resolve(name + (defines.length == 0 ? "" : "-" + String.join("-", defines)) + ".wasm");
            List<String> cmd = new ArrayList<>(List.of(clang.toString(), "--target=wasm32-wasi", "-O2",
                    "-mexec-model=reactor", "-Wl,--export=malloc", "-o", out.toString(),
                    SOURCES.resolve("c/" + name + ".c").toString()));
            for (String d : defines) {
                cmd.add(2, "-D" + d);
            }
            run(cmd, "clang (apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32)");
            return out;
        });
    }

    /** {@code src/test/plugins/as/<name>.ts} built with AssemblyScript against @solo-io/proxy-runtime. */
    public static Path assemblyScript(String name) {
        return BUILT.computeIfAbsent("as:" + name, k -> {
            Path asc = npmDir().resolve("node_modules/.bin/asc");
            if (!Files.isExecutable(asc)) {
                missing("AssemblyScript (npm install --prefix " + npmDir() + " assemblyscript@0.14 @solo-io/proxy-runtime@0.1.8)");
            }
            Path out = outDir().resolve(name + "-as.wasm");
            Path src = SOURCES.resolve("as/" + name + ".ts");
            // the SDK's own build flags (proxy-runtime README): the reactor ABI, its allocator exported
            run(List.of(asc.toString(), src.toString(), "-b", out.toString(), "--use", "abort=abort_proc_exit",
                    "-O3", "--path", npmDir().resolve("node_modules").toString()), "AssemblyScript");
            return out;
        });
    }

    private static Path outDir() {
        Path d = Path.of("target/test-plugins").toAbsolutePath();
        try {
            Files.createDirectories(d);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return d;
    }

    private static Path tool(String path, String name) {
        Path p = Path.of(path);
        if (Files.isExecutable(p)) {
            return p;
        }
        missing(name);
        return p;
    }

    private static void missing(String what) {
        String msg = "toolchain missing: " + what + "; .ci/run installs it";
        if (System.getenv("CI") != null) {
            fail(msg);
        }
        assumeTrue(false, msg);
    }

    private static void run(List<String> cmd, String what) {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).directory(npmDir().toFile().isDirectory()
                    ? npmDir().toFile() : null).start();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(180, TimeUnit.SECONDS) || p.exitValue() != 0) {
                fail(what + " failed: " + String.join(" ", cmd) + "\n" + new String(out, StandardCharsets.UTF_8));
            }
        } catch (IOException e) {
            missing(what + " (" + e.getMessage() + ")");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
