/**
 * The mini-program server APIs (WECHAT.md §1, §3) with the sandbox's login convention: any js_code
 * of the form `code-<openid>` logs in as that openid (API.md §10). Errors are JSON with errcode and
 * HTTP 200, like WeChat's.
 */
import { type Context, Hono } from 'hono'
import QRCode from 'qrcode'
import type { SandboxContext } from './context.ts'

const SCENE_CHARS = /^[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]+$/
const MAX_SCENE_CHARS = 32
const DEFAULT_QR_WIDTH_PX = 430

function errcode(c: Context, code: number, errmsg: string) {
  return c.json({ errcode: code, errmsg })
}

async function jsonObject(c: Context): Promise<Record<string, unknown> | null> {
  try {
    const body: unknown = JSON.parse(await c.req.text())
    return body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : null
  } catch {
    return null
  }
}

export function miniRoutes(ctx: SandboxContext): Hono {
  const { identity, tokens } = ctx
  const app = new Hono()
  // Scoped per API prefix: this app is mounted at '/', where a '*' middleware would also wrap /v3 and /sandbox.
  for (const prefix of ['/sns/*', '/cgi-bin/*', '/wxa/*']) app.use(prefix, ctx.traffic.middleware())

  app.get('/sns/jscode2session', (c) => {
    const q = c.req.query()
    if (q.appid !== identity.appid) return errcode(c, 40013, 'invalid appid')
    if (q.secret !== identity.appSecret) return errcode(c, 40125, 'invalid appsecret')
    if (q.grant_type !== 'authorization_code') return errcode(c, 40002, 'invalid grant_type')
    const openid = /^code-([A-Za-z0-9_-]{1,64})$/.exec(q.js_code ?? '')?.[1]
    if (!openid) return errcode(c, 40029, 'invalid code')
    return c.json({ openid, session_key: Buffer.from(`${openid}:sandbox-session`).toString('base64') })
  })

  app.post('/cgi-bin/stable_token', async (c) => {
    const body = await jsonObject(c)
    if (!body) return errcode(c, 47001, 'data format error')
    if (body.grant_type !== 'client_credential') return errcode(c, 40002, 'invalid grant_type')
    if (body.appid !== identity.appid) return errcode(c, 40013, 'invalid appid')
    if (body.secret !== identity.appSecret) return errcode(c, 40125, 'invalid appsecret')
    if (body.force_refresh === true) tokens.revokeAll()
    const issued = tokens.issue()
    return c.json({ access_token: issued.accessToken, expires_in: issued.expiresInSeconds })
  })

  app.post('/wxa/getwxacodeunlimit', async (c) => {
    if (!tokens.isValid(c.req.query('access_token') ?? '')) {
      return errcode(c, 40001, 'invalid credential, access_token is invalid or not latest')
    }
    const body = await jsonObject(c)
    if (!body) return errcode(c, 47001, 'data format error')
    const scene = typeof body.scene === 'string' ? body.scene : ''
    if (scene.length === 0 || scene.length > MAX_SCENE_CHARS)
      return errcode(c, 40169, 'invalid length for scene')
    if (!SCENE_CHARS.test(scene)) return errcode(c, 40129, 'invalid scene')
    const page = body.page === undefined ? 'pages/index/index' : body.page
    if (typeof page !== 'string' || page.startsWith('/') || page.includes('?'))
      return errcode(c, 41030, 'invalid page')
    const widthPx =
      typeof body.width === 'number' ? Math.min(Math.max(body.width, 280), 1280) : DEFAULT_QR_WIDTH_PX
    const png = await QRCode.toBuffer(`${page}?scene=${encodeURIComponent(scene)}`, {
      type: 'png',
      width: widthPx,
    })
    return c.body(new Uint8Array(png), 200, { 'Content-Type': 'image/png' })
  })

  return app
}
