/**
 * Builds `dist/troupe.js`: the library as one module, which is what `mod.ts`
 * exports and what every worker loads.
 *
 * Why: a worker loads the whole module graph of `mod.ts`, because the user's
 * module imports it to declare its tasks. As 38 TypeScript modules that took
 * ~7 ms of a ~17 ms start; as one file it takes ~1 ms (measured, Deno 2.9).
 * Types are not bundled: `dist/troupe.d.ts` re-exports the sources, so docs
 * and type checks read the TypeScript.
 *
 *   deno task build            write dist/troupe.js and dist/troupe.d.ts, unless
 *                              they were built from these sources already
 *   deno task build --force    write them in any case
 *   deno task build --check    fail when dist/troupe.js was built from other sources
 *
 * `dist/` is not in git: the tasks that need it (test, check, examples,
 * bench, publish) build it first, and `deno publish` includes it.
 *
 * The steps: `deno bundle` joins the modules (`build/entry.ts` and what it
 * imports) into plain JavaScript; esbuild removes its whitespace but keeps
 * every name (`readableMinify`), so a stack frame inside the library names
 * the real function: `at Process.#end (…/dist/troupe.js:652:22)`;
 * `eagerCompile` marks the functions a worker runs as it starts so that they
 * come from V8's code cache (build/eager.ts); `codeLines` ends a line after
 * each statement and opening brace, so that the line a frame names holds one
 * statement a user can read.
 *
 * Measured side by side (Deno 2.9, 2 busy cores, load ~2.5): a fresh
 * `deno run` per sample, 40 rounds, first message of a program's first
 * process: this bundle (217 KB) 55.5 ms against 53.1 ms for the bundle with
 * mangled names (154 KB), joined 68.8 against 67.0; in bench/startup_compare.ts
 * (warm, over a raw worker) within noise. The bundle with its whitespace kept
 * (342 KB) was 5-7% slower than the mangled one.
 *
 * The eager pass was dropped once (4889a64: 0.8-2.2% of a `Process`'s start)
 * and is back for actors. Side by side on a quiet machine (Deno 2.9.6, 2
 * cores, load 0.1-0.9), 6 fresh `deno run`s of each build alternating, the
 * median of 40 cold `spawn()`s each, then the median over the runs: a cold
 * `spawn()` until ready 27.7 ms without the pass, 27.2 with it; its first
 * call's answer after that 1.38 ms without, 0.80 with (0.72 for 5dfff72,
 * which had the pass): 29.1 -> 28.0 ms to the first answer, 3.8%. Without it
 * an actor's worker compiled ~109 of the bundle's functions as it started
 * (bench/startup_profile.ts), a pool's worker ~75.
 *
 * The check compares a hash of the sources and of these scripts, recorded in
 * the bundle's header, not the bytes, so a newer Deno that bundles
 * differently does not fail it.
 *
 * @module
 */

import { eagerCompile } from "./eager.ts";
import { bracketDepths } from "./scan.ts";

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
 * Removes whitespace, keeping every name and the code's own statements
 * (syntax minification would turn them into comma expressions). esbuild
 * renames a class that refers to itself (`Process=class _Process{`, so that
 * the inner binding cannot be shadowed); the inner name is the class itself
 * inside its body, so it gets the class's name back there. The build fails
 * if the inner name appears anywhere else.
 */
export async function readableMinify(plain: string): Promise<string> {
  // Loaded here, so that `--check` needs no package from npm.
  const esbuild = await import("esbuild");
  const { code } = await esbuild.transform(plain, {
    format: "esm",
    minifyWhitespace: true,
    target: "esnext",
  });
  await esbuild.stop();
  return restoreClassNames(code);
}

/** Gives back the names esbuild gave the inner bindings of self-referring classes; see above. */
export function restoreClassNames(code: string): string {
  const classes = [...code.matchAll(/\b([A-Za-z_$][\w$]*)=class (_*\1\d*)(?=[ {])/g)];
  for (const found of classes.reverse()) {
    const [, name, inner] = found;
    if (inner === name) continue;
    const depths = bracketDepths(code);
    if (!depths) throw new Error("build: cannot scan the bundle");
    const open = code.indexOf("{", found.index + found[0].length);
    // A `{` counts itself in its depth, its `}` no longer: the body ends at
    // the first `}` one below its opening brace.
    let close = open + 1;
    while (close < code.length && !(code[close] === "}" && depths[close] === depths[open] - 1)) {
      close++;
    }
    const word = new RegExp(`(?<![\\w$])${inner.replace(/\$/g, "\\$")}(?![\\w$])`, "g");
    let out = "";
    let from = 0;
    for (const use of code.matchAll(word)) {
      if (depths[use.index] < 0) continue; // in a string, template, regex or comment
      if (use.index < found.index || use.index > close) {
        throw new Error(`build: ${inner} is used outside the class ${name}`);
      }
      out += code.slice(from, use.index) + name;
      from = use.index + inner.length;
    }
    code = out + code.slice(from);
  }
  return code;
}

/**
 * Ends a line after every `;` and `{` of the code (never inside a string,
 * template, regex or comment). A line break there changes nothing: it cannot
 * fall inside a restricted production (`return`, `throw`, postfix `++`...),
 * which those characters end or open.
 */
export function codeLines(code: string): string {
  const depths = bracketDepths(code);
  if (!depths) throw new Error("build: cannot scan the bundle");
  let out = "";
  let from = 0;
  for (let i = 0; i < code.length - 1; i++) {
    const c = code[i];
    if ((c === ";" || c === "{") && depths[i] >= 0 && code[i + 1] !== "\n") {
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
      // No source map: Deno reads a linked one for a worker's first stack
      // trace, ~2 ms that every crash, and so every supervised restart, would pay.
      "-o",
      file,
      entry.href,
    ]);
    const header = `// @ts-self-types="./troupe.d.ts"\n` +
      "// Built by `deno task build` from build/entry.ts and the modules it imports. Do not edit.\n" +
      `${HASH_LINE}${hash}\n`;
    const code = await readableMinify(await Deno.readTextFile(file));
    const eager = await eagerCompile(header + code, deno);
    console.log(
      `eager: ${eager.wrapped} functions compiled with the module; a worker now compiles ` +
        `${eager.lazyAfter} of its functions on first call, ${eager.lazyBefore} before`,
    );
    await Deno.mkdir(new URL("dist/", root), { recursive: true });
    await Deno.writeTextFile(out, codeLines(eager.source));
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
      : "dist/troupe.js was built from other sources than these: run `deno task build`.",
  );
  return false;
}

if (import.meta.main) {
  if (Deno.args.includes("--check")) {
    if (!await check()) Deno.exit(1);
  } else if (!Deno.args.includes("--force") && await sourcesHash() === await builtHash()) {
    console.log("dist/troupe.js is up to date");
  } else {
    await build();
  }
}
