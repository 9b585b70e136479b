/**
 * The console in headless Chromium against the real edge, origin, WeChat sandbox, MariaDB and
 * Redis, driven by roles and visible labels as a person (or the acceptance checks) would, with each
 * effect checked through the API or the sandbox.
 */
import { readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type EdgeHandle, type Runtime, startEdge } from '../../edge/test/support/harness.ts'
import { type RealStack, startRealStack } from '../../edge/test/support/real-stack.ts'
import { control } from '../../sandbox/testing.ts'
import { ADMIN_OPENID, HOLDS, invariants, type Stack } from '../../test/harness/stack.ts'
import {
  activeMerchant,
  type EdgeClient,
  edgeClient,
  launchBrowser,
  paidOrder,
  scanLogin,
  screenshot,
  unnamedControls,
} from './support.ts'

let real: RealStack
let stack: Stack
const edges = {} as Record<Runtime, EdgeHandle>
let browser: Browser
let api: EdgeClient
const pages: Array<{ page: Page; errors: string[] }> = []

beforeAll(async () => {
  real = await startRealStack(9)
  stack = real.stack
  ;[edges.workerd, edges.deno, browser] = await Promise.all([
    startEdge('workerd', real.edgeEnv()),
    startEdge('deno', real.edgeEnv()),
    launchBrowser(),
  ])
  api = edgeClient(edges.workerd.url)
})
afterAll(async () => {
  try {
    // Console errors include CSP violations: the page must work under the headers the edge sends.
    expect(pages.flatMap((p) => p.errors)).toEqual([])
    if (stack) expect(await invariants(stack)).toEqual(HOLDS)
  } finally {
    await browser?.close()
    await Promise.all(Object.values(edges).map((e) => e.close()))
    await real?.close()
  }
})

async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: 'zh-CN' })
  const page = await context.newPage()
  const entry = { page, errors: [] as string[] }
  page.on('console', (m) => {
    // API refusals the tests provoke (400, 401, 422, 429) and the aborted request are logged by
    // Chromium too; a 404 (a missing file), a CSP violation or a script error is not expected.
    if (m.type() === 'error' && !/status of (?!404)4\d\d|ERR_INTERNET_DISCONNECTED/.test(m.text()))
      entry.errors.push(m.text())
  })
  page.on('pageerror', (err) => entry.errors.push(String(err)))
  pages.push(entry)
  return page
}

const nav = (page: Page, title: string) =>
  page.getByRole('navigation').getByRole('link', { name: title }).click()

describe.each<Runtime>(['workerd', 'deno'])('scan-to-login through the %s edge', (runtime) => {
  it('logs in when the mini-program approves, hands the token out once, and logs out', async () => {
    const page = await newPage()
    const client = edgeClient(edges[runtime].url)
    const { merchantId, ownerOpenid } = await activeMerchant(client, ADMIN_OPENID, `扫码小店 ${runtime}`)
    const started = Date.now()
    const { sessionId } = await scanLogin(page, edges[runtime].url, client, ownerOpenid)
    console.log(`scan-to-login on ${runtime}: ${Date.now() - started} ms from goto to logged in`)
    await page.getByRole('heading', { name: '概览' }).waitFor()
    await page.reload()
    const timing = await page.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming
      return {
        domInteractiveMs: Math.round(nav.domInteractive),
        loadEventEndMs: Math.round(nav.loadEventEnd),
      }
    })
    await page.getByRole('heading', { name: '概览' }).waitFor()
    console.log(`console page load on ${runtime}: ${JSON.stringify(timing)}`)
    const again = await client.call('GET', `/api/console/sessions/${sessionId}`)
    expect(again.body).toMatchObject({ status: 'USED' })
    expect(again.body.token).toBeUndefined()
    const token = await page.evaluate(() => sessionStorage.getItem('console.token'))
    const me = await client.call('GET', '/api/merchant', { token: token! })
    expect(me.body.id).toBe(merchantId)

    await page.getByRole('button', { name: '退出登录' }).click()
    await page.getByRole('img', { name: '登录小程序码' }).waitFor()
    expect(await page.evaluate(() => sessionStorage.getItem('console.token'))).toBeNull()
    expect(await unnamedControls(page)).toEqual([])
    await screenshot(page, 'login')
  })
})

