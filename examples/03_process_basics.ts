/**
 * Scenario 3: `new Process({ target, args })`, its `pid`, `isAlive()` before
 * and after `join()`, and the child's `currentProcess()` (name and pid).
 *
 * Run: deno run -A examples/03_process_basics.ts
 */
import { currentProcess, parentProcess, Process, task } from "../mod.ts";

export const info = task(import.meta, function info(title: string) {
  const me = currentProcess();
  console.log(`  ${title}: name=${me.name} pid=${me.pid} parent=${parentProcess()?.name}`);
  parentProcess()!.send({ name: me.name, pid: me.pid });
});

if (import.meta.main) {
  console.log(`main: name=${currentProcess().name} pid=${currentProcess().pid}`);
  const p = new Process({ target: info, args: ["child says hello"] });
  console.log(`before start: pid=${p.pid} alive=${p.isAlive()}`);
  p.start();
  console.log(`after start:  pid=${p.pid} alive=${p.isAlive()}`);
  const seen = await p.receive<{ name: string; pid: number }>();
  await p.join();
  console.log(`after join:   alive=${p.isAlive()} exitCode=${p.exitCode}`);
  if (seen.pid !== p.pid || seen.name !== p.name || p.isAlive()) {
    throw new Error("the child's view of itself does not match the parent's");
  }
}
