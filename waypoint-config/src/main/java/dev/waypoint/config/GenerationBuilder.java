package dev.waypoint.config;

import com.fasterxml.jackson.databind.JsonNode;
import dev.waypoint.config.translate.MeshConfigTranslator;
import dev.waypoint.config.translate.ResourceKey;
import dev.waypoint.config.translate.ResourceTranslator;
import dev.waypoint.config.translate.TranslatedObject;
import dev.waypoint.config.translate.WireObject;
import dev.waypoint.config.yaml.DirectoryContent;
import dev.waypoint.config.yaml.Manifest;
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
 * Builds one generation: manifest files → wire objects → {@link ResourceSet} → compiled
 * {@link ConfigSnapshot}. Shared by {@link SnapshotPublisher} and {@link ConfigValidator}, so that
 * {@code waypoint validate} reports exactly what {@code waypoint run} would (minus the fallback,
 * which needs a previous generation).
 *
 * <p>Files are parsed and translated one at a time, so that only one file's Jackson trees are in
 * the heap at once (issue 17: the trees of 10,000 Services and Pods did not fit 128 MiB).
 *
 * <p>Last good config keeps serving:
 * <ol>
 *   <li>a file that no longer parses contributes the objects it had in the last generation in
 *       which it parsed; the parse error is still reported. These objects are translated after
 *       every file that parses now, and one whose identity (group, kind, namespace, name) a file
 *       that parses now defines is dropped: the fresh edit wins over the stale copy. The last good
 *       version is kept per path: a file renamed and broken in one change has none;</li>
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
    private final String rootNamespace;

    GenerationBuilder(NamespacedName waypoint, String trustDomain, List<PartCompiler<?>> compilers) {
        this(waypoint, trustDomain, compilers, dev.waypoint.config.yaml.YamlDirectorySource.DEFAULT_ROOT_NAMESPACE);
    }

    /**
     * @param rootNamespace where the {@code istio} ConfigMap holding the mesh config is looked for
     */
    GenerationBuilder(NamespacedName waypoint, String trustDomain, List<PartCompiler<?>> compilers,
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
     * @param filesOnLastGood how many files do not parse now and serve their last good objects
     */
    record Attempt(ConfigSnapshot snapshot, ResourceSet resources, Diagnostics diagnostics, LastGood lastGood,
                   CompilerFailure failure, int filesOnLastGood) {}

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

    Attempt build(long generation, List<? extends Manifest> files, LastGood previous) {
        return build(generation, files, null, previous);
    }

    /**
     * @param files the generation's files in order; each is parsed and translated before the next
     *        is parsed, so only one file's trees are in the heap at a time
     * @param meshFile the {@code --mesh-config} file as read, or null when the flag is not given
     */
    Attempt build(long generation, List<? extends Manifest> files, DirectoryContent.MeshConfigFile meshFile,
                  LastGood previous) {
        Diagnostics diagnostics = new Diagnostics();
        // the file-level problems come first, then the objects' (kept apart while both are found)
        Diagnostics objectProblems = new Diagnostics();
        ResourceTranslator.Batch translator = ResourceTranslator.batch(objectProblems);

        // (a) file level: a file that does not parse now serves its objects from the last time it did
        List<TranslatedObject> translated = new ArrayList<>();
        Map<String, Manifest> parsedFiles = new LinkedHashMap<>();
        List<Manifest> fallbacks = new ArrayList<>();
        WireObject configMap = null;
        for (Manifest manifest : files) {
            ManifestFile file = manifest.parse();
            List<WireObject> objects;
            if (file.isParsed()) {
                objects = file.objects();
                parsedFiles.put(file.path(), manifest);
            } else {
                Diagnostics.Problem e = file.error();
                diagnostics.error(e.where(), e.kind(), e.name(), e.field(), e.message());
                Manifest old = previous.files().get(file.path());
                if (old != null) {
                    fallbacks.add(old); // fed after every file that parses now, below
                    parsedFiles.put(file.path(), old);
                }
                continue;
            }
            for (WireObject o : objects) {
                translated.add(translator.translate(o));
                if (configMap == null && isMeshConfigMap(o)) {
                    configMap = o; // the only tree kept past its file
                }
            }
        }
        // the broken files' last good objects come after every file that parses now, and one whose
        // identity a parsed file defines is dropped: an object moved out of a file that broke in the
        // same change serves its new version, not the stale copy (and is no duplicate)
        Set<ResourceKey> definedNow = fallbacks.isEmpty() ? Set.of() : translator.keys();
        for (Manifest old : fallbacks) {
            List<WireObject> objects = old.parse().objects(); // it parsed then, and the same bytes parse the same
            List<ResourceKey> superseded = new ArrayList<>();
            for (WireObject o : objects) {
                ResourceKey key = ResourceTranslator.identity(o.tree());
                if (key != null && definedNow.contains(key)) {
                    superseded.add(key);
                    continue;
                }
                translated.add(translator.translate(o));
                if (configMap == null && isMeshConfigMap(o)) {
                    configMap = o;
                }
            }
            diagnostics.warning(new SourceRef(old.path(), 0), "-", null, "-", keeping(objects.size(), superseded));
        }
        diagnostics.addAll(objectProblems);

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

        MeshConfigSpec mesh = meshConfig(meshFile, configMap, previous, diagnostics);
        ResourceSet resources = ResourceTranslator.resourceSet(waypoint, trustDomain, kept).toBuilder()
                .meshConfig(mesh).build();
        LastGood next = new LastGood(parsedFiles, keptByKey, mesh);
        try {
            return new Attempt(ConfigSnapshot.compile(generation, resources, compilers, diagnostics), resources,
                    diagnostics, next, null, fallbacks.size());
        } catch (CompilerFailure f) {
            diagnostics.error(SourceRef.NONE, "-", null, "-", f.getMessage());
            return new Attempt(null, resources, diagnostics, next, f, fallbacks.size());
        }
    }

    /** The warning on a broken file that serves its last good objects. */
    static String keeping(int objects, List<ResourceKey> superseded) {
        if (superseded.isEmpty()) {
            return "keeping the " + objects + " object(s) this file had when it last parsed";
        }
        StringBuilder names = new StringBuilder();
        for (int i = 0; i < superseded.size() && i < 3; i++) {
            ResourceKey k = superseded.get(i);
            names.append(i == 0 ? "" : ", ").append(k.kind()).append(' ').append(k.namespace().isEmpty()
                    ? k.name() : k.namespace() + "/" + k.name());
        }
        if (superseded.size() > 3) {
            names.append(", ...");
        }
        return "keeping " + (objects - superseded.size()) + " of the " + objects
                + " object(s) this file had when it last parsed (" + superseded.size()
                + " now defined in a file that parses: " + names + ")";
    }

    /** Whether {@code o} is the ConfigMap {@code istio} of the root namespace, which may hold the mesh config. */
    private boolean isMeshConfigMap(WireObject o) {
        JsonNode t = o.tree();
        return t.path("kind").asText().equals("ConfigMap") && t.path("apiVersion").asText().equals("v1")
                && t.path("metadata").path("name").asText().equals("istio")
                && t.path("metadata").path("namespace").asText("default").equals(rootNamespace);
    }

    /**
     * The mesh config of this generation: the {@code --mesh-config} file when given (it wins),
     * else the {@code mesh} key of the ConfigMap {@code istio} in the root namespace, else none
     * ({@link MeshConfigSpec#DEFAULT}). A mesh config with an error is reported and the previous
     * generation's is kept, as for any other object.
     *
     * @param configMap the first {@link #isMeshConfigMap} object of the generation, or null
     */
    private MeshConfigSpec meshConfig(DirectoryContent.MeshConfigFile file, WireObject configMap, LastGood previous,
                                      Diagnostics diagnostics) {
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
                } catch (RuntimeException | LinkageError e) {
                    // LinkageError: a class the compiler needs is missing or failed to initialize (a
                    // library left out of the jar): the same failure, not a dead config thread
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
