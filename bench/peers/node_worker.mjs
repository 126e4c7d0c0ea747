// The tasks piscina and tinypool run in their worker threads (bench/peers/node_pool.mjs).
export function square(x) {
  return x * x;
}

export function squareAll(xs) {
  return xs.map(square);
}

export function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

export default square;
