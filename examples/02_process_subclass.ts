/**
 * Scenario 2: a `Process` subclass that overrides `run()` and has its own
 * fields. The fields are structured-cloned into the child, where `run()`
 * sees them; declare the subclass with `task()` so the worker can load it.
 *
 * Run: deno run -A examples/02_process_subclass.ts
 */
import { parentProcess, Process, task } from "../mod.ts";

export class Downloader extends Process {
  readonly urls: string[];
  readonly retries: number;

  constructor(urls: string[], retries = 2) {
    super({ name: "downloader" });
    this.urls = urls;
    this.retries = retries;
  }

  override run(): void {
    for (const url of this.urls) {
      console.log(
        `  [${this.name} pid ${this.pid}] would fetch ${url} (up to ${this.retries} retries)`,
      );
    }
    parentProcess()!.send(this.urls.length);
  }
}
task(import.meta, Downloader);

if (import.meta.main) {
  const p = new Downloader(["https://example.com/a", "https://example.com/b"], 3);
  p.start();
  const handled = await p.receive<number>();
  await p.join();
  console.log(`child handled ${handled} urls, exitCode ${p.exitCode}`);
  if (handled !== 2 || p.exitCode !== 0) throw new Error("the subclass did not see its fields");
}
