// The bundle's entry: the public API, plus `_main` for the worker's generated
// entry module, so that a worker and the user's modules share one copy of the
// runtime (one task registry, one process context).
import { _setRuntimeUrl } from "../runtime/host.ts";

export * from "../troupe.ts";
export { _main } from "../runtime/entry.ts";

// Inlined into dist/troupe.js, this is the bundle's own URL.
_setRuntimeUrl(import.meta.url);
