/** What the shim's k6 modules record while a script runs; the runner reads it for its summary. */
export const results = {
  /** check name → [passed, failed] */
  checks: new Map(),
  /** metric name → number of samples added */
  metrics: new Map(),
  requests: 0,
}

export function recordCheck(name, passed) {
  const counts = results.checks.get(name) ?? [0, 0]
  counts[passed ? 0 : 1]++
  results.checks.set(name, counts)
}

/** Blocks the thread, as k6's sleep() does for its VU. */
export function blockFor(ms) {
  if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}
