/**
 * Ticket throughput on one core: tickets created+signed per second (TicketSender) and tickets
 * validated per second with every TicketRecipient check, each beside the bare secp256k1
 * sign / recover rate measured in the same run. The ratio is what the ticket logic costs on
 * top of the curve operation that bounds it. Goal: ≥ 5,000 validations/s/core.
 *
 *   npm run bench:tickets            (about 30 s; BENCH_MS sets the time per figure)
 */
import { loadavg } from 'node:os'
import { keccak_256 } from '@noble/hashes/sha3.js'
import type { ChainClock, GasPriceSource, SenderInfo, SenderInfoSource } from '../src/tickets/chain.js'
import { MemoryRedemptionQueue } from '../src/tickets/memory-queue.js'
import { TicketRecipient } from '../src/tickets/recipient.js'
import { defaultBackend, nobleBackend, type Secp256k1Backend } from '../src/tickets/secp256k1.js'
import { TicketSender } from '../src/tickets/sender.js'
import { addressOfPrivateKey, type Hex, type TicketBatch } from '../src/tickets/ticket.js'

const SENDER_KEY: Hex = '0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318'
const RECIPIENT: Hex = '0x2222222222222222222222222222222222222222'
const ETH = 10n ** 18n
const PRICE = { wei: 1_000n, units: 1n }
/** Milliseconds measured per figure, split into slices that alternate with the baseline. */
const DURATION_MS = Number(process.env.BENCH_MS ?? 1_500)
const SLICES = 10

/** Chain state held still: the bench measures ticket work, not RPC. */
const chain: ChainClock & GasPriceSource & SenderInfoSource = {
  blockNumber: 1_000n,
  currentRound: 10n,
  roundBlockHash: `0x${'5a'.repeat(32)}`,
  gasPrice: 10n ** 9n,
  async getSenderInfo(): Promise<SenderInfo> {
    return { deposit: 1_000n * ETH, reserve: 1_000n * ETH, withdrawRound: 0n }
  },
}

/** One step of work; returns how many operations it did (0 when it has nothing left to do). */
type Step = () => Promise<number> | number

/**
 * Rates of `subject` and `baseline` in operations per second, measured in alternating slices
 * so that load from other processes on this shared machine hits both alike.
 */
async function compare(subject: Step, baseline: Step): Promise<{ subject: number; baseline: number }> {
  for (let i = 0; i < 3; i++) {
    await subject() // warm up the JIT
    await baseline()
  }
  const totals = { subject: { n: 0, ms: 0 }, baseline: { n: 0, ms: 0 } }
  const slice = async (step: Step, into: { n: number; ms: number }) => {
    const start = performance.now()
    let done = 0
    while (performance.now() - start < DURATION_MS / SLICES) {
      const n = await step()
      if (n === 0) break
      done += n
    }
    into.n += done
    into.ms += performance.now() - start
  }
  for (let i = 0; i < SLICES; i++) {
    await slice(subject, totals.subject)
    await slice(baseline, totals.baseline)
  }
  return {
    subject: (totals.subject.n * 1000) / totals.subject.ms,
    baseline: (totals.baseline.n * 1000) / totals.baseline.ms,
  }
}

function bareSteps(backend: Secp256k1Backend) {
  const key = Buffer.from(SENDER_KEY.slice(2), 'hex')
  const digests = Array.from({ length: 64 }, (_, i) => keccak_256(new Uint8Array([i])))
  const sigs = digests.map((d) => backend.sign(d, key))
  return {
    sign: () => {
      for (const d of digests) backend.sign(d, key)
      return digests.length
    },
    recover: () => {
      for (let i = 0; i < digests.length; i++) backend.recover(digests[i], sigs[i].signature, sigs[i].recid)
      return digests.length
    },
  }
}

function makeRecipient(backend: Secp256k1Backend) {
  return new TicketRecipient(
    {
      clock: chain,
      senderInfo: chain,
      gasPrice: chain,
      redemptionQueue: new MemoryRedemptionQueue(),
      secp256k1: backend,
    },
    { address: RECIPIENT, senderInfoTtlMs: 3_600_000, maxNoncesPerRand: 1_000_000 },
  )
}

