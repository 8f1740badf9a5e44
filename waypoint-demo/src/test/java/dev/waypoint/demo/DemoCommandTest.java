package dev.waypoint.demo;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class DemoCommandTest {
    @Test
    void helpListsTheDemoOptions() {
        StringWriter out = new StringWriter();
        CommandLine cl = new CommandLine(new DemoCommand());
        cl.setOut(new PrintWriter(out, true));
        int exit = cl.execute("--help");
        assertThat(exit).isZero();
        assertThat(out.toString()).startsWith("Usage: waypoint-demo")
                .contains("--config-dir=DIR", "--work-dir=DIR", "--listen=HOST:PORT", "--hbone-port=PORT",
                        "--help", "--version", "default: 127.0.0.1:15008");
    }

    @Test
    void unknownOptionIsAUsageError() {
        StringWriter err = new StringWriter();
        CommandLine cl = new CommandLine(new DemoCommand());
        cl.setErr(new PrintWriter(err, true));
        assertThat(cl.execute("--bogus")).isEqualTo(2);
        assertThat(err.toString()).contains("Unknown option: '--bogus'");
    }

    @Test
    void theDemoManifestsAreBundled() throws Exception {
        for (String f : DemoCommand.FILES) {
            try (InputStream in = DemoCommand.class.getResourceAsStream("/demo/" + f)) {
                assertThat(in).as(f).isNotNull();
                assertThat(in.readAllBytes()).as(f).isNotEmpty();
            }
        }
    }

    @Test
    void theBundledDemoPrintsItsCommentedCommands() {
        assertThat(DemoCommand.tryLines(true, List.of(new InetSocketAddress("127.99.0.1", 8080))))
                .contains("curl -s http://127.10.0.10:9080/          # reviews", "no_healthy_upstream",
                        "curl -s http://127.0.0.1:15000/config_dump")
                .doesNotContain("127.99.0.1");
    }

    @Test
    void ownManifestsGetOneCurlPerServiceAddress() {
        String lines = DemoCommand.tryLines(false, List.of(new InetSocketAddress("127.20.0.2", 9080),
                new InetSocketAddress("127.20.0.1", 80), new InetSocketAddress("fd00::1", 8080)));
        assertThat(lines).contains("curl -s http://[fd00:0:0:0:0:0:0:1]:8080/");
        assertThat(lines.lines().filter(l -> l.startsWith("curl -s http://127.20."))).containsExactly(
                "curl -s http://127.20.0.1/", "curl -s http://127.20.0.2:9080/");
        assertThat(lines).doesNotContain("127.10.0.10", "reviews").contains("/healthz/ready");
    }

    @Test
    void ownManifestsWithoutServicesSaySo() {
        assertThat(DemoCommand.tryLines(false, List.of())).contains("no Service VIP in the manifests")
                .doesNotContain("127.10.");
    }

    @Test
    void theTempWorkDirIsRemovedWhole(@TempDir Path tmp) throws Exception {
        Path work = Files.createDirectories(tmp.resolve("waypoint-demo123/waypoint-certs"));
        Files.writeString(work.resolve("key.pem"), "k");
        Files.writeString(tmp.resolve("waypoint-demo123/manifests.yaml"), "m");
        DemoCommand.deleteQuietly(tmp.resolve("waypoint-demo123"));
        assertThat(tmp.resolve("waypoint-demo123")).doesNotExist();
        assertThat(tmp).exists();
    }
}
