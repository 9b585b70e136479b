import type { Redis } from 'ioredis'
import type { OriginConfig } from '../config.ts'
import type { Database } from '../db/client.ts'
import type { FieldCipher } from '../security/field-cipher.ts'
import type { PaymentDeps } from '../services/payment-deps.ts'
import type { Identity } from '../services/users.ts'
import type { WechatMiniClient } from '../wechat/mini-client.ts'
import type { WechatPayClient } from '../wechat/pay-client.ts'
import type { Logger } from './logger.ts'
import type { Metrics } from './metrics.ts'

/** What routes and middleware are built from; tests build it from real services too. */
export interface OriginDeps {
  config: OriginConfig
  db: Database
  redis: Redis
  metrics: Metrics
  log: Logger
  mini: WechatMiniClient
  phones: FieldCipher
  pay: WechatPayClient
  paymentBatch?: PaymentDeps['paymentBatch']
}

export type AppEnv = {
  Variables: {
    requestId: string
    userId: number
    identity: Identity
    clientIp: string
  }
}
