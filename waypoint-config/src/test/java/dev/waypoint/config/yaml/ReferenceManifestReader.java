package dev.waypoint.config.yaml;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;
import dev.waypoint.config.translate.WireObject;
import dev.waypoint.model.SourceRef;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The manifest reader as it was before issue 17 (stock {@code YAMLFactory}, one {@code readTree}
 * per root field), kept only so that tests can check the reader in use against it. Parses one
 * manifest file: a stream of YAML documents, each a Kubernetes object or a
 * {@code List} of them. Empty documents are skipped. Each object is paired with the line its
 * document (or {@code List} item) starts on, which is why the root of each document is walked
 * here token by token rather than bound in one call: a {@code JsonNode} keeps no locations.
 *
 * <p>Duplicate keys are a parse error, as they are for {@code kubectl} (sigs.k8s.io/yaml strict
 * mode): silently keeping the last one hides mistakes.
 *
 * <h2>Threading</h2>
 * Stateless; the shared mapper is thread-safe.
 */
public final class ReferenceManifestReader {
    private static final ObjectMapper MAPPER = new ObjectMapper(YAMLFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            // "key:" and an empty document are null, as in the API server's YAML; "" stays a string
            .enable(YAMLParser.Feature.EMPTY_STRING_AS_NULL)
            .build());

    private ReferenceManifestReader() {}

    public static ManifestFile parse(String path, byte[] content) {
        List<WireObject> out = new ArrayList<>();
        try (JsonParser p = MAPPER.createParser(content)) {
            JsonToken t;
            while ((t = p.nextToken()) != null) {
                int line = p.currentTokenLocation().getLineNr();
                if (t == JsonToken.VALUE_NULL) {
                    continue; // an empty document ("---" followed by nothing, or only comments)
                }
                if (t == JsonToken.START_OBJECT) {
                    readDocument(p, path, line, out);
                } else {
                    // not an object: the file is broken as a whole (as YamlManifestReader decides since)
                    String doc = MAPPER.readTree(p).toString();
                    return ManifestFile.broken(path, line, "document: "
                            + (doc.length() > 80 ? doc.substring(0, 77) + "..." : doc) + " (expected: a Kubernetes object)");
                }
            }
        } catch (JsonProcessingException e) {
            JsonLocation where = e.getLocation();
            return ManifestFile.broken(path, where == null ? 0 : where.getLineNr(), oneLine(e.getOriginalMessage()));
        } catch (IOException e) {
            throw new UncheckedIOException(e); // reading a byte array: cannot happen
        }
        return ManifestFile.parsed(path, out);
    }

    /** Reads one root object, remembering where each element of a root {@code items} list starts. */
    private static void readDocument(JsonParser p, String path, int line, List<WireObject> out) throws IOException {
        ObjectNode root = MAPPER.createObjectNode();
        List<Integer> itemLines = List.of();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            JsonToken value = p.nextToken();
            if (field.equals("items") && value == JsonToken.START_ARRAY) {
                ArrayNode items = root.putArray("items");
                itemLines = new ArrayList<>();
                while (p.nextToken() != JsonToken.END_ARRAY) {
                    itemLines.add(p.currentTokenLocation().getLineNr());
                    items.add(MAPPER.<JsonNode>readTree(p));
                }
            } else {
                root.set(field, MAPPER.readTree(p));
            }
        }

        // kubectl's "kind: List" (and typed lists such as ServiceList) carry their objects in items
        JsonNode kind = root.get("kind");
        JsonNode items = root.get("items");
        boolean isList = kind != null && kind.isTextual() && kind.textValue().endsWith("List") && items != null;
        if (isList && items.isArray()) {
            for (int i = 0; i < items.size(); i++) {
                if (!items.get(i).isNull()) {
                    out.add(new WireObject(items.get(i), new SourceRef(path, itemLines.get(i))));
                }
            }
        } else if (!(isList && items.isNull())) {
            out.add(new WireObject(root, new SourceRef(path, line)));
        }
    }

    static String oneLine(String message) {
        return YamlManifestReader.oneLine(message);
    }
}
