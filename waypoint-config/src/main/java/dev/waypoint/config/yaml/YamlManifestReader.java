package dev.waypoint.config.yaml;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;
import dev.waypoint.config.translate.WireObject;
import dev.waypoint.model.SourceRef;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.regex.Pattern;
import org.yaml.snakeyaml.LoaderOptions;

/**
 * Parses one manifest file: a stream of YAML documents, each a Kubernetes object or a
 * {@code List} of them. Empty documents are skipped. Each object is paired with the line its
 * document (or {@code List} item) starts on, which is why the root of each document is walked
 * here token by token rather than bound in one call: a {@code JsonNode} keeps no locations.
 *
 * <p>Duplicate keys are a parse error, as they are for {@code kubectl} (sigs.k8s.io/yaml strict
 * mode): silently keeping the last one hides mistakes.
 *
 * <p>Anchors, aliases and merge keys are resolved as {@code kubectl} (go-yaml) resolves them:
 * {@code *name} is a copy of the node anchored {@code &name} earlier in the same document (an
 * alias with no such anchor is a parse error), and a {@code <<} key merges the mapping (or list
 * of mappings, the first one winning) it holds into its own mapping, whose own keys win. Jackson's
 * parser reports an alias as a string of the anchor's name and a merge key as a field named
 * {@code <<}; both were read as such before, so {@code selector: *labels} was the string
 * {@code "labels"}.
 *
 * <h2>Threading</h2>
 * Stateless; the shared mapper is thread-safe.
 */
final class YamlManifestReader {
    /**
     * The largest manifest file read (64 MiB). SnakeYAML's own default allows 3 MB of code points
     * per document, less than one {@code kubectl get -o yaml} dump of a large namespace; the
     * parser's limit is raised to this, and a larger file is a file-level error before parsing.
     */
    static final int MAX_FILE_BYTES = 64 * 1024 * 1024;

    private static final ObjectMapper MAPPER = new ObjectMapper(new ManifestYamlFactory(YAMLFactory.builder()
            .loaderOptions(loaderOptions())
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            // "key:" and an empty document are null, as in the API server's YAML; "" stays a string
            .enable(YAMLParser.Feature.EMPTY_STRING_AS_NULL)));
    private static final JsonNodeFactory NODES = MAPPER.getNodeFactory();
    /** SnakeYAML's {@code LoaderOptions.maxAliasesForCollections} default. */
    static final int MAX_COLLECTION_ALIASES = new LoaderOptions().getMaxAliasesForCollections();

    /**
     * The most nodes the aliases of one document may copy in all. The alias count alone does not
     * bound the copies: anchors whose values alias earlier anchors grow geometrically (nine levels
     * of four aliases each are 36 aliases and 4^9 copies of the first), where SnakeYAML's composer
     * shares one node per anchor. 100,000 nodes is far above any manifest's reuse of its defaults.
     */
    static final int MAX_ALIAS_NODES = 100_000;

    /** One document's anchors, how many aliases of collections it has copied, and how many nodes in all. */
    private static final class Anchors extends HashMap<String, JsonNode> {
        private static final long serialVersionUID = 1L;
        int collectionAliases;
        long copiedNodes;
    }

    /** YAML 1.1's merge key ({@code <<: *defaults}), which go-yaml and so {@code kubectl} apply. */
    private static final String MERGE_KEY = "<<";

    /** SnakeYAML's mark line ({@code in 'reader', line 3, column 1:}), followed by a snippet and a caret. */
    private static final Pattern MARK = Pattern.compile("in '[^']*', line \\d+, column \\d+:?");

    private YamlManifestReader() {}

    /** SnakeYAML's defaults, but a document may be as large as the largest file read. */
    private static LoaderOptions loaderOptions() {
        LoaderOptions options = new LoaderOptions();
        options.setCodePointLimit(MAX_FILE_BYTES); // a code point is at least one byte
        return options;
    }

