/**
 * The route template of a path, as the label of logs and metrics: a bounded set, and no
 * identifiers (a gift code in `/api/points/gifts/:code` is enough to claim the gift).
 */

// Every literal path segment of API.md; anything else in a path is an identifier.
const LITERALS = new Set([
  'accept',
  'adjustments',
  'admin',
  'api',
  'applications',
  'approve',
  'audit-log',
  'auth',
  'balance',
  'callback',
  'cancel',
  'claim',
  'decline',
  'gifts',
  'grants',
  'invitations',
  'login',
  'me',
  'merchant',
  'merchants',
  'orders',
  'payment',
  'points',
  'qrcode',
  'records',
  'refund',
  'refunds',
  'reject',
  'rule',
  'staff',
  'stats',
  'suspend',
])

const TOP_LEVEL = new Set(['/health', '/metrics', '/openapi.json', '/docs'])
const MAX_SEGMENTS = 6

export function routeOf(path: string): string {
  if (TOP_LEVEL.has(path)) return path
  if (path === '/console' || path.startsWith('/console/')) return '/console/*'
  const segments = path.split('/').slice(1)
  if (segments[0] !== 'api' || segments.length > MAX_SEGMENTS) return 'other'
  return `/${segments.map((s) => (LITERALS.has(s) ? s : ':id')).join('/')}`
}
