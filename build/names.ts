/**
 * Gives the public classes and functions of the minified bundle their names
 * back. Minified names would otherwise show in `console.log(queue)` and in
 * stack traces.
 *
 * Costs, measured in a worker (Deno 2.9): esbuild's `--keep-names` wraps all
 * ~700 functions, ~90 KB of allocation; reading the names from a namespace
 * object calls a getter per export, each compiled at start, ~0.6 ms; a loop of
 * `Object.defineProperty(fn, "name", …)` over the exports, ~80 µs. So the
 * names go into the text, where they cost nothing at load:
 *
 * - `var He=class{` becomes `var He=class Queue{`;
 * - a top-level `function or(r){…}` becomes `var or=function task(r){…};`
 *   (the runtime calls none of them before its definition; the build's probe,
 *   the tests and the examples would fail at load if one were).
 *
 * The rest get `Object.defineProperty` just before the export clause: a class
 * that refers to itself under a minified name (`class r{…}`), whose body would
 * need renaming, and names of globals (`Event`), which the body would see
 * instead of the global.
 *
 * @module
 */

import { bracketDepths } from "./scan.ts";

/** The text of `code` with its exports named; see the module doc. */
export function nameExports(code: string): string {
  const clause = /export\{([^}]*)\};?\s*$/.exec(code);
  const depths = bracketDepths(code);
  if (!clause || !depths) throw new Error("build: cannot find the bundle's export clause");
  const edits: { at: number; end: number; text: string }[] = [];
  const rest: [string, string][] = [];
  for (const item of clause[1].split(",")) {
    const [local, name = local] = item.split(" as ");
    if (local === name || !/^[A-Za-z]/.test(name)) continue;
    const edit = name in globalThis ? undefined : renameAt(code, depths, local, name);
    if (edit) edits.push(edit);
    else rest.push([local, name]);
  }
  let out = code;
  for (const edit of edits.sort((a, b) => b.at - a.at)) {
    out = out.slice(0, edit.at) + edit.text + out.slice(edit.end);
  }
  const named = rest.map(([local, name]) =>
    `typeof ${local}=="function"&&Object.defineProperty(${local},"name",{value:${
      JSON.stringify(name)
    },configurable:!0});`
  ).join("");
  const at = out.lastIndexOf("export{");
  return out.slice(0, at) + named + out.slice(at);
}

/** The edit that names `local`'s definition `name`, or undefined when it cannot be named in the text. */
function renameAt(
  code: string,
  depths: Int32Array,
  local: string,
  name: string,
): { at: number; end: number; text: string } | undefined {
  const id = local.replace(/\$/g, "\\$");
  // An anonymous class expression assigned to the local.
  const classes = [
    ...code.matchAll(new RegExp(`(?<=(?:^|[,;{}\\s])${id}=)class(?=\\{| extends )`, "g")),
  ];
  if (classes.length === 1) {
    const at = classes[0].index + "class".length;
    return { at, end: at, text: ` ${name}` };
  }
  // A top-level function declaration.
  const decls = [
    ...code.matchAll(new RegExp(`(?<=(?:^|[;{}]))(async )?function(\\*)? ?${id}\\(`, "g")),
  ]
    .filter((m) => depths[m.index] === 0);
  if (decls.length !== 1) return undefined;
  const at = decls[0].index;
  const open = at + decls[0][0].length - 1;
  let close = open + 1;
  while (close < code.length && !(code[close] === ")" && depths[close] === 0)) close++;
  let end = code.indexOf("{", close) + 1;
  while (end < code.length && !(code[end] === "}" && depths[end] === 0)) end++;
  if (end === code.length) return undefined;
  const head = `${decls[0][1] ?? ""}function${decls[0][2] ?? ""} ${name}`;
  const params = code.slice(open, end + 1);
  return { at, end: end + 1, text: `var ${local}=${head}${params};` };
}
