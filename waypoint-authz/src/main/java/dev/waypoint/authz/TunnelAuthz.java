package dev.waypoint.authz;

import dev.waypoint.model.ConfigSnapshot;
import dev.waypoint.model.mesh.SpiffeId;
import dev.waypoint.model.request.AuthzDecision;
import dev.waypoint.model.request.HeadersView;
import dev.waypoint.model.request.Rejection;
import dev.waypoint.model.request.RequestAttributes;
import dev.waypoint.model.request.TunnelContext;
import java.net.InetSocketAddress;

/**
 * The L4 check of a TCP tunnel: the tunnel's target engine, evaluated with the rules compiled for
 * TCP ("HTTP-only fields make ALLOW rules never match and DENY rules match more broadly"). The
 * server hands {@link #check} to the listener as its tunnel authorizer.
 */
public final class TunnelAuthz {
    private TunnelAuthz() {}

    /** The decision for {@code tunnel} under {@code snapshot}'s policies. */
    public static AuthzDecision decide(ConfigSnapshot snapshot, TunnelContext tunnel) {
        AuthzEngine engine = snapshot.part(AuthzTable.PART).engineFor(tunnel.target());
        return engine.isEmpty() ? AuthzEngine.ALLOW_NO_POLICY : engine.decideTcp(new Connection(tunnel));
    }

    /** Null when allowed, else a {@link Rejection.Reason#CONNECT_RBAC_DENIED} naming the policy. */
    public static Rejection check(ConfigSnapshot snapshot, TunnelContext tunnel) {
        AuthzDecision d = decide(snapshot, tunnel);
        return d.allowed() ? null : new Rejection(Rejection.Reason.CONNECT_RBAC_DENIED, d.detail());
    }

    /** A tunnel seen as attributes: no method, path, host or headers. */
    private record Connection(TunnelContext tunnel) implements RequestAttributes {
        @Override
        public String method() {
            return null;
        }

        @Override
        public String path() {
            return null;
        }

        @Override
        public String host() {
            return null;
        }

        @Override
        public String scheme() {
            return null;
        }

        @Override
        public String protocol() {
            return "TCP";
        }

        @Override
        public boolean grpc() {
            return false;
        }

        @Override
        public HeadersView headers() {
            return null;
        }

        @Override
        public SpiffeId sourcePrincipal() {
            return tunnel.peer();
        }

        @Override
        public InetSocketAddress sourceAddress() {
            return tunnel.source();
        }

        @Override
        public InetSocketAddress destinationAddress() {
            return new InetSocketAddress(tunnel.target().authority().address(), tunnel.target().authority().port());
        }
    }
}
