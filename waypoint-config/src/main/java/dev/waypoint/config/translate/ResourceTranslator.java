package dev.waypoint.config.translate;

import static dev.waypoint.config.translate.ObjectContext.child;
import static dev.waypoint.config.translate.ObjectContext.isLabel;
import static dev.waypoint.config.translate.ObjectContext.isSubdomain;
import static dev.waypoint.config.translate.ObjectContext.message;
import static dev.waypoint.config.translate.ObjectContext.render;

import com.fasterxml.jackson.databind.JsonNode;
import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.extension.RegistryCredentials;
import dev.waypoint.model.extension.WasmPluginSpec;
import dev.waypoint.model.gateway.HttpRouteSpec;
import dev.waypoint.model.gateway.L4RouteSpec;
import dev.waypoint.model.gateway.ReferenceGrantSpec;
import dev.waypoint.model.mesh.EndpointSliceSpec;
import dev.waypoint.model.mesh.GatewaySpec;
import dev.waypoint.model.mesh.NamespaceSpec;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.OtherResource;
import dev.waypoint.model.mesh.PodSpec;
import dev.waypoint.model.mesh.ServiceEntrySpec;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.mesh.WorkloadEntrySpec;
import dev.waypoint.model.security.RequestAuthenticationSpec;
import dev.waypoint.model.security.AuthorizationPolicySpec;
import dev.waypoint.model.telemetry.TelemetrySpec;
import dev.waypoint.model.traffic.DestinationRuleSpec;
import dev.waypoint.model.traffic.LocalRateLimitSpec;
import dev.waypoint.model.traffic.TlsSecretSpec;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Wire objects → validated domain records (STYLE rule 2). Each {@link WireObject} becomes one
 * {@link TranslatedObject}; every problem goes to the {@link Diagnostics} with the object's
 * source, kind, name and the field path, and an object with an error is dropped.
 *
 * <p>Kinds read, at every version their CRDs serve (or a Gateway API release since v1.0 served; the
 * versions of one CRD share one schema): {@code v1} Namespace, Service and Pod; {@code discovery.k8s.io/v1}
 * EndpointSlice; {@code gateway.networking.k8s.io/v1} and {@code v1beta1} Gateway and HTTPRoute;
 * {@code v1} and {@code v1alpha2} GRPCRoute; {@code v1beta1}, {@code v1} and {@code v1alpha2} ReferenceGrant;
 * {@code security.istio.io/v1} and {@code v1beta1} RequestAuthentication and AuthorizationPolicy;
 * {@code networking.istio.io/v1}, {@code v1beta1} and {@code v1alpha3} ServiceEntry, WorkloadEntry and
 * DestinationRule; {@code gateway.networking.k8s.io/v1alpha2} and {@code v1} TCPRoute and TLSRoute
 * ({@code v1alpha3} TLSRoute too); {@code extensions.istio.io/v1alpha1} WasmPlugin and TrafficExtension;
 * {@code networking.istio.io/v1alpha3}
 * EnvoyFilter (its local rate limit only); {@code telemetry.istio.io/v1} and {@code v1alpha1} Telemetry. Anything else is kept as an
 * {@link OtherResource} and ignored. When the same object (group, kind, namespace, name) appears
 * twice, the second is an error and the first wins.
 *
 * <p>Not API: plumbing between the packages of {@code waypoint-config}. Stateless; the state
 * that lets a broken file or object fall back to its last good version lives in {@code GenerationBuilder}
 * (which feeds the fallback objects after every file that parses now) and {@code LastGood}.
 *
 * <h2>Threading</h2>
 * Pure; runs on the config executor (or the {@code validate} command's thread).
 */
public final class ResourceTranslator {
    private static final Logger log = LoggerFactory.getLogger(ResourceTranslator.class);

    private static final String CORE = "";
    private static final String DISCOVERY = "discovery.k8s.io";
    private static final String GATEWAY = "gateway.networking.k8s.io";
    private static final String SECURITY = "security.istio.io";
    private static final String NETWORKING = "networking.istio.io";
    private static final String EXTENSIONS = "extensions.istio.io";
    private static final String TELEMETRY = "telemetry.istio.io";

    /** Kinds with no namespace; only these are told apart from the namespaced default. */
    private static final Set<String> CLUSTER_SCOPED = Set.of("Namespace", "Node", "PersistentVolume", "ClusterRole",
            "ClusterRoleBinding", "CustomResourceDefinition", "GatewayClass", "StorageClass", "PriorityClass",
            "IngressClass", "RuntimeClass", "APIService", "MutatingWebhookConfiguration",
            "ValidatingWebhookConfiguration");

    /** The label the API server sets to a Namespace's name. */
    public static final String NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";

    private ResourceTranslator() {}

    /**
     * Translates {@code objects} in order. The result has one entry per input object.
     *
     * @param diagnostics receives every problem, in input order
     */
    public static List<TranslatedObject> translate(List<WireObject> objects, Diagnostics diagnostics) {
        List<TranslatedObject> out = new ArrayList<>(objects.size());
        Batch batch = batch(diagnostics);
        for (WireObject o : objects) {
            out.add(batch.translate(o));
        }
        return out;
    }

    /**
     * A translation fed one object at a time, so that each file's trees can go as soon as its
     * objects are translated; the same as {@link #translate(List, Diagnostics)} over all the
     * objects in the order they are fed (a second object of the same identity is the error).
     *
     * @param diagnostics receives every problem, in the order the objects are fed
     */
    public static Batch batch(Diagnostics diagnostics) {
        return new Batch(diagnostics);
    }

    /**
     * One generation's translation, fed in order (see {@link #batch(Diagnostics)}).
     *
     * <h2>Threading</h2>
     * Confined to the thread that builds the generation.
     */
    public static final class Batch {
        private final Diagnostics diagnostics;
        private final Map<ResourceKey, SourceRef> seen = new HashMap<>();

        private Batch(Diagnostics diagnostics) {
            this.diagnostics = java.util.Objects.requireNonNull(diagnostics, "diagnostics");
        }

        /** Translates the next object. */
        public TranslatedObject translate(WireObject o) {
            return ResourceTranslator.translate(o, diagnostics, seen);
        }

        /** The identities of every object translated so far (a copy). */
        public Set<ResourceKey> keys() {
            return Set.copyOf(seen.keySet());
        }
    }

    /**
     * The identity {@link #translate} gives {@code tree} (group, kind, namespace with its
     * {@code default}, name), or null when the tree has none; nothing is judged or reported.
     */
    public static ResourceKey identity(JsonNode tree) {
        if (!tree.isObject()) {
            return null;
        }
        String kind = text(child(tree, "kind"));
        String apiVersion = text(child(tree, "apiVersion"));
        JsonNode metadataNode = child(tree, "metadata");
        String name = text(child(metadataNode, "name"));
        if (kind == null || apiVersion == null || name == null
                || (kind.endsWith("List") && child(tree, "items") != null)) {
            return null; // as translate: no identity, or a List the reader could not expand
        }
        boolean clusterScoped = CLUSTER_SCOPED.contains(kind);
        String namespace = clusterScoped ? "" : text(child(metadataNode, "namespace"));
        if (namespace == null || (namespace.isEmpty() && !clusterScoped)) {
            namespace = "default";
        }
        int slash = apiVersion.indexOf('/');
        return new ResourceKey(slash < 0 ? CORE : apiVersion.substring(0, slash), kind, namespace, name);
    }

    /**
     * Assembles the kept objects into a {@link ResourceSet}, each kind in input order.
     */
    public static ResourceSet resourceSet(NamespacedName waypoint, String trustDomain, List<TranslatedObject> objects) {
        List<NamespaceSpec> namespaces = new ArrayList<>();
        List<ServiceSpec> services = new ArrayList<>();
        List<PodSpec> pods = new ArrayList<>();
        List<EndpointSliceSpec> slices = new ArrayList<>();
        List<GatewaySpec> gateways = new ArrayList<>();
        List<HttpRouteSpec> httpRoutes = new ArrayList<>();
        List<ReferenceGrantSpec> grants = new ArrayList<>();
        List<RequestAuthenticationSpec> requestAuthentications = new ArrayList<>();
        List<AuthorizationPolicySpec> policies = new ArrayList<>();
        List<OtherResource> others = new ArrayList<>();
        List<ServiceEntrySpec> serviceEntries = new ArrayList<>();
        List<WorkloadEntrySpec> workloadEntries = new ArrayList<>();
        List<L4RouteSpec> l4Routes = new ArrayList<>();
        List<WasmPluginSpec> wasmPlugins = new ArrayList<>();
        List<DestinationRuleSpec> destinationRules = new ArrayList<>();
        List<LocalRateLimitSpec> localRateLimits = new ArrayList<>();
        List<TelemetrySpec> telemetries = new ArrayList<>();
        List<TlsSecretSpec> tlsSecrets = new ArrayList<>();
        Map<NamespacedName, RegistryCredentials> pullSecrets = new HashMap<>();
        for (TranslatedObject t : objects) {
            Object spec = t.spec();
            if (spec instanceof NamespaceSpec s) {
                namespaces.add(s);
            } else if (spec instanceof ServiceSpec s) {
                services.add(s);
            } else if (spec instanceof PodSpec s) {
                pods.add(s);
            } else if (spec instanceof EndpointSliceSpec s) {
                slices.add(s);
            } else if (spec instanceof GatewaySpec s) {
                gateways.add(s);
            } else if (spec instanceof HttpRouteSpec s) {
                httpRoutes.add(s);
            } else if (spec instanceof ReferenceGrantSpec s) {
                grants.add(s);
            } else if (spec instanceof RequestAuthenticationSpec s) {
                requestAuthentications.add(s);
            } else if (spec instanceof AuthorizationPolicySpec s) {
                policies.add(s);
            } else if (spec instanceof ServiceEntrySpec s) {
                serviceEntries.add(s);
            } else if (spec instanceof WorkloadEntrySpec s) {
                workloadEntries.add(s);
            } else if (spec instanceof L4RouteSpec s) {
                l4Routes.add(s);
            } else if (spec instanceof DestinationRuleSpec s) {
                destinationRules.add(s);
            } else if (spec instanceof EnvoyFilterLimits s) {
                localRateLimits.addAll(s.limits());
            } else if (spec instanceof OtherResource s) {
                others.add(s);
            } else if (spec instanceof WasmPluginSpec s) {
                wasmPlugins.add(s);
            } else if (spec instanceof TelemetrySpec s) {
                telemetries.add(s);
            } else if (spec instanceof TlsSecretSpec s) {
                tlsSecrets.add(s);
            } else if (spec instanceof PullSecretTranslator.PullSecret s) {
                pullSecrets.put(s.name(), s.credentials()); // only for imagePullSecret below: not in the set
            } else if (spec != null) {
                throw new IllegalArgumentException("not a domain record: " + spec.getClass().getName());
            }
        }
        wasmPlugins = withPullSecrets(wasmPlugins, pullSecrets);
        return ResourceSet.builder(waypoint, trustDomain)
                .namespaces(namespaces).services(services).pods(pods).endpointSlices(slices).gateways(gateways)
                .httpRoutes(httpRoutes).referenceGrants(grants).requestAuthentications(requestAuthentications)
                .authorizationPolicies(policies).others(others)
                .serviceEntries(serviceEntries).workloadEntries(workloadEntries).l4Routes(l4Routes)
                .wasmPlugins(wasmPlugins).destinationRules(destinationRules).localRateLimits(localRateLimits)
                .telemetries(telemetries).tlsSecrets(tlsSecrets)
                .build();
    }

    private static TranslatedObject translate(WireObject o, Diagnostics diagnostics, Map<ResourceKey, SourceRef> seen) {
        JsonNode tree = o.tree();
        SourceRef src = o.source();
        if (!tree.isObject()) {
            diagnostics.error(src, "-", null, "-", message("document", render(tree), "a Kubernetes object"));
            return new TranslatedObject(null, null, src, true);
        }

        // Read the identity first, without judging it, so every problem can name the object.
        String kind = text(child(tree, "kind"));
        String apiVersion = text(child(tree, "apiVersion"));
        JsonNode metadataNode = child(tree, "metadata");
        String name = text(child(metadataNode, "name"));
        boolean clusterScoped = kind != null && CLUSTER_SCOPED.contains(kind);
        String namespace = clusterScoped ? "" : text(child(metadataNode, "namespace"));
        if (namespace == null || (namespace.isEmpty() && !clusterScoped)) {
            namespace = "default";
        }
        ObjectContext ctx = new ObjectContext(diagnostics, src, kind == null ? "-" : kind);
        NamespacedName nn = name == null ? null : new NamespacedName(namespace, name);
        ctx.name(nn);

        ctx.requiredString(tree, "", "apiVersion", "a group/version such as v1");
        ctx.requiredString(tree, "", "kind", "a kind such as Service");
        if (kind != null && kind.endsWith("List") && child(tree, "items") != null) {
            // a List whose items the reader could not expand: they are not a list
            ctx.error("items", message("items", render(tree.path("items")), "a list of objects"));
            return new TranslatedObject(null, null, src, true);
        }
        JsonNode metadata = ctx.object(tree, "", "metadata");
        ctx.requiredString(metadata, "metadata", "name", ObjectContext.DNS1123_SUBDOMAIN);
        if (name != null && !isSubdomain(name)) {
            ctx.error("metadata.name", message("name", name, ObjectContext.DNS1123_SUBDOMAIN));
        }
        if (!clusterScoped) {
            String ns = ctx.string(metadata, "metadata", "namespace");
            if (ns != null && !ns.isEmpty() && !isLabel(ns)) {
                ctx.error("metadata.namespace", message("namespace", ns, ObjectContext.DNS1123_LABEL));
            }
        }
        Map<String, String> labels = ctx.stringMap(metadata, "metadata", "labels");
        if (kind == null || apiVersion == null || name == null) {
            return new TranslatedObject(null, null, src, true);
        }

        int slash = apiVersion.indexOf('/');
        String group = slash < 0 ? CORE : apiVersion.substring(0, slash);
        String version = apiVersion.substring(slash + 1);
        ResourceKey key = new ResourceKey(group, kind, namespace, name);
        SourceRef first = seen.putIfAbsent(key, src);
        if (first != null) {
            ctx.error("metadata.name", message("name", nn.toString(), "unique per kind; first defined at " + first));
        }

        Object spec = switch (group + "/" + kind) {
            case "/Namespace" -> supported(ctx, apiVersion, version, "v1")
                    ? new NamespaceSpec(name, withNameLabel(labels, name), src) : UNREAD_VERSION;
            case "/Service" -> supported(ctx, apiVersion, version, "v1")
                    ? ServiceTranslator.translate(ctx, tree, nn, labels) : UNREAD_VERSION;
            case "/Secret" -> PullSecretTranslator.isRegistrySecret(tree) && supported(ctx, apiVersion, version, "v1")
                    ? PullSecretTranslator.translate(ctx, tree, nn)
                    : TlsSecretTranslator.isTlsSecret(tree) && supported(ctx, apiVersion, version, "v1")
                    ? TlsSecretTranslator.translate(ctx, tree, nn, src) : other(apiVersion, kind, nn, src);
            case "/Pod" -> supported(ctx, apiVersion, version, "v1")
                    ? PodTranslator.translate(ctx, tree, nn, labels) : UNREAD_VERSION;
            case DISCOVERY + "/EndpointSlice" -> supported(ctx, apiVersion, version, "v1")
                    ? EndpointSliceTranslator.translate(ctx, tree, nn) : UNREAD_VERSION;
            case GATEWAY + "/Gateway" -> supported(ctx, apiVersion, version, "v1", "v1beta1")
                    ? GatewayTranslator.translate(ctx, tree, nn, labels) : UNREAD_VERSION;
            // every version a Gateway API release since v1.0 serves (one schema per CRD, conversion "None")
            case GATEWAY + "/HTTPRoute" -> supported(ctx, apiVersion, version, "v1", "v1beta1")
                    ? HttpRouteTranslator.translate(ctx, tree, nn) : UNREAD_VERSION;
            case GATEWAY + "/GRPCRoute" -> supported(ctx, apiVersion, version, "v1", "v1alpha2")
                    ? GrpcRouteTranslator.translate(ctx, tree, nn) : UNREAD_VERSION;
            case GATEWAY + "/ReferenceGrant" -> supported(ctx, apiVersion, version, "v1beta1", "v1", "v1alpha2")
                    ? ReferenceGrantTranslator.translate(ctx, tree, nn) : UNREAD_VERSION;
            case SECURITY + "/RequestAuthentication" -> supported(ctx, apiVersion, version, "v1", "v1beta1")
                    ? RequestAuthenticationTranslator.translate(ctx, tree, nn) : UNREAD_VERSION;
            case SECURITY + "/AuthorizationPolicy" -> supported(ctx, apiVersion, version, "v1", "v1beta1")
                    ? AuthorizationPolicyTranslator.translate(ctx, tree, nn) : UNREAD_VERSION;
            case GATEWAY + "/TCPRoute" -> supported(ctx, apiVersion, version, "v1alpha2", "v1")
                    ? L4RouteTranslator.translate(ctx, tree, nn, L4RouteSpec.Kind.TCP, version) : UNREAD_VERSION;
            case GATEWAY + "/TLSRoute" -> supported(ctx, apiVersion, version, "v1alpha2", "v1alpha3", "v1")
                    ? L4RouteTranslator.translate(ctx, tree, nn, L4RouteSpec.Kind.TLS, version)
                    : UNREAD_VERSION;
            // networking.istio.io serves v1, v1beta1 and v1alpha3 with one schema (crd-all.gen.yaml)
            case NETWORKING + "/ServiceEntry" -> supported(ctx, apiVersion, version, "v1", "v1beta1", "v1alpha3")
                    ? ServiceEntryTranslator.translate(ctx, tree, nn, labels) : UNREAD_VERSION;
            case NETWORKING + "/WorkloadEntry" -> supported(ctx, apiVersion, version, "v1", "v1beta1", "v1alpha3")
                    ? ServiceEntryTranslator.translateWorkloadEntry(ctx, tree, nn, labels) : UNREAD_VERSION;
            case EXTENSIONS + "/WasmPlugin" -> supported(ctx, apiVersion, version, "v1alpha1")
                    ? WasmPluginTranslator.wasmPlugin(ctx, tree, nn) : UNREAD_VERSION;
            case EXTENSIONS + "/TrafficExtension" -> supported(ctx, apiVersion, version, "v1alpha1")
                    ? WasmPluginTranslator.trafficExtension(ctx, tree, nn) : UNREAD_VERSION;
            case NETWORKING + "/DestinationRule" -> supported(ctx, apiVersion, version, "v1", "v1beta1", "v1alpha3")
                    ? DestinationRuleTranslator.translate(ctx, tree, nn) : UNREAD_VERSION;
            case NETWORKING + "/EnvoyFilter" -> supported(ctx, apiVersion, version, "v1alpha3")
                    ? envoyFilter(ctx, tree, nn) : UNREAD_VERSION;
            case TELEMETRY + "/Telemetry" -> supported(ctx, apiVersion, version, "v1", "v1alpha1")
                    ? TelemetryTranslator.translate(ctx, tree, nn) : UNREAD_VERSION;
            case NETWORKING + "/VirtualService" -> {
                // Istio's waypoints read VirtualServices (alpha); this one routes by Gateway API only
                ctx.warning("kind", "VirtualService is not applied by this waypoint: route with an HTTPRoute "
                        + "(or GRPCRoute) whose parentRef is the Service (Gateway API's mesh profile)");
                yield other(apiVersion, kind, nn, src);
            }
            default -> {
                if (unknownKind(group, kind)) {
                    // a kind the group does not have is most likely a typo of one it does: say so
                    ctx.warning("kind", message("kind", kind, "a kind of " + group + " such as "
                            + String.join(", ", READ_KINDS.get(group)) + "; the object is not applied"));
                }
                yield other(apiVersion, kind, nn, src);
            }
        };
        if (spec != UNREAD_VERSION && !(spec instanceof OtherResource) && !kind.equals("EndpointSlice")
                && !kind.equals("Secret")) {
            // kubectl's strict field validation refuses these; a typo here would otherwise vanish
            for (java.util.Iterator<String> it = tree.fieldNames(); it.hasNext(); ) {
                String f = it.next();
                if (!TOP_LEVEL_FIELDS.contains(f)) {
                    ctx.warning(f, message(f, "unknown field, ignored", "one of apiVersion, kind, metadata, spec, status"));
                }
            }
        }
        if (ctx.failed() || spec == UNREAD_VERSION) {
            // (a known kind at a version not read here is not applied: like a rejected object, one that
            // was good at a version read here keeps serving that version, with the warning above)
            return new TranslatedObject(key, null, src, true);
        }
        return new TranslatedObject(key, spec, src, false);
    }

    /**
     * Each plugin with an {@code imagePullSecret} given the logins of that Secret in its own
     * namespace (null when there is no such registry Secret: the wasm compiler reports it).
     */
    private static List<WasmPluginSpec> withPullSecrets(List<WasmPluginSpec> plugins,
                                                        Map<NamespacedName, RegistryCredentials> secrets) {
        List<WasmPluginSpec> out = new ArrayList<>(plugins.size());
        for (WasmPluginSpec p : plugins) {
            out.add(p.imagePullSecret() == null ? p : p.withPullCredentials(
                    secrets.get(new NamespacedName(p.name().namespace(), p.imagePullSecret()))));
        }
        return out;
    }

    /** The local rate limits of one EnvoyFilter (the only EnvoyFilter shape applied), kept together. */
    record EnvoyFilterLimits(List<LocalRateLimitSpec> limits) {}

    private static EnvoyFilterLimits envoyFilter(ObjectContext ctx, JsonNode tree, NamespacedName nn) {
        List<LocalRateLimitSpec> limits = EnvoyFilterTranslator.translate(ctx, tree, nn);
        return limits == null || limits.isEmpty() ? null : new EnvoyFilterLimits(limits);
    }

    /** The top-level fields of the objects with a {@code spec} that this waypoint reads. */
    private static final Set<String> TOP_LEVEL_FIELDS = Set.of("apiVersion", "kind", "metadata", "spec", "status");

    /** The kinds this waypoint reads, per API group it reads (named in the unknown-kind warning). */
    private static final Map<String, List<String>> READ_KINDS = Map.of(
            GATEWAY, List.of("Gateway", "HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute", "ReferenceGrant"),
            SECURITY, List.of("AuthorizationPolicy", "RequestAuthentication"),
            NETWORKING, List.of("ServiceEntry", "WorkloadEntry", "DestinationRule", "EnvoyFilter"),
            EXTENSIONS, List.of("WasmPlugin", "TrafficExtension"),
            TELEMETRY, List.of("Telemetry"));

    /**
     * Every kind of those groups' APIs (Gateway API standard and experimental channels, Istio's
     * CRDs), read here or not: one not among them is reported as unknown.
     */
    private static final Map<String, Set<String>> API_KINDS = Map.of(
            GATEWAY, Set.of("GatewayClass", "Gateway", "HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute", "UDPRoute",
                    "ReferenceGrant", "BackendTLSPolicy", "BackendLBPolicy", "BackendTrafficPolicy", "XBackendTrafficPolicy",
                    "ListenerSet", "XListenerSet", "XMesh", "Mesh"),
            SECURITY, Set.of("AuthorizationPolicy", "RequestAuthentication", "PeerAuthentication"),
            NETWORKING, Set.of("ServiceEntry", "WorkloadEntry", "WorkloadGroup", "DestinationRule", "EnvoyFilter",
                    "VirtualService", "Gateway", "Sidecar", "ProxyConfig"),
            EXTENSIONS, Set.of("WasmPlugin", "TrafficExtension"),
            TELEMETRY, Set.of("Telemetry"));

    /** Whether {@code kind} is not a kind of {@code group}, one of the groups this waypoint reads ({@code *List} kinds aside). */
    private static boolean unknownKind(String group, String kind) {
        Set<String> kinds = API_KINDS.get(group);
        return kinds != null && !kinds.contains(kind) && !kind.endsWith("List");
    }

    /** The translation of a known kind at a version this waypoint does not read (see {@link #supported}). */
    private static final Object UNREAD_VERSION = new Object();

    /**
     * Whether {@code version} is one this waypoint reads for the kind; if not, a warning naming the
     * versions it reads: the object is not applied (and its last good version, if any, keeps serving).
     */
    private static boolean supported(ObjectContext ctx, String apiVersion, String version, String... versions) {
        for (String v : versions) {
            if (v.equals(version)) {
                return true;
            }
        }
        String group = apiVersion.indexOf('/') < 0 ? "" : apiVersion.substring(0, apiVersion.indexOf('/') + 1);
        ctx.warning("apiVersion", message("apiVersion", apiVersion,
                group + String.join(" or " + group, versions) + "; the object is not applied"));
        return false;
    }

    /**
     * A Namespace's labels as the API server keeps them: it sets {@code kubernetes.io/metadata.name}
     * to the name on every Namespace (the NamespaceDefaultLabelName feature, GA in 1.22), whatever
     * the manifest says, so a selector by name matches a Namespace written without it too.
     */
    static Map<String, String> withNameLabel(Map<String, String> labels, String name) {
        if (name == null || name.equals(labels.get(NAMESPACE_NAME_LABEL))) {
            return labels;
        }
        Map<String, String> out = new java.util.LinkedHashMap<>(labels);
        out.put(NAMESPACE_NAME_LABEL, name);
        return Map.copyOf(out);
    }

    private static OtherResource other(String apiVersion, String kind, NamespacedName name, SourceRef src) {
        log.debug("not read by any stage: {} {} {} ({})", apiVersion, kind, name, src);
        return new OtherResource(apiVersion, kind, name, src);
    }

    private static String text(JsonNode n) {
        return n != null && n.isTextual() && !n.textValue().isEmpty() ? n.textValue() : null;
    }
}
