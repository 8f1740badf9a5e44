package dev.waypoint.telemetry;

import dev.waypoint.model.request.AuthzDecision;
import dev.waypoint.model.request.RequestContext;
import dev.waypoint.model.request.RequestOutcome;
import dev.waypoint.model.request.TcpOutcome;
import dev.waypoint.model.request.Target;
import dev.waypoint.model.request.TunnelContext;
import java.net.InetSocketAddress;
import java.time.Instant;

/**
 * The values of one access-log entry: a finished HTTP request ({@link Http}) or a TCP tunnel
 * ({@link Tcp}), as Envoy's command operators name them. Pure.
 */
final class LogEntries {
    private LogEntries() {}

    /** A finished request, ended at {@code now}. */
    record Http(RequestContext request, String clusterDomain, Instant now) implements AccessLogFormat.Entry {
        @Override
        public Instant start() {
            return now.minusMillis(Math.max(0, request.outcome().durationNanos() / 1_000_000));
        }

        @Override
        public String string(AccessLogFormat.Op op, String header) {
            RequestOutcome o = request.outcome();
            return switch (op) {
                case REQ -> switch (header) {
                    case ":method" -> request.attributes().method();
                    case ":path", "x-envoy-original-path" -> header.equals(":path") ? request.attributes().path() : null;
                    case ":authority", "host" -> request.attributes().host();
                    case ":scheme" -> request.attributes().scheme();
                    default -> request.attributes().headers().get(header);
                };
                case RESP -> header.equals("x-envoy-upstream-service-time") && o.timeToResponseNanos() >= 0
                        && o.attempts() > 0 ? Long.toString(o.timeToResponseNanos() / 1_000_000) : null;
                case PROTOCOL -> request.attributes().protocol();
                case RESPONSE_FLAGS -> o.flags();
                case RESPONSE_CODE_DETAILS -> details(o);
                case UPSTREAM_HOST -> o.endpoint();
                case UPSTREAM_CLUSTER -> request.target() instanceof Target.ServiceTarget s
                        ? cluster(s, "http", clusterDomain) : "connect_originate";
                case DOWNSTREAM_LOCAL_ADDRESS -> request.target().authority().toString();
                case DOWNSTREAM_REMOTE_ADDRESS -> address(request.tunnel().source(), true);
                case DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT -> address(request.tunnel().source(), false);
                case DOWNSTREAM_PEER_URI_SAN -> request.tunnel().peer() == null ? null : request.tunnel().peer().uri();
                case ROUTE_NAME -> o.route();
                case AUTHZ_DECISION -> {
                    AuthzDecision d = request.get(AuthzDecision.KEY);
                    yield d == null ? null : envoyDetail(d.detail());
                }
                default -> null;
            };
        }

        private String details(RequestOutcome o) {
            AuthzDecision d = request.get(AuthzDecision.KEY);
            if (d != null && !d.allowed() && o.reason().startsWith("rbac_access_denied")) {
                return envoyDetail(d.detail()); // Envoy's RBAC filter names the policy and rule here
            }
            return o.reason();
        }

        @Override
        public long number(AccessLogFormat.Op op) {
            RequestOutcome o = request.outcome();
            return switch (op) {
                case RESPONSE_CODE -> o.status();
                case BYTES_RECEIVED -> o.requestBytes();
                case BYTES_SENT -> o.responseBytes();
                case DURATION -> Math.max(0, o.durationNanos() / 1_000_000);
                case RESPONSE_DURATION -> o.timeToResponseNanos() < 0 ? -1 : o.timeToResponseNanos() / 1_000_000;
                case UPSTREAM_REQUEST_ATTEMPT_COUNT -> o.attempts();
                case GRPC_STATUS_NUMBER -> o.grpcStatus();
                default -> -1;
            };
        }
    }

