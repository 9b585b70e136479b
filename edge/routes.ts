/**
 * Which requests the edge serves how, read from shared/route-table.ts: the table generated from the
 * origin's OpenAPI document, so the edge follows the routes without bundling the origin's code.
 */
import { ROUTE_TABLE, type RouteEntry } from '../shared/route-table.ts'

const pathsOf = (access: RouteEntry['access']) =>
  ROUTE_TABLE.filter((r) => r.access === access).map((r) => r.path)

const operation = (operationId: string): RouteEntry => {
  const route = ROUTE_TABLE.find((r) => r.operationId === operationId)
  if (!route) throw new Error(`route table has no ${operationId}`)
  return route
}

/** `/api/merchants/{id}` → a pattern whose groups capture the path parameters. */
const patternOf = (path: string) => new RegExp(`^${path.replace(/\{\w+\}/g, '([^/]+)')}$`)

/** WeChat Pay notifications: verified by the origin with WeChat's key, so passed on untouched. */
export const CALLBACK_PATHS = pathsOf('wechat')

/** Origin documentation, public and outside /api/*. */
export const DOC_PATHS = pathsOf('docs')

export const LOGIN_PATH = operation('login').path
/** Opening a console login session asks WeChat for a code: limited per IP as login is. */
const CONSOLE_SESSION_PATH = operation('createConsoleSession').path

const MERCHANT_PAGE = patternOf(operation('getMerchantPage').path)

/** Routes the origin declares without security (login, merchant pages, console login sessions). */
const PUBLIC_ROUTES = ROUTE_TABLE.filter((r) => r.access === 'public').map((r) => ({
  method: r.method,
  pattern: patternOf(r.path),
}))

const isRead = (method: string) => method === 'GET' || method === 'HEAD'

export const isLogin = (method: string, path: string) =>
  method === 'POST' && (path === LOGIN_PATH || path === CONSOLE_SESSION_PATH)

export const isWrite = (method: string) => !isRead(method)

/** Public reads of a merchant page: the only responses the edge caches. */
export const isMerchantPage = (method: string, path: string) => isRead(method) && MERCHANT_PAGE.test(path)

/** The merchant id of a public merchant page path, else undefined. */
export const merchantPageId = (path: string) => MERCHANT_PAGE.exec(path)?.[1]

export const needsUser = (method: string, path: string) =>
  !isMerchantPage(method, path) &&
  !PUBLIC_ROUTES.some(
    (r) => (r.method === method || (r.method === 'GET' && method === 'HEAD')) && r.pattern.test(path),
  )
