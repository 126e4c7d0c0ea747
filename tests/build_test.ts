// The build's edits of the bundle (build/bundle.ts): the scan that tells code
// from text in minified code, the class names it restores and its line breaks.
import { assert, assertEquals } from "@std/assert";
import { bracketDepths } from "../build/scan.ts";
import { codeLines, restoreClassNames } from "../build/bundle.ts";

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
