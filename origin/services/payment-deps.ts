import type { OriginConfig } from '../config.ts'
import type { Database } from '../db/client.ts'
import type { Logger } from '../obs/logger.ts'
import type { ServiceMetrics } from '../obs/metrics.ts'
import type { WechatPayClient } from '../wechat/pay-client.ts'
import type { PayTransaction } from '../wechat/pay-resources.ts'
import type { GroupCommit } from './group-commit.ts'
import type { Applied } from './payment-applied.ts'

/** What the order, payment, refund and reconciliation services need from the server. */
export interface PaymentDeps {
  db: Database
  pay: WechatPayClient
  config: OriginConfig
  metrics: ServiceMetrics
  log: Logger
  /** When set, payments arriving together are applied in one transaction (payment-batch.ts). */
  paymentBatch?: GroupCommit<PayTransaction, Applied>
}
