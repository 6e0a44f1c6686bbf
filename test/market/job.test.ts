// PROTOCOLS.job between real peers on 127.0.0.1, real models and real tickets on a dev chain.
import anyTest, { type TestFn } from 'ava'
import { BudgetPayer } from '../../src/market/broadcaster-payer.js'
import { Stage, type StageResult } from '../../src/market/failover.js'
import { JOB_CLIENT_MESSAGE, JOB_SERVER_MESSAGE } from '../../src/market/job-protocol.js'
import { JobSession } from '../../src/market/job-session.js'
import type { WorkEngine, WorkInput } from '../../src/market/job-work.js'
import { PeerStats } from '../../src/market/peer-stats.js'
import type { JobSpec } from '../../src/market/quote.js'
import { requestQuote } from '../../src/market/quote-protocol.js'
import { messageChannel } from '../../src/peer/framing.js'
import type { Peer } from '../../src/peer/index.js'
import { PROTOCOLS } from '../../src/peer/protocols.js'
import type { TicketSender } from '../../src/tickets/sender.js'
import {
  clip,
  fundedSender,
  type Market,
  type OrchestratorNode,
  PRICE,
  stallingEngine,
  startMarket,
  startOrchestrator,
  startPeer,
  upscaleSpec,
  withUpscale,
} from './mesh-fixtures.js'

interface Ctx {
  market: Market
  sender: TicketSender
  buyer: Peer
  orch: OrchestratorNode
  staller: OrchestratorNode
  spare: OrchestratorNode
}
const test = anyTest.serial as TestFn<Ctx>

test.before(async (t) => {
  const market = await startMarket()
  const sender = await fundedSender(market, 1)
  const buyer = await startPeer(market)
  const orch = await startOrchestrator(market, 2, {
    advertise: false,
    paymentTimeoutMs: 1_500,
    window: 4,
    capacity: 8,
    maxStreamsPerPeer: 2,
  })
  const staller = await startOrchestrator(market, 3, {
    advertise: false,
    engine: stallingEngine(market.engine, 3),
  })
  const spare = await startOrchestrator(market, 4, { advertise: false })
  await market.engine.warm('esrgan-slim-x2')
  t.context = { market, sender, buyer, orch, staller, spare }
})

test.after.always(async (t) => {
  await t.context.market?.stop()
})

function spec(ctx: Ctx, overrides: Partial<JobSpec> = {}): JobSpec {
  return upscaleSpec(ctx.sender.address, { frameCount: 0, ...overrides })
}

async function* items(frames: ReturnType<typeof clip>): AsyncIterable<WorkInput> {
  for (const [seq, frame] of frames.entries()) yield { seq, frames: [frame], t: 0 }
}

function stageTo(ctx: Ctx, budget?: bigint, orch = ctx.orch) {
  return new Stage(
    {
      peer: ctx.buyer,
      payer: new BudgetPayer(ctx.sender, budget),
      choose: (exclude) =>
        exclude.has(orch.peer.peerId)
          ? undefined
          : {
              peerId: orch.peer.peerId,
              modelId: 'esrgan-slim-x2',
              pricePerUnit: PRICE,
              dial: orch.peer.multiaddrs[0],
            },
    },
    {
      pipeline: 'upscale',
      sender: ctx.sender.address,
      width: 32,
      height: 32,
      maxPricePerUnit: PRICE,
      maxAttempts: 1,
    },
  )
}

test('a quoted job returns every frame in order, identical to local inference, paid per delivered frame', async (t) => {
  const { market, orch } = t.context
  const frames = clip(12)
  const stage = stageTo(t.context)
  const results: StageResult[] = []
  stage.events.on('result', (r) => results.push(r))
  const ended = orch.orchestrator.events.waitFor('job:ended', { timeoutMs: 60_000 })
  const report = await stage.run(items(frames))
  t.deepEqual(
    results.map((r) => r.seq),
    frames.map((_, i) => i),
  )
  for (const [i, frame] of frames.entries()) {
    const local = await market.engine.upscale('esrgan-slim-x2', frame)
    const got = results[i]!.frame
    t.like(got, { width: 64, height: 64 })
    t.true(Buffer.from(got.data).equals(Buffer.from(local.data)), `frame ${i} differs from local inference`)
  }
  const perFrame = (PRICE * 64n * 64n + 999_999n) / 1_000_000n
  t.is(report.items, 12)
  t.is(report.debited, perFrame * 12n, 'debited exactly the delivered frames')
  t.true(report.evSent >= report.debited, 'tickets covered the work')
  const end = await ended
  t.is(end.items, 12)
  t.is(end.error, undefined, end.error?.message)
})

