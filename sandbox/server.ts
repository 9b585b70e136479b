/**
 * Starting a sandbox: one HTTP server that answers as both api.mch.weixin.qq.com (/v3) and
 * api.weixin.qq.com (/sns, /cgi-bin, /wxa), plus its /sandbox control routes.
 */
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import type { SandboxContext } from './context.ts'
import { controlRoutes } from './control-routes.ts'
import { createDeliverer } from './delivery.ts'
import { generateSandboxIdentity } from './identity.ts'
import { miniRoutes } from './mini-routes.ts'
import { payRoutes } from './pay-routes.ts'
import { SandboxStore } from './store.ts'
import { TokenRegistry } from './token-registry.ts'
import { Traffic } from './traffic.ts'

export interface SandboxOptions {
  /** 0 (default) picks a free port. */
  port?: number
  host?: string
  /** Multiplies WeChat's notification retry delays (15 s, 15 s, 30 s, 3 min, …); 0.001 turns 15 s into 15 ms. */
  retryTimeScale?: number
  /** Complete every refund with SUCCESS after this many ms instead of waiting for /sandbox/refunds/:no/complete. */
  refundAutoCompleteMs?: number
}

/** What the origin needs to talk to this sandbox, under the names of API.md §8 where they exist. */
export interface SandboxConfig {
  appid: string
  appSecret: string
  mchid: string
  mchSerialNo: string
  mchPrivateKeyPem: string
  payPublicKeyPem: string
  payPublicKeyId: string
  apiv3Key: string
}

export interface StartedSandbox {
  url: string
  config: SandboxConfig
  /** The platform signing key, for tests that build notifications themselves (buildNotification). */
  payPrivateKeyPem: string
  close(): Promise<void>
}

export async function startSandbox(opts: SandboxOptions = {}): Promise<StartedSandbox> {
  const identity = await generateSandboxIdentity()
  const ctx: SandboxContext = {
    identity,
    store: new SandboxStore(),
    deliverer: createDeliverer(identity, opts.retryTimeScale ?? 1),
    traffic: new Traffic(),
    tokens: new TokenRegistry(),
    refundAutoCompleteMs: opts.refundAutoCompleteMs,
    billTampering: new Map(),
    billFiles: new Map(),
  }
  const app = new Hono()
  app.route('/sandbox', controlRoutes(ctx))
  app.route('/v3', payRoutes(ctx))
  app.route('/', miniRoutes(ctx))

  const host = opts.host ?? '127.0.0.1'
  const { server, port } = await new Promise<{ server: ReturnType<typeof serve>; port: number }>(
    (resolve, reject) => {
      const s = serve({ fetch: app.fetch, port: opts.port ?? 0, hostname: host }, (info: AddressInfo) =>
        resolve({ server: s, port: info.port }),
      )
      s.once('error', reject)
    },
  )

  return {
    url: `http://${host}:${port}`,
    config: {
      appid: identity.appid,
      appSecret: identity.appSecret,
      mchid: identity.mchid,
      mchSerialNo: identity.mchSerialNo,
      mchPrivateKeyPem: identity.mchPrivateKeyPem,
      payPublicKeyPem: identity.payPublicKeyPem,
      payPublicKeyId: identity.payPublicKeyId,
      apiv3Key: identity.apiv3Key,
    },
    payPrivateKeyPem: identity.payPrivateKeyPem,
    close() {
      ctx.deliverer.close()
      return new Promise<void>((resolve) => {
        server.close(() => resolve())
        if ('closeAllConnections' in server) server.closeAllConnections()
      })
    },
  }
}

/** The origin's WECHAT_* environment (API.md §8) pointing at a started sandbox; `npm run dev` uses it. */
export function sandboxEnv(started: Pick<StartedSandbox, 'url' | 'config'>): Record<string, string> {
  const { config } = started
  return {
    WECHAT_APPID: config.appid,
    WECHAT_APP_SECRET: config.appSecret,
    WECHAT_MCHID: config.mchid,
    WECHAT_MCH_SERIAL_NO: config.mchSerialNo,
    WECHAT_MCH_PRIVATE_KEY: config.mchPrivateKeyPem,
    WECHAT_APIV3_KEY: config.apiv3Key,
    WECHAT_PAY_PUBLIC_KEY: config.payPublicKeyPem,
    WECHAT_PAY_PUBLIC_KEY_ID: config.payPublicKeyId,
    WECHAT_PAY_BASE_URL: started.url,
    WECHAT_API_BASE_URL: started.url,
  }
}
