/** Scenario helpers built only from public API calls. */
import { randomBytes } from 'node:crypto'
import type { ApiClient } from './client.ts'
import { ADMIN_OPENID } from './stack.ts'

export const uniqueOpenid = (prefix = 'u') => `${prefix}-${randomBytes(6).toString('hex')}`
export const idemKey = () => `idem-${randomBytes(8).toString('hex')}`

export async function adminToken(api: ApiClient): Promise<string> {
  return (await api.login(ADMIN_OPENID)).token
}

/** A user who applied and was approved: returns the owner's fresh token and the merchant id. */
export async function activeMerchant(api: ApiClient, name = 'Tea House') {
  const ownerOpenid = uniqueOpenid('owner')
  const owner = await api.login(ownerOpenid)
  const applied = await api.post(
    '/api/merchants/applications',
    { name, description: 'Leaf tea', contactPhone: '13800138000' },
    { token: owner.token },
  )
  if (applied.status !== 201) throw new Error(`apply failed ${applied.status} ${applied.text}`)
  const merchantId = applied.body.merchantId as string
  const approved = await api.post(`/api/admin/merchants/${merchantId}/approve`, undefined, {
    token: await adminToken(api),
  })
  if (approved.status !== 200) throw new Error(`approve failed ${approved.status} ${approved.text}`)
  const relogin = await api.login(ownerOpenid)
  return { merchantId, ownerToken: relogin.token, ownerId: owner.user.id }
}

/** A user with `points` granted by a fresh merchant. */
export async function userWithPoints(
  api: ApiClient,
  points: number,
  merchant?: { merchantId: string; ownerToken: string },
) {
  const m = merchant ?? (await activeMerchant(api))
  const user = await api.login(uniqueOpenid())
  if (points > 0) {
    const res = await api.post(
      '/api/merchant/grants',
      { userId: user.user.id, points, reason: 'welcome' },
      { token: m.ownerToken },
    )
    if (res.status !== 201) throw new Error(`grant failed ${res.status} ${res.text}`)
  }
  return { token: user.token, id: user.user.id, merchant: m }
}

/** Makes `staff` a staff member of the owner's merchant the only way there is: invited, then accepted. */
export async function enlistStaff(api: ApiClient, ownerToken: string, staff: { token: string; id: string }) {
  const invited = await api.post(
    '/api/merchant/staff',
    { userId: staff.id, role: 'merchant_staff' },
    { token: ownerToken },
  )
  if (invited.status !== 201) throw new Error(`invite failed ${invited.status} ${invited.text}`)
  const accepted = await api.post(`/api/me/invitations/${invited.body.invitationId}/accept`, undefined, {
    token: staff.token,
  })
  if (accepted.status !== 200) throw new Error(`accept failed ${accepted.status} ${accepted.text}`)
  return invited.body.invitationId as string
}