test('a job that needs more tickets than one set of params may carry (600) is paid on fresh params and completes', async (t) => {
  // ~100 tickets a frame: 12 frames need twice what one set of params carries.
  const perFrame = (PRICE * 64n * 64n + 999_999n) / 1_000_000n
  const frugal = await startOrchestrator(t.context.market, 5, {
    advertise: false,
    recipient: { ticketEV: perFrame / 100n },
  })
  // Which params the tickets came on, as the orchestrator received them.
  const quoted = new Set<string>()
  const received = frugal.recipient.receiveBatch.bind(frugal.recipient)
  frugal.recipient.receiveBatch = (batch, options) => {
    quoted.add(batch.params.recipientRandHash)
    return received(batch, options)
  }
  const report = await stageTo(t.context, undefined, frugal).run(items(clip(12)))
  t.is(report.items, 12)
  t.is(report.debited, perFrame * 12n)
  t.true(report.evSent >= report.debited)
  t.true(quoted.size >= 2, `tickets came on ${quoted.size} set(s) of params`)
})

test('a quote reused after it opened a job is refused with ERR_QUOTE_USED, an unknown one with ERR_QUOTE_UNKNOWN', async (t) => {
  const { buyer, orch } = t.context
  const quote = await requestQuote(
    { peer: buyer },
    { peerId: orch.peer.peerId, dial: orch.peer.multiaddrs[0] },
    spec(t.context),
  )
  const payer = new BudgetPayer(t.context.sender)
  const first = new JobSession({ peer: buyer, payer }, { quote })
  await first.open()
  const again = new JobSession({ peer: buyer, payer }, { quote })
  const used = await t.throwsAsync(again.open())
  t.is((used as { code?: string }).code, 'ERR_QUOTE_USED')
  await first.end()
  await first.done
  const unknown = new JobSession({ peer: buyer, payer }, { quote: { ...quote, quoteId: 'ff'.repeat(16) } })
  const err = await t.throwsAsync(unknown.open())
  t.is((err as { code?: string }).code, 'ERR_QUOTE_UNKNOWN')
})

test('a frame of another size than quoted ends that job with ERR_FRAME_SIZE_MISMATCH', async (t) => {
  const { buyer, orch } = t.context
  const quote = await requestQuote(
    { peer: buyer },
    { peerId: orch.peer.peerId, dial: orch.peer.multiaddrs[0] },
    spec(t.context),
  )
  const ended = orch.orchestrator.events.waitFor('job:ended', {
    timeoutMs: 30_000,
    filter: (e) => e.jobId === quote.quoteId,
  })
  const session = new JobSession({ peer: buyer, payer: new BudgetPayer(t.context.sender) }, { quote })
  await session.open()
  await session.send({ seq: 0, frames: [clip(1, 16, 16)[0]!], t: 0 }).catch(() => {})
  const err = await t.throwsAsync(session.done)
  t.is((err as { code?: string }).code, 'ERR_FRAME_SIZE_MISMATCH')
  // The orchestrator ended the job with the error it sent.
  t.is((await ended).error?.code, 'ERR_FRAME_SIZE_MISMATCH')
})

