/** `k6/metrics`: custom metrics only count their samples here; the thresholds are k6's business. */
import { results } from './state.mjs'

class Metric {
  constructor(name) {
    this.name = name
  }

  add(value) {
    if (typeof value !== 'number' && typeof value !== 'boolean')
      throw new TypeError(`${this.name}.add() needs a number, got ${typeof value}`)
    results.metrics.set(this.name, (results.metrics.get(this.name) ?? 0) + 1)
  }
}

export class Counter extends Metric {}
export class Rate extends Metric {}
export class Trend extends Metric {}
