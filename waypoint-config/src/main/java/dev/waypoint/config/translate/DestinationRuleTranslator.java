package dev.waypoint.config.translate;

import static dev.waypoint.config.translate.ObjectContext.child;
import static dev.waypoint.config.translate.ObjectContext.index;
import static dev.waypoint.config.translate.ObjectContext.message;
import static dev.waypoint.config.translate.ObjectContext.path;
import static dev.waypoint.config.translate.ObjectContext.render;
import static dev.waypoint.config.translate.ObjectContext.renderJson;

import com.fasterxml.jackson.databind.JsonNode;
import dev.waypoint.model.mesh.NamespacedName;
import dev.waypoint.model.traffic.DestinationRuleSpec;
import dev.waypoint.model.traffic.TrafficPolicySpec;
import dev.waypoint.model.traffic.TrafficPolicySpec.ConsistentHashSpec;
import dev.waypoint.model.traffic.TrafficPolicySpec.HashOn;
import dev.waypoint.model.traffic.TrafficPolicySpec.HashTable;
import dev.waypoint.model.traffic.TrafficPolicySpec.LoadBalancerSpec;
import dev.waypoint.model.traffic.TrafficPolicySpec.OutlierDetectionSpec;
import dev.waypoint.model.traffic.TrafficPolicySpec.Simple;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code networking.istio.io/v1} (and {@code v1beta1}, {@code v1alpha3}) {@code DestinationRule} →
 * {@link DestinationRuleSpec}, following Istio's {@code ValidateDestinationRule} where this
 * waypoint reads a field: {@code host} required, {@code simple} and {@code consistentHash} not
 * both, exactly one hash key, percentages 0-100, durations positive, subset names unique.
 *
 * <p>What the waypoint applies today: {@code loadBalancer} (simple, consistentHash, warmup, localityLbSetting),
 * {@code outlierDetection}, {@code connectionPool} ({@code tcp.maxConnections}, {@code connectTimeout},
 * {@code tcpKeepalive}, {@code maxConnectionDuration}, {@code idleTimeout}; {@code http.http1MaxPendingRequests},
 * {@code http2MaxRequests}, {@code maxRequestsPerConnection}, {@code maxRetries}, {@code idleTimeout},
 * {@code h2UpgradePolicy}, {@code useClientProtocol}, {@code maxConcurrentStreams}, {@code http2KeepAlive}:
 * every field) and their {@code portLevelSettings}, {@code tls} SIMPLE/MUTUAL. Fields of the DestinationRule
 * API it does not apply yet ({@code subsets}, {@code workloadSelector}, {@code proxyProtocol}, {@code tunnel},
 * {@code retryBudget}, {@code loadBalancer.backendUtilization} and {@code zoneAwareLbSetting},
 * {@code outlierDetection.outlierDetectionHttpErrorCodes}) are warnings naming the field, and the rest of the object applies: an
 * Istio user's DestinationRule keeps its load balancing and ejection rather than being thrown out
 * whole. {@code tls.mode: ISTIO_MUTUAL} is a note: HBONE already secures mesh endpoints and
 * Istio's waypoint ignores it too. Fields unknown to the API are errors (a misspelt field would
 * otherwise be silently ignored).
 */