test('a broadcaster that stops paying is cut off with ERR_PAYMENT_REQUIRED after the frames it paid for', async (t) => {
  const { orch } = t.context
  const perFrame = (PRICE * 64n * 64n + 999_999n) / 1_000_000n
  // Tickets are worth 4,000,000 wei each: a budget of three tickets pays for under three frames.
  const stage = stageTo(t.context, 12_000_000n)
  const withheld = stage.events.waitFor('payment:withheld', { timeoutMs: 30_000 })
  const ended = orch.orchestrator.events.waitFor('job:ended', { timeoutMs: 60_000 })
  const err = await t.throwsAsync(stage.run(items(clip(12))))
  t.is((err as { code?: string }).code, 'ERR_PAYMENT_REQUIRED')
  await withheld
  const end = await ended
  t.is(end.error?.code, 'ERR_PAYMENT_REQUIRED')
  t.true(end.debited <= 12_000_000n, `worked for ${end.debited} wei with 12,000,000 wei paid`)
  t.true(end.items >= 1 && BigInt(end.items) * perFrame <= 12_000_000n)
})

const quoteFor = (
  ctx: Ctx,
  from: Peer = ctx.buyer,
  overrides: Partial<JobSpec> = {},
  to: OrchestratorNode = ctx.orch,
) =>
  requestQuote({ peer: from }, { peerId: to.peer.peerId, dial: to.peer.multiaddrs[0] }, spec(ctx, overrides))

test('a malformed message on one job stream ends only that stream; a job running beside it completes', async (t) => {
  const ctx = t.context
  const { buyer, orch } = ctx
  const quote = await quoteFor(ctx)
  const stream = await buyer.dialProtocol(orch.peer.multiaddrs[0]!, PROTOCOLS.job)
  const channel = messageChannel(stream, { in: JOB_SERVER_MESSAGE, out: JOB_CLIENT_MESSAGE })
  await channel.write({ open: { quoteId: quote.quoteId, window: 4 }, end: false })
  const accepted = await channel.read()
  t.truthy(accepted?.accepted)
  const brokenEnded = orch.orchestrator.events.waitFor('job:ended', {
    filter: (e) => e.jobId === quote.quoteId,
    timeoutMs: 30_000,
  })
  const stage = stageTo(ctx)
  const frames: number[] = []
  stage.events.on('result', (r) => {
    frames.push(r.seq)
    // Mid-way through the good job, the other stream sends a length prefix and bytes that are no protobuf.
    if (r.seq === 2) stream.send(Uint8Array.from([5, 0xff, 0xff, 0xff, 0xff, 0xff]))
  })
  const report = await stage.run(items(clip(12)))
  const broken = await brokenEnded
  t.is(broken.error?.code, 'ERR_MALFORMED_MESSAGE')
  t.is(report.items, 12)
  t.deepEqual(frames, [...Array(12).keys()])
  // The orchestrator asked for its first credit as it accepted the job; after that the stream is gone.
  t.truthy((await channel.read())?.credit)
  await t.throwsAsync(channel.read(), undefined, 'the broken stream is gone')
})

/** `count` jobs of the buyer's, opened at orch and left running (each holds a job stream there). */
async function openJobs(ctx: Ctx, payer: BudgetPayer, count: number): Promise<JobSession[]> {
  const open: JobSession[] = []
  for (let i = 0; i < count; i++) {
    const s = new JobSession({ peer: ctx.buyer, payer }, { quote: await quoteFor(ctx) })
    await s.open()
    open.push(s)
  }
  return open
}

test('a peer over its job stream limit is refused with ERR_TOO_MANY_STREAMS while other peers still get in', async (t) => {
  const ctx = t.context
  const payer = new BudgetPayer(ctx.sender)
  const open = await openJobs(ctx, payer, 2)
  const third = new JobSession({ peer: ctx.buyer, payer }, { quote: await quoteFor(ctx) })
  const err = await t.throwsAsync(third.open())
  t.is((err as { code?: string }).code, 'ERR_TOO_MANY_STREAMS')
  const other = await startPeer(ctx.market)
  const elsewhere = new JobSession({ peer: other, payer }, { quote: await quoteFor(ctx, other) })
  await t.notThrowsAsync(elsewhere.open())
  for (const s of [...open, elsewhere]) {
    await s.end()
    await s.done
  }
})

