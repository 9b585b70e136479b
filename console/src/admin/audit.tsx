/** Every admin and merchant-owner write, newest first, a page at a time. */
import { useEffect, useState } from 'preact/hooks'
import { api, describeError } from '../api.ts'
import { Alert, shanghaiTime, useAction } from '../ui.tsx'

interface Entry {
  id: string
  actorUserId: string
  actorRole: string
  action: string
  targetType: string
  targetId: string
  details: unknown
  createdAt: string
}

export function AuditPage() {
  // cursors[i] is the cursor that fetched page i (null for the first).
  const [cursors, setCursors] = useState<Array<string | null>>([null])
  const [entries, setEntries] = useState<Entry[]>([])
  const [next, setNext] = useState<string | null>(null)
  const load = useAction()
  const pageNo = cursors.length
  useEffect(() => {
    const cursor = cursors[cursors.length - 1]
    load.run(async () => {
      const page = await api<{ items: Entry[]; nextCursor: string | null }>(
        'GET',
        `/api/admin/audit-log?limit=20${cursor ? `&cursor=${cursor}` : ''}`,
      )
      setEntries(page.items)
      setNext(page.nextCursor)
    })
  }, [cursors])
  return (
    <>
      <Alert message={load.error ? describeError(load.error) : undefined} />
      <table>
        <caption>审计日志 第 {pageNo} 页</caption>
        <thead>
          <tr>
            <th scope="col">时间</th>
            <th scope="col">操作者</th>
            <th scope="col">角色</th>
            <th scope="col">动作</th>
            <th scope="col">对象</th>
            <th scope="col">详情</th>
          </tr>
        </thead>
        <tbody>
          {entries.map((e) => (
            <tr key={e.id}>
              <td>{shanghaiTime(e.createdAt)}</td>
              <td>{e.actorUserId}</td>
              <td>{e.actorRole}</td>
              <td>{e.action}</td>
              <td>
                {e.targetType} {e.targetId}
              </td>
              <td>
                <code>{JSON.stringify(e.details)}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <nav class="actions" aria-label="审计日志翻页">
        <button
          type="button"
          disabled={load.busy || pageNo === 1}
          onClick={() => setCursors(cursors.slice(0, -1))}
        >
          上一页
        </button>
        <button type="button" disabled={load.busy || !next} onClick={() => setCursors([...cursors, next])}>
          下一页
        </button>
      </nav>
    </>
  )
}