describe('merchant pages', () => {
  it('draws the 14-day chart with the day’s paid order in it', async () => {
    const { merchantId, ownerOpenid } = await activeMerchant(api, ADMIN_OPENID, '图表茶馆')
    await paidOrder(api, stack, merchantId, 1234)
    const page = await newPage()
    await scanLogin(page, edges.workerd.url, api, ownerOpenid)
    const canvas = page.locator('.chart canvas').first()
    await canvas.waitFor()
    // uPlot draws the paid series in #1677ff; an empty chart has axes and grid only.
    const blue = await canvas.evaluate((c: HTMLCanvasElement) => {
      const { data } = c.getContext('2d')!.getImageData(0, 0, c.width, c.height)
      let n = 0
      for (let i = 0; i < data.length; i += 4)
        if (Math.abs(data[i]! - 0x16) < 30 && Math.abs(data[i + 1]! - 0x77) < 30 && data[i + 2]! > 200) n++
      return n
    })
    expect(blue).toBeGreaterThan(20)
    await page.getByText('按天数据').click()
    const rows = page.getByRole('table', { name: /每日数据/ }).getByRole('row')
    expect(await rows.count()).toBe(15)
    const today = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10)
    const todayRow = rows.filter({ hasText: today })
    expect(await todayRow.getByRole('cell').allTextContents()).toEqual(['1', '¥12.34', '¥0.00', '12', '0'])
    expect(await unnamedControls(page)).toEqual([])
    await screenshot(page, 'dashboard')
  })

  it('refunds from the orders page once, however often 确认 is clicked', async () => {
    const { merchantId, ownerOpenid } = await activeMerchant(api, ADMIN_OPENID, '退款面馆')
    const order = await paidOrder(api, stack, merchantId, 2000)
    const page = await newPage()
    await scanLogin(page, edges.workerd.url, api, ownerOpenid)
    await nav(page, '订单')
    const row = page.getByRole('row').filter({ hasText: order.outTradeNo })
    await row.getByRole('button', { name: '退款' }).click()
    const dialog = page.getByRole('dialog')
    await dialog.getByLabel('金额').fill('25.00')
    await dialog.getByLabel('原因').fill('顾客退货')
    await dialog.getByRole('button', { name: '确认' }).click()
    const amount = dialog.getByRole('textbox', { name: '金额' })
    await dialog.getByText('退款金额超过可退金额').waitFor()
    expect(await amount.getAttribute('aria-invalid')).toBe('true')
    await screenshot(page, 'refund-dialog')

    await amount.fill('5.00')
    await dialog.getByRole('button', { name: '确认' }).dblclick()
    await dialog.getByRole('status').waitFor()

    const sent = await control<{ items: Array<{ body: string }> }>(
      stack.sandbox,
      'GET',
      `/requests?pathPrefix=${encodeURIComponent('/v3/refund/domestic/refunds')}`,
    )
    const mine = sent.json.items.filter((r) => r.body.includes(order.outTradeNo))
    expect(mine).toHaveLength(1)
    const outRefundNo = JSON.parse(mine[0]!.body).out_refund_no as string
    await control(stack.sandbox, 'POST', `/refunds/${outRefundNo}/complete`, { status: 'SUCCESS' })
    const owner = await api.login(ownerOpenid)
    let refundedFen = 0
    for (let i = 0; i < 100 && refundedFen !== 500; i++) {
      const list = await api.call('GET', '/api/merchant/orders', { token: owner.token })
      refundedFen = list.body.items.find((o: { id: string }) => o.id === order.id).refundedFen
      if (refundedFen !== 500) await new Promise((r) => setTimeout(r, 100))
    }
    expect(refundedFen).toBe(500)
    await dialog.getByText('退款成功').waitFor()
    await dialog.getByRole('button', { name: '关闭' }).click()
    await row.getByText('¥5.00').waitFor()
    expect(await unnamedControls(page)).toEqual([])
    await screenshot(page, 'orders')
  })
})

describe('operator pages', () => {
  it('approves one application and rejects another from the merchants page', async () => {
    const owner = await api.login(`applicant-${crypto.randomUUID().slice(0, 8)}`)
    const other = await api.login(`applicant-${crypto.randomUUID().slice(0, 8)}`)
    const apply = async (token: string, name: string) =>
      (
        await api.call('POST', '/api/merchants/applications', {
          token,
          body: { name, contactPhone: '13800138000' },
        })
      ).body.merchantId as string
    const good = await apply(owner.token, `待审核书店 ${owner.user.id}`)
    const bad = await apply(other.token, `可疑商户 ${other.user.id}`)
    const page = await newPage()
    await scanLogin(page, edges.workerd.url, api, ADMIN_OPENID)
    await page.getByRole('heading', { name: '商户审核' }).waitFor()
    const pending = page.getByRole('table', { name: /待审核/ })
    await pending
      .getByRole('row')
      .filter({ hasText: `待审核书店 ${owner.user.id}` })
      .waitFor()
    await screenshot(page, 'admin-merchants')
    await pending
      .getByRole('row')
      .filter({ hasText: `待审核书店 ${owner.user.id}` })
      .getByRole('button', { name: '通过' })
      .click()
    await page.getByRole('status').filter({ hasText: '营业中' }).waitFor()
    expect((await api.call('GET', `/api/merchants/${good}`)).body.status).toBe('ACTIVE')

    await pending
      .getByRole('row')
      .filter({ hasText: `可疑商户 ${other.user.id}` })
      .getByRole('button', { name: '拒绝' })
      .click()
    await page.getByRole('dialog').getByRole('button', { name: '确认' }).click()
    await page.getByRole('status').filter({ hasText: '已拒绝' }).waitFor()
    const admin = await api.login(ADMIN_OPENID)
    const rejected = await api.call('GET', '/api/admin/merchants?status=REJECTED&limit=100', {
      token: admin.token,
    })
    expect(rejected.body.items.map((m: { id: string }) => m.id)).toContain(bad)
    expect(await unnamedControls(page)).toEqual([])
  })

  it('pages through the audit log and runs a reconciliation; every page names its controls', async () => {
    const page = await newPage()
    await scanLogin(page, edges.workerd.url, api, ADMIN_OPENID)
    await nav(page, '审计日志')
    const audit = page.getByRole('table', { name: /审计日志/ })
    await audit.getByRole('row').nth(1).waitFor()
    expect(await audit.getByRole('row').count()).toBeGreaterThan(1)
    expect(await unnamedControls(page)).toEqual([])
    await screenshot(page, 'admin-audit')

    await nav(page, '对账')
    await page.getByLabel('日期').fill(new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10))
    await page.getByRole('button', { name: '运行对账' }).click()
    await page.getByRole('heading', { name: /对账报告/ }).waitFor()
    await page.getByRole('table', { name: /差异/ }).waitFor()
    expect(await unnamedControls(page)).toEqual([])
    await screenshot(page, 'admin-reconciliation')

    // Freezing itself is API.md §14 work of its own; here the page's controls are checked.
    for (const [title, shot] of [
      ['用户', 'admin-users'],
      ['积分调整', 'admin-adjustments'],
    ] as const) {
      await nav(page, title)
      await page.getByRole('heading', { name: title }).waitFor()
      expect(await unnamedControls(page)).toEqual([])
      await screenshot(page, shot)
    }
  })
})