test('a stage refused for holding too many job streams at an orchestrator moves on without counting it failed or suspending it', async (t) => {
  const ctx = t.context
  // The buyer already holds as many job streams at orch as it allows one peer (2): the stage's is one too many.
  const held = await openJobs(ctx, new BudgetPayer(ctx.sender), 2)
  const stats = new PeerStats()
  const stage = stageThrough(ctx, [ctx.orch, ctx.spare], stats)
  const failed = stage.events.waitFor('peer:failed', { timeoutMs: 30_000 })
  const { report } = await collect(t, ctx, stage, 4)
  t.like(await failed, { peerId: ctx.orch.peer.peerId, code: 'ERR_TOO_MANY_STREAMS' })
  t.deepEqual(
    report.peers.map((p) => [p.peerId, p.items]),
    [
      [ctx.orch.peer.peerId, 0],
      [ctx.spare.peer.peerId, 4],
    ],
  )
  // The refusal was our doing: orch stays as healthy as before (it used to be suspended for 5 s).
  t.is(stats.get(ctx.orch.peer.peerId)?.failures ?? 0, 0)
  t.false(stats.isSuspended(ctx.orch.peer.peerId))
  t.is(stats.get(ctx.spare.peer.peerId)?.successes, 1)
  for (const s of held) {
    await s.end()
    await s.done
  }
})

test('a finished stage counts as a success for its orchestrator and leaves its latency to the pings: a job’s time measures the model, not the peer', async (t) => {
  const ctx = t.context
  const stats = new PeerStats()
  stats.recordLatency(ctx.orch.peer.peerId, 3)
  const { report } = await collect(t, ctx, stageThrough(ctx, [ctx.orch], stats), 2)
  t.is(report.peers[0]?.items, 2)
  t.is(stats.get(ctx.orch.peer.peerId)?.successes, 1)
  t.is(stats.health(ctx.orch.peer.peerId).latencyMs, 3)
})

test('a quote asked for by one peer cannot open a job for another: ERR_QUOTE_UNKNOWN', async (t) => {
  const ctx = t.context
  const other = await startPeer(ctx.market)
  const quote = await quoteFor(ctx)
  const session = new JobSession(
    { peer: other, payer: new BudgetPayer(ctx.sender) },
    { quote, dial: ctx.orch.peer.multiaddrs[0] },
  )
  const err = await t.throwsAsync(session.open())
  t.is((err as { code?: string }).code, 'ERR_QUOTE_UNKNOWN')
})

test('a sender that exceeds its window is cut off with ERR_WINDOW_EXCEEDED', async (t) => {
  const ctx = t.context
  const quote = await quoteFor(ctx)
  const stream = await ctx.buyer.dialProtocol(ctx.orch.peer.multiaddrs[0]!, PROTOCOLS.job)
  const channel = messageChannel(stream, { in: JOB_SERVER_MESSAGE, out: JOB_CLIENT_MESSAGE })
  await channel.write({ open: { quoteId: quote.quoteId, window: 1 }, end: false })
  t.is((await channel.read())?.accepted?.window, 1)
  // No tickets are sent, so nothing is worked on and the items pile up past the window.
  const frame = clip(1)[0]!
  for (let seq = 0; seq < 3; seq++) {
    await channel.write({
      work: { seq, images: [{ width: 32, height: 32, data: frame.data as Uint8Array<ArrayBuffer> }], t: 0 },
      end: false,
    })
  }
  let error: string | undefined
  while (error === undefined) {
    const m = await channel.read()
    if (m === undefined) break
    error = m.error?.code
  }
  t.is(error, 'ERR_WINDOW_EXCEEDED')
})

/** A stage that tries `order` in turn (no draw), so a test knows which orchestrator fails. */
/** The real engine, with `wait` run (and awaited) before each upscale. */
function beforeUpscale(ctx: Ctx, wait: () => Promise<void>): WorkEngine {
  const engine = ctx.market.engine
  return withUpscale(engine, async (id, frame, options) => {
    await wait()
    return engine.upscale(id, frame, options)
  })
}

