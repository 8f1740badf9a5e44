package dev.waypoint.authz;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.waypoint.model.Diagnostics;
import dev.waypoint.model.ResourceSet;
import dev.waypoint.model.SourceRef;
import dev.waypoint.model.mesh.HostPort;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.mesh.ServicePortSpec;
import dev.waypoint.model.mesh.ServiceSpec;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.model.request.AuthzDecision;
import dev.waypoint.model.request.JwtAuthn;
import dev.waypoint.model.request.Target;
import dev.waypoint.model.security.AuthorizationPolicySpec;
import dev.waypoint.model.security.PolicyTargetRef;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.yaml.snakeyaml.Yaml;

/**
 * Replays every case of {@code shared/cases/authz-cases.yaml} against the compiled engine: the
 * environment's Services, the case's policies compiled by {@link AuthzPolicyCompiler}, the
 * request's attributes (path normalized BASE first, as the {@code normalize} filter does) and,
 * for a case presenting a valid token that an attached RequestAuthentication accepts, the
 * {@link JwtAuthn} the authn stage would write.
 *
 * <p>{@code hosts-remoteip-*} cases whose {@code remoteIp} differs from {@code sourceIp} recover the
 * client from {@code X-Forwarded-For} with a trusted proxy hop: they run with the mesh config's
 * {@code numTrustedProxies: 1} and the client as the last XFF entry.
 *
 * <p>Also replays {@code src/test/resources/cases/authz-cases-more.yaml} (more cases written from
 * upstream, same schema, same environment: the shared file's), ids prefixed {@code more/}, with the
 * same skip rules. A case with {@code request.protocol: tcp} is an opaque TCP connection, decided by
 * {@link AuthzEngine#decideTcp} (no method, path, host or headers).
 *
 * <p>Skipped, and why (each skip says so in the report):
 * <ul>
 *   <li>cases without any AuthorizationPolicy that expect a deny ({@code requestauthn-aud-01}: an
 *       audience mismatch, which Envoy's jwt_authn answers with 403): RequestAuthentication's;</li>
 *   <li>cases expecting 401 (an expired token, or an issuer no jwtRule lists): that decision
 *       is RequestAuthentication's (the authn stage), not authz's;</li>
 *   <li>CUSTOM cases whose rule matches and whose ext-authz stub would allow
 *       ({@code x-ext-authz: allow}): this runner calls the engine, not the filter that asks the
 *       provider (that is {@code ExtAuthzFilterTest} and the server's {@code ExtAuthzEndToEndTest}),
 *       so a matching CUSTOM rule denies here. No case of the file needs this skip today.</li>
 * </ul>
 */
class AuthzCasesTest {
    private static final Map<String, Object> FILE = load();
    /** More cases, written from upstream ({@code src/test/resources/cases/authz-cases-more.yaml}); same environment as {@link #FILE}. */
    private static final List<Map<String, Object>> MORE = loadMore();
    /** Prefix of the ids of {@link #MORE}'s cases. */
    private static final String MORE_PREFIX = "more/";

    /** Why the cases are skipped (the file is not above this clone), or null when {@link #FILE} is loaded. */
    private static String missing;

