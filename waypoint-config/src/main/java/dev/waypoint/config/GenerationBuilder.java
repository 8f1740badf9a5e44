package dev.waypoint.config;

import dev.waypoint.config.translate.ResourceKey;
import dev.waypoint.config.translate.ResourceTranslator;
import dev.waypoint.config.translate.TranslatedObject;
import dev.waypoint.config.translate.WireObject;
import dev.waypoint.config.yaml.ManifestFile;
import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.PartCompiler;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SnapshotPart;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.NamespacedName;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Builds one generation: manifest files → wire objects → {@link ResourceSet} → compiled
 * {@link ConfigSnapshot}. Shared by {@link SnapshotPublisher} and {@link ConfigValidator}, so that
 * {@code waypoint validate} reports exactly what {@code waypoint run} would (minus the fallback,
 * which needs a previous generation).
 *
 * <p>Last good config keeps serving:
 * <ol>
 *   <li>a file that no longer parses contributes the objects it had in the last generation in
 *       which it parsed; the parse error is still reported;</li>
 *   <li>an object rejected now whose identity was kept in the previous generation keeps that
 *       previous version, with a warning saying so; a brand-new broken object is just dropped.</li>
 * </ol>
 *
 * <h2>Threading</h2>
 * Stateless; each call runs on the caller's thread (the config executor).
 */
final class GenerationBuilder {
    private final NamespacedName waypoint;
    private final String trustDomain;
    private final List<PartCompiler<?>> compilers;

    GenerationBuilder(NamespacedName waypoint, String trustDomain, List<PartCompiler<?>> compilers) {
        this.waypoint = waypoint;
        this.trustDomain = trustDomain;
        List<PartCompiler<?>> guarded = new ArrayList<>(compilers.size());
        for (PartCompiler<?> c : compilers) {
            guarded.add(guard(c));
        }
        this.compilers = List.copyOf(guarded);
    }

    /**
     * The outcome of one build.
     *
     * @param snapshot the compiled generation, or null when a compiler failed
     * @param lastGood what the next generation may fall back to if this one is published
     * @param failure the compiler failure, or null
     */
    record Attempt(ConfigSnapshot snapshot, ResourceSet resources, Diagnostics diagnostics, LastGood lastGood,
                   CompilerFailure failure) {}

    /** A compiler threw (or returned null): a bug in that stage, reported as a problem. */
    static final class CompilerFailure extends RuntimeException {
        private static final long serialVersionUID = 1L;
        private final String part;

        CompilerFailure(SnapshotPart<?> part, Throwable cause) {
            super("compiler " + part.name() + ": threw " + cause, cause);
            this.part = part.name();
        }

        String part() {
            return part;
        }
    }

    Attempt build(long generation, List<ManifestFile> files, LastGood previous) {
        Diagnostics diagnostics = new Diagnostics();

        // (a) file level: a file that does not parse now serves its objects from the last time it did
        List<WireObject> wire = new ArrayList<>();
        Map<String, List<WireObject>> parsedFiles = new LinkedHashMap<>();
        for (ManifestFile file : files) {
            if (file.isParsed()) {
                wire.addAll(file.objects());
                parsedFiles.put(file.path(), file.objects());
                continue;
            }
            Diagnostics.Problem e = file.error();
            diagnostics.error(e.where(), e.kind(), e.name(), e.field(), e.message());
            List<WireObject> old = previous.files().get(file.path());
            if (old != null) {
                diagnostics.warning(new SourceRef(file.path(), 0), "-", null, "-",
                        "keeping the " + old.size() + " object(s) this file had when it last parsed");
                wire.addAll(old);
                parsedFiles.put(file.path(), old);
            }
        }

        List<TranslatedObject> translated = ResourceTranslator.translate(wire, diagnostics);

        // (b) object level: a rejected object keeps its previous good version, in its current place
        Set<ResourceKey> keptNow = new HashSet<>();
        for (TranslatedObject t : translated) {
            if (t.kept() && t.key() != null) {
                keptNow.add(t.key());
            }
        }
        List<TranslatedObject> kept = new ArrayList<>();
        Map<ResourceKey, TranslatedObject> keptByKey = new HashMap<>();
        for (TranslatedObject t : translated) {
            TranslatedObject use = t;
            if (t.rejected() && t.key() != null && !keptNow.contains(t.key()) && !keptByKey.containsKey(t.key())) {
                TranslatedObject old = previous.objects().get(t.key());
                if (old != null) {
                    ResourceKey k = t.key();
                    diagnostics.warning(t.source(), k.kind(), new NamespacedName(k.namespace(), k.name()), "-",
                            "rejected; the previous version (" + old.source() + ") is kept until this one is fixed");
                    use = old;
                }
            }
            if (use.kept()) {
                kept.add(use);
                if (use.key() != null) {
                    keptByKey.putIfAbsent(use.key(), use);
                }
            }
        }

        ResourceSet resources = ResourceTranslator.resourceSet(waypoint, trustDomain, kept);
        LastGood next = new LastGood(parsedFiles, keptByKey);
        try {
            return new Attempt(ConfigSnapshot.compile(generation, resources, compilers, diagnostics), resources,
                    diagnostics, next, null);
        } catch (CompilerFailure f) {
            diagnostics.error(SourceRef.NONE, "-", null, "-", f.getMessage());
            return new Attempt(null, resources, diagnostics, next, f);
        }
    }

    /**
     * Compiles an empty resource set, for a first generation whose real one a compiler could not
     * handle: the process must still have a snapshot.
     *
     * @throws CompilerFailure if a compiler cannot even compile nothing
     */
    ConfigSnapshot compileEmpty(long generation, Diagnostics diagnostics) {
        return ConfigSnapshot.compile(generation, ResourceSet.empty(waypoint, trustDomain), compilers, diagnostics);
    }

    private static <T> PartCompiler<T> guard(PartCompiler<T> compiler) {
        return new PartCompiler<>() {
            @Override
            public SnapshotPart<T> part() {
                return compiler.part();
            }

            @Override
            public T compile(ResourceSet resources, Diagnostics diagnostics) {
                T part;
                try {
                    part = compiler.compile(resources, diagnostics);
                } catch (RuntimeException e) {
                    throw new CompilerFailure(compiler.part(), e);
                }
                if (part == null) {
                    throw new CompilerFailure(compiler.part(), new NullPointerException("compile returned null"));
                }
                return part;
            }
        };
    }
}
