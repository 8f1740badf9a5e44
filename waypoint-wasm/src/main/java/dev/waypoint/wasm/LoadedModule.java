package dev.waypoint.wasm;

import com.dylibso.chicory.runtime.Instance;
import com.dylibso.chicory.runtime.Machine;
import com.dylibso.chicory.wasm.WasmModule;
import java.util.function.Function;

/**
 * A parsed and (with the compiler) compiled module, ready to instantiate once per event loop.
 * Immutable and shared by every VM of the module.
 *
 * @param sha256 the module's digest (lower-case hex)
 * @param machine the compiled machine factory, or null to interpret
 * @param abi {@code 0.2.1}, {@code 0.2.0} or {@code 0.1.0}, from the {@code proxy_abi_version_*} export
 */
record LoadedModule(String sha256, WasmModule module, Function<Instance, Machine> machine, String abi) {}
