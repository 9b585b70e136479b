/** Which requests the edge serves how; the one place the route table of API.md lives at the edge. */

/** WeChat Pay notifications: verified by the origin with WeChat's key, so passed on untouched. */
export const CALLBACK_PATHS = ['/api/payment/callback', '/api/refund/callback'] as const

/** Origin documentation, public and outside /api/*. */
export const DOC_PATHS = ['/openapi.json', '/docs'] as const

export const LOGIN_PATH = '/api/auth/login'

const MERCHANT_PAGE = /^\/api\/merchants\/([^/]+)$/

const isRead = (method: string) => method === 'GET' || method === 'HEAD'

export const isLogin = (method: string, path: string) => method === 'POST' && path === LOGIN_PATH

export const isWrite = (method: string) => !isRead(method)

/** Public reads of a merchant page: the only responses the edge caches. */
export const isMerchantPage = (method: string, path: string) => isRead(method) && MERCHANT_PAGE.test(path)

/** The merchant id of a public merchant page path, else undefined. */
export const merchantPageId = (path: string) => MERCHANT_PAGE.exec(path)?.[1]

export const needsUser = (method: string, path: string) =>
  !isLogin(method, path) && !isMerchantPage(method, path)
