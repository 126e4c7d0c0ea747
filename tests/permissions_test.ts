import { assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import { PermissionError, Process } from "../troupe.ts";
import { noop, tryEnv, tryNet, tryReadFile } from "./fixtures/tasks.ts";
import { liveWorkers, workerTest } from "./_helpers.ts";

const thisFile = new URL(import.meta.url).pathname;

async function answer(p: Process): Promise<unknown> {
  p.start();
  const seen = await p.receive();
  await p.join();
  return seen;
}

workerTest('a "none" process cannot read a file', async () => {
  assertEquals(
    await answer(new Process({ target: tryReadFile, args: [thisFile], permissions: "none" })),
    "NotCapable",
  );
});

workerTest('an "inherit" process can read a file', async () => {
  assertEquals(await answer(new Process({ target: tryReadFile, args: [thisFile] })), "read");
});

workerTest('a "none" process cannot read the environment', async () => {
  assertEquals(await answer(new Process({ target: tryEnv, permissions: "none" })), "NotCapable");
});

workerTest('an "inherit" process can read the environment', async () => {
  assertEquals(await answer(new Process({ target: tryEnv })), "read");
});

workerTest('a "none" process cannot open a network connection; an "inherit" one can', async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  assertEquals(
    await answer(new Process({ target: tryNet, args: [port], permissions: "none" })),
    "NotCapable",
  );
  const accepting = listener.accept().then((conn) => conn.close());
  assertEquals(await answer(new Process({ target: tryNet, args: [port] })), "connected");
  await accepting;
});

workerTest("a permission set grants what it lists and denies what it leaves out", async () => {
  const permissions = { read: [thisFile] };
  assertEquals(
    await answer(new Process({ target: tryReadFile, args: [thisFile], permissions })),
    "read",
  );
  assertEquals(await answer(new Process({ target: tryEnv, permissions })), "NotCapable");
});

workerTest("malformed permissions are refused when the process is made", () => {
  assertThrows(
    () => new Process({ target: noop, permissions: "all" as never }),
    TypeError,
    '"inherit", "none"',
  );
  assertThrows(
    () => new Process({ target: noop, permissions: { read: 1 } as never }),
    TypeError,
    "permissions.read must be",
  );
  assertEquals(liveWorkers(), 0);
});

async function runAsking(
  permissions: unknown,
  flags: string[],
): Promise<{ code: number; out: string }> {
  const script = new URL("./fixtures/ask_permissions.ts", import.meta.url).pathname;
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, script, JSON.stringify(permissions)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code, out: decode(stdout) + decode(stderr) };
}

workerTest(
  "asking for more than the parent has throws a PermissionError before any worker starts",
  async () => {
    const root = new URL("..", import.meta.url).pathname;
    const { code, out } = await runAsking({ net: true }, [
      `--allow-read=${root}`,
      "--allow-read=/proc/self/cmdline",
    ]);
    assertEquals(code, 0, out);
    assertStringIncludes(out, "PermissionError");
    assertStringIncludes(out, "permissions.net asks for all net access");
    assertStringIncludes(out, "--allow-net");
  },
);

workerTest(
  "narrowed permissions without the worker-options feature fail with our message, not exit 70",
  async () => {
    const { code, out } = await runAsking("none", ["-A", "--no-config"]);
    assertEquals(code, 0, out);
    assertStringIncludes(out, "PermissionError");
    assertStringIncludes(out, "--unstable-worker-options");
  },
);

workerTest(
  "narrowed permissions work with --unstable-worker-options on the command line",
  async () => {
    const { code, out } = await runAsking("none", [
      "-A",
      "--no-config",
      "--unstable-worker-options",
    ]);
    assertEquals(code, 0, out);
    assertStringIncludes(out, "started, exit 0");
  },
);

Deno.test("PermissionError is exported for instanceof checks", () => {
  assertEquals(new PermissionError("x").name, "PermissionError");
});
