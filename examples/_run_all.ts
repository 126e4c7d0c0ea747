/**
 * Runs every example in this folder, one after another, and fails when any of
 * them fails. Each example checks its own result. `deno task examples`.
 */
const dir = new URL(".", import.meta.url);
const names = [...Deno.readDirSync(dir)]
  .map((e) => e.name)
  .filter((name) => /^\d.*\.ts$/.test(name))
  .sort();
const extra = Deno.args; // e.g. --config offline/deno.json
const failed: string[] = [];
for (const name of names) {
  console.log(`\n=== examples/${name}`);
  const t0 = performance.now();
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...extra, new URL(name, dir).pathname],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  const ms = (performance.now() - t0).toFixed(0);
  console.log(`=== ${code === 0 ? "ok" : `FAILED (exit ${code})`} examples/${name} in ${ms} ms`);
  if (code !== 0) failed.push(name);
}
console.log(`\n${names.length - failed.length} passed, ${failed.length} failed`);
if (failed.length > 0) Deno.exit(1);
