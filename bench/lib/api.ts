/** A small edge-signed client for talking to the origin directly (setup steps and signed load). */
import { randomBytes } from 'node:crypto'
import type { HttpRequestSpec } from './load.ts'
import { signSync } from './signing.ts'

export interface Signer {
  keyId: string
  secret: string
}

/** One signed request, ready for `closedLoop` or `fetch`: a fresh nonce each time it is built. */
export function signedSpec(
  signer: Signer,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; idempotencyKey?: string } = {},
): HttpRequestSpec {
  const body = opts.body === undefined ? '' : JSON.stringify(opts.body)
  const authorization = opts.token ? `Bearer ${opts.token}` : ''
  const headers: Record<string, string> = signSync(signer.keyId, signer.secret, {
    method,
    pathWithQuery: path,
    body,
    authorization,
  })
  if (body) headers['content-type'] = 'application/json'
  if (authorization) headers.authorization = authorization
  if (opts.idempotencyKey) headers['idempotency-key'] = opts.idempotencyKey
  return { method, path, headers, ...(body ? { body } : {}) }
}

export const idemKey = () => `bench-${randomBytes(10).toString('hex')}`

export function originApi(baseUrl: string, signer: Signer) {
  async function call<T>(
    method: string,
    path: string,
    opts: { token?: string; body?: unknown; idempotencyKey?: string } = {},
    expect = [200, 201, 202, 204],
  ): Promise<T> {
    const spec = signedSpec(signer, method, path, opts)
    const res = await fetch(baseUrl + path, { method, headers: spec.headers, body: spec.body })
    const text = await res.text()
    if (!expect.includes(res.status))
      throw new Error(`${method} ${path} → ${res.status} ${text.slice(0, 300)}`)
    return (text ? JSON.parse(text) : null) as T
  }
  return {
    call,
    login: (openid: string) =>
      call<{ token: string; user: { id: string } }>('POST', '/api/auth/login', {
        body: { code: `code-${openid}` },
      }),
  }
}

export type OriginApi = ReturnType<typeof originApi>

/** Runs `work` over `items` with at most `concurrency` in flight. */
export async function mapConcurrent<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length)
  let next = 0
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await work(items[i]!, i)
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker))
  return out
}
