/**
 * The sandbox's credentials, made fresh at every start and never written to disk: the merchant key
 * pair (the sandbox keeps the public half to check the origin's Authorization and hands the private
 * half to the origin), the WeChat Pay platform key pair, the APIv3 key and the ids around them.
 */
import { generateKeyPair, randomBytes, randomInt } from 'node:crypto'
import { promisify } from 'node:util'
import { randomAlphanumeric } from '../origin/wechat/pay-crypto.ts'

export interface SandboxIdentity {
  appid: string
  appSecret: string
  mchid: string
  mchSerialNo: string
  mchPrivateKeyPem: string
  mchPublicKeyPem: string
  payPrivateKeyPem: string
  payPublicKeyPem: string
  payPublicKeyId: string
  apiv3Key: string
}

const generateKeyPairAsync = promisify(generateKeyPair)

async function rsa2048(): Promise<{ publicKey: string; privateKey: string }> {
  return generateKeyPairAsync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    // PKCS#8 is what apiclient_key.pem is, so the origin sees the same format as in production.
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  })
}

function digits(count: number): string {
  let out = ''
  for (let i = 0; i < count; i++) out += String(randomInt(10))
  return out
}

export async function generateSandboxIdentity(): Promise<SandboxIdentity> {
  const [merchant, platform] = await Promise.all([rsa2048(), rsa2048()])
  return {
    appid: `wx${randomBytes(8).toString('hex')}`,
    appSecret: randomBytes(16).toString('hex'),
    mchid: `19${digits(8)}`,
    mchSerialNo: randomBytes(20).toString('hex').toUpperCase(),
    mchPrivateKeyPem: merchant.privateKey,
    mchPublicKeyPem: merchant.publicKey,
    payPrivateKeyPem: platform.privateKey,
    payPublicKeyPem: platform.publicKey,
    payPublicKeyId: `PUB_KEY_ID_${digits(32)}`,
    apiv3Key: randomAlphanumeric(32),
  }
}
