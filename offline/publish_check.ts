/**
 * The offline form of `deno publish --dry-run` and of `deno doc --lint` for
 * the cluster entry points: both must resolve `@std/cli`, which the package
 * imports from JSR. `deno publish` honours a config's `links`, so it runs with
 * a copy of deno.json that has offline/deno.json's links; `deno doc` does not,
 * so it runs with an import map from each linked package's exports.
 *
 *   deno run -A offline/publish_check.ts
 */
const root = new URL("../", import.meta.url);
const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
const offline = JSON.parse(await Deno.readTextFile(new URL("offline/deno.json", root)));
const links: URL[] = offline.links.map((link: string) => new URL(link, new URL("offline/", root)));

async function run(args: string[]): Promise<void> {
  const { code } = await new Deno.Command(Deno.execPath(), { args, cwd: root }).spawn().status;
  if (code !== 0) Deno.exit(code);
}

const temp = new URL(`deno.publish-check.${Deno.pid}.json`, root);
const map = await Deno.makeTempFile({ suffix: ".json" });
try {
  await Deno.writeTextFile(
    temp,
    JSON.stringify({ ...config, links: links.map((l) => l.pathname) }),
  );
  await run(["publish", "--dry-run", "--allow-dirty", "--quiet", "--config", temp.pathname]);
  const imports: Record<string, string> = { ...config.imports };
  for (const link of links) {
    const pkg = JSON.parse(await Deno.readTextFile(new URL("deno.json", `${link.href}/`)));
    const exports: Record<string, string> = typeof pkg.exports === "string"
      ? { ".": pkg.exports }
      : pkg.exports;
    for (const [sub, file] of Object.entries(exports)) {
      imports[pkg.name + sub.slice(1)] = new URL(file, `${link.href}/`).href;
    }
  }
  await Deno.writeTextFile(map, JSON.stringify({ imports }));
  await run(["doc", "--lint", "--import-map", map, "cluster/mod.ts", "cluster/host.ts"]);
} finally {
  await Deno.remove(temp).catch(() => {});
  await Deno.remove(map).catch(() => {});
}
