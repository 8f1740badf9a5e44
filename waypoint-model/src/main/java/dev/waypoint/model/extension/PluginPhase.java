package dev.waypoint.model.extension;

/**
 * Where in the request filters a {@code WasmPlugin} / {@code TrafficExtension} runs (Istio
 * {@code extensions/v1alpha1/wasm.proto} {@code PluginPhase}): {@code AUTHN} "before Istio
 * authentication filters", {@code AUTHZ} "after authentication, before authorization",
 * {@code STATS} "after authorization and before stats", {@code UNSPECIFIED} "at the end of the
 * filter chain, right before the Router".
 */
public enum PluginPhase {
    AUTHN, AUTHZ, STATS, UNSPECIFIED
}
