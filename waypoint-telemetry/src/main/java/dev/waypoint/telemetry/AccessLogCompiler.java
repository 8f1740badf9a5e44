package dev.waypoint.telemetry;

import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.PartCompiler;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SnapshotPart;
import dev.waypoint.model.mesh.ExtensionProviderSpec;
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
 * is an error and there is no access log for that generation. Each {@code envoyFileAccessLog}
 * extension provider gets its own file and format ({@link FileLogProviders}), written where a
 * Telemetry names it.
 */
public final class AccessLogCompiler implements PartCompiler<AccessLogSettings> {
    private final AccessLogFiles files;
    private final String flagPath;
    /** Per {@code envoyFileAccessLog} provider, its last version that compiled (config thread only). */
    private final java.util.Map<String, AccessLogSettings.Provider> lastGood = new java.util.HashMap<>();

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
        java.util.Map<String, AccessLogSettings.Provider> providers = providers(mesh, diagnostics);
        try {
            return new AccessLogSettings(files.open(path), path, format, telemetryOnly, providers);
        } catch (IOException e) {
            // named where the path came from: the mesh config's field, else the flag
            diagnostics.error(mesh.source(), "MeshConfig", null,
                    mesh.accessLogFile() != null ? "accessLogFile" : "accessLogFile (unset; the path is --access-log's)",
                    "cannot open " + path + ": " + e.getMessage() + "; no access log");
            return AccessLogSettings.OFF;
        }
    }

    /**
     * The mesh config's {@code envoyFileAccessLog} providers (not one named {@code envoy}: that is
     * Istio's built-in one), each with its own file opened. A format that does not compile or a
     * file that cannot be opened is an error naming the provider and the field; that provider's
     * last good version keeps serving (none: it writes nothing).
     */
    private java.util.Map<String, AccessLogSettings.Provider> providers(MeshConfigSpec mesh, Diagnostics diagnostics) {
        java.util.Map<String, AccessLogSettings.Provider> out = new java.util.HashMap<>();
        for (var spec : mesh.extensionProviders()) {
            if (!(spec instanceof ExtensionProviderSpec.EnvoyFileAccessLog p) || p.name().equals("envoy")) {
                continue;
            }
            AccessLogSettings.Provider last = lastGood.get(p.name());
            String note = last == null ? "; this provider writes no access log"
                    : "; its last good version (" + last.path() + ") keeps serving";
            try {
                FileLogProviders.Resolved r = FileLogProviders.resolve(p);
                AccessLogSettings.Provider ok = new AccessLogSettings.Provider(files.open(r.path()), r.path(), r.format());
                lastGood.put(p.name(), ok);
                out.put(p.name(), ok);
            } catch (FileLogProviders.BadFormat e) {
                diagnostics.error(mesh.source(), "MeshConfig", null, e.field(), e.reason() + note);
                if (last != null) {
                    out.put(p.name(), last);
                }
            } catch (IOException e) {
                diagnostics.error(mesh.source(), "MeshConfig", null,
                        "extensionProviders[" + p.name() + "].envoyFileAccessLog.path",
                        "cannot open " + p.path() + ": " + e.getMessage() + note);
                if (last != null) {
                    out.put(p.name(), last);
                }
            }
        }
        return out;
    }
}
