/** Builds the real dependencies from configuration. */
import { Redis } from 'ioredis'
import type { OriginConfig } from './config.ts'
import { createDatabase } from './db/client.ts'
import type { OriginDeps } from './http/context.ts'
import { createLogger } from './http/logger.ts'
import { createMetrics } from './http/metrics.ts'
import type { Job } from './jobs/runner.ts'
import { createFieldCipher } from './security/field-cipher.ts'
import { expireDueGifts } from './services/gift-settlement.ts'
import { createGroupCommit } from './services/group-commit.ts'
import { purgeExpiredIdempotencyKeys } from './services/idempotency.ts'
import { setLotPolicy } from './services/lots.ts'
import { reconcilePendingOrders } from './services/orders.ts'
import { sendDueOutbox } from './services/outbox.ts'
import { applyPaymentBatch } from './services/payment-batch.ts'
import { expireDueLots, noticeExpiringLots } from './services/points-expiry.ts'
import { reconcileYesterday } from './services/reconciliation.ts'
import { reconcileRefunds } from './services/refunds.ts'
import { uploadDueShipping } from './services/shipping.ts'
import { createWechatMiniClient } from './wechat/mini-client.ts'
import { createWechatPayClient } from './wechat/pay-client.ts'

export function createDeps(config: OriginConfig): OriginDeps {
  setLotPolicy({ ttlSeconds: config.POINTS_TTL_SECONDS })
  const db = createDatabase({
    url: config.DATABASE_URL,
    readUrl: config.DATABASE_READ_URL,
    poolSize: config.DATABASE_POOL_SIZE,
    batchConnections: config.PAYMENT_BATCH_IN_FLIGHT,
  })
  // Fail fast while Redis is down instead of queueing commands behind a reconnect, and fail a
  // command in 2 s when Redis is silently unreachable instead of letting it hang.
  const redis = new Redis(config.REDIS_URL, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    lazyConnect: false,
    commandTimeout: 2000,
  })
  const log = createLogger(config.LOG_LEVEL)
  redis.on('error', (err: Error) => log.warn('redis error', { error: err.message }))
  const mini = createWechatMiniClient(
    { apiBaseUrl: config.WECHAT_API_BASE_URL, appid: config.WECHAT_APPID, secret: config.WECHAT_APP_SECRET },
    { redis },
  )
  const pay = createWechatPayClient({
    baseUrl: config.WECHAT_PAY_BASE_URL,
    mchid: config.WECHAT_MCHID,
    appid: config.WECHAT_APPID,
    serialNo: config.WECHAT_MCH_SERIAL_NO,
    privateKeyPem: config.WECHAT_MCH_PRIVATE_KEY,
    payPublicKeyPem: config.WECHAT_PAY_PUBLIC_KEY,
    payPublicKeyId: config.WECHAT_PAY_PUBLIC_KEY_ID,
    apiv3Key: config.WECHAT_APIV3_KEY,
  })
  const deps: OriginDeps = {
    config,
    db,
    redis,
    log,
    metrics: createMetrics(),
    mini,
    pay,
    phones: createFieldCipher(config.PHONE_ENCRYPTION_KEYS),
  }
  if (config.PAYMENT_BATCH_MAX > 1) {
    deps.paymentBatch = createGroupCommit({
      maxBatch: config.PAYMENT_BATCH_MAX,
      maxInFlight: config.PAYMENT_BATCH_IN_FLIGHT,
      maxWaitMs: config.PAYMENT_BATCH_WAIT_MS,
      run: (txns) => applyPaymentBatch(deps, txns),
    })
  }
  return deps
}

export function originJobs(deps: OriginDeps): Job[] {
  return [
    { name: 'expire_gifts', run: (now) => expireDueGifts(deps.db.primary, now) },
    { name: 'purge_idempotency_keys', run: (now) => purgeExpiredIdempotencyKeys(deps.db.primary, now) },
    { name: 'reconcile_orders', run: (now) => reconcilePendingOrders(deps, now) },
    { name: 'reconcile_refunds', run: (now) => reconcileRefunds(deps, now) },
    { name: 'upload_shipping', run: (now) => uploadDueShipping(deps, now) },
    { name: 'reconcile_trade_bill', run: (now) => reconcileYesterday(deps, now) },
    { name: 'send_outbox', run: (now) => sendDueOutbox(deps, now) },
    { name: 'expire_points', run: (now) => expireDueLots(deps.db.primary, now) },
    { name: 'notice_expiring_points', run: (now) => noticeExpiringLots(deps, now) },
  ]
}
