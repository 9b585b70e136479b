import { describeEdge } from './support/contract.ts'

describeEdge('workerd')