function stageThrough(ctx: Ctx, order: OrchestratorNode[], stats?: PeerStats) {
  return new Stage(
    {
      peer: ctx.buyer,
      payer: new BudgetPayer(ctx.sender),
      ...(stats === undefined ? {} : { stats }),
      choose: (exclude) => {
        const next = order.find((o) => !exclude.has(o.peer.peerId))
        return next === undefined
          ? undefined
          : {
              peerId: next.peer.peerId,
              modelId: 'esrgan-slim-x2',
              pricePerUnit: PRICE,
              dial: next.peer.multiaddrs[0],
            }
      },
    },
    {
      pipeline: 'upscale',
      sender: ctx.sender.address,
      width: 32,
      height: 32,
      maxPricePerUnit: PRICE,
      stallTimeoutMs: 1_000,
    },
  )
}

async function collect(t: { true: (v: boolean, m?: string) => void }, ctx: Ctx, stage: Stage, count: number) {
  const frames = clip(count)
  const results: StageResult[] = []
  stage.events.on('result', (r) => results.push(r))
  const report = await stage.run(items(frames))
  for (const [i, frame] of frames.entries()) {
    const local = await ctx.market.engine.upscale('esrgan-slim-x2', frame)
    t.true(
      results[i]?.seq === i && Buffer.from(results[i]!.frame.data).equals(Buffer.from(local.data)),
      `frame ${i}`,
    )
  }
  return { report, results }
}

test('an orchestrator that stalls past the deadline is left: its unreturned frames go to the next, each frame once', async (t) => {
  const ctx = t.context
  const stage = stageThrough(ctx, [ctx.staller, ctx.spare])
  const failed = stage.events.waitFor('peer:failed', { timeoutMs: 30_000 })
  const { report, results } = await collect(t, ctx, stage, 12)
  const failure = await failed
  t.is(failure.code, 'ERR_PEER_STALLED')
  t.is(failure.peerId, ctx.staller.peer.peerId)
  t.is(results.length, 12)
  t.deepEqual(
    report.peers.map((p) => [p.peerId, p.items]),
    [
      [ctx.staller.peer.peerId, 3],
      [ctx.spare.peer.peerId, 9],
    ],
  )
  t.true(report.resent >= 1)
})

test('an orchestrator that refuses mid-stream (shutting down) hands the rest to the next at once', async (t) => {
  const ctx = t.context
  const refuser = await startOrchestrator(ctx.market, 5, { advertise: false })
  const stage = stageThrough(ctx, [refuser, ctx.spare])
  stage.events.on('result', (r) => {
    if (r.seq === 3) void refuser.orchestrator.stop()
  })
  const failed = stage.events.waitFor('peer:failed', { timeoutMs: 30_000 })
  const { report } = await collect(t, ctx, stage, 12)
  const failure = await failed
  t.is(failure.code, 'ERR_SHUTTING_DOWN')
  t.is(report.items, 12)
  t.is(
    report.peers.reduce((n, p) => n + p.items, 0),
    12,
  )
})

test('an orchestrator whose peer stops mid-job ends it with ERR_SHUTTING_DOWN, sent to the broadcaster at once, and the rest goes to the next orchestrator', async (t) => {
  const ctx = t.context
  const victim = await startOrchestrator(ctx.market, 9, { advertise: false })
  const stage = stageThrough(ctx, [victim, ctx.spare])
  const failed = stage.events.waitFor('peer:failed', { timeoutMs: 30_000 })
  const ended = victim.orchestrator.events.waitFor('job:ended', { timeoutMs: 30_000 })
  // Mid-run: two results are back and the rest of the input is held until the stop is reported.
  stage.events.on('result', (r) => {
    if (r.seq === 1 && r.peerId === victim.peer.peerId) void victim.peer.stop()
  })
  const frames = clip(12)
  async function* held(): AsyncIterable<WorkInput> {
    for (const [seq, frame] of frames.entries()) {
      if (seq === 2) await failed
      yield { seq, frames: [frame], t: 0 }
    }
  }
  const results: StageResult[] = []
  stage.events.on('result', (r) => results.push(r))
  const report = await stage.run(held())
  const failure = await failed
  t.is((await ended).error?.code, 'ERR_SHUTTING_DOWN', 'the orchestrator ended the job as shutting down')
  t.is(failure.peerId, victim.peer.peerId)
  // The peer waits for its handlers before closing connections, so the frame is not cut off.
  t.is(failure.code, 'ERR_SHUTTING_DOWN', failure.message)
  t.deepEqual(
    results.map((r) => r.seq),
    frames.map((_, i) => i),
  )
  t.deepEqual(
    report.peers.map((p) => [p.peerId, p.items]),
    [
      [victim.peer.peerId, 2],
      [ctx.spare.peer.peerId, 10],
    ],
  )
})