final class DestinationRuleTranslator {
    private static final Set<String> SPEC_FIELDS = Set.of("host", "trafficPolicy", "subsets", "exportTo", "workloadSelector");
    private static final Set<String> POLICY_FIELDS = Set.of("loadBalancer", "connectionPool", "outlierDetection", "tls",
            "portLevelSettings", "tunnel", "proxyProtocol", "retryBudget");
    private static final Set<String> LB_FIELDS = Set.of("simple", "consistentHash", "localityLbSetting",
            "warmupDurationSecs", "warmup", "backendUtilization", "zoneAwareLbSetting");
    /** loadBalancer fields of the API read and not applied (a warning each). */
    private static final Set<String> LB_NOT_APPLIED = Set.of("backendUtilization", "zoneAwareLbSetting");
    private static final Set<String> HASH_FIELDS = Set.of("httpHeaderName", "httpCookie", "useSourceIp",
            "httpQueryParameterName", "ringHash", "maglev", "minimumRingSize");
    private static final Set<String> COOKIE_FIELDS = Set.of("name", "path", "ttl", "attributes");
    private static final Set<String> OUTLIER_FIELDS = Set.of("splitExternalLocalOriginErrors",
            "consecutiveLocalOriginFailures", "consecutiveGatewayErrors", "consecutive5xxErrors", "interval",
            "baseEjectionTime", "maxEjectionPercent", "minHealthPercent", "consecutiveErrors",
            "outlierDetectionHttpErrorCodes");
    private static final Set<String> PORT_FIELDS = Set.of("port", "loadBalancer", "connectionPool", "outlierDetection", "tls");
    private static final Set<String> SUBSET_FIELDS = Set.of("name", "labels", "trafficPolicy");
    private static final Set<String> NOT_APPLIED = Set.of("tunnel", "proxyProtocol", "retryBudget");
    private static final Set<String> POOL_FIELDS = Set.of("tcp", "http");
    private static final Set<String> TCP_FIELDS = Set.of("maxConnections", "connectTimeout", "tcpKeepalive",
            "maxConnectionDuration", "idleTimeout");
    private static final Set<String> HTTP_FIELDS = Set.of("http1MaxPendingRequests", "http2MaxRequests",
            "maxRequestsPerConnection", "maxRetries", "idleTimeout", "h2UpgradePolicy", "useClientProtocol",
            "maxConcurrentStreams", "http2KeepAlive");
    private static final Set<String> HTTP2_KEEPALIVE_FIELDS = Set.of("interval", "timeout");
    private static final Set<String> TLS_FIELDS = Set.of("mode", "clientCertificate", "privateKey", "caCertificates",
            "credentialName", "subjectAltNames", "sni", "insecureSkipVerify", "caCrl");
    private static final Set<String> KEEPALIVE_FIELDS = Set.of("probes", "time", "interval");
    private static final String DURATION_EXPECTED = "a duration of at least 1ms such as 10s, 500ms or 1m30s";

    private DestinationRuleTranslator() {}

    static DestinationRuleSpec translate(ObjectContext ctx, JsonNode tree, NamespacedName name) {
        JsonNode spec = ctx.object(tree, "", "spec");
        ctx.unknownKeys(spec, "spec", SPEC_FIELDS);
        String host = ctx.requiredString(spec, "spec", "host", "a Service host such as reviews or reviews.ns.svc.cluster.local");
        if (host != null && (host.contains("*") || !host.equals(host.toLowerCase(java.util.Locale.ROOT)))) {
            // a wildcard host would apply to Services this waypoint cannot enumerate as Istio does; say so
            if (host.contains("*")) {
                ctx.warning("spec.host", message("host", host, "an exact host; wildcard hosts are not applied by this waypoint"));
            } else {
                ctx.error("spec.host", message("host", host, "a lowercase DNS name"));
            }
        }
        if (child(spec, "workloadSelector") != null) {
            ctx.warning("spec.workloadSelector", "a waypoint does not apply a DestinationRule with a workloadSelector "
                    + "(sidecars do); the rule is ignored");
            host = null;
        }
        List<String> exportTo = ctx.stringList(spec, "spec", "exportTo");
        TrafficPolicySpec policy = policy(ctx, ctx.object(spec, "spec", "trafficPolicy"), "spec.trafficPolicy", true);

        List<DestinationRuleSpec.SubsetSpec> subsets = new ArrayList<>();
        List<JsonNode> subsetNodes = ctx.list(spec, "spec", "subsets");
        Set<String> names = new HashSet<>();
        for (int i = 0; i < subsetNodes.size(); i++) {
            String p = index("spec.subsets", i);
            JsonNode s = ctx.element(subsetNodes.get(i), p, "subsets[" + i + "]");
            if (s == null) {
                continue;
            }
            ctx.unknownKeys(s, p, SUBSET_FIELDS);
            String sn = ctx.requiredString(s, p, "name", ObjectContext.DNS1123_LABEL);
            if (sn != null && !names.add(sn)) {
                ctx.error(path(p, "name"), message("name", sn, "unique among subsets"));
            }
            Map<String, String> labels = ctx.stringMap(s, p, "labels");
            TrafficPolicySpec sp = policy(ctx, ctx.object(s, p, "trafficPolicy"), path(p, "trafficPolicy"), true);
            if (sn != null) {
                subsets.add(new DestinationRuleSpec.SubsetSpec(sn, labels, sp));
            }
        }
        if (!subsets.isEmpty()) {
            ctx.warning("spec.subsets", "subsets are not applied by this waypoint yet: Gateway API routes reach "
                    + "a subset through a Service of its own (selecting the subset's labels)");
        }
        if (host == null || ctx.failed()) {
            return null;
        }
        return new DestinationRuleSpec(name, host, exportTo, policy, subsets, ctx.source());
    }

