// The bundle's entry: the public API, plus `_main` for the worker's generated
// entry module, so that a worker and the user's modules share one copy of the
// runtime (one task registry, one process context).
import { _setRuntimeUrl } from "../actors/_worker_host.ts";
import * as api from "../troupe.ts";

export * from "../troupe.ts";
export { _main } from "../actors/_worker_runtime.ts";

// Inlined into dist/troupe.js, this is the bundle's own URL.
_setRuntimeUrl(import.meta.url);

// Minified names would show in `console.log(queue)` and stack traces: the
// public classes and functions get theirs back. (esbuild's --keep-names does
// this for all ~700 functions, at ~90 KB of allocation in every worker.)
for (const [name, value] of Object.entries(api)) {
  if (typeof value === "function" && value.name !== name) {
    Object.defineProperty(value, "name", { value: name, configurable: true });
  }
}
