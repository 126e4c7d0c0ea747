/**
 * What watching a pool costs: a `map` of 100,000 tiny tasks on a warm pool,
 * (400 back to back per sample), alone and with `pool.stats()` read every 100
 * ms (and every 1 ms), side by
 * side in one run, plus the cost of one `stats()` call. Prints a markdown
 * table of medians and first calls.
 *
 *   deno run -A bench/stats_bench.ts [--rounds 15]
 *
 * Each round runs the three variants in turn, in an order that rotates from
 * round to round, on the same warm pool, so that load and warm-up hit each
 * alike.
 */
import { Pool } from "../mod.ts";
import { square } from "./fixtures/pool_tasks.ts";

const ROUNDS = Number(Deno.args[Deno.args.indexOf("--rounds") + 1]) || 15;
const N = 100_000;
/** Maps per sample: ~100-300 ms of them. */
const MAPS = 400;
const items = Array.from({ length: N }, (_, i) => i);

type Variant = "alone" | "every 100 ms" | "every 1 ms";
const VARIANTS: Variant[] = ["alone", "every 100 ms", "every 1 ms"];

async function timedMap(pool: Pool, variant: Variant): Promise<number> {
  const every = variant === "alone" ? 0 : variant === "every 100 ms" ? 100 : 1;
  const timer = every > 0 ? setInterval(() => pool.stats(), every) : undefined;
  try {
    // Maps back to back, so that a sample lasts long enough for a 100 ms reader to read.
    const t0 = performance.now();
    for (let i = 0; i < MAPS; i++) {
      const values = await pool.map(square, items);
      if (values[N - 1] !== (N - 1) ** 2) throw new Error("wrong result");
    }
    return (performance.now() - t0) / MAPS;
  } finally {
    clearInterval(timer);
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

if (import.meta.main) {
  const load = () => Deno.loadavg()[0].toFixed(2);
  const loadBefore = load();
  await using pool = new Pool({ processes: 2, idleTimeoutMs: Infinity });
  await pool.map(square, [1, 2, 3, 4]); // workers up
  const times = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < VARIANTS.length; k++) {
      const v = VARIANTS[(k + r) % VARIANTS.length];
      times.get(v)!.push(await timedMap(pool, v));
    }
  }
  // One stats() call, on a pool with history.
  const reads = 100_000;
  const t0 = performance.now();
  for (let i = 0; i < reads; i++) pool.stats();
  const statsUs = ((performance.now() - t0) * 1000) / reads;

  const alone = median(times.get("alone")!);
  console.log(
    `\`pool.map\` of ${N.toLocaleString("en")} tiny tasks on a warm Pool(2), per map (${MAPS} ` +
      `maps back to back a sample), ${ROUNDS} rounds, ` +
      `load ${loadBefore} → ${load()}:\n`,
  );
  console.log("| variant | median | first round | median vs alone |");
  console.log("| --- | --- | --- | --- |");
  for (const v of VARIANTS) {
    const xs = times.get(v)!;
    const m = median(xs);
    console.log(
      `| map, stats() ${v === "alone" ? "not read" : `read ${v}`} | ${m.toFixed(3)} ms | ` +
        `${xs[0].toFixed(3)} ms | ${(m / alone).toFixed(3)} |`,
    );
  }
  console.log(`| one stats() call | ${statsUs.toFixed(2)} µs | | |`);
}