describe('bad input and faults', () => {
  it('shows the API’s message next to the field, 429 as a wait, and retries a lost write once', async () => {
    const { ownerOpenid } = await activeMerchant(api, ADMIN_OPENID, '故障演练店')
    const shopper = await api.login(`grantee-${crypto.randomUUID().slice(0, 8)}`)
    const page = await newPage()
    await scanLogin(page, edges.workerd.url, api, ownerOpenid)

    await nav(page, '积分规则')
    const perFen = page.getByRole('textbox', { name: '每档消费（分）' })
    await perFen.fill('0')
    await page.getByRole('button', { name: '保存' }).click()
    await page.locator('input[name="perFen"][aria-invalid="true"]').waitFor()
    const describedBy = (await perFen.getAttribute('aria-describedby'))!.split(' ').at(-1)!
    expect(await page.locator(`#${describedBy}`).textContent()).toContain('输入有误')
    expect(await unnamedControls(page)).toEqual([])
    await screenshot(page, 'rule')

    await nav(page, '赠送积分')
    await page.getByLabel('用户 ID').fill(shopper.user.id)
    await page.getByLabel('积分').fill('30')
    await page.getByLabel('原因').fill('老顾客回馈')
    await page.route('**/api/merchant/grants', (route) =>
      route.fulfill({
        status: 429,
        headers: { 'retry-after': '7', 'content-type': 'application/json' },
        body: JSON.stringify({
          error: { code: 'RATE_LIMITED', message: 'Too many requests' },
          requestId: 'x',
        }),
      }),
    )
    await page.getByRole('button', { name: '赠送' }).click()
    await page.getByText('try again in 7 s').waitFor()
    await page.unrouteAll()

    // The grant reaches the origin, but its answer is lost on the way back.
    let lost = false
    await page.route('**/api/merchant/grants', async (route) => {
      if (lost) return route.continue()
      lost = true
      await route.fetch()
      await route.abort('internetdisconnected')
    })
    await page.getByRole('button', { name: '赠送' }).dblclick()
    const retry = page.getByRole('button', { name: '重试' })
    await retry.waitFor()
    await screenshot(page, 'network-banner')
    await retry.click()
    await page.getByRole('status').filter({ hasText: '已向用户' }).waitFor()
    const balance = await api.call('GET', '/api/points/balance', { token: shopper.token })
    expect(balance.body.balance).toBe(30)
    await screenshot(page, 'grants')

    await nav(page, '小程序码')
    await page.getByRole('img', { name: '本店小程序码' }).waitFor()
    expect(await page.getByRole('link', { name: '下载 PNG' }).getAttribute('download')).toMatch(/\.png$/)
    await screenshot(page, 'qrcode')
    await nav(page, '员工')
    expect(await unnamedControls(page)).toEqual([])
    await screenshot(page, 'staff')

    await page.evaluate(() => sessionStorage.setItem('console.token', 'not-a-token'))
    await page.reload()
    await page.getByRole('img', { name: '登录小程序码' }).waitFor()
    expect(await page.evaluate(() => location.hash)).toBe('#/login')
  })
})

it('keeps the first page within 150 KiB gzipped', () => {
  const gz = (file: string) => gzipSync(readFileSync(`dist/assets/console/${file}`)).byteLength
  const total = ['index.html', 'app.js', 'app.css'].map(gz).reduce((a, b) => a + b, 0)
  console.log(`console first page: ${(total / 1024).toFixed(1)} KiB gzipped`)
  expect(total).toBeLessThanOrEqual(150 * 1024)
})
