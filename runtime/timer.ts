// One-shot timers for the runtime's timeouts. On the main thread they are
// setTimeout, which also keeps its event loop alive while a call waits. In a
// worker the first timer call costs 3–8 ms (Deno loads node:timers then), and
// its event loop stays alive anyway, so there a timer is an Atomics.waitAsync
// on a cell of its own that times out when the timer is due; cancelling
// notifies the cell, which frees it at once.

import { _IN_WORKER } from "./context.ts";

const BLOCK = 256;

interface Cell {
  block: Int32Array;
  index: number;
}

// Cells not in use. A cell goes back only once its wait has ended, so a new
// timer never waits on a cell an old wait may still be woken through.
const free: Cell[] = [];

function takeCell(): Cell {
  let cell = free.pop();
  if (!cell) {
    const block = new Int32Array(new SharedArrayBuffer(BLOCK * 4));
    for (let i = BLOCK - 1; i > 0; i--) free.push({ block, index: i });
    cell = { block, index: 0 };
  }
  return cell;
}

/** Cancels a timer; does nothing once it fired or was cancelled. */
export type _Cancel = () => void;

// The longest delay setTimeout takes; a longer one fires at once.
const MAX_TIMER_MS = 2 ** 31 - 1;
const never: _Cancel = () => {};

/**
 * Calls `fn` once, `ms` from now, unless the returned function is called
 * first. `Infinity` never fires; delays beyond what a timer takes (~24.8
 * days) wait in steps.
 */
export function _after(ms: number, fn: () => void): _Cancel {
  if (!(ms < Infinity)) return never;
  if (!_IN_WORKER) {
    if (ms <= MAX_TIMER_MS) {
      const id = setTimeout(fn, ms);
      return () => clearTimeout(id);
    }
    const due = performance.now() + ms;
    let id: ReturnType<typeof setTimeout>;
    const step = () => {
      const left = due - performance.now();
      id = left > MAX_TIMER_MS ? setTimeout(step, MAX_TIMER_MS) : setTimeout(fn, Math.max(0, left));
    };
    step();
    return () => clearTimeout(id);
  }
  const cell = takeCell();
  Atomics.store(cell.block, cell.index, 0);
  let pending = true;
  const ended = (result: string) => {
    free.push(cell);
    if (!pending) return;
    pending = false;
    if (result === "timed-out") fn();
  };
  const wait = Atomics.waitAsync(cell.block, cell.index, 0, Math.max(0, ms));
  if (wait.async) wait.value.then(ended);
  else queueMicrotask(() => ended(wait.value)); // a 0 ms timer still fires later, as setTimeout's does
  return () => {
    if (!pending) return;
    pending = false;
    Atomics.store(cell.block, cell.index, 1);
    Atomics.notify(cell.block, cell.index);
  };
}