test('an interpolate job returns the frame between each pair, identical to local inference, priced per frame', async (t) => {
  const ctx = t.context
  const blender = await startOrchestrator(ctx.market, 6, { advertise: false, prices: { blend: 4_000_000n } })
  const stage = new Stage(
    {
      peer: ctx.buyer,
      payer: new BudgetPayer(ctx.sender),
      choose: (exclude) =>
        exclude.has(blender.peer.peerId)
          ? undefined
          : {
              peerId: blender.peer.peerId,
              modelId: 'blend',
              pricePerUnit: 4_000_000n,
              dial: blender.peer.multiaddrs[0],
            },
    },
    {
      pipeline: 'interpolate',
      sender: ctx.sender.address,
      width: 32,
      height: 32,
      maxPricePerUnit: 4_000_000n,
      maxAttempts: 1,
    },
  )
  const frames = clip(6)
  const results: StageResult[] = []
  stage.events.on('result', (r) => results.push(r))
  const report = await stage.run(
    (async function* () {
      for (let i = 1; i < frames.length; i++)
        yield { seq: i - 1, frames: [frames[i - 1]!, frames[i]!], t: 0.5 }
    })(),
  )
  t.is(results.length, 5)
  for (let i = 1; i < frames.length; i++) {
    const local = await ctx.market.engine.interpolate('blend', frames[i - 1]!, frames[i]!, 0.5)
    t.true(
      Buffer.from(results[i - 1]!.frame.data).equals(Buffer.from(local.data)),
      `between ${i - 1} and ${i}`,
    )
  }
  t.is(report.debited, 5n * 4_000_000n)
})

test('back-pressure: a slow orchestrator slows the sender, which pulls at most a window ahead of the results', async (t) => {
  const ctx = t.context
  const frames = clip(16)
  let pulled = 0
  let delivered = 0
  let maxAhead = 0
  // The engine finishes a frame only once the sender has pulled as far ahead as it goes: its window
  // of 4 full, or refilling two places at a time, with one item waiting for room. If it could run
  // further ahead it would, and the bound below would catch it.
  const gates: Array<() => void> = []
  const releaseReady = () => {
    if (gates.length > 0 && pulled >= Math.min(delivered + 4, frames.length)) gates.shift()!()
  }
  const slow = beforeUpscale(
    ctx,
    () =>
      new Promise<void>((resolve) => {
        gates.push(resolve)
        releaseReady()
      }),
  )
  const slowNode = await startOrchestrator(ctx.market, 7, { advertise: false, engine: slow, window: 4 })
  const stage = stageThrough(ctx, [slowNode])
  stage.events.on('result', () => {
    delivered++
    releaseReady()
  })
  await stage.run(
    (async function* () {
      for (const [seq, frame] of frames.entries()) {
        pulled++
        maxAhead = Math.max(maxAhead, pulled - delivered)
        releaseReady()
        yield { seq, frames: [frame], t: 0 }
      }
    })(),
  )
  t.is(delivered, 16)
  // Window 4 in flight, plus the one item pulled while waiting for room.
  t.true(maxAhead <= 5, `the sender ran ${maxAhead} items ahead of the results`)
  t.true(maxAhead >= 4, 'the window filled')
})