    private static TrafficPolicySpec policy(ObjectContext ctx, JsonNode node, String p, boolean top) {
        if (node == null) {
            return TrafficPolicySpec.NONE;
        }
        ctx.unknownKeys(node, p, top ? POLICY_FIELDS : PORT_FIELDS);
        for (String f : NOT_APPLIED) {
            if (child(node, f) != null) {
                ctx.warning(path(p, f), f + " is not applied by this waypoint yet (Istio's defaults hold: no limits)");
            }
        }
        TrafficPolicySpec.TlsSpec tls = tls(ctx, ctx.object(node, p, "tls"), path(p, "tls"));
        LoadBalancerSpec lb = loadBalancer(ctx, ctx.object(node, p, "loadBalancer"), path(p, "loadBalancer"));
        OutlierDetectionSpec od = outlier(ctx, ctx.object(node, p, "outlierDetection"), path(p, "outlierDetection"));
        TrafficPolicySpec.ConnectionPoolSpec pool = connectionPool(ctx, ctx.object(node, p, "connectionPool"),
                path(p, "connectionPool"));
        List<TrafficPolicySpec.PortPolicySpec> ports = new ArrayList<>();
        if (top) {
            List<JsonNode> nodes = ctx.list(node, p, "portLevelSettings");
            for (int i = 0; i < nodes.size(); i++) {
                String pp = index(path(p, "portLevelSettings"), i);
                JsonNode n = ctx.element(nodes.get(i), pp, "portLevelSettings[" + i + "]");
                if (n == null) {
                    continue;
                }
                JsonNode portSel = ctx.object(n, pp, "port");
                int number = portSel == null ? 0 : ctx.port(portSel, path(pp, "port"), "number");
                if (portSel == null) {
                    ctx.error(path(pp, "port"), message("port", "missing", "{number: 1-65535}"));
                }
                TrafficPolicySpec sub = policy(ctx, n, pp, false);
                if (number > 0) {
                    ports.add(new TrafficPolicySpec.PortPolicySpec(number, sub));
                }
            }
        }
        return new TrafficPolicySpec(lb, od, ports, pool, tls);
    }

