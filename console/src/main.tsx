/** The console's shell: who is logged in, the navigation their roles allow, and the page of the hash. */
import 'uplot/dist/uPlot.min.css'
import './styles.css'
import { type ComponentType, render } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { AdjustmentsPage, UsersPage } from './admin/accounts.tsx'
import { AuditPage } from './admin/audit.tsx'
import { MerchantsPage } from './admin/merchants.tsx'
import { ReconciliationsPage } from './admin/reconciliations.tsx'
import { api, describeError, token } from './api.ts'
import { LoginPage } from './login.tsx'
import { DashboardPage } from './merchant/dashboard.tsx'
import { OrdersPage } from './merchant/orders.tsx'
import { RulePage } from './merchant/rule.tsx'
import { GrantsPage, QrCodePage, StaffPage } from './merchant/tools.tsx'
import type { Me } from './types.ts'
import { Alert, NetworkBanner } from './ui.tsx'

interface PageDef {
  path: string
  title: string
  Page: ComponentType<{ me: Me }>
  merchant?: boolean
  admin?: boolean
}

const PAGES: PageDef[] = [
  { path: '/dashboard', title: '概览', Page: DashboardPage, merchant: true },
  { path: '/orders', title: '订单', Page: OrdersPage, merchant: true },
  { path: '/rule', title: '积分规则', Page: RulePage, merchant: true },
  { path: '/qrcode', title: '小程序码', Page: QrCodePage, merchant: true },
  { path: '/staff', title: '员工', Page: StaffPage, merchant: true },
  { path: '/grants', title: '赠送积分', Page: GrantsPage, merchant: true },
  { path: '/admin/merchants', title: '商户审核', Page: MerchantsPage, admin: true },
  { path: '/admin/users', title: '用户', Page: UsersPage, admin: true },
  { path: '/admin/adjustments', title: '积分调整', Page: AdjustmentsPage, admin: true },
  { path: '/admin/audit', title: '审计日志', Page: AuditPage, admin: true },
  { path: '/admin/reconciliations', title: '对账', Page: ReconciliationsPage, admin: true },
]

const isMerchant = (me: Me) => me.merchantId !== null && me.roles.some((r) => r.startsWith('merchant_'))
const pagesFor = (me: Me) =>
  PAGES.filter((p) => (p.merchant && isMerchant(me)) || (p.admin && me.roles.includes('admin')))

const currentPath = () => location.hash.replace(/^#/, '') || '/'

function useHashPath() {
  const [path, setPath] = useState(currentPath)
  useEffect(() => {
    const onChange = () => setPath(currentPath())
    window.addEventListener('hashchange', onChange)
    return () => window.removeEventListener('hashchange', onChange)
  }, [])
  return path
}

function App() {
  const path = useHashPath()
  const [me, setMe] = useState<Me | null>(null)
  const [error, setError] = useState<string>()
  const loggedIn = token.get() !== null

  useEffect(() => {
    if (!loggedIn) {
      setMe(null)
      if (path !== '/login') location.hash = '#/login'
      return
    }
    if (me) return
    api<Me>('GET', '/api/me').then(setMe, (err) => setError(describeError(err)))
  }, [loggedIn, path, me])

  if (path === '/login' || !loggedIn)
    return (
      <Shell>
        <LoginPage
          onLoggedIn={() => {
            setMe(null)
            location.hash = '#/'
          }}
        />
      </Shell>
    )
  if (!me)
    return (
      <Shell>
        <Alert message={error} />
        {!error && <p aria-live="polite">加载中…</p>}
      </Shell>
    )

  const pages = pagesFor(me)
  const page = pages.find((p) => p.path === path)
  if (!page && pages[0]) {
    location.hash = `#${pages[0].path}`
    return null
  }
  const logout = () => {
    token.clear()
    setMe(null)
    location.hash = '#/login'
  }
  return (
    <Shell>
      <header class="top">
        <span class="brand">积分控制台</span>
        <span class="who">
          {me.nickname || `用户 ${me.id}`}（{me.roles.join(', ')}）
        </span>
        <button type="button" onClick={logout}>
          退出登录
        </button>
      </header>
      <div class="layout">
        <nav aria-label="控制台导航">
          <ul>
            {pages.map((p) => (
              <li key={p.path}>
                <a href={`#${p.path}`} aria-current={p === page ? 'page' : undefined}>
                  {p.title}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <main>
          {page ? (
            <>
              <h1>{page.title}</h1>
              <page.Page me={me} />
            </>
          ) : (
            <p>此账号没有商户或运营权限。请用商户主、员工或运营账号扫码登录。</p>
          )}
        </main>
      </div>
    </Shell>
  )
}

function Shell({ children }: { children: preact.ComponentChildren }) {
  return (
    <>
      <NetworkBanner />
      {children}
    </>
  )
}

render(<App />, document.getElementById('app')!)