test('an item that arrives while the only one running still computes starts at once: the first items of a job overlap', async (t) => {
  const ctx = t.context
  const frames = clip(4)
  let started = 0
  let secondStarted!: () => void
  const second = new Promise<void>((resolve) => {
    secondStarted = resolve
  })
  let firstStarted!: () => void
  const first = new Promise<void>((resolve) => {
    firstStarted = resolve
  })
  let overlapped: boolean | undefined
  // The first upscale ends only once the second has begun (or after 5 s): if the orchestrator
  // waited for the first result before starting the item that came in meanwhile, it never would.
  const engine = beforeUpscale(ctx, async () => {
    started++
    if (started === 1) {
      firstStarted()
      let timer: NodeJS.Timeout | undefined
      overlapped ??= await Promise.race([
        second.then(() => true),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), 5_000)
        }),
      ])
      clearTimeout(timer)
    } else if (started === 2) secondStarted()
  })
  const node = await startOrchestrator(ctx.market, 8, { advertise: false, engine, window: 4 })
  const results: number[] = []
  const stage = stageThrough(ctx, [node])
  stage.events.on('result', (r) => results.push(r.seq))
  await stage.run(
    (async function* () {
      for (const [seq, frame] of frames.entries()) {
        yield { seq, frames: [frame], t: 0 }
        // The second item leaves only once the first is computing, so they cannot arrive together.
        if (seq === 0) await first
      }
    })(),
  )
  t.true(overlapped, 'the second item waited for the first one to finish')
  t.deepEqual(results, [0, 1, 2, 3])
})

test('a frame whose upscaled result could not fit one job message is refused at quote time with ERR_ITEM_TOO_LARGE, saying what fits', async (t) => {
  // 4000x3000 in is 144 MB out at x2: over the 32 MiB job message limit, though the orchestrator sets no size cap.
  const err = await t.throwsAsync(quoteFor(t.context, t.context.buyer, { width: 4000, height: 3000 }))
  t.is((err as { code?: string }).code, 'ERR_ITEM_TOO_LARGE')
  t.regex(err!.message, /send frames of at most 2796117 pixels for this model/)
  await t.notThrowsAsync(quoteFor(t.context, t.context.buyer, { width: 1920, height: 1080 }))
})

test('an item no job message can carry fails the stage at once with ERR_ITEM_TOO_LARGE: no other orchestrator is asked', async (t) => {
  const { orch, spare } = t.context
  const asked: string[] = []
  const stage = new Stage(
    {
      peer: t.context.buyer,
      payer: new BudgetPayer(t.context.sender),
      // Two sellers: the second would be asked if the refusal were taken for the first one's own.
      choose: (exclude) => {
        const next = [orch, spare].find((o) => !exclude.has(o.peer.peerId))
        if (next === undefined) return undefined
        asked.push(next.peer.peerId)
        return {
          peerId: next.peer.peerId,
          modelId: 'esrgan-slim-x2',
          pricePerUnit: PRICE,
          dial: next.peer.multiaddrs[0],
        }
      },
    },
    {
      pipeline: 'upscale',
      sender: t.context.sender.address,
      width: 4000,
      height: 3000,
      maxPricePerUnit: PRICE,
    },
  )
  const big = { width: 4000, height: 3000, channels: 3 as const, data: new Uint8Array(4000 * 3000 * 3) }
  const err = await t.throwsAsync(stage.run(items([big])))
  t.is((err as { code?: string }).code, 'ERR_ITEM_TOO_LARGE', err?.message)
  t.deepEqual(asked, [orch.peer.peerId])
})

test('a job stream closed before its JobOpen (the quote was refused) is closed quietly: no refusal, no protocol error', async (t) => {
  const { buyer, orch } = t.context
  const refused: string[] = []
  const errors: string[] = []
  orch.orchestrator.events.on('job:refused', (e) => refused.push(e.code))
  orch.peer.events.on('protocol:error', (e) => errors.push(e.protocol))
  const stream = await buyer.dialProtocol(orch.peer.multiaddrs[0]!, PROTOCOLS.job)
  const channel = messageChannel(stream, { in: JOB_SERVER_MESSAGE, out: JOB_CLIENT_MESSAGE })
  await channel.closeWrite()
  // The orchestrator closes its side in turn, with no error message first.
  t.is(await channel.read(), undefined)
  t.deepEqual(refused, [])
  t.deepEqual(errors, [])
})

