/**
 * What the browser tests share: the real stack behind a real edge, Chromium, an API client through
 * the edge (as the mini-program calls it), scan-to-login done the mini-program's way, and the
 * accessible-name check read from Chromium's own accessibility tree.
 */
import { existsSync, mkdirSync } from 'node:fs'
import { type Browser, chromium, type Page } from 'playwright-core'
import { control } from '../../sandbox/testing.ts'
import type { Stack } from '../../test/harness/stack.ts'

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

export function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (.ci/run does)`)
  // Root in CI and containers: Chromium's own sandbox needs user namespaces it may not have.
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
}

export interface Answer {
  status: number
  headers: Headers
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers of many shapes, read by tests
  body: any
}

export function edgeClient(edgeUrl: string) {
  const call = async (
    method: string,
    path: string,
    opts: { token?: string; body?: unknown; idempotencyKey?: string } = {},
  ): Promise<Answer> => {
    const headers: Record<string, string> = {}
    if (opts.token) headers.authorization = `Bearer ${opts.token}`
    if (opts.idempotencyKey) headers['idempotency-key'] = opts.idempotencyKey
    if (opts.body !== undefined) headers['content-type'] = 'application/json'
    const res = await fetch(edgeUrl + path, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    })
    const text = await res.text()
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null }
  }
  const login = async (openid: string) => {
    const res = await call('POST', '/api/auth/login', { body: { code: `code-${openid}` } })
    if (res.status !== 200) throw new Error(`login ${openid}: ${res.status}`)
    return res.body as { token: string; user: { id: string } }
  }
  return { call, login }
}
export type EdgeClient = ReturnType<typeof edgeClient>

/**
 * 扫码登录 as it happens: the page opens a session and shows its code; the mini-program (here the
 * API client, logged in as `openid`) approves the id the code carries; the page's poll takes the token.
 */
export async function scanLogin(page: Page, edgeUrl: string, api: EdgeClient, openid: string) {
  const opened = page.waitForResponse(
    (r) => r.url().endsWith('/api/console/sessions') && r.request().method() === 'POST',
  )
  await page.goto(`${edgeUrl}/console/`)
  const session = (await (await opened).json()) as { id: string }
  await page.getByRole('img', { name: '登录小程序码' }).waitFor()
  const user = await api.login(openid)
  const approved = await api.call('POST', `/api/console/sessions/${session.id}/approve`, {
    token: user.token,
  })
  if (approved.status !== 200) throw new Error(`approve: ${approved.status}`)
  await page.getByRole('button', { name: '退出登录' }).waitFor()
  return { sessionId: session.id, userId: user.user.id }
}

/** A merchant approved through the API, and its owner's openid (log in again to be owner). */
export async function activeMerchant(api: EdgeClient, adminOpenid: string, name: string) {
  const ownerOpenid = `owner-${crypto.randomUUID().slice(0, 8)}`
  const owner = await api.login(ownerOpenid)
  const applied = await api.call('POST', '/api/merchants/applications', {
    token: owner.token,
    body: { name, contactPhone: '13800138000' },
  })
  const admin = await api.login(adminOpenid)
  await api.call('POST', `/api/admin/merchants/${applied.body.merchantId}/approve`, { token: admin.token })
  return { merchantId: applied.body.merchantId as string, ownerOpenid }
}

/** A shopper's paid order at the merchant, paid through the sandbox as WeChat Pay would. */
export async function paidOrder(api: EdgeClient, stack: Stack, merchantId: string, amountFen: number) {
  const shopper = await api.login(`shopper-${crypto.randomUUID().slice(0, 8)}`)
  const created = await api.call('POST', '/api/orders', {
    token: shopper.token,
    body: { merchantId, amountFen },
    idempotencyKey: `order-${crypto.randomUUID()}`,
  })
  if (created.status !== 201) throw new Error(`order: ${created.status} ${JSON.stringify(created.body)}`)
  await control(stack.sandbox, 'POST', '/pay', { outTradeNo: created.body.outTradeNo })
  for (let i = 0; i < 50; i++) {
    const order = await api.call('GET', `/api/orders/${created.body.id}`, { token: shopper.token })
    if (order.body.status === 'PAID') return order.body as { id: string; outTradeNo: string }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error('order never became PAID')
}

const NAMED_ROLES = new Set([
  'button',
  'link',
  'textbox',
  'combobox',
  'checkbox',
  'radio',
  'spinbutton',
  'searchbox',
])

/** Controls whose accessible name, as Chromium computes it, is empty: each as "role (tag)". */
export async function unnamedControls(page: Page): Promise<string[]> {
  const cdp = await page.context().newCDPSession(page)
  try {
    const { nodes } = (await cdp.send('Accessibility.getFullAXTree')) as {
      nodes: Array<{ ignored: boolean; role?: { value: string }; name?: { value: string } }>
    }
    return nodes
      .filter((n) => !n.ignored && NAMED_ROLES.has(n.role?.value ?? '') && !n.name?.value?.trim())
      .map((n) => n.role!.value)
  } finally {
    await cdp.detach()
  }
}

/** With CONSOLE_SCREENSHOTS=<dir> (npm run screenshots:console) each visited page is saved there. */
export async function screenshot(page: Page, name: string) {
  const dir = process.env.CONSOLE_SCREENSHOTS
  if (!dir) return
  mkdirSync(dir, { recursive: true })
  await page.screenshot({ path: `${dir}/${name}.png`, fullPage: true })
}