    private static TrafficPolicySpec.ConnectionPoolSpec connectionPool(ObjectContext ctx, JsonNode pool, String p) {
        if (pool == null) {
            return null;
        }
        ctx.unknownKeys(pool, p, POOL_FIELDS);
        JsonNode tcp = ctx.object(pool, p, "tcp");
        JsonNode http = ctx.object(pool, p, "http");
        String tp = path(p, "tcp");
        String hp = path(p, "http");
        ctx.unknownKeys(tcp, tp, TCP_FIELDS);
        ctx.unknownKeys(http, hp, HTTP_FIELDS);
        int maxConnections = ctx.integer(tcp, tp, "maxConnections", 0, Integer.MAX_VALUE, 0);
        int pending = ctx.integer(http, hp, "http1MaxPendingRequests", 0, Integer.MAX_VALUE, 0);
        int h2 = ctx.integer(http, hp, "http2MaxRequests", 0, Integer.MAX_VALUE, 0);
        int perConnection = ctx.integer(http, hp, "maxRequestsPerConnection", 0, Integer.MAX_VALUE, 0);
        int maxRetries = ctx.integer(http, hp, "maxRetries", 0, Integer.MAX_VALUE, 0);
        Duration idle = duration(ctx, http, hp, "idleTimeout");
        Duration connect = duration(ctx, tcp, tp, "connectTimeout");
        // "Skip validation if the value is 0s, as it indicates that the timeout is disabled entirely" (validateConnectionPool)
        Duration tcpIdle = durationOrZero(ctx, tcp, tp, "idleTimeout");
        Duration maxDuration = duration(ctx, tcp, tp, "maxConnectionDuration");
        TrafficPolicySpec.H2Upgrade upgrade = TrafficPolicySpec.H2Upgrade.DEFAULT;
        String policy = ctx.string(http, hp, "h2UpgradePolicy");
        if (policy != null) {
            switch (policy) {
                case "DEFAULT" -> upgrade = TrafficPolicySpec.H2Upgrade.DEFAULT;
                case "UPGRADE" -> upgrade = TrafficPolicySpec.H2Upgrade.UPGRADE;
                case "DO_NOT_UPGRADE" -> upgrade = TrafficPolicySpec.H2Upgrade.DO_NOT_UPGRADE;
                default -> ctx.error(path(hp, "h2UpgradePolicy"), message("h2UpgradePolicy", policy,
                        "one of DEFAULT, DO_NOT_UPGRADE, UPGRADE"));
            }
        }
        boolean clientProtocol = ctx.bool(http, hp, "useClientProtocol", false);
        if (clientProtocol && upgrade == TrafficPolicySpec.H2Upgrade.UPGRADE) {
            ctx.error(path(hp, "useClientProtocol"), "useClientProtocol: true (expected: not with h2UpgradePolicy "
                    + "UPGRADE, as Istio requires)");
        }
        int streams = ctx.integer(http, hp, "maxConcurrentStreams", 0, Integer.MAX_VALUE, 0);
        TrafficPolicySpec.Http2KeepaliveSpec h2Keepalive = null;
        JsonNode h2ka = ctx.object(http, hp, "http2KeepAlive");
        if (h2ka != null) {
            String kp = path(hp, "http2KeepAlive");
            ctx.unknownKeys(h2ka, kp, HTTP2_KEEPALIVE_FIELDS);
            Duration interval = duration(ctx, h2ka, kp, "interval");
            Duration timeout = duration(ctx, h2ka, kp, "timeout");
            for (String f : List.of("interval", "timeout")) {
                if (child(h2ka, f) == null) {
                    ctx.error(path(kp, f), f + ": missing (expected: a duration; Istio requires both interval and timeout)");
                }
            }
            if (interval != null && timeout != null) {
                h2Keepalive = new TrafficPolicySpec.Http2KeepaliveSpec(interval, timeout);
            }
        }
        TrafficPolicySpec.TcpKeepaliveSpec keepalive = null;
        JsonNode ka = ctx.object(tcp, tp, "tcpKeepalive");
        if (ka != null) {
            String kp = path(tp, "tcpKeepalive");
            ctx.unknownKeys(ka, kp, KEEPALIVE_FIELDS);
            keepalive = new TrafficPolicySpec.TcpKeepaliveSpec(ctx.integer(ka, kp, "probes", 0, Integer.MAX_VALUE, 0),
                    duration(ctx, ka, kp, "time"), duration(ctx, ka, kp, "interval"));
        }
        return new TrafficPolicySpec.ConnectionPoolSpec(maxConnections, pending, h2, perConnection, maxRetries, idle,
                connect, keepalive, tcpIdle, maxDuration, upgrade, clientProtocol, streams, h2Keepalive);
    }