    /**
     * The case file, or null when it is not found: it is the team's {@code shared/cases}, next to
     * the repository rather than in it, so a clone elsewhere skips these cases (as
     * {@code RoutingCasesTest} does) instead of failing {@code mvn verify}.
     */
    @SuppressWarnings("unchecked")
    private static Map<String, Object> load() {
        Path dir = casesDir();
        if (dir == null) {
            missing = "shared/cases/authz-cases.yaml not found above " + Paths.get(System.getProperty("user.dir"))
                    .toAbsolutePath() + " (the team's case files, next to the repository)";
            return null;
        }
        Path file = dir.resolve("authz-cases.yaml");
        try (InputStream in = Files.newInputStream(file)) {
            org.yaml.snakeyaml.LoaderOptions options = new org.yaml.snakeyaml.LoaderOptions();
            options.setMaxAliasesForCollections(10_000); // the case file shares rule fragments by anchor
            options.setCodePointLimit(64 * 1024 * 1024);
            return new Yaml(options).load(in);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> loadMore() {
        try (InputStream in = AuthzCasesTest.class.getResourceAsStream("/cases/authz-cases-more.yaml")) {
            if (in == null) {
                throw new IllegalStateException("the test resource cases/authz-cases-more.yaml is missing");
            }
            org.yaml.snakeyaml.LoaderOptions options = new org.yaml.snakeyaml.LoaderOptions();
            options.setMaxAliasesForCollections(10_000);
            options.setCodePointLimit(64 * 1024 * 1024);
            Map<String, Object> more = new Yaml(options).load(in);
            return (List<Map<String, Object>>) more.get("cases");
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Walks up from the module directory until {@code shared/cases} or {@code ../shared/cases} exists; null if none. */
    static Path casesDir() {
        Path dir = Paths.get(System.getProperty("user.dir")).toAbsolutePath();
        for (Path d = dir; d != null; d = d.getParent()) {
            for (Path c : List.of(d.resolve("shared/cases"), d.resolve("../shared/cases"))) {
                if (Files.isDirectory(c) && Files.exists(c.resolve("authz-cases.yaml"))) {
                    return c.normalize();
                }
            }
        }
        return null;
    }

    @SuppressWarnings("unchecked")
    static Stream<Map<String, Object>> cases() {
        return ((List<Map<String, Object>>) FILE.get("cases")).stream();
    }

    /** A mesh config trusting one proxy hop in front of the waypoint ({@code numTrustedProxies: 1}). */
    private static final dev.waypoint.model.mesh.MeshConfigSpec TRUSTED_HOP = new dev.waypoint.model.mesh.MeshConfigSpec(
            SourceRef.NONE, null, List.of(), null, List.of(), dev.waypoint.model.mesh.MeshConfigSpec.DefaultProviders.NONE,
            null, null, dev.waypoint.model.mesh.MeshConfigSpec.AccessLogEncoding.TEXT, null, null, null, 1, null);

    @Test
    void theFileHasCases() {
        assumeTrue(FILE != null, missing);
        assertThat(cases().count()).isGreaterThan(100);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("ids")
    @SuppressWarnings("unchecked")
    void replays(String id) {
        assumeTrue(FILE != null, missing);
        Map<String, Object> c = id.startsWith(MORE_PREFIX)
                ? MORE.stream().filter(x -> (MORE_PREFIX + x.get("id")).equals(id)).findFirst().orElseThrow()
                : cases().filter(x -> x.get("id").equals(id)).findFirst().orElseThrow();
        Map<String, Object> env = (Map<String, Object>) FILE.get("environment");
        Map<String, Object> req = (Map<String, Object>) c.get("request");
        Map<String, Object> expect = (Map<String, Object>) c.get("expect");
        assumeTrue(!Integer.valueOf(401).equals(expect.get("status")), "401 is RequestAuthentication's decision");
        assumeTrue(!((List<?>) c.get("policies")).isEmpty() || Boolean.TRUE.equals(expect.get("allowed")),
                "no AuthorizationPolicy, denied: RequestAuthentication's decision (JWT audience mismatch is 403)");
        // remote.ip from X-Forwarded-For: the case's client address arrives as the last XFF hop,
        // trusted with the mesh config's numTrustedProxies: 1 (0, the default, would use the peer)
        boolean xff = req.containsKey("remoteIp") && !req.get("remoteIp").equals(req.get("sourceIp"));

        String trustDomain = (String) env.get("trustDomain");
        List<String> aliases = List.of();
        Map<String, Object> override = (Map<String, Object>) c.get("environmentOverride");
        if (override != null) {
            trustDomain = (String) override.getOrDefault("trustDomain", trustDomain);
            aliases = (List<String>) override.getOrDefault("trustDomainAliases", List.of());
        }
        List<ServiceSpec> services = new ArrayList<>();
        for (Map<String, Object> s : (List<Map<String, Object>>) env.get("services")) {
            List<ServicePortSpec> ports = new ArrayList<>();
            for (Map<String, Object> p : (List<Map<String, Object>>) s.get("ports")) {
                ports.add(new ServicePortSpec((String) p.get("name"), (Integer) p.get("port"), (Integer) p.get("targetPort"),
                        null, (String) p.get("appProtocol")));
            }
            services.add(new ServiceSpec(new NamespacedName((String) s.get("namespace"), (String) s.get("name")), Map.of(),
                    List.of(HostPort.parseIp((String) s.get("clusterIP"))), ports, Map.of(), SourceRef.NONE));
        }
        List<AuthorizationPolicySpec> policies = new ArrayList<>();
        for (Map<String, Object> p : (List<Map<String, Object>>) c.get("policies")) {
            policies.add(Specs.of(p));
        }
        Map<String, Object> wp = (Map<String, Object>) env.get("waypoint");
        NamespacedName waypoint = new NamespacedName((String) wp.get("namespace"), (String) wp.get("name"));
        ResourceSet rs = ResourceSet.builder(waypoint, trustDomain).services(services).authorizationPolicies(policies)
                .meshConfig(xff ? TRUSTED_HOP : dev.waypoint.model.mesh.MeshConfigSpec.DEFAULT).build();
        Diagnostics d = new Diagnostics();
        AuthzTable table = new AuthzPolicyCompiler((String) env.get("rootNamespace"), aliases).compile(rs, d);

        Map<String, Object> dest = (Map<String, Object>) req.get("destination");
        ServiceSpec svc = services.stream().filter(s -> s.name().name().equals(dest.get("service"))
                && s.name().namespace().equals(dest.get("namespace"))).findFirst().orElseThrow();
        int port = (Integer) req.get("port");
        ServicePortSpec sp = svc.ports().stream().filter(p -> p.port() == port).findFirst().orElseThrow();
        InetAddress vip = svc.clusterIps().get(0);
        Target target = new Target.ServiceTarget(new HostPort(vip, port), svc, sp);

        Map<String, String> headers = new LinkedHashMap<>();
        ((Map<String, Object>) req.getOrDefault("headers", Map.of())).forEach((k, v) -> headers.put(k, String.valueOf(v)));
        if (xff) {
            headers.put("x-forwarded-for", "203.0.113.9, " + req.get("remoteIp"));
        }
        String principal = (String) req.get("sourcePrincipal");
        String path = req.get("path") == null ? null : PathNormalizer.normalize((String) req.get("path"), PathNormalizer.Mode.BASE);
        TestRequest request = new TestRequest((String) req.get("method"), path, (String) req.get("host"),
                TestRequest.Headers.of(headers), principal == null ? null : SpiffeId.parse(principal).orElseThrow(),
                TestRequest.addr((String) req.get("sourceIp"), 40000), TestRequest.addr(vip.getHostAddress(), port));

        JwtAuthn jwt = jwt(c, req, svc, waypoint, (String) env.get("rootNamespace"));
        boolean customMatchWouldAsk = policies.stream().anyMatch(p -> p.action() == AuthorizationPolicySpec.Action.CUSTOM)
                && "allow".equals(headers.get("x-ext-authz"));
        AuthzEngine engine = table.engineFor(target);
        // request.protocol tcp: an opaque TCP connection, decided before the tunnel opens (no method, path, host, headers)
        boolean tcp = "tcp".equals(req.get("protocol"));
        AuthzDecision decision = tcp
                ? engine.decideTcp(new TestRequest(null, null, null, null, request.sourcePrincipal(),
                        request.sourceAddress(), request.destinationAddress()))
                : engine.decide(request, jwt);
        if (customMatchWouldAsk && !decision.allowed() && decision instanceof AuthzDecision.Deny deny
                && deny.action() == AuthorizationPolicySpec.Action.CUSTOM) {
            assumeTrue(false, "a matching CUSTOM rule would ask ext_authz, which would allow: no ext_authz client yet");
        }

        assertThat(decision.allowed()).as("%s: %s (problems %s)", id, decision, d.problems())
                .isEqualTo(expect.get("allowed"));
        if (!decision.allowed()) {
            // what the authz filter answers a deny with
            assertThat(dev.waypoint.model.request.Rejection.Reason.RBAC_DENIED.status()).isEqualTo(expect.get("status"));
            if (expect.containsKey("grpcStatus")) {
                assertThat(dev.waypoint.model.request.Rejection.Reason.RBAC_DENIED.grpcStatus())
                        .isEqualTo(expect.get("grpcStatus"));
            }
        }
        if (expect.containsKey("shadowDecision")) {
            AuthzDecision shadow = engine.shadow(request, jwt);
            assertThat(shadow).as("shadow").isNotNull();
            assertThat(shadow.allowed() ? "allow" : "deny").as("shadow").isEqualTo(expect.get("shadowDecision"));
        }
        if (expect.containsKey("auditLogged")) {
            assertThat(engine.audited(request, jwt) != null).as("audited").isEqualTo(expect.get("auditLogged"));
        }
    }

    static Stream<String> ids() {
        // without the file: one invocation, skipped with the reason (a source of no arguments would fail)
        return FILE == null ? Stream.of("(no case file)") : Stream.concat(cases().map(c -> (String) c.get("id")),
                MORE.stream().map(c -> MORE_PREFIX + c.get("id")));
    }

    /**
     * What the authn stage would write: a valid token, accepted by an attached
     * RequestAuthentication listing its issuer; claims named in that rule's
     * {@code spaceDelimitedClaims} split on spaces (authn's job: it knows the rule).
     */
    @SuppressWarnings("unchecked")
    private static JwtAuthn jwt(Map<String, Object> c, Map<String, Object> req, ServiceSpec svc, NamespacedName waypoint,
                                String root) {
        Map<String, Object> token = (Map<String, Object>) req.get("jwt");
        Map<String, Object> claims = (Map<String, Object>) req.get("jwtClaims");
        if (token == null || claims == null || !"valid".equals(token.get("state"))) {
            return null;
        }
        String iss = (String) claims.get("iss");
        Set<String> split = new java.util.HashSet<>();
        boolean accepted = false;
        for (Map<String, Object> o : (List<Map<String, Object>>) c.getOrDefault("extraObjects", List.of())) {
            if (!"RequestAuthentication".equals(o.get("kind"))) {
                continue;
            }
            Map<String, Object> md = (Map<String, Object>) o.get("metadata");
            Map<String, Object> spec = (Map<String, Object>) o.get("spec");
            List<PolicyTargetRef> refs = new ArrayList<>();
            for (Map<String, Object> r : (List<Map<String, Object>>) spec.getOrDefault("targetRefs", List.of())) {
                refs.add(new PolicyTargetRef((String) r.get("group"), (String) r.get("kind"), (String) r.get("name"), null));
            }
            if (!PolicyTargetRef.attaches(refs, (String) md.get("namespace"), svc.name().namespace(), svc.name().name(),
                    waypoint.namespace(), waypoint.name(), root)) {
                continue;
            }
            for (Map<String, Object> rule : (List<Map<String, Object>>) spec.getOrDefault("jwtRules", List.of())) {
                if (iss.equals(rule.get("issuer"))) {
                    accepted = true;
                    split.addAll((List<String>) rule.getOrDefault("spaceDelimitedClaims", List.of()));
                }
            }
        }
        if (!accepted) {
            return null; // "No applicable RequestAuthentication → tokens are ignored entirely"
        }
        Map<String, Object> payload = new LinkedHashMap<>(claims);
        for (String s : split) {
            if (payload.get(s) instanceof String v) {
                payload.put(s, List.of(v.split(" ")));
            }
        }
        Object aud = claims.get("aud");
        List<String> audiences = aud == null ? List.of() : aud instanceof List<?> l ? (List<String>) l : List.of((String) aud);
        return new JwtAuthn(iss + "/" + claims.get("sub"), iss, (String) claims.get("sub"), audiences,
                (String) claims.get("azp"), payload);
    }
}
