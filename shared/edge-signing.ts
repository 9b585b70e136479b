/**
 * Edge → origin request signing (API.md §6). Web Crypto only, so the edge (workerd, Deno) and the
 * origin (Node) run the same code and cannot drift apart.
 */
export const EDGE_HEADERS = {
  keyId: 'x-edge-key-id',
  timestamp: 'x-edge-timestamp',
  nonce: 'x-edge-nonce',
  signature: 'x-edge-signature',
  clientIp: 'x-client-ip',
} as const

export const EDGE_SIGNATURE_WINDOW_SECONDS = 300
export const EDGE_NONCE_PATTERN = /^[A-Za-z0-9]{16,64}$/

const encoder = new TextEncoder()

function toHex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('')
}

function toBase64(bytes: ArrayBuffer): string {
  let binary = ''
  for (const b of new Uint8Array(bytes)) binary += String.fromCharCode(b)
  return btoa(binary)
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> | null {
  try {
    const binary = atob(text)
    const out = new Uint8Array(binary.length)
    for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i)
    return out
  } catch {
    return null
  }
}

export async function sha256Hex(body: Uint8Array<ArrayBuffer> | string): Promise<string> {
  const bytes = typeof body === 'string' ? encoder.encode(body) : body
  return toHex(await crypto.subtle.digest('SHA-256', bytes))
}

export interface SignedParts {
  method: string
  pathWithQuery: string
  timestamp: string
  nonce: string
  body: Uint8Array<ArrayBuffer> | string
  authorization: string
}

/** sha256 of zero bytes: every GET, so the edge and the origin skip hashing it. */
export const EMPTY_BODY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'

/** The signed string of API.md §6, from the body's hash (the one definition of the format). */
export function canonicalFromBodyHash(p: Omit<SignedParts, 'body'>, bodySha256Hex: string): string {
  return `${p.method.toUpperCase()}\n${p.pathWithQuery}\n${p.timestamp}\n${p.nonce}\n${bodySha256Hex}\n${p.authorization}\n`
}

export async function canonicalString(p: SignedParts): Promise<string> {
  const bodyHash = p.body.length === 0 ? EMPTY_BODY_SHA256 : await sha256Hex(p.body)
  return canonicalFromBodyHash(p, bodyHash)
}

const keyCache = new Map<string, Promise<CryptoKey>>()

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keyCache.get(secret)
  if (!key) {
    key = crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
      'sign',
      'verify',
    ])
    keyCache.set(secret, key)
  }
  return key
}

export async function signParts(secret: string, parts: SignedParts): Promise<string> {
  const mac = await crypto.subtle.sign(
    'HMAC',
    await hmacKey(secret),
    encoder.encode(await canonicalString(parts)),
  )
  return toBase64(mac)
}

/** Constant-time check of a base64 signature (crypto.subtle.verify compares in constant time). */
export async function verifyParts(
  secret: string,
  parts: SignedParts,
  signatureB64: string,
): Promise<boolean> {
  const signature = fromBase64(signatureB64)
  if (signature?.length !== 32) return false
  return crypto.subtle.verify(
    'HMAC',
    await hmacKey(secret),
    signature,
    encoder.encode(await canonicalString(parts)),
  )
}

export function randomNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  return toHex(bytes.buffer)
}

/** The four headers the edge adds to a forwarded request. */
export async function edgeSignatureHeaders(
  keyId: string,
  secret: string,
  req: {
    method: string
    pathWithQuery: string
    body: Uint8Array<ArrayBuffer> | string
    authorization: string
  },
  nowSeconds: number = Math.floor(Date.now() / 1000),
): Promise<Record<string, string>> {
  const timestamp = String(nowSeconds)
  const nonce = randomNonce()
  const signature = await signParts(secret, { ...req, timestamp, nonce })
  return {
    [EDGE_HEADERS.keyId]: keyId,
    [EDGE_HEADERS.timestamp]: timestamp,
    [EDGE_HEADERS.nonce]: nonce,
    [EDGE_HEADERS.signature]: signature,
  }
}
