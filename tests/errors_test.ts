// Errors point at the user's code: a child's error arrives as its cause, with
// the child's frames, and a denied permission names the option to change.
import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertMatch,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { Pool, Process, ProcessPoolExecutor, RemoteError } from "../troupe.ts";
import { add, same } from "./fixtures/pool_tasks.ts";
import { failDeep, failWithCause, readUnasked } from "./fixtures/errors.ts";
import { runScript, workerTest } from "./_helpers.ts";

const fixture = new URL("./fixtures/errors.ts", import.meta.url);

async function joinError(p: Process): Promise<RemoteError> {
  p.start();
  return await assertRejects(() => p.join(), RemoteError);
}

workerTest(
  "a RemoteError's cause is the child's error, with its name, message and stack",
  async () => {
    const error = await joinError(new Process({ target: failDeep, args: ["bad input"] }));
    assertInstanceOf(error.cause, Error);
    const cause = error.cause as Error;
    assertEquals(cause.name, "RangeError");
    assertEquals(cause.message, "bad input");
    assertStringIncludes(cause.stack ?? "", "at checkInput");
    assertStringIncludes(cause.stack ?? "", fixture.pathname);
    assertEquals(cause.stack, error.remoteStack);
  },
);

workerTest("a child error's own cause travels with it", async () => {
  const error = await joinError(new Process({ target: failWithCause }));
  const cause = error.cause as Error;
  assertEquals(cause.message, "cannot read the settings");
  assertInstanceOf(cause.cause, Error);
  assertEquals((cause.cause as Error).name, "SyntaxError");
});

Deno.test("an uncaught RemoteError prints the child's frames under Caused by", async () => {
  const { code, out } = await runScript(fixture, 30_000);
  assertEquals(code, 1, out);
  assertStringIncludes(out, "RangeError in Process-1: bad input");
  const caused = out.indexOf("Caused by: RangeError: bad input");
  assert(caused > 0, out);
  assertMatch(out.slice(caused), /at checkInput \(.*fixtures\/errors\.ts:\d+:\d+\)/);
});

workerTest(
  "NotCapable in a child names its permissions option, not a command-line flag",
  async () => {
    const path = fixture.pathname;
    const error = await joinError(
      new Process({ target: readUnasked, args: [path], permissions: "none" }),
    );
    assertEquals(error.remoteName, "NotCapable");
    assert(!error.message.includes("--allow-read"), error.message);
    assertStringIncludes(error.message, `Requires read access to "${path}"`);
    assertStringIncludes(error.message, `read: ["${path}"]`);
    assertStringIncludes(error.message, "permissions option");
    assert(!(error.cause as Error).stack!.includes("--allow-read"));
  },
);

workerTest("a bad item is named by its index in the input, in every map", async () => {
  const items: unknown[] = Array.from({ length: 20 }, (_, i) => i);
  items[13] = () => 13;
  const pairs: unknown[] = Array.from({ length: 20 }, (_, i) => [i, i]);
  pairs[13] = [13, Symbol("thirteen")];
  await using pool = new Pool({ processes: 2 });
  const chunks = [{ chunksize: 5 }, {}];
  for (const options of chunks) {
    await assertRejects(() => pool.map(same, items, options), TypeError, "item 13");
    await assertRejects(
      () => pool.starmap(add, pairs as [number, number][], options),
      TypeError,
      "item 13 args[1]",
    );
    for (const iterate of [pool.imap, pool.imapUnordered]) {
      await assertRejects(
        () => Array.fromAsync(iterate.call(pool, same, items, options)),
        TypeError,
        "item 13",
      );
    }
  }
  await using executor = new ProcessPoolExecutor({ maxWorkers: 2 });
  for (const chunksize of [1, 4]) {
    await assertRejects(
      () => Array.fromAsync(executor.map(same, items, { chunksize })),
      TypeError,
      "item 13",
    );
  }
});
