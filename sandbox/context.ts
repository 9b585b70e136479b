/** Everything one running sandbox holds, handed to its route modules. */
import type { BillTampering } from './bill.ts'
import type { Deliverer } from './delivery.ts'
import type { SandboxIdentity } from './identity.ts'
import type { SandboxStore } from './store.ts'
import type { TokenRegistry } from './token-registry.ts'
import type { Traffic } from './traffic.ts'

export interface SandboxContext {
  identity: SandboxIdentity
  store: SandboxStore
  deliverer: Deliverer
  traffic: Traffic
  tokens: TokenRegistry
  /** When set, every new refund completes with SUCCESS (and is notified) after this delay. */
  refundAutoCompleteMs?: number
  /** Per bill date: what tests asked the next bills for that day to get wrong. */
  billTampering: Map<string, BillTampering>
  /** Bill files handed out by tradebill, by download token. */
  billFiles: Map<string, Buffer>
}
