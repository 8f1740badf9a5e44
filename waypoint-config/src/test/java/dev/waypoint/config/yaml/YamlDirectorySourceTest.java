package dev.waypoint.config.yaml;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.waypoint.config.translate.WireObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class YamlDirectorySourceTest {
    @TempDir
    Path dir;

    private void write(String name, String content) throws IOException {
        Path p = dir.resolve(name);
        Files.createDirectories(p.getParent());
        Files.writeString(p, content);
    }

    /** kind@file:line for each object, in order. */
    private static List<String> objects(DirectoryContent c) {
        return c.files().stream().flatMap(f -> f.objects().stream()).map(YamlDirectorySourceTest::describe).toList();
    }

    private static String describe(WireObject o) {
        return o.tree().path("kind").asText("?") + "@" + o.source();
    }

    @Test
    void multiDocumentFilesSkipEmptyDocumentsAndExpandLists() throws IOException {
        write("m.yaml", """
                # leading comment
                ---
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: a}
                ---
                # only a comment
                ---
                apiVersion: v1
                kind: List
                metadata: {resourceVersion: ""}
                items:
                - apiVersion: v1
                  kind: Pod
                  metadata: {name: p}
                -   apiVersion: v1
                    kind: Namespace
                    metadata: {name: n}
                ---
                kind: ServiceList
                items: []
                ---
                kind: List
                items:
                """);

        DirectoryContent c = new YamlDirectorySource(dir).read();

        assertThat(c.files()).singleElement().satisfies(f -> assertThat(f.isParsed()).isTrue());
        assertThat(objects(c)).containsExactly("Service@m.yaml:4", "Pod@m.yaml:14", "Namespace@m.yaml:17");
    }

    @Test
    void readsYamlYmlAndJsonRecursivelyInPathOrderSkippingHiddenAndOtherFiles() throws IOException {
        write("b.yaml", "kind: B\n");
        write("d.json", "{\"kind\": \"List\", \"items\": [{\"kind\": \"J\"}]}\n"); // kubectl get -o json
        write("a/z.yml", "kind: AZ\n");
        write("a/a.yaml", "kind: AA\n");
        write("notes.txt", "kind: Txt\n");
        write(".hidden.yaml", "kind: Hidden\n");
        write(".git/x.yaml", "kind: Git\n");
        write("c.yaml", "");

        DirectoryContent c = new YamlDirectorySource(dir).read();

        assertThat(c.files()).extracting(ManifestFile::path).containsExactly("a/a.yaml", "a/z.yml", "b.yaml", "c.yaml", "d.json");
        assertThat(objects(c)).containsExactly("AA@a/a.yaml:1", "AZ@a/z.yml:1", "B@b.yaml:1", "J@d.json:1");
    }

    @Test
    void configMapVolumeIsReadOnceThroughTheVisibleNames() throws IOException {
        // kubelet's AtomicWriter layout: foo.yaml -> ..data/foo.yaml, ..data -> ..2024_05_01_00_00_00.1
        write("..2024_05_01_00_00_00.1/svc.yaml", "kind: Service\n");
        Files.createSymbolicLink(dir.resolve("..data"), Path.of("..2024_05_01_00_00_00.1"));
        Files.createSymbolicLink(dir.resolve("svc.yaml"), Path.of("..data/svc.yaml"));
        Files.createSymbolicLink(dir.resolve("gone.yaml"), Path.of("..data/gone.yaml")); // dangling: absent
        Files.createDirectories(dir.resolve("sub"));
        Files.createSymbolicLink(dir.resolve("sub/loop"), dir); // a loop is not followed forever

        DirectoryContent c = new YamlDirectorySource(dir).read();

        assertThat(objects(c)).containsExactly("Service@svc.yaml:1");
    }

    @Test
    void aScanNamesTheDirectoriesItWentThroughSkippingHiddenOnes() throws IOException {
        // what SnapshotPublisher registers with its watch service
        write("a/b/x.yaml", "kind: X\n");
        write("c/notes.txt", "");
        write(".git/d/y.yaml", "kind: Git\n");
        write("..2026_01/svc.yaml", "kind: Service\n");
        Files.createSymbolicLink(dir.resolve("..data"), Path.of("..2026_01"));
        Files.createSymbolicLink(dir.resolve("linked"), Path.of("a/b")); // followed, as for files
        Files.createSymbolicLink(dir.resolve("a/loop"), dir); // a loop is not followed

        DirectoryScan scan = new YamlDirectorySource(dir).scan();

        assertThat(scan.directories()).first().isEqualTo(dir);
        assertThat(scan.directories()).extracting(d -> dir.relativize(d).toString())
                .containsExactlyInAnyOrder("", "a", "a/b", "c", "linked");
    }

    @Test
    void configMapSwapChangesTheFingerprint() throws IOException {
        write("..v1/svc.yaml", "kind: Service\n");
        write("..v2/svc.yaml", "kind: Service\n");
        Path data = dir.resolve("..data");
        Files.createSymbolicLink(data, Path.of("..v1"));
        Files.createSymbolicLink(dir.resolve("svc.yaml"), Path.of("..data/svc.yaml"));
        YamlDirectorySource source = new YamlDirectorySource(dir);
        DirectoryScan before = source.scan();

        Files.delete(data);
        Files.createSymbolicLink(data, Path.of("..v2")); // same name, size and (maybe) mtime; another inode

        assertThat(source.scan().sameFiles(before)).isFalse();
    }

    static Stream<Arguments> brokenFiles() {
        return Stream.of(
                Arguments.of("unclosed flow sequence", """
                        apiVersion: v1
                        kind: Service
                        metadata: {name: a}
                        spec:
                          ports: [
                        """, "m.yaml:5: while parsing a flow node: expected the node content, but found '<stream end>'"),
                Arguments.of("bad indentation", """
                        apiVersion: v1
                        kind: Service
                          metadata: x
                        """, "m.yaml:3: mapping values are not allowed here"),
                Arguments.of("duplicate key", """
                        apiVersion: v1
                        kind: Service
                        metadata:
                          name: a
                          name: b
                        """, "m.yaml:5: Duplicate field 'name'"),
                Arguments.of("broken second document", """
                        kind: Service
                        ---
                        kind: [Pod
                        """, "m.yaml:3: while parsing a flow sequence: expected ',' or ']', but got <stream end>"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("brokenFiles")
    void aFileThatDoesNotParseIsAFileLevelErrorAtTheParserLine(String name, String yaml, String expected)
            throws IOException {
        write("m.yaml", yaml);
        write("ok.yaml", "kind: Fine\n");

        DirectoryContent c = new YamlDirectorySource(dir).read();

        ManifestFile broken = c.files().get(0);
        assertThat(broken.isParsed()).isFalse();
        assertThat(broken.objects()).isEmpty();
        assertThat(broken.error()).hasToString(expected);
        assertThat(objects(c)).containsExactly("Fine@ok.yaml:1");
    }

    @Test
    void contentHashChangesWithContentOnly() throws IOException {
        write("a.yaml", "kind: A\n");
        YamlDirectorySource source = new YamlDirectorySource(dir);
        String first = source.read().contentHash();

        assertThat(source.read().contentHash()).isEqualTo(first);
        Files.setLastModifiedTime(dir.resolve("a.yaml"), FileTime.fromMillis(0));
        assertThat(source.read().contentHash()).isEqualTo(first);
        write("a.yaml", "kind: B\n");
        assertThat(source.read().contentHash()).isNotEqualTo(first);
        write("a.yaml", "kind: A\n");
        write("b.yaml", "");
        assertThat(source.read().contentHash()).isNotEqualTo(first);
    }

    @Test
    void aFileModifiedShortlyBeforeTheScanMakesItRacy() throws IOException {
        write("a.yaml", "kind: A\n");
        Instant mtime = Instant.parse("2024-05-01T00:00:00Z");
        Files.setLastModifiedTime(dir.resolve("a.yaml"), FileTime.from(mtime));

        DirectoryScan justAfter = new YamlDirectorySource(dir, Clock.fixed(mtime.plusMillis(1999), ZoneOffset.UTC)).scan();
        DirectoryScan later = new YamlDirectorySource(dir, Clock.fixed(mtime.plusMillis(2001), ZoneOffset.UTC)).scan();

        assertThat(justAfter.racy()).isTrue();
        assertThat(later.racy()).isFalse();
        assertThat(later.sameFiles(justAfter)).isTrue();
    }

    @Test
    void aMissingDirectoryIsAnIoError() {
        assertThatThrownBy(() -> new YamlDirectorySource(dir.resolve("nope")).read())
                .isInstanceOf(NoSuchFileException.class);
    }

    @Test
    void oneLineKeepsTheWordsOfSnakeYamlMessages() {
        String snake = """
                while scanning a simple key
                 in 'reader', line 2, column 1:
                    foo
                    ^
                could not find expected ':'
                 in 'reader', line 3, column 1:
                    \s
                    ^
                """;
        assertThat(YamlManifestReader.oneLine(snake)).isEqualTo("while scanning a simple key: could not find expected ':'");
        assertThat(YamlManifestReader.oneLine(null)).isEqualTo("not valid YAML");
    }
}
