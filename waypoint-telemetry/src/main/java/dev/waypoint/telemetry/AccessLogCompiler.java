package dev.waypoint.telemetry;

import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.PartCompiler;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SnapshotPart;
import dev.waypoint.model.mesh.MeshConfigSpec;
import java.io.IOException;

/**
 * Compiles the access log of a snapshot from the mesh config, as Istio configures Envoy's:
 * <ul>
 *   <li>{@code accessLogFile} (Istio: empty means no access log); when the mesh config does not
 *       set it, the {@code --access-log} flag's file (or none);</li>
 *   <li>{@code accessLogEncoding} TEXT or JSON;</li>
 *   <li>{@code accessLogFormat}: an Envoy format string (TEXT), a JSON object of
 *       {@code key: "%OPERATOR%"} (JSON); unset: Istio's default of that encoding.</li>
 * </ul>
 * A format that does not compile is an error on the mesh config's {@code accessLogFormat}, and
 * Istio's default format is used instead (the log keeps working). With neither, a Telemetry whose
 * {@code accessLogging} is not all {@code disabled} opens standard output (Istio's {@code envoy}
 * provider) for the requests that Telemetry applies to. A file that cannot be opened
 * is an error and there is no access log for that generation.
 */
public final class AccessLogCompiler implements PartCompiler<AccessLogSettings> {
    private final AccessLogFiles files;
    private final String flagPath;

    /**
     * @param flagPath the {@code --access-log} file ({@code -} for standard output), or null:
     *        used when the mesh config sets no {@code accessLogFile}
     */
    public AccessLogCompiler(AccessLogFiles files, String flagPath) {
        this.files = files;
        this.flagPath = flagPath;
    }

    @Override
    public SnapshotPart<AccessLogSettings> part() {
        return AccessLogSettings.PART;
    }

    @Override
    public AccessLogSettings compile(ResourceSet resources, Diagnostics diagnostics) {
        MeshConfigSpec mesh = resources.meshConfig();
        String path = mesh.accessLogFile() != null ? mesh.accessLogFile() : flagPath;
        // Istio's built-in `envoy` provider writes to standard output: a Telemetry that asks for
        // access logs gets them there even when the mesh config names no file
        boolean telemetryOnly = false;
        if (path == null && resources.telemetries().stream().anyMatch(t -> t.accessLogging().stream()
                .anyMatch(l -> !Boolean.TRUE.equals(l.disabled())))) {
            path = "/dev/stdout";
            telemetryOnly = true;
        }
        if (path == null) {
            return AccessLogSettings.OFF;
        }
        boolean json = mesh.accessLogEncoding() == MeshConfigSpec.AccessLogEncoding.JSON;
        AccessLogFormat format = json ? AccessLogFormat.ISTIO_JSON : AccessLogFormat.ISTIO_TEXT;
        if (mesh.accessLogFormat() != null) {
            try {
                format = json ? AccessLogFormat.jsonObject(mesh.accessLogFormat())
                        : AccessLogFormat.text(mesh.accessLogFormat());
            } catch (IllegalArgumentException e) {
                diagnostics.error(mesh.source(), "MeshConfig", null, "accessLogFormat",
                        e.getMessage() + "; Istio's default " + (json ? "JSON" : "TEXT") + " format is used");
            }
        }
        try {
            return new AccessLogSettings(files.open(path), path, format, telemetryOnly);
        } catch (IOException e) {
            diagnostics.error(mesh.source(), "MeshConfig", null, "accessLogFile",
                    "cannot open " + path + ": " + e.getMessage() + "; no access log");
            return AccessLogSettings.OFF;
        }
    }
}
