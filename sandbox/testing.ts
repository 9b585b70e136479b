/**
 * Helpers for tests that run against a sandbox: client configuration, the control routes, and a
 * stand-in notify_url receiver that records what the sandbox delivered.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { WechatPayConfig } from '../origin/wechat/pay-client.ts'
import type { StartedSandbox } from './server.ts'

export function payClientConfig(sandbox: StartedSandbox): WechatPayConfig {
  const { config } = sandbox
  return {
    baseUrl: sandbox.url,
    mchid: config.mchid,
    appid: config.appid,
    serialNo: config.mchSerialNo,
    privateKeyPem: config.mchPrivateKeyPem,
    payPublicKeyPem: config.payPublicKeyPem,
    payPublicKeyId: config.payPublicKeyId,
    apiv3Key: config.apiv3Key,
  }
}

export function notificationKeys(sandbox: StartedSandbox) {
  return {
    payPrivateKeyPem: sandbox.payPrivateKeyPem,
    payPublicKeyId: sandbox.config.payPublicKeyId,
    apiv3Key: sandbox.config.apiv3Key,
  }
}

export async function control<T = Record<string, unknown>>(
  sandbox: StartedSandbox,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<{ status: number; json: T }> {
  const res = await fetch(`${sandbox.url}/sandbox${path}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  return { status: res.status, json: (text ? JSON.parse(text) : {}) as T }
}

export interface ReceivedRequest {
  path: string
  headers: IncomingHttpHeaders
  body: string
  receivedAtMs: number
}

export interface Receiver {
  url: string
  received: ReceivedRequest[]
  /** Most requests being handled at the same moment, to prove duplicates arrive concurrently. */
  maxConcurrent: number
  close(): Promise<void>
}

/** `answer` picks each response status from the request and how many came before it. */
export async function startReceiver(
  answer: (req: ReceivedRequest, index: number) => number = () => 204,
  holdMs = 0,
): Promise<Receiver> {
  let concurrent = 0
  const receiver: Receiver = { url: '', received: [], maxConcurrent: 0, close: async () => {} }
  const server = createServer((req, res) => {
    concurrent++
    receiver.maxConcurrent = Math.max(receiver.maxConcurrent, concurrent)
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const received = {
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        receivedAtMs: Date.now(),
      }
      const index = receiver.received.push(received) - 1
      setTimeout(() => {
        concurrent--
        const status = answer(received, index)
        res.writeHead(status, { 'Content-Type': 'application/json' })
        res.end(
          status >= 300 ? JSON.stringify({ code: 'FAIL', message: 'test receiver refused' }) : undefined,
        )
      }, holdMs)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  receiver.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    })
  return receiver
}

/** Polls `check`, running `refresh` (e.g. a fetch of sandbox state) before each look. */
export async function waitFor(
  check: () => boolean,
  timeoutMs = 5_000,
  refresh: () => Promise<void> = async () => {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (await refresh(); !check(); await refresh()) {
    if (Date.now() > deadline) throw new Error('waitFor: condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
