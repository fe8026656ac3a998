// Task module for piscina (bench/peers/pool.bench.ts): `{ kind, x }` → x + 1,
// after about 1 ms of busy work when kind is "1ms".
export default function task({ kind, x }) {
  if (kind === "1ms") {
    const until = performance.now() + 1;
    while (performance.now() < until) { /* busy: a CPU-bound task */ }
  }
  return x + 1;
}
