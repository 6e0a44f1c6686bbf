// Spare quotes between real peers on 127.0.0.1, with real models and tickets on a dev chain: the next
// job of a kind starts from a quote asked for during the previous one.
import anyTest, { type TestFn } from 'ava'
import { BudgetPayer } from '../../src/market/broadcaster-payer.js'
import { Stage, type StageCandidate, type StageEvents, type StageResult } from '../../src/market/failover.js'
import type { WorkInput } from '../../src/market/job-work.js'
import { SpareQuotes } from '../../src/market/spare-quotes.js'
import { eventually } from '../helpers/peer.js'
import { clip, type DirectPair, PRICE, startDirectPair, startPeer, upscaleSpec } from './mesh-fixtures.js'

interface Ctx extends DirectPair {
  /** Added to the orchestrator's clock: moving it on makes the quotes it issued expire. */
  clockOffset: { ms: number }
}
const test = anyTest.serial as TestFn<Ctx>

/** How long an orchestrator's quotes last (the quote book's default). */
const QUOTE_TTL_MS = 30_000

test.before(async (t) => {
  const clockOffset = { ms: 0 }
  const pair = await startDirectPair({ now: () => Date.now() + clockOffset.ms })
  await pair.market.engine.warm('esrgan-slim-x2')
  t.context = { ...pair, clockOffset }
})

test.after.always(async (t) => {
  await t.context.market?.stop()
})

/**
 * A stage to the one orchestrator, using `spares`, run over `count` frames. With `decoy`, every
 * choice after the first offers the decoy instead (as a draw among several sellers may).
 */
async function runJob(ctx: Ctx, spares: SpareQuotes, count: number, decoy?: StageCandidate) {
  let choices = 0
  const stage = new Stage(
    {
      peer: ctx.buyer,
      payer: new BudgetPayer(ctx.sender),
      spareQuotes: spares,
      choose: (exclude) => {
        if (choices++ > 0 && decoy !== undefined && !exclude.has(decoy.peerId)) return decoy
        return exclude.has(ctx.orch.peer.peerId)
          ? undefined
          : {
              peerId: ctx.orch.peer.peerId,
              modelId: 'esrgan-slim-x2',
              pricePerUnit: PRICE,
              dial: ctx.orch.peer.multiaddrs[0],
            }
      },
    },
    { pipeline: 'upscale', sender: ctx.sender.address, width: 32, height: 32, maxPricePerUnit: PRICE },
  )
  const results: StageResult[] = []
  const failed: Array<StageEvents['peer:failed']> = []
  stage.events.on('result', (r) => results.push(r))
  stage.events.on('peer:failed', (f) => failed.push(f))
  const started = ctx.orch.orchestrator.events.waitFor('job:started', { timeoutMs: 30_000 })
  const submittedAt = Date.now() + ctx.clockOffset.ms
  const frames = clip(count)
  const report = await stage.run(
    (async function* (): AsyncIterable<WorkInput> {
      for (const [seq, frame] of frames.entries()) yield { seq, frames: [frame], t: 0 }
    })(),
  )
  return { report, results, failed, submittedAt, quote: (await started).quote }
}

test('the next job of the same kind starts from a spare quote asked for during the previous one', async (t) => {
  const spares = new SpareQuotes({ peer: t.context.buyer })
  const first = await runJob(t.context, spares, 3)
  t.true(first.quote.expiresAt - QUOTE_TTL_MS >= first.submittedAt, 'the first job asked for its quote')
  await eventually(() => spares.size === 1, { timeoutMs: 10_000 })
  const second = await runJob(t.context, spares, 3)
  t.true(
    second.quote.expiresAt - QUOTE_TTL_MS < second.submittedAt,
    'the second job opened with a quote issued before it was submitted',
  )
  t.not(second.quote.quoteId, first.quote.quoteId)
  t.deepEqual(
    second.results.map((r) => r.seq),
    [0, 1, 2],
  )
  t.is(second.report.peers.length, 1)
  spares.clear()
})

test('a spare is handed out once, only for the same orchestrator and kind of job, and not near its expiry', async (t) => {
  const { buyer, orch, sender } = t.context
  const clock = { now: Date.now() }
  const spares = new SpareQuotes({ peer: buyer, now: () => clock.now }, { marginMs: 5_000 })
  const spec = upscaleSpec(sender.address)
  const target = { peerId: orch.peer.peerId, dial: orch.peer.multiaddrs[0]! }
  spares.refill(target, spec)
  await eventually(() => spares.size === 1, { timeoutMs: 10_000 })
  t.is(spares.take(orch.peer.peerId, { ...spec, width: 64, height: 64 }), undefined, 'another frame size')
  t.is(spares.take(buyer.peerId, spec), undefined, 'another orchestrator')
  const quote = spares.take(orch.peer.peerId, spec)
  t.is(quote?.peerId, orch.peer.peerId)
  t.is(spares.take(orch.peer.peerId, spec), undefined, 'taken once')
  spares.refill(target, spec)
  await eventually(() => spares.size === 1, { timeoutMs: 10_000 })
  clock.now += QUOTE_TTL_MS - 4_000
  t.is(spares.take(orch.peer.peerId, spec), undefined, 'within the margin of its expiry')
  t.is(spares.size, 0, 'a stale spare is dropped')
  spares.clear()
})

test('a spare the orchestrator no longer honours is not held against it: the job asks it again, before any other, and completes there', async (t) => {
  const spares = new SpareQuotes({ peer: t.context.buyer })
  await runJob(t.context, spares, 2)
  await eventually(() => spares.size === 1, { timeoutMs: 10_000 })
  // To the orchestrator the spare is now long expired; to the broadcaster's clock it looks fresh.
  t.context.clockOffset.ms += 2 * QUOTE_TTL_MS
  // Another seller the next draw would offer: nobody answers there.
  const decoy: StageCandidate = {
    peerId: (await startPeer(t.context.market)).peerId,
    modelId: 'esrgan-slim-x2',
    pricePerUnit: PRICE,
  }
  try {
    const job = await runJob(t.context, spares, 4, decoy)
    t.deepEqual(
      job.results.map((r) => r.seq),
      [0, 1, 2, 3],
    )
    t.deepEqual(job.failed, [], 'the orchestrator was not failed over')
    t.deepEqual(
      job.report.peers.map((p) => [p.peerId, p.error, p.items]),
      [
        [t.context.orch.peer.peerId, 'ERR_QUOTE_EXPIRED', 0],
        [t.context.orch.peer.peerId, undefined, 4],
      ],
    )
  } finally {
    t.context.clockOffset.ms = 0
    spares.clear()
  }
})