    /**
     * {@code tls} (Istio's {@code ClientTLSSettings}), checked as Istio's {@code ValidateTLS}: MUTUAL
     * without {@code credentialName} needs {@code clientCertificate} and {@code privateKey};
     * {@code credentialName} excludes the file fields and {@code caCrl}; {@code insecureSkipVerify}
     * beside {@code caCertificates} or {@code subjectAltNames} (or, with SIMPLE,
     * {@code credentialName}), which Istio refuses, is a warning: the flag wins. Files and Secrets are
     * read when the policy is compiled (waypoint-lb),
     * where a missing or unusable one is an error and the port's connections fail closed.
     */
    private static TrafficPolicySpec.TlsSpec tls(ObjectContext ctx, JsonNode tls, String p) {
        if (tls == null) {
            return null;
        }
        ctx.unknownKeys(tls, p, TLS_FIELDS);
        String mode = ctx.string(tls, p, "mode");
        // "" is not written, as proto3 reads it (charts often render empty values)
        String ca = nonEmpty(ctx.string(tls, p, "caCertificates"));
        String cert = nonEmpty(ctx.string(tls, p, "clientCertificate"));
        String key = nonEmpty(ctx.string(tls, p, "privateKey"));
        String credential = nonEmpty(ctx.string(tls, p, "credentialName"));
        String sni = nonEmpty(ctx.string(tls, p, "sni"));
        String crl = nonEmpty(ctx.string(tls, p, "caCrl"));
        List<String> sans = ctx.stringList(tls, p, "subjectAltNames");
        boolean skip = ctx.bool(tls, p, "insecureSkipVerify", false);
        if (crl != null) {
            ctx.warning(path(p, "caCrl"), "caCrl is not applied by this waypoint yet (no revocation check)");
        }
        if (mode == null || mode.equals("DISABLE")) {
            return null;
        }
        if (mode.equals("ISTIO_MUTUAL")) {
            ctx.note(path(p, "mode"), "ISTIO_MUTUAL is ignored at a waypoint: HBONE already secures mesh endpoints");
            return null;
        }
        if (!mode.equals("SIMPLE") && !mode.equals("MUTUAL")) {
            ctx.error(path(p, "mode"), message("mode", mode, "one of DISABLE, SIMPLE, MUTUAL, ISTIO_MUTUAL"));
            return null;
        }
        boolean mutual = mode.equals("MUTUAL");
        if (credential != null && (ca != null || cert != null || key != null || crl != null)) {
            ctx.error(path(p, "credentialName"), "credentialName: " + credential
                    + " (expected: no caCertificates, clientCertificate, privateKey or caCrl beside it, as Istio requires)");
            return null;
        }
        if (skip && (ca != null || !sans.isEmpty() || (!mutual && credential != null))) {
            // Istio's webhook refuses this; a warning here, so that such a rule still originates TLS (a rejected
            // rule would leave its Service in plaintext): nothing verifies the server, as the flag says
            String f = ca != null ? "caCertificates" : !sans.isEmpty() ? "subjectAltNames" : "credentialName";
            ctx.warning(path(p, "insecureSkipVerify"), "insecureSkipVerify: true beside " + f + " with mode " + mode
                    + " (Istio refuses this): the server is not verified, " + f + " is not used");
        }
        if (credential != null) {
            // the Secret (in the waypoint's namespace) is read when the policy is compiled
            return new TrafficPolicySpec.TlsSpec(mutual, null, null, null, credential, sni, sans, skip);
        }
        if (mutual && (cert == null || key == null)) {
            ctx.error(path(p, cert == null ? "clientCertificate" : "privateKey"), (cert == null ? "clientCertificate" : "privateKey")
                    + ": missing (expected: a PEM file, required with mode MUTUAL)");
            return null;
        }
        if (!mutual && (cert != null || key != null)) {
            ctx.warning(path(p, cert != null ? "clientCertificate" : "privateKey"),
                    "ignored with mode SIMPLE (no client certificate is presented)");
            cert = null;
            key = null;
        }
        return new TrafficPolicySpec.TlsSpec(mutual, ca, cert, key, credential, sni, sans, skip);
    }

    private static String nonEmpty(String s) {
        return s == null || s.isEmpty() ? null : s;
    }

