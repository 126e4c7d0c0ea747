import { assertStringIncludes } from "@std/assert";

Deno.test("a worker test that fails and leaks reports its own error and the leak", async () => {
  const fixture = new URL("./fixtures/leaks_and_fails.ts", import.meta.url);
  const args = ["test", "-A", "--no-check", fixture.pathname];
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  if (code === 0) throw new Error(`the fixture passed:\n${out}`);
  assertStringIncludes(out, "the test's own timeout");
  assertStringIncludes(out, "left 1 worker(s) running");
});

Deno.test("on an empty Deno cache, workers are not type-checked one by one", async () => {
  const fixture = new URL("./fixtures/fresh_cache.ts", import.meta.url);
  const cache = await Deno.makeTempDir({ prefix: "troupe-deno-dir-" });
  try {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["test", "-A", fixture.pathname],
      env: { DENO_DIR: cache, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
    if (code !== 0) throw new Error(`the fixture failed:\n${out}`);
    // The sandboxed pool's workers can only load their modules statically, so
    // Deno checks their entry: once, not once per worker.
    const checks = out.split("\n").filter((line) => line.includes("Check data:"));
    if (checks.length > 1) throw new Error(`${checks.length} worker entries were checked:\n${out}`);
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});
