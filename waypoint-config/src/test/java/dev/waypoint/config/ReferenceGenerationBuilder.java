package dev.waypoint.config;

import com.fasterxml.jackson.databind.JsonNode;
import dev.waypoint.config.translate.MeshConfigTranslator;
import dev.waypoint.config.translate.ResourceKey;
import dev.waypoint.config.translate.ResourceTranslator;
import dev.waypoint.config.translate.TranslatedObject;
import dev.waypoint.config.translate.WireObject;
import dev.waypoint.config.yaml.DirectoryContent;
import dev.waypoint.config.yaml.ManifestFile;
import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.PartCompiler;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SnapshotPart;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.MeshConfigSpec;
import dev.waypoint.model.mesh.NamespacedName;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The generation builder as it was before issue 17 (every file parsed first, every tree held until
 * the generation is built, the last good files kept as trees), kept only so that tests can check
 * the streaming {@link GenerationBuilder} against it. Builds one generation: manifest files → wire objects → {@link ResourceSet} → compiled
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
final class ReferenceGenerationBuilder {
    private final NamespacedName waypoint;
    private final String trustDomain;
    private final List<PartCompiler<?>> compilers;
    private final String rootNamespace;

    ReferenceGenerationBuilder(NamespacedName waypoint, String trustDomain, List<PartCompiler<?>> compilers) {
        this(waypoint, trustDomain, compilers, dev.waypoint.config.yaml.YamlDirectorySource.DEFAULT_ROOT_NAMESPACE);
    }

    /**
     * @param rootNamespace where the {@code istio} ConfigMap holding the mesh config is looked for
     */
    ReferenceGenerationBuilder(NamespacedName waypoint, String trustDomain, List<PartCompiler<?>> compilers,
                      String rootNamespace) {
        this.rootNamespace = rootNamespace;
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
    /** What {@code LastGood} was: the last good files as trees. */
    record Previous(Map<String, List<WireObject>> files, Map<ResourceKey, TranslatedObject> objects,
                    MeshConfigSpec meshConfig) {
        static final Previous NONE = new Previous(Map.of(), Map.of(), MeshConfigSpec.DEFAULT);
    }

    record Attempt(ConfigSnapshot snapshot, ResourceSet resources, Diagnostics diagnostics, Previous lastGood,
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

    Attempt build(long generation, List<ManifestFile> files, Previous previous) {
        return build(generation, files, null, previous);
    }

    /**
     * @param meshFile the {@code --mesh-config} file as read, or null when the flag is not given
     */
    Attempt build(long generation, List<ManifestFile> files, DirectoryContent.MeshConfigFile meshFile,
                  Previous previous) {
        Diagnostics diagnostics = new Diagnostics();

        // (a) file level: a file that does not parse now serves its objects from the last time it did
        List<WireObject> wire = new ArrayList<>();
        Map<String, List<WireObject>> parsedFiles = new LinkedHashMap<>();
        Map<String, List<WireObject>> fallbacks = new LinkedHashMap<>();
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
                fallbacks.put(file.path(), old);
                parsedFiles.put(file.path(), old);
            }
        }
        // the fallback objects after every parsed file, minus those a parsed file defines now
        Set<ResourceKey> definedNow = new HashSet<>();
        for (WireObject o : wire) {
            ResourceKey k = ResourceTranslator.identity(o.tree());
            if (k != null) {
                definedNow.add(k);
            }
        }
        for (Map.Entry<String, List<WireObject>> f : fallbacks.entrySet()) {
            List<ResourceKey> superseded = new ArrayList<>();
            for (WireObject o : f.getValue()) {
                ResourceKey k = ResourceTranslator.identity(o.tree());
                if (k != null && definedNow.contains(k)) {
                    superseded.add(k);
                } else {
                    wire.add(o);
                }
            }
            diagnostics.warning(new SourceRef(f.getKey(), 0), "-", null, "-",
                    GenerationBuilder.keeping(f.getValue().size(), superseded));
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

        MeshConfigSpec mesh = meshConfig(meshFile, wire, previous, diagnostics);
        ResourceSet resources = ResourceTranslator.resourceSet(waypoint, trustDomain, kept).toBuilder()
                .meshConfig(mesh).build();
        Previous next = new Previous(parsedFiles, keptByKey, mesh);
        try {
            return new Attempt(ConfigSnapshot.compile(generation, resources, compilers, diagnostics), resources,
                    diagnostics, next, null);
        } catch (CompilerFailure f) {
            diagnostics.error(SourceRef.NONE, "-", null, "-", f.getMessage());
            return new Attempt(null, resources, diagnostics, next, f);
        }
    }

    /**
     * The mesh config of this generation: the {@code --mesh-config} file when given (it wins),
     * else the {@code mesh} key of the ConfigMap {@code istio} in the root namespace, else none
     * ({@link MeshConfigSpec#DEFAULT}). A mesh config with an error is reported and the previous
     * generation's is kept, as for any other object.
     */
    private MeshConfigSpec meshConfig(DirectoryContent.MeshConfigFile file, List<WireObject> wire, Previous previous,
                                      Diagnostics diagnostics) {
        WireObject configMap = null;
        for (WireObject o : wire) {
            JsonNode t = o.tree();
            if (t.path("kind").asText().equals("ConfigMap") && t.path("apiVersion").asText().equals("v1")
                    && t.path("metadata").path("name").asText().equals("istio")
                    && t.path("metadata").path("namespace").asText("default").equals(rootNamespace)) {
                configMap = o;
                break;
            }
        }
        NamespacedName cmName = new NamespacedName(rootNamespace, "istio");
        MeshConfigSpec parsed;
        SourceRef where;
        if (file != null) {
            where = new SourceRef(file.path(), 0);
            if (configMap != null) {
                diagnostics.note(configMap.source(), "ConfigMap", cmName, "data.mesh",
                        "not read: --mesh-config " + file.path() + " is given, and wins");
            }
            if (file.error() != null) {
                diagnostics.error(where, "MeshConfig", null, "-", file.error());
                parsed = null;
            } else {
                parsed = MeshConfigTranslator.parse(file.text(), where, null, "", diagnostics);
            }
        } else if (configMap != null) {
            where = configMap.source();
            JsonNode mesh = configMap.tree().path("data").get("mesh");
            if (mesh == null || mesh.isNull()) {
                return MeshConfigSpec.DEFAULT; // Istio reads a ConfigMap without the key as the defaults
            }
            if (!mesh.isTextual()) {
                diagnostics.error(where, "ConfigMap", cmName, "data.mesh",
                        "mesh: " + mesh + " (expected: a string holding MeshConfig YAML)");
                parsed = null;
            } else {
                parsed = MeshConfigTranslator.parse(mesh.textValue(), where, cmName, "data.mesh", diagnostics);
            }
        } else {
            return MeshConfigSpec.DEFAULT;
        }
        if (parsed != null) {
            if (parsed.trustDomain() != null && !parsed.trustDomain().equals(trustDomain)) {
                diagnostics.note(where, "MeshConfig", file == null ? cmName : null, "trustDomain",
                        "trustDomain " + parsed.trustDomain() + " differs from --trust-domain " + trustDomain
                                + ": the flag names this waypoint's own identity; policies accept both");
            }
            return parsed;
        }
        MeshConfigSpec old = previous.meshConfig();
        diagnostics.warning(where, "MeshConfig", file == null ? cmName : null, "-", old == MeshConfigSpec.DEFAULT
                ? "rejected; running with no mesh config until it is fixed"
                : "rejected; the previous mesh config (" + old.source() + ") is kept until this one is fixed");
        return old;
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
