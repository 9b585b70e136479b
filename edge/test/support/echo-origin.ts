import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { EDGE_HEADERS, verifyParts } from '../../../shared/edge-signing.ts'

export interface ReceivedRequest {
  method: string
  pathWithQuery: string
  headers: Record<string, string>
  body: Buffer
  signatureValid: boolean
}

export interface EchoOrigin {
  url: string
  received: ReceivedRequest[]
  close(): Promise<void>
}

/** What the echo origin answers with, so tests can see exactly what arrived. */
export interface Echo {
  method: string
  pathWithQuery: string
  headers: Record<string, string>
  bodyBase64: string
  signatureValid: boolean
  serial: number
}

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

function flatHeaders(req: IncomingMessage): Record<string, string> {
  return Object.fromEntries(
    Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]),
  )
}

/**
 * A stand-in origin until the real one is ready: verifies the edge signature as API.md §6 says and
 * echoes the request. `/api/test/status/:code` answers that status with headers the edge must keep.
 */
export async function startEchoOrigin(keyId: string, secret: string): Promise<EchoOrigin> {
  const received: ReceivedRequest[] = []
  const server = createServer(async (req, res) => {
    const body = await readAll(req)
    const headers = flatHeaders(req)
    const pathWithQuery = req.url ?? '/'
    const signatureValid =
      headers[EDGE_HEADERS.keyId] === keyId &&
      (await verifyParts(
        secret,
        {
          method: req.method ?? 'GET',
          pathWithQuery,
          timestamp: headers[EDGE_HEADERS.timestamp] ?? '',
          nonce: headers[EDGE_HEADERS.nonce] ?? '',
          body: new Uint8Array(body),
          authorization: headers.authorization ?? '',
        },
        headers[EDGE_HEADERS.signature] ?? '',
      ))
    received.push({ method: req.method ?? 'GET', pathWithQuery, headers, body, signatureValid })
    const echo: Echo = {
      method: req.method ?? 'GET',
      pathWithQuery,
      headers,
      bodyBase64: body.toString('base64'),
      signatureValid,
      serial: received.length,
    }
    const status = Number(/^\/api\/test\/status\/(\d{3})/.exec(pathWithQuery)?.[1] ?? 200)
    const extra: Record<string, string> =
      status === 200 ? {} : { 'retry-after': '7', 'ratelimit-limit': '3', 'x-origin-header': 'kept' }
    res.writeHead(status, {
      'content-type': 'application/json',
      'x-request-id': headers['x-request-id'] ?? '',
      ...extra,
    })
    res.end(JSON.stringify(echo))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
