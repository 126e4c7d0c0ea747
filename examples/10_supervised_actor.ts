/**
 * Scenario 10: an actor with state, called by method, crashes; its supervisor
 * restarts it. The caller whose call was in flight gets a clear error, calls
 * made during the restart wait for the new incarnation, and the new
 * incarnation starts from fresh state.
 *
 * Run: deno run -A examples/10_supervised_actor.ts
 */
import { Actor, ActorExited, spawn, Supervisor, task } from "../mod.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class Counter extends Actor {
  n = 0;
  inc(by: number): number {
    return (this.n += by);
  }
  async slowInc(by: number, ms: number): Promise<number> {
    await sleep(ms);
    return (this.n += by);
  }
  /** A bug outside any method: a timer callback that throws takes the whole actor down. */
  scheduleBug(ms: number): void {
    setTimeout(() => {
      throw new Error("bug in a timer callback");
    }, ms);
  }
}
task(import.meta, Counter);

if (import.meta.main) {
  await using sup = new Supervisor({
    strategy: "one_for_one",
    intensity: 3,
    periodMs: 5000,
    children: [{ id: "counter", start: () => spawn(Counter), restart: "permanent" }],
  });
  const events: string[] = [];
  sup.on("start", (e) => events.push(`start ${e.id} as ${e.name}`));
  sup.on("exit", (e) => events.push(`exit ${e.id}: ${e.reason.description}`));
  sup.on("restart", (e) => events.push(`restart ${e.id} (#${e.restarts})`));
  await sup.start();

  const counter = sup.ref<Counter>("counter");
  await counter.call.inc(5);
  const before = await counter.call.inc(5);
  console.log(`state before the crash: ${before} (in ${counter.name})`);

  await counter.call.scheduleBug(20);
  let inFlightError: unknown;
  try {
    await counter.call.slowInc(1, 2000); // in flight when the timer's bug fires
  } catch (error) {
    inFlightError = error;
    console.log(`call in flight failed: ${(error as Error).message}`);
  }

  // Made while the supervisor restarts the actor: waits for the new incarnation.
  const after = await counter.with({ timeoutMs: 5000 }).call.inc(1);
  console.log(`state after the restart: ${after} (in ${counter.name})`);
  console.log("supervisor events:\n  " + events.join("\n  "));

  const [child] = sup.whichChildren();
  if (
    before !== 10 || after !== 1 || child.restarts !== 1 ||
    !(inFlightError instanceof ActorExited) ||
    !inFlightError.message.includes("died of an uncaught Error: bug in a timer callback") ||
    !inFlightError.message.includes("before answering slowInc()") ||
    events.length !== 4 || !events[1].startsWith("exit counter: died of an uncaught Error")
  ) {
    throw new Error(`unexpected result: ${JSON.stringify({ before, after, child, events })}`);
  }
}
