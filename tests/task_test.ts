import { assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import { Process, task } from "../troupe.ts";
import { _taskRef } from "../runtime/task.ts";
import { first, named, second } from "./fixtures/anonymous_tasks.ts";
import { fib } from "./fixtures/tasks.ts";
import { workerTest } from "./_helpers.ts";

const here = import.meta.url;

workerTest("task() returns the function unchanged, still callable here", () => {
  assertEquals(fib(10), 55);
  assertEquals(_taskRef(fib)?.key, "fib");
});

workerTest("task() keys: explicit name, else fn.name, else declaration order", () => {
  assertEquals(_taskRef(first)?.key, "#0");
  assertEquals(_taskRef(second)?.key, "#1");
  assertEquals(_taskRef(named)?.key, "explicitName");
});

workerTest("task() refuses a function declared twice", () => {
  const twice = task(import.meta, function twice() {});
  const error = assertThrows(
    () => task(import.meta, twice),
    TypeError,
    "function 'twice' is already declared",
  );
  assertStringIncludes(error.message, here);
});

workerTest("task() refuses a name used twice in one module and says how to fix it", () => {
  task(import.meta, function sameName() {});
  const error = assertThrows(
    () => task(import.meta, function sameName() {}),
    TypeError,
    "task name 'sameName' is used twice",
  );
  assertStringIncludes(error.message, 'task(import.meta, fn, "sameName2")');
});

workerTest("task() refuses what is not a function or class, and a missing import.meta", () => {
  assertThrows(
    () => task(import.meta, 42 as never),
    TypeError,
    "only declare a function or a class, got number",
  );
  assertThrows(() => task(undefined as never, () => {}), TypeError, "import.meta");
  assertThrows(() => task(import.meta, () => {}, ""), TypeError, "non-empty string");
});

for (
  const [label, target, expected] of [["first", first, "first"], ["second", second, "second"], [
    "named",
    named,
    "named",
  ]] as const
) {
  workerTest(`the worker finds anonymous and named tasks by key (${label})`, async () => {
    const p = new Process({ target });
    p.start();
    assertEquals(await p.receive(), expected);
    await p.join();
  });
}
