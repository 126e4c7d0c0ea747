// Objects that live in shared memory, used from "spawn" children (OS
// processes) through the relay of the process that sent them: the same
// guarantees as in a thread, mixed with threads on the same object.
import { assert, assertEquals, assertRejects } from "@std/assert";
import { ChannelClosedError, EOFError, Pipe, Process } from "../troupe.ts";
import { doubles, receivesAll, sendsAndHangs, sendsThenCloses } from "./fixtures/relay_tasks.ts";
import { workerTest } from "./_helpers.ts";

const SPAWN = { startMethod: "spawn" } as const;

// ---- Pipe ends -------------------------------------------------------------------------------

workerTest(
  "relay: a Pipe end in a spawn child sends and receives, then reads EOFError",
  async () => {
    const [here, there] = Pipe<number, number>();
    const p = new Process({ target: doubles, args: [there], ...SPAWN });
    p.start();
    for (let i = 0; i < 20; i++) await here.send(i);
    const back: number[] = [];
    for (let i = 0; i < 20; i++) back.push(await here.recv({ timeoutMs: 20_000 }));
    assertEquals(back, Array.from({ length: 20 }, (_, i) => i * 2));
    here.close();
    assertEquals(await p.receive({ timeoutMs: 20_000 }), { n: 20, ended: "EOFError" });
    assertEquals(await p.join(), 0);
  },
);

workerTest(
  "relay: a spawn child's close() reaches the other end as EOFError after its items",
  async () => {
    const [here, there] = Pipe<number, number>();
    const p = new Process({ target: sendsThenCloses, args: [there, 5], ...SPAWN });
    p.start();
    const got: number[] = [];
    for (let i = 0; i < 5; i++) got.push(await here.recv({ timeoutMs: 20_000 }));
    assertEquals(got, [0, 1, 2, 3, 4]);
    await assertRejects(() => here.recv({ timeoutMs: 20_000 }), EOFError);
    assertEquals(await p.join(), 0);
  },
);

workerTest("relay: a Pipe between a thread child and a spawn child", async () => {
  const [a, b] = Pipe<number>({ duplex: false });
  const reader = new Process({ target: receivesAll, args: [a], ...SPAWN });
  const writer = new Process({ target: sendsThenCloses, args: [b, 30] });
  reader.start();
  writer.start();
  const seen = await reader.receive<{ got: number[]; ended: string }>({ timeoutMs: 20_000 });
  assertEquals(seen, { got: Array.from({ length: 30 }, (_, i) => i), ended: "EOFError" });
  assertEquals(await writer.join(), 0);
  assertEquals(await reader.join(), 0);
});

workerTest(
  "relay: when a spawn child holding an end is killed, the other end reads EOFError",
  async () => {
    const [here, there] = Pipe<number, number>();
    const p = new Process({ target: sendsAndHangs, args: [there], ...SPAWN });
    p.start();
    assertEquals(await p.receive({ timeoutMs: 20_000 }), "sent");
    assertEquals(await here.recv({ timeoutMs: 5000 }), 1);
    p.kill();
    assertEquals(await p.join(), -9);
    const error = await assertRejects(() => here.recv({ timeoutMs: 10_000 }), EOFError);
    assert(error.message.includes("has ended"), error.message);
    await assertRejects(() => here.send(2), ChannelClosedError);
  },
);
