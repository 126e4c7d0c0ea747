/**
 * Scenario 8: several processes write into a `Manager` dict, and the parent
 * reads it back (Python's `Manager().dict()`). A list stored in the dict is a
 * nested proxy: each process appends to it too.
 *
 * Run: deno run -A examples/08_manager.ts
 */
import { type DictProxy, type ListProxy, Manager, Process, task } from "../mod.ts";

export const modify = task(
  import.meta,
  async function modify(
    d: DictProxy<string, number>,
    log: DictProxy<string, ListProxy<string>>,
    i: number,
  ) {
    await d.set(`key_${i}`, i);
    // A proxy stored in another proxy arrives as a usable proxy.
    const list = await log.get("writers");
    await list!.push(`process ${i}`);
  },
);

if (import.meta.main) {
  // `await using` shuts the manager down (and its worker ends) at the end of the scope.
  await using manager = await Manager.start();
  const shared = await manager.dict<string, number>();
  const log = await manager.dict<string, ListProxy<string>>();
  await log.set("writers", await manager.list<string>());

  const ps = Array.from(
    { length: 5 },
    (_, i) => new Process({ target: modify, args: [shared, log, i] }),
  );
  ps.forEach((p) => p.start());
  for (const p of ps) await p.join();

  const result = await shared.toObject();
  const writers = await (await log.get("writers"))!.toArray();
  console.log(result);
  console.log(`written by: ${writers.sort().join(", ")}`);

  // Processes finish in any order: compare the entries sorted by key.
  const got = JSON.stringify(Object.entries(result).sort());
  const expected = JSON.stringify([0, 1, 2, 3, 4].map((i) => [`key_${i}`, i]));
  if (got !== expected) throw new Error(`expected ${expected}, got ${got}`);
  if (writers.length !== 5) throw new Error(`expected 5 writers, got ${writers.length}`);
}