    private static LoadBalancerSpec loadBalancer(ObjectContext ctx, JsonNode lb, String p) {
        if (lb == null) {
            return null;
        }
        ctx.unknownKeys(lb, p, LB_FIELDS);
        for (String f : LB_NOT_APPLIED) {
            if (ctx.object(lb, p, f) != null) {
                ctx.warning(path(p, f), f + " is not applied by this waypoint yet"
                        + (f.equals("backendUtilization") ? " (the default load balancing applies)" : ""));
            }
        }
        // CRD oneOf: at most one of simple, consistentHash and backendUtilization
        if (child(lb, "backendUtilization") != null && (child(lb, "simple") != null || child(lb, "consistentHash") != null)) {
            ctx.error(path(p, "backendUtilization"), message("backendUtilization", "with simple or consistentHash",
                    "only one of simple, consistentHash or backendUtilization"));
        }
        Simple simple = null;
        String s = ctx.string(lb, p, "simple");
        if (s != null) {
            switch (s) {
                case "UNSPECIFIED" -> simple = Simple.UNSPECIFIED;
                case "LEAST_REQUEST" -> simple = Simple.LEAST_REQUEST;
                case "LEAST_CONN" -> {
                    ctx.note(path(p, "simple"), "LEAST_CONN is deprecated; it means LEAST_REQUEST");
                    simple = Simple.LEAST_REQUEST;
                }
                case "ROUND_ROBIN" -> simple = Simple.ROUND_ROBIN;
                case "RANDOM" -> simple = Simple.RANDOM;
                case "PASSTHROUGH" -> simple = Simple.PASSTHROUGH;
                default -> ctx.error(path(p, "simple"), message("simple", s,
                        "one of UNSPECIFIED, LEAST_REQUEST, LEAST_CONN, ROUND_ROBIN, RANDOM, PASSTHROUGH"));
            }
        }
        ConsistentHashSpec hash = consistentHash(ctx, ctx.object(lb, p, "consistentHash"), path(p, "consistentHash"));
        if (simple != null && child(lb, "consistentHash") != null) {
            ctx.error(path(p, "simple"), message("simple", s, "only one of simple or consistentHash"));
            simple = null;
        }
        TrafficPolicySpec.LocalityLbSpec locality = locality(ctx, ctx.object(lb, p, "localityLbSetting"),
                path(p, "localityLbSetting"));
        Duration warmup = null;
        if (child(lb, "warmupDurationSecs") != null) {
            warmup = duration(ctx, lb, p, "warmupDurationSecs");
        }
        if (child(lb, "warmup") != null) {
            JsonNode w = ctx.object(lb, p, "warmup");
            ctx.unknownKeys(w, path(p, "warmup"), Set.of("duration", "minimumPercent", "aggression"));
            if (w != null && child(w, "duration") != null) {
                warmup = duration(ctx, w, path(p, "warmup"), "duration");
            }
        }
        if (warmup != null && hash != null) {
            ctx.warning(path(p, "warmupDurationSecs"), "warmup applies to ROUND_ROBIN and LEAST_REQUEST only "
                    + "(as Envoy's slow start); ignored with consistentHash");
            warmup = null;
        }
        return new LoadBalancerSpec(simple, hash, warmup, locality);
    }

    /**
     * {@code localityLbSetting}, checked as Istio's {@code validateLocalityLbSetting}: not both
     * {@code failover} and {@code distribute}; a failover's {@code from} differs from its {@code to};
     * the weights of one {@code distribute.to} sum to 100; localities with at most three parts.
     */
    static TrafficPolicySpec.LocalityLbSpec locality(ObjectContext ctx, JsonNode l, String p) {
        if (l == null) {
            return null;
        }
        ctx.unknownKeys(l, p, Set.of("enabled", "failover", "failoverPriority", "distribute"));
        boolean enabled = ctx.bool(l, p, "enabled", true);
        List<TrafficPolicySpec.LocalityLbSpec.Failover> failover = new ArrayList<>();
        List<JsonNode> fs = ctx.list(l, p, "failover");
        for (int i = 0; i < fs.size(); i++) {
            String fp = index(path(p, "failover"), i);
            JsonNode f = ctx.element(fs.get(i), fp, "failover[" + i + "]");
            if (f == null) {
                continue;
            }
            ctx.unknownKeys(f, fp, Set.of("from", "to"));
            String from = ctx.requiredString(f, fp, "from", "a region");
            String to = ctx.requiredString(f, fp, "to", "a region");
            if (from != null && to != null) {
                if (from.equals(to)) {
                    ctx.error(path(fp, "to"), message("to", to, "a region other than from"));
                } else if (from.contains("/") || to.contains("/")) {
                    ctx.error(fp, message("failover", from + " -> " + to, "regions, not region/zone"));
                } else {
                    failover.add(new TrafficPolicySpec.LocalityLbSpec.Failover(from, to));
                }
            }
        }
        List<String> priority = ctx.stringList(l, p, "failoverPriority");
        List<TrafficPolicySpec.LocalityLbSpec.Distribute> distribute = new ArrayList<>();
        List<JsonNode> ds = ctx.list(l, p, "distribute");
        for (int i = 0; i < ds.size(); i++) {
            String dp = index(path(p, "distribute"), i);
            JsonNode d = ctx.element(ds.get(i), dp, "distribute[" + i + "]");
            if (d == null) {
                continue;
            }
            ctx.unknownKeys(d, dp, Set.of("from", "to"));
            String from = ctx.requiredString(d, dp, "from", "a locality region/zone/subzone (* allowed)");
            Map<String, Integer> to = new java.util.LinkedHashMap<>();
            JsonNode t = ctx.object(d, dp, "to");
            int sum = 0;
            if (t != null) {
                for (var it = t.fields(); it.hasNext(); ) {
                    var e = it.next();
                    int w = ctx.integer(t, path(dp, "to"), e.getKey(), 0, 100, 0);
                    to.put(e.getKey(), w);
                    sum += w;
                }
            }
            if (from != null && from.split("/", -1).length > 3) {
                ctx.error(path(dp, "from"), message("from", from, "at most region/zone/subzone"));
            } else if (sum != 100) {
                ctx.error(path(dp, "to"), message("to", Integer.toString(sum), "weights summing to 100"));
            } else if (from != null) {
                distribute.add(new TrafficPolicySpec.LocalityLbSpec.Distribute(from, to));
            }
        }
        if (!failover.isEmpty() && !distribute.isEmpty()) {
            ctx.error(p, "localityLbSetting: failover and distribute (expected: only one of them, as Istio requires)");
            return null;
        }
        return new TrafficPolicySpec.LocalityLbSpec(enabled, failover, priority, distribute);
    }