    /** A TCP tunnel, ended at {@code now}: no request, code 0, its termination details. */
    record Tcp(TunnelContext tunnel, TcpOutcome outcome, String clusterDomain, Instant now)
            implements AccessLogFormat.Entry {
        @Override
        public Instant start() {
            return now.minusMillis(Math.max(0, outcome.durationNanos() / 1_000_000));
        }

        @Override
        public String string(AccessLogFormat.Op op, String header) {
            return switch (op) {
                case RESPONSE_FLAGS -> outcome.flags();
                case CONNECTION_TERMINATION_DETAILS -> outcome.details().equals("-") ? null : envoyDetail(outcome.details());
                case UPSTREAM_HOST -> outcome.endpoint();
                case UPSTREAM_CLUSTER -> tunnel.target() instanceof Target.ServiceTarget s
                        ? cluster(s, "tcp", clusterDomain) : "connect_originate";
                case DOWNSTREAM_LOCAL_ADDRESS -> tunnel.target().authority().toString();
                case DOWNSTREAM_REMOTE_ADDRESS -> address(tunnel.source(), true);
                case DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT -> address(tunnel.source(), false);
                case DOWNSTREAM_PEER_URI_SAN -> tunnel.peer() == null ? null : tunnel.peer().uri();
                case AUTHZ_DECISION -> outcome.details().startsWith("rbac_access_denied") ? envoyDetail(outcome.details())
                        : null;
                default -> null;
            };
        }

        @Override
        public long number(AccessLogFormat.Op op) {
            return switch (op) {
                case RESPONSE_CODE -> 0;
                case BYTES_RECEIVED -> outcome.receivedBytes();
                case BYTES_SENT -> outcome.sentBytes();
                case DURATION -> Math.max(0, outcome.durationNanos() / 1_000_000);
                case UPSTREAM_REQUEST_ATTEMPT_COUNT -> outcome.endpoint() == null ? 0 : 1;
                default -> -1;
            };
        }
    }

    /** Istio's waypoint names its inbound VIP clusters {@code inbound-vip|PORT|http|HOST} (tcp for TCP). */
    static String cluster(Target.ServiceTarget s, String protocol, String clusterDomain) {
        return "inbound-vip|" + s.port().port() + "|" + protocol + "|" + s.service().name().name() + "."
                + s.service().name().namespace() + ".svc." + clusterDomain;
    }

    static String address(InetSocketAddress a, boolean withPort) {
        if (a == null) {
            return null;
        }
        String ip = a.getAddress().getHostAddress();
        if (!withPort) {
            return ip;
        }
        return (ip.indexOf(':') >= 0 ? "[" + ip + "]" : ip) + ":" + a.getPort();
    }

    /**
     * A decision's detail in Envoy's RBAC form, without spaces (a TEXT log field):
     * {@code rbac_access_denied_matched_policy[apps/deny, rule 1]} →
     * {@code rbac_access_denied_matched_policy[ns[apps]-policy[deny]-rule[1]]}; {@code [none]}
     * and {@code [no policy]} → {@code [none]}; anything else as is.
     */
    static String envoyDetail(String detail) {
        int open = detail.indexOf('[');
        if (open < 0 || !detail.endsWith("]")) {
            return detail;
        }
        String head = detail.substring(0, open);
        String inner = detail.substring(open + 1, detail.length() - 1);
        if (inner.equals("none") || inner.equals(AuthzDecision.NO_POLICY)) {
            return head + "[none]";
        }
        String policy = inner;
        String rule = null;
        int comma = inner.indexOf(", rule ");
        if (comma >= 0) {
            policy = inner.substring(0, comma);
            rule = inner.substring(comma + ", rule ".length());
        }
        int slash = policy.indexOf('/');
        if (slash < 0) {
            return head + "[" + policy.replace(' ', '_') + "]";
        }
        return head + "[ns[" + policy.substring(0, slash) + "]-policy[" + policy.substring(slash + 1) + "]"
                + (rule == null ? "" : "-rule[" + rule + "]") + "]";
    }
}
