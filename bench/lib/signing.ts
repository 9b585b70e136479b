/**
 * Edge request signing (API.md §6) done synchronously with node:crypto, so a load loop can sign
 * every request without awaiting Web Crypto. `checkAgainstShared` proves it matches the shared,
 * Web-Crypto implementation the edge and origin use.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto'
import { EDGE_HEADERS, verifyParts } from '../../shared/edge-signing.ts'

export interface SignInput {
  method: string
  pathWithQuery: string
  body: string
  authorization: string
}

export function signSync(keyId: string, secret: string, req: SignInput): Record<string, string> {
  const timestamp = String(Math.floor(Date.now() / 1000))
  const nonce = randomBytes(16).toString('hex')
  const bodyHash = createHash('sha256').update(req.body).digest('hex')
  const canonical = `${req.method.toUpperCase()}\n${req.pathWithQuery}\n${timestamp}\n${nonce}\n${bodyHash}\n${req.authorization}\n`
  return {
    [EDGE_HEADERS.keyId]: keyId,
    [EDGE_HEADERS.timestamp]: timestamp,
    [EDGE_HEADERS.nonce]: nonce,
    [EDGE_HEADERS.signature]: createHmac('sha256', secret).update(canonical).digest('base64'),
  }
}

/** Throws unless the shared verifier accepts what signSync produced. */
export async function checkAgainstShared(secret: string): Promise<void> {
  const req = { method: 'POST', pathWithQuery: '/api/x?y=1', body: '{"a":"€"}', authorization: 'Bearer t' }
  const headers = signSync('k', secret, req)
  const ok = await verifyParts(
    secret,
    {
      ...req,
      timestamp: headers[EDGE_HEADERS.timestamp]!,
      nonce: headers[EDGE_HEADERS.nonce]!,
    },
    headers[EDGE_HEADERS.signature]!,
  )
  if (!ok) throw new Error('bench signer disagrees with shared/edge-signing.ts')
}
