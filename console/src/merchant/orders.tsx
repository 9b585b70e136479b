/** The merchant's orders with filters, each with its outTradeNo; owners refund from here. */
import { useEffect, useState } from 'preact/hooks'
import { api, describeError } from '../api.ts'
import type { Me, MerchantOrder } from '../types.ts'
import { Alert, dayStartIso, nextDayStartIso, shanghaiTime, useAction, yuan } from '../ui.tsx'
import { RefundDialog } from './refund-dialog.tsx'

const STATUS_TEXT: Record<string, string> = {
  PENDING: '待支付',
  PAID: '已支付',
  PARTIALLY_REFUNDED: '部分退款',
  REFUNDED: '已退款',
  CLOSED: '已关闭',
}

const refundable = (o: MerchantOrder) =>
  (o.status === 'PAID' || o.status === 'PARTIALLY_REFUNDED') && o.refundedFen < o.amountFen

export function OrdersPage({ me }: { me: Me }) {
  const [filters, setFilters] = useState({ status: '', from: '', to: '' })
  const [applied, setApplied] = useState(filters)
  const [orders, setOrders] = useState<MerchantOrder[]>([])
  const [cursor, setCursor] = useState<string | null>(null)
  const [refunding, setRefunding] = useState<MerchantOrder | null>(null)
  const [reloads, setReloads] = useState(0)
  const load = useAction()
  const isOwner = me.roles.includes('merchant_owner')

  const query = (f: typeof filters, after: string | null) => {
    const q = new URLSearchParams({ limit: '20' })
    if (f.status) q.set('status', f.status)
    if (f.from) q.set('from', dayStartIso(f.from))
    if (f.to) q.set('to', nextDayStartIso(f.to))
    if (after) q.set('cursor', after)
    return `/api/merchant/orders?${q}`
  }
  const fetchPage = (after: string | null) =>
    load.run(async () => {
      const page = await api<{ items: MerchantOrder[]; nextCursor: string | null }>(
        'GET',
        query(applied, after),
      )
      setOrders((prev) => (after ? [...prev, ...page.items] : page.items))
      setCursor(page.nextCursor)
    })

  useEffect(() => {
    fetchPage(null)
  }, [applied, reloads])

  return (
    <>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault()
          setApplied({ ...filters })
        }}
      >
        <label>
          状态
          <select
            value={filters.status}
            onChange={(e) => setFilters({ ...filters, status: e.currentTarget.value })}
          >
            <option value="">全部</option>
            {Object.entries(STATUS_TEXT).map(([value, text]) => (
              <option key={value} value={value}>
                {text}
              </option>
            ))}
          </select>
        </label>
        <label>
          开始日期
          <input
            type="date"
            value={filters.from}
            onInput={(e) => setFilters({ ...filters, from: e.currentTarget.value })}
          />
        </label>
        <label>
          结束日期
          <input
            type="date"
            value={filters.to}
            onInput={(e) => setFilters({ ...filters, to: e.currentTarget.value })}
          />
        </label>
        <button type="submit">筛选</button>
      </form>
      <Alert message={load.error ? describeError(load.error) : undefined} />
      <table>
        <caption>订单列表（最新在前）</caption>
        <thead>
          <tr>
            <th scope="col">商户订单号</th>
            <th scope="col">金额</th>
            <th scope="col">状态</th>
            <th scope="col">已退款</th>
            <th scope="col">积分</th>
            <th scope="col">支付时间</th>
            <th scope="col">操作</th>
          </tr>
        </thead>
        <tbody>
          {orders.map((o) => (
            <tr key={o.id}>
              <th scope="row">
                <code>{o.outTradeNo}</code>
              </th>
              <td>{yuan(o.amountFen)}</td>
              <td>{STATUS_TEXT[o.status] ?? o.status}</td>
              <td>{yuan(o.refundedFen)}</td>
              <td>
                {o.pointsAwarded}
                {o.pointsClawedBack > 0 && `（扣回 ${o.pointsClawedBack}）`}
              </td>
              <td>{shanghaiTime(o.paidAt)}</td>
              <td>
                {isOwner && refundable(o) && (
                  <button type="button" onClick={() => setRefunding(o)}>
                    退款
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {!load.busy && orders.length === 0 && <p>没有符合条件的订单。</p>}
      {cursor && (
        <button type="button" disabled={load.busy} onClick={() => fetchPage(cursor)}>
          加载更多
        </button>
      )}
      {refunding && (
        <RefundDialog
          order={refunding}
          onClose={() => setRefunding(null)}
          onDone={() => {
            setRefunding(null)
            setReloads((n) => n + 1)
          }}
        />
      )}
    </>
  )
}
