package dev.waypoint.demo;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
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
}
