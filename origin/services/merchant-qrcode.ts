/**
 * The merchant's mini-program code (WECHAT.md §3). The image never changes for a merchant, so it is
 * cached in Redis; WeChat is asked only on a miss.
 */
import type { Redis } from 'ioredis'
import { AppError } from '../../shared/errors.ts'
import { WechatApiError } from '../wechat/errors.ts'
import type { WechatMiniClient } from '../wechat/mini-client.ts'

export const PAY_PAGE = 'pages/pay/index'
const CACHE_TTL_SECONDS = 7 * 24 * 3600

/** ≤ 32 visible characters, read back by the pay page as query.scene. */
export const merchantScene = (merchantId: number) => `m=${merchantId}`

export async function merchantQrCode(
  deps: { redis: Redis; mini: WechatMiniClient },
  merchantId: number,
): Promise<{ contentType: string; bytes: Buffer }> {
  const key = `qrcode:merchant:${merchantId}`
  const cached = await deps.redis.hgetallBuffer(key)
  if (cached.type && cached.bytes) return { contentType: cached.type.toString(), bytes: cached.bytes }
  try {
    const image = await deps.mini.getUnlimitedQrCode({ scene: merchantScene(merchantId), page: PAY_PAGE })
    await deps.redis
      .multi()
      .hset(key, { type: image.contentType, bytes: image.bytes })
      .expire(key, CACHE_TTL_SECONDS)
      .exec()
    return image
  } catch (err) {
    if (err instanceof WechatApiError) {
      throw new AppError(
        'PAYMENT_PROVIDER_ERROR',
        'WeChat could not make the mini-program code right now; retry later',
        {
          provider: 'wechat',
          errcode: err.errcode,
        },
      )
    }
    throw err
  }
}
