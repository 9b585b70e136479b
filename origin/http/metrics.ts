/** Prometheus metrics of API.md §7 plus the business counters operators alert on. */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'

export function createMetrics() {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const counter = (name: string, help: string, labelNames: string[] = []) =>
    new Counter({ name, help, labelNames, registers: [registry] })
  return {
    registry,
    httpRequests: counter('http_requests_total', 'HTTP requests by method, route and status', [
      'method',
      'route',
      'status',
    ]),
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by method and route',
      labelNames: ['method', 'route'],
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    payments: counter('payment_total', 'payment notifications and queries processed'),
    paymentSuccess: counter('payment_success_total', 'orders that became PAID'),
    pointsAwards: counter('points_award_total', 'point awards attempted for paid orders'),
    pointsAwardSuccess: counter('points_award_success_total', 'point awards committed'),
    pointsMoved: counter('points_moved_total', 'points moved by transfer kind', ['kind']),
    gifts: counter('gifts_total', 'gift state changes', ['status']),
    orders: counter('orders_total', 'order state changes', ['status']),
    refunds: counter('refunds_total', 'refund state changes', ['status']),
    jobRuns: counter('job_runs_total', 'background job runs by job and outcome', ['job', 'outcome']),
    shippingUploads: counter('shipping_uploads_total', 'shipping-info upload attempts by outcome', [
      'outcome',
    ]),
    shippingFailedOrders: new Gauge({
      name: 'shipping_failed_orders',
      help: 'paid orders whose shipping-info upload WeChat refused for good (FAILED)',
      registers: [registry],
    }),
    shippingOverdueOrders: new Gauge({
      name: 'shipping_overdue_orders',
      help: 'orders paid more than 10 minutes ago whose shipping info is still not uploaded',
      registers: [registry],
    }),
    reconciliationRuns: counter('reconciliation_runs_total', 'trade-bill reconciliations by result', [
      'status',
    ]),
    reconciliationMismatches: new Gauge({
      name: 'reconciliation_mismatches',
      help: 'mismatches by kind in the last completed trade-bill reconciliation',
      labelNames: ['kind'],
      registers: [registry],
    }),
    outboxMessages: counter('outbox_messages_total', 'outbox deliveries by outcome', ['outcome']),
    paymentBatches: counter('payment_batches_total', 'payment batches (group commit) by result', ['result']),
    paymentsBatched: counter('payment_batched_total', 'payments answered by a committed batch'),
    jobLastSuccess: new Gauge({
      name: 'job_last_success_timestamp_seconds',
      help: 'unix time of the last successful run of each job',
      labelNames: ['job'],
      registers: [registry],
    }),
  }
}

export type Metrics = ReturnType<typeof createMetrics>
