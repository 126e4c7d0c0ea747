// Process start-up cost, side by side with a hand-written Worker in the same run.
//   deno task bench   (or: deno bench -A bench/process_bench.ts)
import { Process } from "../mod.ts";
import { rawWorker } from "./fixtures/raw.ts";
import { empty, ready } from "./fixtures/targets.ts";

Deno.bench({
  name: "raw Worker: new Worker → first message",
  group: "start → first message",
  baseline: true,
  async fn(b) {
    b.start();
    const w = await rawWorker();
    b.end();
    w.terminate();
  },
});

Deno.bench({
  name: "Troupe: Process.start() → first message",
  group: "start → first message",
  async fn(b) {
    b.start();
    const p = new Process({ target: ready });
    p.start();
    await p.receive();
    b.end();
    await p.join();
  },
});

Deno.bench({
  name: "raw Worker: start, run empty, end",
  group: "start + join of an empty target",
  baseline: true,
  async fn() {
    const w = await rawWorker();
    w.terminate();
  },
});

Deno.bench({
  name: "Troupe: Process start() + join() of an empty target",
  group: "start + join of an empty target",
  async fn() {
    const p = new Process({ target: empty });
    p.start();
    await p.join();
  },
});
