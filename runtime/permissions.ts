/**
 * Permissions for a worker: the shape users pass, its validation, and the
 * checks that make sure a worker never runs with more rights than asked.
 *
 * @module
 */
import { PermissionError } from "./errors.ts";
import { _describe } from "./util.ts";
import { _context } from "./context.ts";

/** One permission: inherit the parent's, all (`true`), none (`false`), or a list of allowed items. */
export type PermissionValue = "inherit" | boolean | string[];

/**
 * A narrowed permission set. A key that is left out is **denied** (unlike
 * Deno's own worker option, where it is inherited), so a worker never gets a
 * right that was not written down.
 */
export interface PermissionSet {
  /** File system read access: paths, or `true` for all. */
  read?: PermissionValue;
  /** File system write access: paths, or `true` for all. */
  write?: PermissionValue;
  /** Network access: `"host"` or `"host:port"` entries, or `true` for all. */
  net?: PermissionValue;
  /** Environment variables: names, or `true` for all. */
  env?: PermissionValue;
  /** Subprocesses: command names or paths, or `true` for all. */
  run?: PermissionValue;
  /** Foreign function interface: library paths, or `true` for all. */
  ffi?: PermissionValue;
  /** System information: kinds such as `"hostname"`, or `true` for all. */
  sys?: PermissionValue;
  /** Dynamic imports from remote hosts: hosts, or `true` for all. */
  import?: PermissionValue;
}

/**
 * What a process, pool or actor may do: `"inherit"` the parent's permissions
 * (the default), `"none"`, or a {@linkcode PermissionSet}.
 *
 * Anything narrower than `"inherit"` needs Deno's `worker-options` unstable
 * feature: `"unstable": ["worker-options"]` in deno.json or the
 * `--unstable-worker-options` flag.
 *
 * @example A worker that may read one folder and nothing else
 * ```ts
 * import type { Permissions } from "@troupe/troupe";
 *
 * const readOnly: Permissions = { read: ["./data"] };
 * console.assert(typeof readOnly === "object");
 * ```
 */
export type Permissions = "inherit" | "none" | PermissionSet;

const NAMES = ["read", "write", "net", "env", "run", "ffi", "sys", "import"] as const;
type Name = typeof NAMES[number];

/** Every kind of permission, in Deno's order. */
export const _PERMISSION_NAMES: readonly Name[] = NAMES;

/** The option Deno's `Worker` takes, after validation; `undefined` for `"inherit"`. */
export type _DenoPermissions = "none" | Record<Name, "inherit" | boolean | string[]>;

/**
 * Validates a permissions option and turns it into Deno's worker option.
 * Omitted keys become `false`.
 *
 * @throws {TypeError} Naming the key or value that is wrong.
 */
export function _normalizePermissions(
  permissions: unknown,
  where = "permissions",
): _DenoPermissions | undefined {
  if (permissions === undefined || permissions === "inherit") return undefined;
  if (permissions === "none") return "none";
  if (typeof permissions !== "object" || permissions === null || Array.isArray(permissions)) {
    throw new TypeError(
      `${where} must be "inherit", "none" or an object such as { read: true }, got ${
        _describe(permissions)
      }`,
    );
  }
  const out = {} as Record<Name, "inherit" | boolean | string[]>;
  for (const key of Object.keys(permissions)) {
    if (!(NAMES as readonly string[]).includes(key)) {
      throw new TypeError(
        `${where}.${key} is not a permission; use any of ${NAMES.join(", ")}`,
      );
    }
  }
  for (const name of NAMES) {
    const value = (permissions as Record<string, unknown>)[name];
    if (value === undefined) out[name] = false;
    else if (value === "inherit" || typeof value === "boolean") out[name] = value;
    else if (
      Array.isArray(value) && value.every((v) => typeof v === "string" || v instanceof URL)
    ) {
      out[name] = value.map((v) => v instanceof URL ? v.pathname : v);
    } else {
      throw new TypeError(
        `${where}.${name} must be "inherit", true, false or an array of strings, got ${
          _describe(value)
        }`,
      );
    }
  }
  return out;
}