    static ManifestFile parse(String path, byte[] content) {
        if (content.length > MAX_FILE_BYTES) {
            return ManifestFile.broken(path, 0, "file is " + content.length + " bytes, over the limit of "
                    + (MAX_FILE_BYTES >> 20) + " MiB per manifest file; split it into several files");
        }
        List<WireObject> out = new ArrayList<>();
        StringCache strings = new StringCache();
        try (JsonParser p = MAPPER.createParser(content)) {
            JsonToken t;
            while ((t = p.nextToken()) != null) {
                int line = p.currentTokenLocation().getLineNr();
                if (t == JsonToken.VALUE_NULL) {
                    continue; // an empty document ("---" followed by nothing, or only comments)
                }
                Anchors anchors = new Anchors(); // YAML anchors are per document
                if (t == JsonToken.START_OBJECT) {
                    readDocument(p, path, line, out, strings, anchors);
                } else {
                    // not an object (a list, a scalar): the file as a whole does not hold manifests,
                    // as with a YAML syntax error, so it keeps serving its last good objects
                    String doc = readValue(p, strings, anchors).toString();
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
    private static void readDocument(JsonParser p, String path, int line, List<WireObject> out, StringCache strings,
                                     Anchors anchors) throws IOException {
        ObjectNode root = NODES.objectNode();
        List<Integer> itemLines = List.of();
        JsonNode merge = null;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = strings.canonical(p.currentName());
            JsonToken value = p.nextToken();
            if (field.equals("items") && value == JsonToken.START_ARRAY && !isAlias(p)) {
                String anchor = anchor(p);
                ArrayNode items = root.putArray("items");
                itemLines = new ArrayList<>();
                while (p.nextToken() != JsonToken.END_ARRAY) {
                    itemLines.add(p.currentTokenLocation().getLineNr());
                    items.add(readValue(p, strings, anchors));
                }
                if (anchor != null) {
                    anchors.put(anchor, items);
                }
            } else if (field.equals(MERGE_KEY)) {
                merge = readValue(p, strings, anchors);
            } else {
                root.set(field, readValue(p, strings, anchors));
            }
        }
        if (merge != null) {
            merge(p, root, merge);
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

    /**
     * The value at the parser's current token, as {@code MAPPER.readTree(p)} would build it, minus
     * the deserialization context databind makes for each call (five or more per object: one per
     * root field, issue 17). Objects, lists, strings, booleans, nulls and whole numbers are built
     * here; anything rarer (floats, {@code !!binary}) is left to databind. Keys and short strings
     * are shared through {@code strings}, so the records built from the trees share them too. Duplicate keys are the
     * parser's business ({@code STRICT_DUPLICATE_DETECTION}), as before.
     */
    private static JsonNode readValue(JsonParser p, StringCache strings, Anchors anchors)
            throws IOException {
        if (isAlias(p)) {
            JsonNode target = anchors.get(p.getText());
            if (target == null) {
                throw new JsonParseException(p, "alias *" + p.getText() + " names no anchor (&" + p.getText()
                        + ") earlier in this document");
            }
            // SnakeYAML's own guard against "billion laughs" documents, which its composer applies and
            // Jackson's event parser does not: each alias is a copy here
            if (target.isContainerNode() && ++anchors.collectionAliases > MAX_COLLECTION_ALIASES) {
                throw new JsonParseException(p, "more than " + MAX_COLLECTION_ALIASES
                        + " aliases of mappings or lists in one document (a guard against alias bombs)");
            }
            anchors.copiedNodes += nodes(target);
            if (anchors.copiedNodes > MAX_ALIAS_NODES) {
                throw new JsonParseException(p, "aliases copying more than " + MAX_ALIAS_NODES
                        + " nodes in one document (a guard against alias bombs)");
            }
            return target.deepCopy();
        }
        String anchor = anchor(p);
        JsonNode value = readNode(p, strings, anchors);
        if (anchor != null) {
            anchors.put(anchor, value);
        }
        return value;
    }

    /** How many nodes {@code n} holds, itself included. */
    private static long nodes(JsonNode n) {
        long count = 1;
        for (JsonNode child : n) {
            count += nodes(child);
        }
        return count;
    }

    /** Whether the current token is a YAML alias ({@code *name}), which Jackson reports as a string. */
    private static boolean isAlias(JsonParser p) {
        return p instanceof YAMLParser y && y.isCurrentAlias();
    }

    /** The anchor ({@code &name}) on the current token, or null. */
    private static String anchor(JsonParser p) throws IOException {
        return p.getObjectId() instanceof String s ? s : null;
    }

    /**
     * YAML 1.1's merge key, as go-yaml applies it: the mapping's own keys win, then the merged
     * mappings' keys, the first mapping of a list first.
     */
    private static void merge(JsonParser p, ObjectNode into, JsonNode merged) throws IOException {
        List<JsonNode> sources = new ArrayList<>();
        if (merged.isObject()) {
            sources.add(merged);
        } else if (merged.isArray()) {
            merged.forEach(sources::add);
        }
        if (sources.isEmpty() || !sources.stream().allMatch(JsonNode::isObject)) {
            throw new JsonParseException(p, "merge key <<: " + merged + " (expected: a mapping or a list of mappings)");
        }
        for (JsonNode source : sources) {
            source.properties().forEach(e -> into.putIfAbsent(e.getKey(), e.getValue().deepCopy()));
        }
    }

    private static JsonNode readNode(JsonParser p, StringCache strings, Anchors anchors) throws IOException {
        switch (p.currentToken()) {
            case START_OBJECT: {
                ObjectNode o = NODES.objectNode();
                JsonNode merge = null;
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String field = strings.canonical(p.currentName());
                    p.nextToken();
                    if (field.equals(MERGE_KEY)) {
                        merge = readValue(p, strings, anchors);
                    } else {
                        o.set(field, readValue(p, strings, anchors));
                    }
                }
                if (merge != null) {
                    merge(p, o, merge);
                }
                return o;
            }
            case START_ARRAY: {
                ArrayNode a = NODES.arrayNode();
                while (p.nextToken() != JsonToken.END_ARRAY) {
                    a.add(readValue(p, strings, anchors));
                }
                return a;
            }
            case VALUE_STRING:
                return NODES.textNode(strings.canonical(p.getText()));
            case VALUE_TRUE:
                return NODES.booleanNode(true);
            case VALUE_FALSE:
                return NODES.booleanNode(false);
            case VALUE_NULL:
                return NODES.nullNode();
            case VALUE_NUMBER_INT:
                // JsonNodeDeserializer._fromInt with no coercion feature enabled
                return switch (p.getNumberType()) {
                    case INT -> NODES.numberNode(p.getIntValue());
                    case LONG -> NODES.numberNode(p.getLongValue());
                    default -> NODES.numberNode(p.getBigIntegerValue());
                };
            default:
                return MAPPER.readTree(p);
        }
    }

    /**
     * SnakeYAML's messages span several lines, with a snippet and a caret under each mark; the
     * line is already in the problem's location, so only the words are kept.
     */
    static String oneLine(String message) {
        if (message == null || message.isBlank()) {
            return "not valid YAML";
        }
        String[] lines = message.split("\\R");
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < lines.length; i++) {
            String l = lines[i].strip();
            if (MARK.matcher(l).matches()) {
                // skip the snippet and caret lines that follow a mark, when they are there
                for (int j = i + 1; j < lines.length && j <= i + 2; j++) {
                    if (lines[j].strip().equals("^")) {
                        i = j;
                        break;
                    }
                }
                continue;
            }
            if (!l.isEmpty()) {
                if (sb.length() > 0) {
                    sb.append(": ");
                }
                sb.append(l);
            }
        }
        return sb.length() == 0 ? "not valid YAML" : sb.toString();
    }
}