    private static ConsistentHashSpec consistentHash(ObjectContext ctx, JsonNode h, String p) {
        if (h == null) {
            return null;
        }
        ctx.unknownKeys(h, p, HASH_FIELDS);
        List<String> keys = new ArrayList<>();
        HashOn on = null;
        String name = null;
        String cookiePath = null;
        Duration ttl = null;
        String header = ctx.string(h, p, "httpHeaderName");
        if (header != null) {
            keys.add("httpHeaderName");
            on = HashOn.HEADER;
            name = header.toLowerCase(java.util.Locale.ROOT);
        }
        JsonNode cookie = ctx.object(h, p, "httpCookie");
        if (cookie != null) {
            keys.add("httpCookie");
            String cp = path(p, "httpCookie");
            ctx.unknownKeys(cookie, cp, COOKIE_FIELDS);
            on = HashOn.COOKIE;
            name = ctx.requiredString(cookie, cp, "name", "a cookie name");
            cookiePath = ctx.string(cookie, cp, "path");
            if (child(cookie, "ttl") != null) {
                ttl = durationOrZero(ctx, cookie, cp, "ttl");
            }
            if (child(cookie, "attributes") != null) {
                ctx.warning(path(cp, "attributes"), "cookie attributes are not set by this waypoint yet");
            }
        }
        if (ctx.bool(h, p, "useSourceIp", false)) {
            keys.add("useSourceIp");
            on = HashOn.SOURCE_IP;
        }
        String query = ctx.string(h, p, "httpQueryParameterName");
        if (query != null) {
            keys.add("httpQueryParameterName");
            on = HashOn.QUERY_PARAMETER;
            name = query;
        }
        if (keys.size() != 1) {
            ctx.error(p, message("consistentHash", keys.isEmpty() ? "no hash key" : String.join(", ", keys),
                    "exactly one of httpHeaderName, httpCookie, useSourceIp, httpQueryParameterName"));
            return null;
        }
        HashTable table = HashTable.RING_HASH;
        long size = 1024;
        JsonNode ring = ctx.object(h, p, "ringHash");
        JsonNode maglev = ctx.object(h, p, "maglev");
        if (ring != null && maglev != null) {
            ctx.error(path(p, "maglev"), message("maglev", render(maglev), "only one of ringHash or maglev"));
        }
        if (child(h, "minimumRingSize") != null) {
            size = ctx.integer(h, p, "minimumRingSize", 1, 8_388_608, 1024);
        }
        if (ring != null) {
            ctx.unknownKeys(ring, path(p, "ringHash"), Set.of("minimumRingSize"));
            size = ctx.integer(ring, path(p, "ringHash"), "minimumRingSize", 1, 8_388_608, 1024);
        }
        if (maglev != null) {
            ctx.unknownKeys(maglev, path(p, "maglev"), Set.of("tableSize"));
            table = HashTable.MAGLEV;
            size = ctx.integer(maglev, path(p, "maglev"), "tableSize", 1, 5_000_011, 65537);
            if (!isPrime(size)) {
                // Envoy: "The table size must be prime number limited to 5000011"
                ctx.error(path(path(p, "maglev"), "tableSize"), message("tableSize", Long.toString(size), "a prime number"));
            }
        }
        if (on == null) {
            return null;
        }
        return new ConsistentHashSpec(on, name, cookiePath, ttl, table, size);
    }

