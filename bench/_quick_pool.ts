import { Pool } from "../mod.ts";
import { square } from "./fixtures/targets.ts";
const N = 100_000;
await using pool = new Pool({ processes: 2 });
await pool.map(square, [1, 2, 3, 4]);
for (let round = 0; round < 3; round++) {
  let t = performance.now();
  await pool.map(square, Array.from({ length: N }, (_, i) => i));
  const map = N / ((performance.now() - t) / 1000);
  t = performance.now();
  await Promise.all(Array.from({ length: N }, (_, i) => pool.apply(square, [i])));
  const per = N / ((performance.now() - t) / 1000);
  const rt: number[] = [];
  for (let i = 0; i < 500; i++) {
    const t0 = performance.now();
    await pool.apply(square, [i]);
    rt.push(performance.now() - t0);
  }
  rt.sort((a, b) => a - b);
  console.log(
    `map ${(map / 1e6).toFixed(2)} M/s  per-task ${(per / 1e3).toFixed(0)} k/s  rt ${
      (rt[250] * 1000).toFixed(0)
    } µs`,
  );
}
