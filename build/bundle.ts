/**
 * Builds `dist/troupe.js`: the library as one minified module, which is what
 * `mod.ts` exports and what every worker loads.
 *
 * Why: a worker loads the whole module graph of `mod.ts`, because the user's
 * module imports it to declare its tasks. As 38 TypeScript modules that took
 * ~7 ms of a ~17 ms start; as one minified file it takes ~1 ms (measured,
 * Deno 2.9). Types are not bundled: `dist/troupe.d.ts` re-exports the
 * sources, so docs and type checks read the TypeScript.
 *
 *   deno task build            write dist/troupe.js and dist/troupe.d.ts
 *   deno task build --check    fail when dist/troupe.js was built from other sources
 *
 * The steps: esbuild bundles and minifies `build/entry.ts` (`deno bundle`);
 * `nameExports` gives the public names back in the text (build/names.ts);
 * `eagerCompile` marks the functions a worker runs as it starts so that they
 * come from V8's code cache (build/eager.ts); `statementLines` puts each
 * top-level statement on its own line.
 *
 * The check compares a hash of the sources and of these scripts, recorded in
 * the bundle's header, not the bytes, so a newer Deno that minifies
 * differently does not fail it.
 *
 * Size note: under 128 KiB, V8 copies a module's source into the young
 * generation, and every worker then runs a scavenge (~0.45 ms) while it
 * starts; above, the source is a large object and none runs. The bundle is
 * 134 KB; if it ever shrinks below that line, start-up gets slower, not faster.
 *
 * @module
 */

import { eagerCompile } from "./eager.ts";
import { bracketDepths } from "./scan.ts";
import { nameExports } from "./names.ts";

const root = new URL("../", import.meta.url);
const entry = new URL("build/entry.ts", root);
const out = new URL("dist/troupe.js", root);
const types = new URL("dist/troupe.d.ts", root);
const HASH_LINE = "// sources sha256: ";

/** Runs `deno` with `args` in `cwd`; returns its stdout, or throws with its stderr. */
async function deno(args: string[], cwd: string | URL = root): Promise<string> {
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  if (!success) throw new Error(`deno ${args.join(" ")} failed:\n${dec.decode(stderr)}`);
  return dec.decode(stdout);
}

/** A hash of every local module the bundle is built from and of the build's scripts, with their paths. */
async function sourcesHash(): Promise<string> {
  const info = JSON.parse(await deno(["info", "--json", "--no-config", entry.href])) as {
    modules: { specifier: string; local?: string; error?: string }[];
  };
  const failed = info.modules.find((m) => m.error);
  if (failed) throw new Error(`cannot read ${failed.specifier}: ${failed.error}`);
  // The build's own scripts shape the bundle too.
  const scripts = [];
  for await (const entry of Deno.readDir(new URL("build/", root))) {
    if (entry.isFile && entry.name.endsWith(".ts")) scripts.push(`build/${entry.name}`);
  }
  const files = [
    ...new Set([
      ...info.modules
        .filter((m) => m.specifier.startsWith(root.href))
        .map((m) => m.specifier.slice(root.href.length)),
      ...scripts,
    ]),
  ].sort();
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  for (const file of files) {
    parts.push(enc.encode(`${file}\0`), await Deno.readFile(new URL(file, root)), enc.encode("\0"));
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) all.set(p, (at += p.length) - p.length);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The hash recorded in the built bundle, or undefined when there is none. */
async function builtHash(): Promise<string | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(out);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  const line = text.split("\n", 4).find((l) => l.startsWith(HASH_LINE));
  return line?.slice(HASH_LINE.length).trim();
}

/**
 * Starts each top-level statement of minified `code` on its own line. Deno's
 * warnings and stack traces then quote one statement, not the whole bundle,
 * and git diffs and merges of `dist/` work line by line.
 */
export function statementLines(code: string): string {
  const depths = bracketDepths(code);
  if (!depths) throw new Error("build: cannot scan the bundle");
  let out = "";
  let from = 0;
  // A statement ends at a top-level `;`, or at a top-level `}` that a
  // declaration follows (nothing else can follow a `}` directly there).
  const declaration = /^(?:var |let |const |class[ {]|function|async function|export\{)/;
  for (let i = 0; i < code.length; i++) {
    const end =
      (code[i] === ";" || code[i] === "}" && declaration.test(code.slice(i + 1, i + 16))) &&
      depths[i] === 0 && i + 1 < code.length && code[i + 1] !== "\n";
    if (end) {
      out += code.slice(from, i + 1) + "\n";
      from = i + 1;
    }
  }
  return out + code.slice(from);
}

async function build(): Promise<void> {
  const hash = await sourcesHash();
  const tmp = await Deno.makeTempDir({ prefix: "troupe-build-" });
  try {
    const file = `${tmp}/troupe.js`;
    await deno([
      "bundle",
      "--quiet",
      "--no-config",
      "--platform=deno",
      "--minify",
      // No source map: Deno reads a linked one for a worker's first stack
      // trace, ~2 ms that every crash, and so every supervised restart, would pay.
      "-o",
      file,
      entry.href,
    ]);
    const header = `// @ts-self-types="./troupe.d.ts"\n` +
      "// Built by `deno task build` from build/entry.ts and the modules it imports. Do not edit.\n" +
      `${HASH_LINE}${hash}\n`;
    const code = nameExports(await Deno.readTextFile(file));
    const eager = await eagerCompile(header + code, deno);
    console.log(
      `eager: ${eager.wrapped} functions compiled with the module; a worker now compiles ` +
        `${eager.lazyAfter} of its functions on first call, ${eager.lazyBefore} before`,
    );
    await Deno.mkdir(new URL("dist/", root), { recursive: true });
    await Deno.writeTextFile(out, statementLines(eager.source));
    await Deno.writeTextFile(
      types,
      "// The bundle's types are the sources' (see build/bundle.ts).\n" +
        'export * from "../troupe.ts";\n',
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
  const kb = (await Deno.stat(out)).size / 1024;
  console.log(`dist/troupe.js: ${kb.toFixed(0)} KB, sources ${hash.slice(0, 12)}`);
}

async function check(): Promise<boolean> {
  const [want, have] = await Promise.all([sourcesHash(), builtHash()]);
  if (want === have) return true;
  console.error(
    have === undefined
      ? "dist/troupe.js is missing: run `deno task build`."
      : "dist/troupe.js was built from other sources than these: run `deno task build` " +
        "and commit dist/ with the change.",
  );
  return false;
}

if (import.meta.main) {
  if (Deno.args.includes("--check")) {
    if (!await check()) Deno.exit(1);
  } else {
    await build();
  }
}