    private static OutlierDetectionSpec outlier(ObjectContext ctx, JsonNode o, String p) {
        if (o == null) {
            return null;
        }
        ctx.unknownKeys(o, p, OUTLIER_FIELDS);
        if (child(o, "outlierDetectionHttpErrorCodes") != null) {
            ctx.list(o, p, "outlierDetectionHttpErrorCodes"); // a list, or reported
            ctx.warning(path(p, "outlierDetectionHttpErrorCodes"), "outlierDetectionHttpErrorCodes is not applied by "
                    + "this waypoint yet: 5xx responses and gateway errors count, as without it");
        }
        int c5xx = 5;
        if (child(o, "consecutiveErrors") != null) {
            ctx.note(path(p, "consecutiveErrors"), "consecutiveErrors is deprecated; read as consecutiveGatewayErrors");
        }
        c5xx = ctx.integer(o, p, "consecutive5xxErrors", 0, Integer.MAX_VALUE, c5xx);
        int gw = ctx.integer(o, p, "consecutiveGatewayErrors", 0, Integer.MAX_VALUE,
                ctx.integer(o, p, "consecutiveErrors", 0, Integer.MAX_VALUE, 0));
        int local = ctx.integer(o, p, "consecutiveLocalOriginFailures", 0, Integer.MAX_VALUE, 5);
        boolean split = ctx.bool(o, p, "splitExternalLocalOriginErrors", false);
        Duration interval = child(o, "interval") != null ? duration(ctx, o, p, "interval") : null;
        Duration base = child(o, "baseEjectionTime") != null ? duration(ctx, o, p, "baseEjectionTime") : null;
        int maxPct = ctx.integer(o, p, "maxEjectionPercent", 0, 100, 10);
        int minHealth = ctx.integer(o, p, "minHealthPercent", 0, 100, 0);
        return new OutlierDetectionSpec(c5xx, gw, local, split, interval == null ? Duration.ofSeconds(10) : interval,
                base == null ? Duration.ofSeconds(30) : base, maxPct, minHealth);
    }

    private static Duration durationOrZero(ObjectContext ctx, JsonNode parent, String p, String key) {
        JsonNode t = child(parent, key);
        if (t != null && t.isTextual() && Duration.ZERO.equals(GoDuration.parse(t.textValue()))) {
            return Duration.ZERO;
        }
        return duration(ctx, parent, p, key);
    }

    /** A duration as Istio reads it ({@link GoDuration}), of at least 1ms. */
    static Duration duration(ObjectContext ctx, JsonNode parent, String parentPath, String key) {
        JsonNode t = child(parent, key);
        String p = path(parentPath, key);
        if (t == null) {
            return null;
        }
        Duration d = t.isTextual() ? GoDuration.parse(t.textValue()) : null;
        if (d == null || d.compareTo(Duration.ofMillis(1)) < 0) {
            // Istio's CRD: duration(self) >= duration('1ms'); below it, Envoy's millisecond fields would read 0
            ctx.error(p, message(key, d == null ? renderJson(t) : t.textValue(), DURATION_EXPECTED));
            return null;
        }
        return d;
    }

    private static boolean isPrime(long n) {
        if (n < 2) {
            return false;
        }
        for (long d = 2; d * d <= n; d++) {
            if (n % d == 0) {
                return false;
            }
        }
        return true;
    }
}
