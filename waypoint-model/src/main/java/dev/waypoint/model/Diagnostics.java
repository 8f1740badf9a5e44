package dev.waypoint.model;

import dev.waypoint.model.mesh.NamespacedName;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Problems found while translating and compiling one generation of config. A resource with an
 * {@link Severity#ERROR} is rejected and never reaches the data path; warnings are reported and
 * the resource is kept; notes tell about a valid resource that does not do what its author may
 * expect here (an AuthorizationPolicy with a {@code selector}, which a waypoint never enforces).
 *
 * <h2>Threading</h2>
 * Filled by one config thread while a generation is built, then read through {@link #problems()}
 * (an immutable copy). Not thread-safe while being filled.
 */
public final class Diagnostics {

    /** How bad a problem is. */
    public enum Severity { ERROR, WARNING, NOTE }

    /**
     * One problem, rendered as {@code file:line: Kind namespace/name: field: message}, or {@code file:line: message} for a file that does not parse (no object to name).
     *
     * @param where manifest location
     * @param kind Kubernetes kind ({@code Service}) or {@code -} when unknown
     * @param name object name, or {@code null} when it has none
     * @param field JSON path of the offending field ({@code spec.ports[0].port}), or {@code -}
     * @param message what is wrong, Armeria-style: {@code "port: 0 (expected: 1-65535)"}
     */
    public record Problem(Severity severity, SourceRef where, String kind, NamespacedName name, String field, String message) {
        public Problem {
            Objects.requireNonNull(severity, "severity");
            Objects.requireNonNull(where, "where");
            Objects.requireNonNull(kind, "kind");
            Objects.requireNonNull(field, "field");
            Objects.requireNonNull(message, "message");
        }

        @Override
        public String toString() {
            String n = name == null ? "-" : name.toString();
            String sev = switch (severity) {
                case ERROR -> "";
                case WARNING -> "warning: ";
                case NOTE -> "note: ";
            };
            if (name == null && "-".equals(kind) && "-".equals(field)) {
                return where + ": " + sev + message; // a file's own problem (it does not parse): no object to name
            }
            return where + ": " + sev + kind + " " + n + ": " + field + ": " + message;
        }
    }

    private final List<Problem> problems = new ArrayList<>();

    /** Records an error: the resource it concerns must be dropped by the caller. */
    public void error(SourceRef where, String kind, NamespacedName name, String field, String message) {
        problems.add(new Problem(Severity.ERROR, where, kind, name, field, message));
    }

    /** Records a warning: the resource is kept. */
    public void warning(SourceRef where, String kind, NamespacedName name, String field, String message) {
        problems.add(new Problem(Severity.WARNING, where, kind, name, field, message));
    }

    /** Records a note: the resource is valid and kept, but may not do what its author expects. */
    public void note(SourceRef where, String kind, NamespacedName name, String field, String message) {
        problems.add(new Problem(Severity.NOTE, where, kind, name, field, message));
    }

    /** Appends every problem of {@code other}. */
    public void addAll(Diagnostics other) {
        problems.addAll(other.problems);
    }

    /** Immutable copy of the problems so far, in the order found. */
    public List<Problem> problems() {
        return List.copyOf(problems);
    }

    /** True when at least one error was recorded. */
    public boolean hasErrors() {
        for (Problem p : problems) {
            if (p.severity() == Severity.ERROR) {
                return true;
            }
        }
        return false;
    }
}
