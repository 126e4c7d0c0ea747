// The build's edits of the bundle: the scan that tells code from text in
// minified code, the eager-compilation pass's wrapping of functions in
// parentheses (build/eager.ts), the class names it restores and its line breaks.
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { runScript } from "./_helpers.ts";
import { type Compiled, wrapFunctions } from "../build/eager.ts";
import { bracketDepths } from "../build/scan.ts";
import { codeLines, restoreClassNames } from "../build/bundle.ts";

/** The range V8 would report for the function whose parameter list follows `marker`. */
function rangeAfter(code: string, marker: string): Compiled {
  const at = code.indexOf(marker);
  assert(at >= 0, `${marker} not found`);
  const start = at + marker.length;
  // The body ends at the brace that closes the first one after the parameters.
  let depth = 0;
  for (let i = code.indexOf("{", start); i < code.length; i++) {
    if (code[i] === "{") depth++;
    else if (code[i] === "}" && --depth === 0) return { start, end: i + 1 };
  }
  throw new Error(`no body after ${marker}`);
}

/** The range of an arrow function with an expression body: from `from` up to `to`. */
function arrowRange(code: string, from: string, to: string): Compiled {
  const start = code.indexOf(from);
  return { start, end: code.indexOf(to, start) };
}

Deno.test("bracketDepths skips brackets in strings, templates, regexes and comments", () => {
  const code = 'var a="{(",b=/[}\\]]+/g,c=`${{k:"}"}.k}`;// {\n' +
    "function f(x){return x/2/1}var g=1";
  const depths = bracketDepths(code);
  assert(depths, "the scan balanced");
  assertEquals(depths[code.indexOf("function f")], 0);
  assertEquals(depths[code.indexOf("return")], 1);
  assertEquals(depths[code.indexOf("var g")], 0);
});

Deno.test("bracketDepths gives up on code it cannot balance", () => {
  assertEquals(bracketDepths("function f(){"), undefined);
  assertEquals(bracketDepths("var a=(1]"), undefined);
});

Deno.test("wrapFunctions: a top-level declaration becomes a var holding the parenthesised function", () => {
  const code = "var x=1;function f(a){return a+x}";
  const { source, wrapped } = wrapFunctions(code, bracketDepths(code)!, [
    rangeAfter(code, "function f"),
  ]);
  assertEquals(wrapped, 1);
  assertEquals(source, "var x=1;var f=(function f(a){return a+x});");
});

Deno.test("wrapFunctions moves a declaration named before it to the top, as hoisting would", () => {
  // `register(f)` above `function f` would pass undefined if f became a var in place.
  const code =
    "// header\nvar hooks=[];hooks.push(f);function f(){return g()}function g(){return 1}";
  const { source, wrapped } = wrapFunctions(code, bracketDepths(code)!, [
    rangeAfter(code, "function f"),
    rangeAfter(code, "function g"),
  ]);
  assertEquals(wrapped, 2);
  assertEquals(
    source,
    "// header\nvar f=(function f(){return g()});\nvar g=(function g(){return 1});\n" +
      "var hooks=[];hooks.push(f);",
  );
  const hooks = new Function(`${source};return hooks`)() as (() => number)[];
  assertEquals(hooks[0](), 1);
});

Deno.test("from the bundle, a process joins its own children before it ends", async () => {
  const { code, out } = await runScript(
    new URL("./fixtures/bundle_joins.ts", import.meta.url),
    30_000,
  );
  assertEquals(code, 0, out);
  assertStringIncludes(out, "grandchild done: true");
});

Deno.test("wrapFunctions wraps expressions and arrows, and leaves nested declarations and methods", () => {
  const code = "var e=function(a){return a},g=async b=>{return b},h=(c)=>c+1;" +
    "function outer(){function inner(){return 1}return inner()}" +
    "var K=class{m(a){return a}};var s=async()=>{return 2}";
  // V8's range of a function starts at its parameters; an async arrow's, at `async`.
  const ranges = [
    rangeAfter(code, "e=function"),
    rangeAfter(code, "g="),
    arrowRange(code, "(c)=>", ";function outer"),
    rangeAfter(code, "function inner"),
    rangeAfter(code, "{m"),
    rangeAfter(code, "s="),
  ];
  const { source, wrapped } = wrapFunctions(code, bracketDepths(code)!, ranges);
  assertEquals(wrapped, 4);
  assertEquals(
    source,
    "var e=(function(a){return a}),g=(async b=>{return b}),h=((c)=>c+1);" +
      "function outer(){function inner(){return 1}return inner()}" +
      "var K=class{m(a){return a}};var s=(async()=>{return 2})",
  );
});

Deno.test("wrapFunctions wraps a function and the functions inside it, and the result runs", () => {
  const code =
    "function outer(n){const add=function(a){return a+n};return add(1)}var out=outer(2);";
  const { source, wrapped } = wrapFunctions(code, bracketDepths(code)!, [
    rangeAfter(code, "function outer"),
    rangeAfter(code, "add=function"),
  ]);
  assertEquals(wrapped, 2);
  assertEquals(
    source,
    "var outer=(function outer(n){const add=(function(a){return a+n});return add(1)});var out=outer(2);",
  );
  assertEquals(new Function(`${source}return out;`)(), 3);
});

Deno.test("restoreClassNames gives a self-referring class its name back inside its body", () => {
  const code = 'var s="_Box2";var Box=class _Box2{static make(){return new _Box2}get kind(){' +
    "return _Box2.name}};var Other=class Other{};export{Box,Other};";
  const named = restoreClassNames(code);
  assertEquals(
    named,
    'var s="_Box2";var Box=class Box{static make(){return new Box}get kind(){' +
      "return Box.name}};var Other=class Other{};export{Box,Other};",
  );
  const api = new Function(`${named.replace("export{Box,Other};", "")}return {Box, s};`)();
  assertEquals([api.Box.name, api.Box.make().kind, api.s], ["Box", "Box", "_Box2"]);
  let failed = false;
  try {
    restoreClassNames("var Box=class _Box{};var b=_Box;");
  } catch {
    failed = true;
  }
  assert(failed, "an inner name used outside its class fails the build");
});

Deno.test("codeLines ends a line after each ; and { of the code, never in text", () => {
  const code = 'var a="x;{y",b=1;function f(x){if(x){return a}for(let i=0;i<1;i++);' +
    "return`;${`{`}`}var r=/[;{]/;export{a};";
  const lines = codeLines(code);
  assertEquals(lines.split("\n"), [
    'var a="x;{y",b=1;',
    "function f(x){",
    "if(x){",
    "return a}for(let i=0;",
    "i<1;",
    "i++);",
    "return`;${`{`}`}var r=/[;{]/;",
    "export{",
    "a};",
  ]);
  assertEquals(
    new Function(`${lines.replace("export{\na};", "")}return [a, f(false), r.source];`)(),
    ["x;{y", ";{", "[;{]"],
  );
});

Deno.test("the bundle's exported functions and classes keep their names", async () => {
  const api: Record<string, unknown> = await import("../dist/troupe.js");
  for (const [name, value] of Object.entries(api)) {
    if (typeof value === "function" && !name.startsWith("_")) assertEquals(value.name, name);
  }
});
