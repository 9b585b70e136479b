/** Setup through the API: a merchant with a plain rule, shoppers, and the history phase's users. */
import { mapConcurrent } from '../lib/api.ts'
import { type BenchContext, log, RULE, settings } from '../lib/context.ts'

export const HISTORY_SIZES = [100, 10_000, 100_000] as const

export async function setupMerchant(ctx: BenchContext, tag: string) {
  const { api } = ctx
  log('setup: admin, merchant (applied, approved, rule set), shoppers')
  const admin = await api.login(ctx.stack.adminOpenid)
  const ownerOpenid = `bench-owner-${tag}`
  const owner = await api.login(ownerOpenid)
  const applied = await api.call<{ merchantId: string }>('POST', '/api/merchants/applications', {
    token: owner.token,
    body: { name: 'Bench Tea House', description: 'benchmark merchant', contactPhone: '13800138000' },
  })
  const merchantId = applied.merchantId
  await api.call('POST', `/api/admin/merchants/${merchantId}/approve`, { token: admin.token })
  const ownerAgain = await api.login(ownerOpenid)
  await api.call('PUT', '/api/merchant/rule', { token: ownerAgain.token, body: RULE })
  const shoppers = await mapConcurrent(
    Array.from({ length: settings.users }, (_, i) => `bench-u-${tag}-${i}`),
    16,
    async (openid) => ({ openid, ...(await api.login(openid)) }),
  )
  const historyUsers = await mapConcurrent(HISTORY_SIZES, 3, (n) => api.login(`bench-h${n}-${tag}`))
  log(`setup: merchant ${merchantId}, ${shoppers.length} shoppers`)
  return { merchantId, shoppers, historyUsers }
}
export type Setup = Awaited<ReturnType<typeof setupMerchant>>
