/**
 * The business counters services report, as an interface: services depend on this, not on the
 * Prometheus registry that `origin/http/metrics.ts` builds to satisfy it.
 */
export type Labels = Record<string, string | number>

export interface Counter {
  inc(value?: number): void
  inc(labels: Labels, value?: number): void
}

export interface Gauge {
  set(value: number): void
}

export interface LabelledGauge {
  set(labels: Labels, value: number): void
}

export interface ServiceMetrics {
  payments: Counter
  paymentSuccess: Counter
  pointsAwards: Counter
  pointsAwardSuccess: Counter
  pointsMoved: Counter
  orders: Counter
  refunds: Counter
  jobRuns: Counter
  jobLastSuccess: LabelledGauge
  shippingUploads: Counter
  shippingFailedOrders: Gauge
  shippingOverdueOrders: Gauge
  reconciliationRuns: Counter
  reconciliationMismatches: LabelledGauge
  outboxMessages: Counter
  /** result: committed, or failed (its payments then applied one by one). */
  paymentBatches: Counter
  paymentsBatched: Counter
}

const counter: Counter = { inc: () => {} }
const gauge: Gauge & LabelledGauge = { set: () => {} }

/** For services run outside the server (scripts, unit tests) where nobody scrapes metrics. */
export const noopMetrics: ServiceMetrics = {
  payments: counter,
  paymentSuccess: counter,
  pointsAwards: counter,
  pointsAwardSuccess: counter,
  pointsMoved: counter,
  orders: counter,
  refunds: counter,
  jobRuns: counter,
  jobLastSuccess: gauge,
  shippingUploads: counter,
  shippingFailedOrders: gauge,
  shippingOverdueOrders: gauge,
  reconciliationRuns: counter,
  reconciliationMismatches: gauge,
  outboxMessages: counter,
  paymentBatches: counter,
  paymentsBatched: counter,
}