test("with a window of 4 the broadcaster sends work in batches of two or more (the input's last may be one), each one stream chunk, and gets every result in order", async (t) => {
  const { buyer, orch } = t.context
  const quote = await quoteFor(t.context)
  const stream = await buyer.dialProtocol(orch.peer.multiaddrs[0]!, PROTOCOLS.job)
  const frameBytes = 32 * 32 * 3
  const workChunks: number[] = []
  const send = stream.send.bind(stream)
  stream.send = (data) => {
    if (data.byteLength >= frameBytes) workChunks.push(Math.floor(data.byteLength / frameBytes))
    return send(data)
  }
  const session = new JobSession(
    { peer: buyer, payer: new BudgetPayer(t.context.sender) },
    { quote, window: 4, stream: Promise.resolve(stream) },
  )
  const results: number[] = []
  session.events.on('result', (r) => results.push(r.seq))
  await session.open()
  for (const [seq, frame] of clip(10).entries()) await session.send({ seq, frames: [frame], t: 0 })
  await session.end()
  await session.done
  t.deepEqual(results, [...Array(10).keys()])
  // A new batch waits for two free places, so only the input's last batch may carry one item.
  t.true(
    workChunks.slice(0, -1).every((items) => items >= 2) && workChunks.length < 10,
    `items per chunk: ${workChunks.join(', ')}`,
  )
})

test('results of quick items come back in pairs, each pair one stream chunk from the orchestrator, every result in order', async (t) => {
  const { market, buyer } = t.context
  // Pairing at any speed of this machine: which results pair up then depends only on the order of events.
  const pairing = await startOrchestrator(market, 5, {
    advertise: false,
    window: 4,
    pairResultsBelowMs: 60_000,
  })
  const quote = await quoteFor(t.context, buyer, {}, pairing)
  const session = new JobSession({ peer: buyer, payer: new BudgetPayer(t.context.sender) }, { quote })
  const results: number[] = []
  session.events.on('result', (r) => results.push(r.seq))
  await session.open()
  const outBytes = 64 * 64 * 3
  const resultChunks: number[] = []
  const stream = pairing.peer.libp2p
    .getConnections()
    .flatMap((c) => c.streams)
    .find((s) => s.protocol === PROTOCOLS.job && s.direction === 'inbound')!
  const send = stream.send.bind(stream)
  stream.send = (data) => {
    if (data.byteLength >= outBytes) resultChunks.push(Math.floor(data.byteLength / outBytes))
    return send(data)
  }
  for (const [seq, frame] of clip(10).entries()) await session.send({ seq, frames: [frame], t: 0 })
  await session.end()
  await session.done
  t.deepEqual(results, [...Array(10).keys()])
  t.is(
    resultChunks.reduce((n, c) => n + c, 0),
    10,
  )
  t.true(
    resultChunks.every((c) => c <= 2) && resultChunks.includes(2),
    `results per chunk: ${resultChunks.join(', ')}`,
  )
})

test('a pipelined opening pays for four items right behind JobOpen, and the credit request it crosses is not paid twice', async (t) => {
  const { buyer } = t.context
  const quote = await quoteFor(t.context)
  const session = new JobSession(
    { peer: buyer, payer: new BudgetPayer(t.context.sender) },
    { quote, prepayItems: 4 },
  )
  const gaps: bigint[] = []
  const results: number[] = []
  session.events.on('payment', (p) => gaps.push(p.gap))
  session.events.on('result', (r) => results.push(r.seq))
  await session.open()
  for (const [seq, frame] of clip(6).entries()) await session.send({ seq, frames: [frame], t: 0 })
  await session.end()
  await session.done
  t.deepEqual(results, [...Array(6).keys()])
  // The orchestrator asks for four items as it accepts, before it has read the prepayment: paying
  // that as well would be a second payment of exactly four items. Top-ups ask for less.
  const fourItems = ((PRICE * 64n * 64n + 999_999n) / 1_000_000n) * 4n
  t.is(gaps[0], fourItems)
  t.is(gaps.filter((g) => g === fourItems).length, 1, `gaps paid: ${gaps.join(', ')}`)
})
