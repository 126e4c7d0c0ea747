/**
 * Scenario 7: two processes talking through a `Pipe`. The parent sends
 * requests on its end, a child answers on the other; closing the parent's end
 * makes the child's `recv()` throw `EOFError`, which ends it.
 *
 * Run: deno run -A examples/07_pipe.ts
 */
import { type Connection, EOFError, Pipe, Process, task } from "../mod.ts";

type Request = { op: "add" | "mul"; a: number; b: number };
type Reply = { result: number };

export const calculator = task(
  import.meta,
  async function calculator(conn: Connection<Reply, Request>) {
    for (;;) {
      let request: Request;
      try {
        request = await conn.recv();
      } catch (error) {
        if (error instanceof EOFError) break; // the parent closed its end
        throw error;
      }
      const { op, a, b } = request;
      await conn.send({ result: op === "add" ? a + b : a * b });
    }
    conn.close();
  },
);

if (import.meta.main) {
  const [mine, theirs] = Pipe<Request, Reply>();
  const child = new Process({ target: calculator, args: [theirs] });
  child.start();

  const requests: Request[] = [
    { op: "add", a: 2, b: 3 },
    { op: "mul", a: 4, b: 5 },
    { op: "add", a: 40, b: 2 },
  ];
  const results: number[] = [];
  for (const request of requests) {
    await mine.send(request);
    const { result } = await mine.recv();
    console.log(`${request.a} ${request.op} ${request.b} = ${result}`);
    results.push(result);
  }
  mine.close();
  const code = await child.join(5000);
  theirs.close();

  if (results.join() !== "5,20,42" || code !== 0) {
    throw new Error(`unexpected results ${results} (child exit code ${code})`);
  }
}
