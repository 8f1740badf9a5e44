package dev.waypoint.config.yaml;

import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.ObjectCodec;
import com.fasterxml.jackson.core.io.IOContext;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactoryBuilder;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;
import java.io.IOException;
import java.io.Reader;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.events.ScalarEvent;
import org.yaml.snakeyaml.resolver.Resolver;

/**
 * Jackson's YAML factory with one shortcut in its parser: a scalar that SnakeYAML's implicit
 * resolver can only call a string is reported as a string without asking the resolver.
 *
 * <p>Why: {@code YAMLParser} asks {@link Resolver#resolve} the type of every untagged scalar, and
 * the resolver runs a regular expression for each candidate type registered under the scalar's
 * first character, then the "empty" expression for every scalar of up to 10 characters, whatever
 * its first character: a {@code Matcher} per scalar. It was 14 % of the bytes allocated while a
 * 10,000-Service directory was loaded (JFR, issue 17). The answer only differs from "a string"
 * when the first character has a resolver of its own ({@code y Y n N t T f F o O - + 0-9 . < ~ ! & *}
 * in SnakeYAML 2, and a space for its "null") or the scalar is empty; those still go the whole way, so every token is the
 * one the stock parser gives (checked against it in {@code ManifestYamlFactoryTest}).
 *
 * <p>Also: a scalar's anchor ({@code &name}) is kept for {@link #getObjectId()}, as a mapping's or
 * list's is, so that the reader can resolve aliases of scalars.
 *
 * <p>The set of first characters is read from the resolver itself at class load, so a SnakeYAML
 * that registers more is followed; if it registers an unknown resolver for every first character,
 * the shortcut is off.
 */
final class ManifestYamlFactory extends YAMLFactory {
    private static final long serialVersionUID = 1L;

    /** First characters some implicit resolver is registered for; null when the shortcut is off. */
    private static final BitSet RESOLVED_FIRST = resolvedFirstCharacters();

    ManifestYamlFactory(YAMLFactoryBuilder builder) {
        super(builder);
    }

    @Override
    protected YAMLParser _createParser(byte[] data, int offset, int len, IOContext ctxt) throws IOException {
        return new ManifestYamlParser(ctxt, _parserFeatures, _yamlParserFeatures, _loaderOptions, _objectCodec,
                _createReader(data, offset, len, null, ctxt));
    }

    @Override
    protected YAMLParser _createParser(Reader r, IOContext ctxt) throws IOException {
        return new ManifestYamlParser(ctxt, _parserFeatures, _yamlParserFeatures, _loaderOptions, _objectCodec, r);
    }

    /** Whether the resolver would call {@code value} (untagged, non-empty) a string without matching anything. */
    static boolean plainString(String value) {
        return RESOLVED_FIRST != null && !value.isEmpty() && !RESOLVED_FIRST.get(value.charAt(0));
    }

    private static BitSet resolvedFirstCharacters() {
        Map<Character, ? extends List<?>> byFirst = new Resolver() {
            Map<Character, ? extends List<?>> table() {
                return yamlImplicitResolvers;
            }
        }.table();
        BitSet first = new BitSet();
        for (Map.Entry<Character, ? extends List<?>> e : byFirst.entrySet()) {
            if (e.getKey() != null) {
                first.set(e.getKey());
                continue;
            }
            // tried for every scalar whatever its first character (ResolverTuple is package-private:
            // its toString names the expression). Two are known: "empty", which no non-empty scalar
            // matches, and "null" (~, null, Null, NULL or one space), whose first characters are
            // blocked too; any other turns the shortcut off.
            for (Object t : e.getValue()) {
                String tuple = String.valueOf(t);
                if (tuple.contains("regexp=" + Resolver.NULL.pattern() + " ")) {
                    "~nN ".chars().forEach(first::set);
                } else if (!tuple.contains("regexp=" + Resolver.EMPTY.pattern() + " ")) {
                    return null;
                }
            }
        }
        return first;
    }

    /** The stock parser, minus the resolver for scalars it can only call strings. */
    private static final class ManifestYamlParser extends YAMLParser {
        ManifestYamlParser(IOContext ctxt, int parserFeatures, int formatFeatures, LoaderOptions loaderOptions,
                           ObjectCodec codec, Reader reader) {
            super(ctxt, parserFeatures, formatFeatures, loaderOptions, codec, reader);
        }

        @Override
        protected JsonToken _decodeScalar(ScalarEvent scalar) throws IOException {
            // the stock parser clears the anchor before a scalar value, so getObjectId() could not
            // name a scalar's anchor ("port: &p 80"): keep it, for the reader's aliases
            _currentAnchor = scalar.getAnchor();
            String tag = scalar.getTag();
            String value = scalar.getValue();
            // as YAMLParser does for an untagged scalar when the resolver answers "str"
            if ((tag == null || tag.equals("!")) && plainString(value)) {
                _textValue = value;
                _cleanedTextValue = null;
                return JsonToken.VALUE_STRING;
            }
            return super._decodeScalar(scalar);
        }
    }
}