function descriptor(name: Name, item?: string): Deno.PermissionDescriptor {
  if (item === undefined) return { name } as Deno.PermissionDescriptor;
  switch (name) {
    case "read":
    case "write":
    case "ffi":
      return { name, path: item };
    case "net":
    case "import":
      return { name, host: item };
    case "env":
      return { name, variable: item };
    case "run":
      return { name, command: item };
    case "sys":
      return { name, kind: item as Deno.SysPermissionDescriptor["kind"] };
  }
}

/**
 * Throws before any worker starts when `perms` cannot be applied: it asks for a
 * right this thread does not hold, or narrowing is impossible because the
 * `worker-options` unstable feature is known to be off.
 */
export function _assertApplicable(
  perms: _DenoPermissions | undefined,
  where: string,
  method: "thread" | "spawn" = "thread",
): void {
  if (perms === undefined) return;
  // An OS process gets its rights as flags: no unstable feature is needed for them.
  if (method === "thread" && _workerOptionsEnabled() === false) {
    throw new PermissionError(
      `${where} asks for narrowed permissions, which Deno applies only with its ` +
        `'worker-options' unstable feature. Add "unstable": ["worker-options"] to deno.json ` +
        `or run with --unstable-worker-options (or use permissions: "inherit")`,
    );
  }
  if (perms === "none") return;
  for (const name of NAMES) {
    const value = perms[name];
    if (value === false || value === "inherit") continue;
    for (const item of value === true ? [undefined] : value) {
      const state = Deno.permissions.querySync(descriptor(name, item)).state;
      if (state !== "granted") {
        const what = item === undefined
          ? `all ${name} access`
          : `${name} access to ${JSON.stringify(item)}`;
        throw new PermissionError(
          `${where}.${name} asks for ${what}, which this process does not have (${state}); ` +
            `a worker cannot get more rights than its parent. Grant it to the parent ` +
            `(e.g. --allow-${name}) or ask for less`,
        );
      }
    }
  }
}

/**
 * Whether Deno's `worker-options` unstable feature is on: `true`/`false` when
 * it can be told, `undefined` when it cannot (no read access to find out).
 * Deno has no API for it, so this reads the command line and the config files
 * Deno would discover; a worker learns it from its parent.
 */
export function _workerOptionsEnabled(): boolean | undefined {
  const ctx = _context();
  if (ctx.workerOptions === null) ctx.workerOptions = detectWorkerOptions();
  return ctx.workerOptions;
}

function canRead(path: string): boolean {
  try {
    return Deno.permissions.querySync({ name: "read", path }).state === "granted";
  } catch {
    return false;
  }
}

function readText(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

let ownArgv: string[] | undefined;

/**
 * This program's own command line, `deno` first, when it may be read (Linux,
 * with read access to /proc/self/cmdline); read once.
 */
export function _ownArgv(): string[] | undefined {
  if (ownArgv !== undefined) return ownArgv;
  if (Deno.build.os !== "linux" || !canRead("/proc/self/cmdline")) return undefined;
  return ownArgv = readText("/proc/self/cmdline")?.split("\0").filter((arg) => arg !== "");
}

function detectWorkerOptions(): boolean | undefined {
  const argv = _ownArgv();
  if (!argv) return undefined;
  const configs: string[] = [];
  // A false positive here only trades our message for Deno's own exit (70).
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--unstable" || arg === "--unstable-worker-options") return true;
    if (arg === "--config" || arg === "-c") configs.push(argv[i + 1] ?? "");
    else if (arg.startsWith("--config=")) configs.push(arg.slice("--config=".length));
  }
  if (argv.includes("--no-config")) return false;
  if (configs.length === 0) {
    const dirs = [Deno.cwd()];
    try {
      if (Deno.mainModule.startsWith("file:")) {
        dirs.push(new URL(".", Deno.mainModule).pathname);
      }
    } catch { /* no main module */ }
    for (const start of dirs) {
      for (let dir = start.replace(/\/+$/, "");; dir = dir.slice(0, dir.lastIndexOf("/"))) {
        for (const name of ["deno.json", "deno.jsonc"]) configs.push(`${dir || ""}/${name}`);
        if (!dir) break;
      }
    }
  }
  for (const file of configs) {
    if (!canRead(file)) return undefined;
    const text = readText(file);
    if (text !== undefined && /"unstable"\s*:\s*\[[^\]]*"worker-options"/.test(text)) return true;
  }
  return false;
}
