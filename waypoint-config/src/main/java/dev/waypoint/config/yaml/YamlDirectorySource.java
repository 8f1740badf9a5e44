package dev.waypoint.config.yaml;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemLoopException;
import java.nio.file.FileVisitOption;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Kubernetes manifests in a directory: every {@code *.yaml}, {@code *.yml} and {@code *.json}
 * file below it (the files {@code kubectl apply -f DIR} reads; {@code kubectl get -o json} output),
 * recursively, in path order. Create one with {@code ConfigSources.yamlDirectory(dir)} and hand it
 * to a {@code SnapshotPublisher} (which watches it and lists it with {@link #scan()}) or
 * {@code ConfigValidator}.
 *
 * <p>Symbolic links are followed, and every name starting with {@code .} is skipped. A ConfigMap
 * volume is laid out as {@code foo.yaml -> ..data/foo.yaml} and {@code ..data -> ..2024_05_01_…/};
 * so each file is read once, through its visible name, and kubelet's atomic swap of {@code ..data}
 * shows up as new modification times and file keys. A link that points nowhere is treated as
 * absent (kubelet removes such links right after a swap).
 *
 * <p>A file that cannot be read becomes a {@link ManifestFile} with a file-level error, one that
 * does not parse becomes one when its {@link ManifestText} is parsed;
 * a directory that cannot be listed is an {@link IOException}, so that no file silently vanishes.
 *
 * <h2>Threading</h2>
 * Stateless apart from its settings; safe to call from any thread.
 */
public final class YamlDirectorySource {
    private static final Logger log = LoggerFactory.getLogger(YamlDirectorySource.class);

    /** Where the mesh config file sits in a {@link DirectoryScan}: after every manifest, never a manifest path. */
    private static final String MESH_ENTRY = "\0mesh-config\0";

    private final Path dir;
    private final Clock clock;
    private final Path meshConfigFile;
    private final String rootNamespace;

    /** A source for {@code dir}; prefer {@code ConfigSources.yamlDirectory(dir)}. */
    public YamlDirectorySource(Path dir) {
        this(dir, Clock.systemUTC(), null, DEFAULT_ROOT_NAMESPACE);
    }

    YamlDirectorySource(Path dir, Clock clock) {
        this(dir, clock, null, DEFAULT_ROOT_NAMESPACE);
    }

    private YamlDirectorySource(Path dir, Clock clock, Path meshConfigFile, String rootNamespace) {
        this.dir = Objects.requireNonNull(dir, "dir");
        this.clock = clock;
        this.meshConfigFile = meshConfigFile;
        this.rootNamespace = Objects.requireNonNull(rootNamespace, "rootNamespace");
    }

    /** Istio's default root namespace, where the {@code istio} ConfigMap lives. */
    public static final String DEFAULT_ROOT_NAMESPACE = "istio-system";

    /**
     * This source, plus Istio's MeshConfig: read from {@code meshConfigFile} when it is not null
     * ({@code --mesh-config}), otherwise from the {@code mesh} key of the ConfigMap {@code istio} in
     * {@code rootNamespace} when the directory holds one. The file is watched with the directory.
     */
    public YamlDirectorySource withMeshConfig(Path meshConfigFile, String rootNamespace) {
        return new YamlDirectorySource(dir, clock, meshConfigFile, rootNamespace);
    }

    /** The {@code --mesh-config} file, or null. */
    public Path meshConfigFile() {
        return meshConfigFile;
    }

    /** The namespace whose {@code istio} ConfigMap holds the mesh config when there is no file. */
    public String rootNamespace() {
        return rootNamespace;
    }

    /** The directory read. */
    public Path directory() {
        return dir;
    }

    /**
     * Lists the manifest files and their sizes, times and keys, reading no content; the scan
     * also names the directories it went through ({@link DirectoryScan#directories()}).
     */
    public DirectoryScan scan() throws IOException {
        if (!Files.isDirectory(dir)) {
            throw Files.exists(dir) ? new NotDirectoryException(dir.toString()) : new NoSuchFileException(dir.toString());
        }
        var takenAt = clock.instant();
        List<DirectoryScan.Entry> files = new ArrayList<>();
        List<Path> directories = new ArrayList<>();
        Files.walkFileTree(dir, EnumSet.of(FileVisitOption.FOLLOW_LINKS), Integer.MAX_VALUE, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes attrs) {
                if (!d.equals(dir) && hidden(d)) {
                    return FileVisitResult.SKIP_SUBTREE;
                }
                directories.add(d);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
                // not a regular file after following links: a dangling link, a socket, ...
                if (!hidden(file) && isManifest(file) && attrs.isRegularFile()) {
                    files.add(new DirectoryScan.Entry(relative(file), attrs.size(),
                            attrs.lastModifiedTime().to(TimeUnit.NANOSECONDS), attrs.fileKey()));
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
                if (e instanceof FileSystemLoopException) {
                    log.debug("not following a symbolic link loop at {}", file);
                    return FileVisitResult.CONTINUE;
                }
                if (hidden(file) || (!Files.isDirectory(file) && !isManifest(file))) {
                    return FileVisitResult.CONTINUE;
                }
                if (!Files.isDirectory(file)) {
                    // a manifest we cannot even stat: read() reports it on the file
                    files.add(new DirectoryScan.Entry(relative(file), -1, 0, null));
                    return FileVisitResult.CONTINUE;
                }
                throw e;
            }
        });
        files.sort(Comparator.comparing(DirectoryScan.Entry::path));
        if (meshConfigFile != null) {
            files.add(meshEntry());
        }
        return new DirectoryScan(files, takenAt, directories);
    }

    /**
     * Reads every manifest file (parsing is left to {@link Manifest#parse()}). The scan is taken before reading, so that a change
     * made while reading is seen as a difference by the next {@link #scan()}.
     *
     * @throws IOException when the directory (or a directory below it) cannot be listed
     */
    public DirectoryContent read() throws IOException {
        DirectoryScan scan = scan();
        MessageDigest digest = sha256();
        List<Manifest> files = new ArrayList<>(scan.files().size());
        DirectoryContent.MeshConfigFile mesh = null;
        for (DirectoryScan.Entry entry : scan.files()) {
            if (entry.path().equals(MESH_ENTRY)) {
                mesh = readMeshConfig(digest);
                continue;
            }
            byte[] bytes;
            try {
                bytes = Files.readAllBytes(dir.resolve(entry.path()));
            } catch (NoSuchFileException e) {
                continue; // removed since the scan; the next scan differs and triggers another read
            } catch (IOException e) {
                digest.update((entry.path() + "\0unreadable\0").getBytes(StandardCharsets.UTF_8));
                files.add(ManifestFile.broken(entry.path(), 0, "cannot read: " + e));
                continue;
            }
            digest.update(entry.path().getBytes(StandardCharsets.UTF_8));
            digest.update((byte) 0);
            digest.update(Long.toString(bytes.length).getBytes(StandardCharsets.UTF_8));
            digest.update((byte) 0);
            digest.update(bytes);
            files.add(new ManifestText(entry.path(), bytes)); // parsed by the generation builder, one file at a time
        }
        return new DirectoryContent(scan, files, HexFormat.of().formatHex(digest.digest()), mesh);
    }

    private DirectoryScan.Entry meshEntry() {
        try {
            BasicFileAttributes attrs = Files.readAttributes(meshConfigFile, BasicFileAttributes.class);
            return new DirectoryScan.Entry(MESH_ENTRY, attrs.size(), attrs.lastModifiedTime().to(TimeUnit.NANOSECONDS),
                    attrs.fileKey());
        } catch (IOException e) {
            return new DirectoryScan.Entry(MESH_ENTRY, -1, 0, null); // read() reports it
        }
    }

    private DirectoryContent.MeshConfigFile readMeshConfig(MessageDigest digest) {
        String path = meshConfigFile.toString();
        digest.update(MESH_ENTRY.getBytes(StandardCharsets.UTF_8));
        try {
            byte[] bytes = Files.readAllBytes(meshConfigFile);
            digest.update(Long.toString(bytes.length).getBytes(StandardCharsets.UTF_8));
            digest.update((byte) 0);
            digest.update(bytes);
            return new DirectoryContent.MeshConfigFile(path, new String(bytes, StandardCharsets.UTF_8), null);
        } catch (IOException e) {
            String why = e instanceof NoSuchFileException ? "no such file" : "cannot read: " + e;
            digest.update(("\0unreadable\0" + why).getBytes(StandardCharsets.UTF_8));
            return new DirectoryContent.MeshConfigFile(path, null, why);
        }
    }

    private String relative(Path file) {
        return dir.relativize(file).toString().replace(File.separatorChar, '/');
    }

    private static boolean hidden(Path p) {
        Path name = p.getFileName();
        return name != null && name.toString().startsWith(".");
    }

    private static boolean isManifest(Path p) {
        String name = p.getFileName().toString();
        // kubectl apply -f DIR reads these three (FileExtensions); JSON is YAML, so one parser reads them all
        return name.endsWith(".yaml") || name.endsWith(".yml") || name.endsWith(".json");
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError("every JDK has SHA-256", e);
        }
    }

    @Override
    public String toString() {
        return "YamlDirectorySource(" + dir + ")";
    }
}
