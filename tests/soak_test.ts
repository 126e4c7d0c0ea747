// Starts and joins 2,000 short processes and reports memory growth. Deno has
// had reports of memory kept after a worker is terminated; this measures it
// for Troupe's way of ending workers.
import { assertEquals, assertLess } from "@std/assert";
import { Process } from "../troupe.ts";
import { noop } from "./fixtures/tasks.ts";
import { liveWorkers, workerTest } from "./_helpers.ts";

async function runMany(count: number, atOnce: number): Promise<void> {
  for (let i = 0; i < count; i += atOnce) {
    const ps = Array.from({ length: atOnce }, () => new Process({ target: noop }));
    ps.forEach((p) => p.start());
    for (const p of ps) assertEquals(await p.join(), 0);
  }
}

const mib = (bytes: number) => bytes / 2 ** 20;

workerTest("2,000 short processes: every one ends, memory stays bounded", async () => {
  await runMany(100, 2); // warm up: module caches, allocator arenas
  const before = Deno.memoryUsage();
  const t0 = performance.now();
  const samples: string[] = [];
  for (let done = 0; done < 2000; done += 500) {
    await runMany(500, 2);
    samples.push(`${done + 500}: ${mib(Deno.memoryUsage().rss).toFixed(1)} MiB`);
  }
  const ms = (performance.now() - t0) / 2000;
  const after = Deno.memoryUsage();
  const growth = mib(after.rss - before.rss);
  console.log(
    `soak: 2,000 processes, ${ms.toFixed(2)} ms each (2 at a time); rss ${
      mib(before.rss).toFixed(1)
    } -> ${mib(after.rss).toFixed(1)} MiB (${growth >= 0 ? "+" : ""}${growth.toFixed(1)} MiB), ` +
      `heap ${mib(before.heapUsed).toFixed(1)} -> ${mib(after.heapUsed).toFixed(1)} MiB; ${
        samples.join(", ")
      }`,
  );
  assertEquals(liveWorkers(), 0);
  // Measured here: ~+20 MiB over the first 1,000, then flat (allocator arenas, not a leak).
  // A per-worker leak of even 100 KiB would add ~200 MiB.
  assertLess(growth, 120, `rss grew by ${growth.toFixed(1)} MiB over 2,000 processes`);
});