function makeSender(backend: Secp256k1Backend) {
  return new TicketSender(
    { key: SENDER_KEY, senderInfo: chain, clock: chain, secp256k1: backend },
    { maxTicketEV: ETH, maxBatchEV: 1_000n * ETH, maxNoncesPerParams: 1_000_000, senderInfoTtlMs: 3_600_000 },
  )
}

async function createStep(backend: Secp256k1Backend, batchSize: number): Promise<Step> {
  const sender = makeSender(backend)
  const params = await makeRecipient(backend).issueParams({ sender: sender.address, price: PRICE })
  const rounds = Math.max(1, Math.floor(64 / batchSize))
  return async () => {
    let n = 0
    for (let i = 0; i < rounds; i++) n += (await sender.createBatch(params, batchSize)).tickets.length
    return n
  }
}

/** Pre-signs `total` tickets (untimed); the step validates the next ~64 of them, each only once. */
async function validateStep(backend: Secp256k1Backend, batchSize: number, total: number): Promise<Step> {
  const recipient = makeRecipient(backend)
  const sender = makeSender(defaultBackend)
  const params = await recipient.issueParams({ sender: sender.address, price: PRICE })
  const batches: TicketBatch[] = []
  for (let i = 0; i < Math.ceil(total / batchSize); i++)
    batches.push(await sender.createBatch(params, batchSize))
  const rounds = Math.max(1, Math.floor(64 / batchSize))
  let next = 0
  return async () => {
    let n = 0
    for (let i = 0; i < rounds && next < batches.length; i++) {
      const r = await recipient.receiveBatch(batches[next++], { sessionId: 'bench' })
      if (r.accepted !== batchSize)
        throw new Error(`bench batch not accepted: ${r.rejected[0]?.error.message}`)
      n += r.accepted
    }
    return n
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(8)
const ratio = (a: number, b: number) => `${((a / b) * 100).toFixed(0)}%`.padStart(6)

async function main() {
  const address = addressOfPrivateKey(SENDER_KEY)
  console.log(
    `tickets bench — one core, ~${DURATION_MS} ms per figure in ${SLICES} slices alternating with its baseline`,
  )
  console.log(`sender ${address}; secp256k1 backend in use: ${defaultBackend.name}`)
  // Absolute rates swing with other work on the machine; the ratios to the interleaved baselines do not.
  console.log(`load average at start: ${loadavg()[0].toFixed(1)} on this machine's cores`)
  const backends = defaultBackend === nobleBackend ? [nobleBackend] : [defaultBackend, nobleBackend]
  const rows: string[] = []
  let worstValidate = Number.POSITIVE_INFINITY
  for (const backend of backends) {
    const bare = bareSteps(backend)
    // enough pre-signed tickets for the fastest plausible rate over the whole measurement
    const pool = backend === nobleBackend ? 2_000 : 40_000
    for (const size of [1, 100]) {
      const c = await compare(await createStep(backend, size), bare.sign)
      rows.push(row(backend, `create+sign ×${size}`, c.subject, c.baseline, 'bare sign'))
    }
    for (const size of [1, 100]) {
      const v = await compare(await validateStep(backend, size, pool), bare.recover)
      rows.push(row(backend, `validate ×${size}`, v.subject, v.baseline, 'bare recover'))
      if (backend === defaultBackend) worstValidate = Math.min(worstValidate, v.subject)
    }
  }
  console.log(
    `\n${'backend'.padEnd(13)} ${'figure'.padEnd(17)} ${'rate'.padStart(10)}  ${'baseline'.padStart(10)}  ratio`,
  )
  console.log(rows.join('\n'))
  console.log(
    `\ngoal ≥ 5,000 validations/s/core with ${defaultBackend.name}: ${worstValidate >= 5_000 ? 'met' : 'NOT met'} (worst batch size: ${fmt(worstValidate)}/s; load average now ${loadavg()[0].toFixed(1)})`,
  )
  console.log(
    '×N = tickets per batch (one parameter set, N nonce/signature pairs); validate = every TicketRecipient check',
  )
}

function row(
  backend: Secp256k1Backend,
  figure: string,
  rate: number,
  base: number,
  baseName: string,
): string {
  return `${backend.name.padEnd(13)} ${figure.padEnd(17)} ${fmt(rate)}/s ${fmt(base)}/s  ${ratio(rate, base)} of ${baseName}`
}

await main()
