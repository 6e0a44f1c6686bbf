// Direct workflows on loopback (frames flow stage to stage, never through the broadcaster between
// stages): a bootstrap node, honest orchestrators serving upscale and blend, a cheap cheater serving
// upscale only (so it is every workflow's first stage), with real models and real tickets on a dev
// chain. Verification: the broadcaster sees a middle stage's output only as the digest in its acks,
// confirms each to the next stage, and checks a share of the items through every stage. Failure:
// a stage killed, stopped gracefully or hanging mid-job is replaced in place while the others keep
// running, and an orchestrator that failed is picked by no other stage of the run, nor its fallback.
import anyTest, { type ExecutionContext, type TestFn } from 'ava'
import type { BootstrapNode } from '../../bootstrap/index.js'
import type { FramemeshError } from '../../src/errors.js'
import type { Frame } from '../../src/inference/types.js'
import { BudgetPayer } from '../../src/market/broadcaster-payer.js'
import {
  frameDigest,
  frameToImage,
  JOB_CLIENT_MESSAGE,
  JOB_SERVER_MESSAGE,
} from '../../src/market/job-protocol.js'
import { JobSession, type SessionResult } from '../../src/market/job-session.js'
import type { WorkEngine } from '../../src/market/job-work.js'
import { JobError } from '../../src/market/market-errors.js'
import type { Mesh, MeshJob, MeshResult } from '../../src/market/mesh.js'
import { requestQuote } from '../../src/market/quote-protocol.js'
import { messageChannel } from '../../src/peer/framing.js'
import type { Peer } from '../../src/peer/index.js'
import { PROTOCOLS } from '../../src/peer/protocols.js'
import type { TicketSender } from '../../src/tickets/sender.js'
import { eventually } from '../helpers/peer.js'
import { testFrame } from '../inference/helpers/engine-fixture.js'
import {
  cheatingEngine,
  clip,
  fundedSender,
  killOutright,
  type Market,
  type OrchestratorNode,
  PRICE,
  paidForDelivered,
  stallingEngine,
  startBootstrap,
  startMarket,
  startMesh,
  startOrchestrator,
  startPeer,
  upscaleSpec,
  upscaleThenBlend,
} from './mesh-fixtures.js'

interface Ctx {
  market: Market
  bootstrap: BootstrapNode
  sender: TicketSender
  honest: OrchestratorNode[]
  /** Every orchestrator started, the honest ones and those tests add. */
  nodes: OrchestratorNode[]
  buyer: Peer
  mesh: Mesh
  /** A second buyer whose mesh forgets failures fast (see forgetfulBuyer), made on first use. */
  forgetful?: Promise<Buyer>
}
/** A broadcaster: its peer and its mesh. */
interface Buyer {
  buyer: Peer
  mesh: Mesh
}
const test = anyTest.serial as TestFn<Ctx>
const MODEL = 'esrgan-slim-x2'
const MEDIUM = 'esrgan-medium-x2'
const UP_THEN_BLEND = [
  { pipeline: 'upscale' as const, model: MODEL },
  { pipeline: 'interpolate' as const, model: 'blend' },
]

test.before(async (t) => {
  // Accounts 2–21 each run an orchestrator in this file.
  const market = await startMarket(500, 22)
  const sender = await fundedSender(market, 1)
  await Promise.all([market.engine.warm(MODEL), market.engine.warm('blend'), market.engine.warm(MEDIUM)])
  const bootstrap = await startBootstrap(market)
  const honest: OrchestratorNode[] = []
  for (const account of [2, 3, 4]) {
    honest.push(
      await startOrchestrator(market, account, {
        bootstrap: bootstrap.multiaddrs,
        prices: { [MODEL]: PRICE, blend: 4_000_000n, [MEDIUM]: PRICE },
      }),
    )
  }
  const buyer = await startPeer(market, { bootstrap: bootstrap.multiaddrs })
  // A stage that owes outputs and makes none for 3 s is taken as stalled.
  const mesh = await startMesh(market, buyer, sender, { stallTimeoutMs: 3_000 })
  await reachable(mesh, buyer, honest)
  t.context = { market, bootstrap, sender, honest, nodes: [...honest], buyer, mesh }
})

test.after.always(async (t) => {
  await t.context.market?.stop()
})

// Tests that stop an orchestrator each bring a spare: the ones stopped by earlier tests stay in
// the order book until their adverts expire, and must not be all a replacement can find.

/**
 * An orchestrator selling `prices` (on `engine` when given), reachable from `on` (a buyer and its
 * mesh; the file's own by default), and in `nodes`.
 */
async function startSeller(
  ctx: Ctx,
  account: number,
  prices: Record<string, bigint>,
  options: { engine?: WorkEngine; on?: Buyer } = {},
): Promise<OrchestratorNode> {
  const node = await startOrchestrator(ctx.market, account, {
    bootstrap: ctx.bootstrap.multiaddrs,
    prices,
    ...(options.engine === undefined ? {} : { engine: options.engine }),
  })
  const on = options.on ?? ctx
  await reachable(on.mesh, on.buyer, [node])
  ctx.nodes.push(node)
  return node
}

/** An honest orchestrator (upscale and blend at the usual prices), reachable and in `nodes`. */
function startSpare(ctx: Ctx, account: number): Promise<OrchestratorNode> {
  return startSeller(ctx, account, { [MODEL]: PRICE, blend: 4_000_000n })
}

/**
 * An orchestrator serving `model` only, at a tenth of the usual price (so it is picked), whose
 * engine hangs after `after` upscales; reachable.
 */
function startStaller(ctx: Ctx, account: number, model: string, after: number): Promise<OrchestratorNode> {
  return startSeller(
    ctx,
    account,
    { [model]: PRICE / 10n },
    { engine: stallingEngine(ctx.market.engine, after) },
  )
}

/** Waits until every orchestrator's offers are in the book and the buyer is connected to each. */
async function reachable(mesh: Mesh, buyer: Peer, nodes: OrchestratorNode[]): Promise<void> {
  await eventually(
    () =>
      nodes.every(
        (n) =>
          mesh.offers().some((o) => o.peerId === n.peer.peerId) &&
          buyer.libp2p.getConnections().some((c) => c.remotePeer.toString() === n.peer.peerId),
      ),
    { timeoutMs: 30_000, describe: () => `${mesh.offers().length} offers` },
  )
}

function sameAll(
  t: { true: (v: boolean, m?: string) => void; is: (a: unknown, b: unknown, m?: string) => void },
  got: MeshResult[],
  want: Frame[],
) {
  t.is(got.length, want.length, 'result count')
  for (const [i, r] of got.entries()) {
    t.is(r.seq, i, 'in order')
    t.true(Buffer.from(r.frame.data).equals(Buffer.from(want[i]!.data)), `frame ${i} differs from local`)
  }
}

test('a verified direct workflow of honest orchestrators stays direct, checks every stage and matches local inference', async (t) => {
  const { market, mesh } = t.context
  const frames = clip(12)
  const job = mesh.submit({ stages: UP_THEN_BLEND, input: frames, verify: { share: 0.25 } })
  let fellBack = false
  job.events.on('peer:failed', () => {
    fellBack = true
  })
  const { results, report } = await job.done
  sameAll(t, results, await upscaleThenBlend(market.engine, frames))
  t.false(fellBack, 'no stage failed')
  // Direct: one orchestrator per stage, each used once, none failed.
  t.deepEqual(
    report.stages!.map((s) => s.peers.map((p) => p.error)),
    [[undefined], [undefined]],
  )
  t.deepEqual(
    report.stages!.map((s) => s.items),
    [12, 11],
  )
  for (const [k, stage] of report.stages!.entries()) {
    const v = stage.verification!
    t.log(`stage ${k + 1}: ${v.checked} checked, ${v.mismatches} mismatches, checkers ${v.checkers.length}`)
    t.true(v.checked >= 1, `stage ${k + 1} was checked`)
    t.is(v.mismatches, 0)
    t.false(v.checkers.includes(stage.peers[0]!.peerId), `stage ${k + 1} was checked on another orchestrator`)
  }
  t.is(
    report.verification!.checked,
    report.stages![0]!.verification!.checked + report.stages![1]!.verification!.checked,
  )
  t.deepEqual(report.verification!.blamed, [])
})

test('a direct workflow with confirmed feeds and no checks stays direct and matches local inference', async (t) => {
  const { market, mesh } = t.context
  const frames = clip(8)
  const { results, report } = await mesh.submit({ stages: UP_THEN_BLEND, input: frames, confirmFeeds: true })
    .done
  sameAll(t, results, await upscaleThenBlend(market.engine, frames))
  t.is(report.route, 'direct')
  t.is(report.verification, undefined)
})

test('a workflow whose frames outgrow one job message goes through the broadcaster, which cuts them into windows: the output equals local inference', async (t) => {
  const { market, mesh } = t.context
  // Stage 2 takes 900x900 x2 = 1800x1800 frames, whose 3600x3600 result (39 MB) no message carries.
  const frame = testFrame(900, 900, 5)
  const job = mesh.submit({
    stages: [
      { pipeline: 'upscale', model: MODEL },
      { pipeline: 'upscale', model: MODEL },
    ],
    input: [frame],
  })
  const refused: string[] = []
  job.events.on('quote:refused', (e) => refused.push(e.code))
  const { results, report } = await job.done
  const local = await market.engine.upscale(MODEL, await market.engine.upscale(MODEL, frame))
  sameAll(t, results, [local])
  t.like(results[0]!.frame, { width: 3600, height: 3600 })
  t.is(report.route, 'direct, then broadcaster')
  // The direct route asked one orchestrator for stage 2: the limit is the same everywhere.
  t.deepEqual(refused, ['ERR_ITEM_TOO_LARGE'])
})

test('a verified direct workflow catches a cheating middle stage: blamed, suspended, nothing of it delivered, and the output equals local inference', async (t) => {
  const { market, mesh, bootstrap, honest } = t.context
  // Upscale only, at a tenth of the price: the workflow's first stage, whose frames go on to stage 2.
  const cheater = await startOrchestrator(market, 5, {
    bootstrap: bootstrap.multiaddrs,
    prices: { [MODEL]: PRICE / 10n },
    engine: cheatingEngine(market.engine),
  })
  const cheaterId = cheater.peer.peerId
  await reachable(mesh, t.context.buyer, [cheater])
  const frames = clip(16)
  const job = mesh.submit({ stages: UP_THEN_BLEND, input: frames, verify: { share: 0.2 } })
  const blamed = job.events.waitFor('verify:blamed', { timeoutMs: 60_000 })
  const { results, report } = await job.done
  const blame = await blamed
  t.is(blame.peerId, cheaterId)
  t.is(blame.stage, 0, 'blamed as the first stage')
  sameAll(t, results, await upscaleThenBlend(market.engine, frames))
  const first = report.stages![0]!
  t.is(first.peers[0]!.peerId, cheaterId, 'the cheater ran the first stage of the direct run')
  t.is(first.peers[0]!.error, 'ERR_VERIFICATION_FAILED')
  t.is(report.route, 'direct, then broadcaster', 'the job went on elsewhere, without the cheater')
  t.false(
    report.peers.slice(1).some((p) => p.peerId === cheaterId),
    'the cheater was not used again',
  )
  t.deepEqual(
    first.verification!.blamed.map((b) => [b.peerId, b.reason]),
    [[cheaterId, 'third-opinion']],
  )
  t.true(first.verification!.mismatches >= 1)
  t.true(mesh.stats.isSuspended(cheaterId))
  t.true(
    honest.some((h) => h.peer.peerId === blame.against),
    'an honest orchestrator disagreed',
  )
  t.log(
    `stage 1: ${first.peers.map((p) => `${p.peerId.slice(-6)} ${p.items}${p.error ? ` (${p.error})` : ''}`).join(', ')}; checks ${first.verification!.checked}`,
  )
  await cheater.orchestrator.stop()
})

/**
 * A stage quoted with a feeder we play ourselves (a bare peer writing feed messages), its job opened
 * by the broadcaster with confirmed feeds; `send` feeds it item `seq`.
 */
async function confirmedFeed(ctx: Ctx) {
  const { market, sender, buyer, honest } = ctx
  const stage = honest[0]!
  const feeder = await startPeer(market)
  const quote = await requestQuote(
    { peer: buyer },
    { peerId: stage.peer.peerId },
    upscaleSpec(sender.address, { feeder: feeder.peerId, maxPricePerUnit: PRICE * 2n }),
  )
  const control = new JobSession(
    { peer: buyer, payer: new BudgetPayer(sender) },
    { quote, input: 'none', digests: true },
  )
  const results: SessionResult[] = []
  control.events.on('result', (r) => results.push(r))
  await control.open()
  await control.end()
  const stream = await feeder.dialProtocol(stage.peer.multiaddrs[0]!, PROTOCOLS.job)
  const feed = messageChannel(stream, { in: JOB_SERVER_MESSAGE, out: JOB_CLIENT_MESSAGE })
  await feed.write({ open: { quoteId: quote.quoteId, window: 4, feed: true }, end: false })
  const accepted = await feed.read()
  const send = (seq: number, frame: Frame) =>
    feed.write({ work: { seq, images: [frameToImage(frame)], t: 0 }, end: false })
  return { control, feed, accepted, results, send }
}

test('a confirmed feed: the stage runs (and bills) a feed item only once the broadcaster confirms it, and an item that is not what was confirmed ends the job with ERR_FEED_MISMATCH', async (t) => {
  const { market } = t.context
  const { control, feed, accepted, results, send } = await confirmedFeed(t.context)
  t.truthy(accepted?.accepted)
  const [a, b, c] = clip(3)
  await send(0, a!)
  await send(1, b!)
  // Item 0 confirmed: it runs and is acknowledged on the feed; item 1 waits for its confirmation.
  await control.confirm(0, frameDigest(a!))
  const ack = await feed.read()
  t.is(ack?.result?.seq, 0, JSON.stringify(ack?.error))
  await eventually(() => results.length === 1, { timeoutMs: 10_000 })
  t.true(
    Buffer.from(results[0]!.frame.data).equals(Buffer.from((await market.engine.upscale(MODEL, a!)).data)),
  )
  // Item 1 is confirmed as another frame than the feeder sent: the stage refuses it unrun.
  await control.confirm(1, frameDigest(c!))
  const error = await t.throwsAsync(control.done)
  t.is((error as JobError).code, 'ERR_FEED_MISMATCH')
  t.is(results.length, 1, 'only the confirmed item was run and billed')
  t.is(results[0]!.debited, (PRICE * 64n * 64n) / 1_000_000n)
  control.abort(new JobError('ERR_ABORTED', 'test over'))
})

test('a confirmed feed: an item its feeder invented (beyond the outputs the broadcaster says it made) is refused unrun with ERR_FEED_MISMATCH', async (t) => {
  const { control, results, send } = await confirmedFeed(t.context)
  const [a, b] = clip(2)
  await send(0, a!)
  await send(1, b!)
  await control.confirm(0, frameDigest(a!))
  await eventually(() => results.length === 1, { timeoutMs: 10_000 })
  // The feeder's session ended after one output: nothing beyond it will ever be confirmed.
  await control.confirm(1, new Uint8Array(0))
  const error = await t.throwsAsync(control.done)
  t.is((error as JobError).code, 'ERR_FEED_MISMATCH')
  t.is(results.length, 1, 'the invented item was neither run nor billed')
  control.abort(new JobError('ERR_ABORTED', 'test over'))
})

const THREE_STAGES = [...UP_THEN_BLEND, { pipeline: 'interpolate' as const, model: 'blend' }]

/** Stage events carry the stage's index (MeshJobEvents). */
const stageOf = (e: object) => (e as { stage?: number }).stage

/** `frames`, the ones from index `from` on only once `gate` resolved. */
async function* gated(frames: Frame[], from: number, gate: Promise<void>): AsyncIterable<Frame> {
  for (const [i, frame] of frames.entries()) {
    if (i === from) await gate
    yield frame
  }
}

/**
 * Runs upscale → blend → blend over 20 frames and ends the middle stage's orchestrator with `end`
 * once 3 results came, with frames in flight in every stage. The last 14 frames wait for `end`, so
 * the ended stage still had work to do (a fast pipeline could otherwise have passed every frame on
 * first). Returns the job's outcome, the ended orchestrator and the job's failures and switches.
 */
async function endMiddleStage(ctx: Ctx, end: (node: OrchestratorNode) => Promise<void>) {
  const { mesh, nodes } = ctx
  const frames = clip(20)
  let ended!: () => void
  const afterEnd = new Promise<void>((resolve) => {
    ended = resolve
  })
  const job = mesh.submit({ stages: THREE_STAGES, input: gated(frames, 6, afterEnd), collect: true })
  // The middle stage's orchestrator: the last one picked for it that took the quote (one stopped by
  // an earlier test may still be in the book, and be tried first).
  let middle: string | undefined
  job.events.on('peer:selected', (e) => {
    if (stageOf(e) === 1) middle = e.peerId
  })
  job.events.on('quote:refused', (e) => {
    if (stageOf(e) === 1 && e.peerId === middle) middle = undefined
  })
  const changes: string[] = []
  job.events.on('peer:failed', (e) => changes.push(`failed ${stageOf(e)} ${e.peerId} ${e.code}`))
  job.events.on('peer:switch', (e) => changes.push(`switch ${stageOf(e)} ${e.from} ${e.to}`))
  let victim: OrchestratorNode | undefined
  let seen = 0
  job.events.on('result', () => {
    if (++seen !== 3) return
    victim = nodes.find((n) => n.peer.peerId === middle)
    if (victim === undefined) ended()
    else void end(victim).finally(ended)
  })
  const { results, report } = await job.done
  const up = await Promise.all(frames.map((f) => ctx.market.engine.upscale(MODEL, f)))
  const blend = async (xs: Frame[]) => {
    const out: Frame[] = []
    for (let i = 0; i + 1 < xs.length; i++)
      out.push(await ctx.market.engine.interpolate('blend', xs[i]!, xs[i + 1]!, 0.5))
    return out
  }
  return { results, report, want: await blend(await blend(up)), victim: victim?.peer.peerId, changes }
}

/**
 * What every ended middle stage must show: each frame once, in order, as local inference made
 * it, directly; the middle stage (alone) replaced once, by an orchestrator still running that is
 * neither of its neighbours; each orchestrator paid for what it delivered. Returns the replacement.
 */
function replacedInPlace(
  t: ExecutionContext<Ctx>,
  outcome: Awaited<ReturnType<typeof endMiddleStage>>,
): string | undefined {
  const { results, report, want, victim, changes } = outcome
  t.truthy(victim, 'the middle stage had an orchestrator of this file to end')
  sameAll(t, results, want)
  t.is(report.route, 'direct', 'no fallback through the broadcaster')
  const [first, second, third] = report.stages!
  t.is(first!.peers.length, 1, 'the first stage kept its orchestrator')
  t.is(third!.peers.length, 1, 'the last stage kept its orchestrator')
  const [ended, replacement] = second!.peers
  t.is(second!.peers.length, 2, 'the middle stage was replaced once')
  t.is<string | undefined, string | undefined>(ended?.peerId, victim)
  t.truthy(ended?.error, 'the ended orchestrator is reported with its error')
  t.is(replacement?.error, undefined)
  const to = replacement?.peerId
  t.true(
    t.context.nodes.some((n) => n.peer.peerId === to),
    'replaced by an orchestrator of this file',
  )
  t.not(to, victim)
  t.not(to, first!.peers[0]!.peerId, 'not by its feeder')
  t.not(to, third!.peers[0]!.peerId, 'not by the stage it feeds')
  // One failure, of the middle stage, then its switch to the replacement: nothing else changed.
  t.deepEqual(changes, [`failed 1 ${victim} ${ended?.error}`, `switch 1 ${victim} ${to}`])
  t.deepEqual(
    report.stages!.map((s) => s.items),
    [20, 19, 18],
  )
  // Paid per delivered item: the ended one for what it passed on, the replacement for what it made
  // (the items the ended one had not passed on, and one before: the next stage takes pairs).
  paidForDelivered(t, report.peers)
  t.true(ended!.items + replacement!.items <= 19 + 1 + 8, 'redone: at most the window and one')
  t.log(
    `stage 2: ${second!.peers.map((p) => `${p.peerId.slice(-6)} ${p.items}${p.error ? ` (${p.error})` : ''}`).join(', ')}; resent ${second!.resent}`,
  )
  return to
}

test('when the middle stage of a three-stage direct workflow is killed mid-job, only it is replaced: the frames keep flowing directly, every frame once, in order, identical to local inference', async (t) => {
  // Two spares, so a replacement exists besides the stages around the middle one whatever the
  // other tests have stopped, and one spare slow to reach the book does not hold the test up.
  await Promise.all([startSpare(t.context, 6), startSpare(t.context, 11)])
  replacedInPlace(t, await endMiddleStage(t.context, killOutright))
})

test("when the middle stage's orchestrator stops gracefully mid-job (its jobs are told ERR_SHUTTING_DOWN), only that stage is replaced: the frames keep flowing directly, every frame once, in order, identical to local inference", async (t) => {
  await Promise.all([startSpare(t.context, 12), startSpare(t.context, 13)])
  // As the orchestrator node stops: its jobs are told to end, then its peer gives them time to say so.
  const outcome = await endMiddleStage(t.context, async (node) => {
    await node.orchestrator.stop()
    await node.peer.stop()
  })
  replacedInPlace(t, outcome)
  // The stage's own word, not its feeder's "lost the next stage" (ERR_STREAM_ENDED), which the
  // stopping orchestrator's first error frame sets off and which often reaches us first.
  t.is(outcome.report.stages![1]!.peers[0]?.error, 'ERR_SHUTTING_DOWN')
  t.true(outcome.changes[0]!.endsWith(' ERR_SHUTTING_DOWN'), outcome.changes[0])
})

test('when the last stage of a direct workflow hangs mid-job (its engine stops answering), it is replaced in place once it owes outputs past the stall timeout', async (t) => {
  const { market, mesh } = t.context
  // Serves the second stage's model only (so it is picked for it), and hangs after 3 frames.
  const staller = await startStaller(t.context, 7, MEDIUM, 3)
  // A spare for the second stage: the tests before stop orchestrators, honest ones among them,
  // and the one left that sells its model may be running the first stage.
  await startSeller(t.context, 21, { [MODEL]: PRICE, [MEDIUM]: PRICE })
  const frames = clip(10)
  const job = mesh.submit({
    stages: [
      { pipeline: 'upscale', model: MODEL },
      { pipeline: 'upscale', model: MEDIUM },
    ],
    input: frames,
  })
  const failed = job.events.waitFor('peer:failed', { timeoutMs: 60_000 })
  const { results, report } = await job.done
  const want = await Promise.all(
    frames.map(async (f) => market.engine.upscale(MEDIUM, await market.engine.upscale(MODEL, f))),
  )
  sameAll(t, results, want)
  t.like(await failed, { peerId: staller.peer.peerId, code: 'ERR_PEER_STALLED' })
  t.is(report.route, 'direct', 'no fallback through the broadcaster')
  t.is(report.stages![0]!.peers.length, 1, 'the first stage kept its orchestrator')
  t.deepEqual(
    report.stages![1]!.peers.map((p) => [p.peerId === staller.peer.peerId, p.items]),
    [
      [true, 3],
      [false, 7],
    ],
  )
  await staller.orchestrator.stop()
})

test('a verified direct workflow whose first stage is killed mid-job replaces it in place and goes on checking: every frame once, in order, identical to local inference', async (t) => {
  const { market, mesh } = t.context
  // A spare, so the killed stage has a replacement whatever the other tests have stopped.
  await startSpare(t.context, 8)
  const frames = clip(40)
  const job = mesh.submit({ stages: UP_THEN_BLEND, input: frames, verify: { share: 0.25 } })
  let first: string | undefined
  job.events.on('peer:selected', (e) => {
    if ((e as { stage?: number }).stage === 0) first ??= e.peerId
  })
  // Killed outright once checks are under way (results are held until checks pass).
  let killed = false
  job.events.on('verify:checked', () => {
    if (killed) return
    killed = true
    const node = t.context.nodes.find((n) => n.peer.peerId === first)
    if (node !== undefined) void killOutright(node)
  })
  const { results, report } = await job.done
  sameAll(t, results, await upscaleThenBlend(market.engine, frames))
  t.is(report.route, 'direct', 'no fallback through the broadcaster')
  t.deepEqual(
    report.stages![0]!.peers.map((p) => p.peerId === first),
    [true, false],
  )
  t.is(report.stages![1]!.peers.length, 1)
  for (const stage of report.stages!) {
    t.true(stage.verification!.checked >= 1)
    t.is(stage.verification!.mismatches, 0)
  }
})

test('a direct workflow whose first stage dies after it was sent the whole input and its end ends its replacement too: replaced in place, every frame once, in order, identical to local inference', async (t) => {
  const { market, mesh } = t.context
  // Upscale only, so it is the first stage; it makes 4 frames and holds the rest, so it still owes
  // work when it dies. Last in the file: its cheap advert outlives it, and a later test would try it first.
  const staller = await startStaller(t.context, 9, MODEL, 4)
  // The 4 it makes and 6 within its window of 8: the workflow takes every frame and ends its input.
  const frames = clip(10)
  const job = mesh.submit({
    stages: UP_THEN_BLEND,
    // Killed when the workflow asks for a frame past the last: all that is left to send is the end.
    input: (async function* () {
      yield* frames
      void killOutright(staller)
    })(),
    collect: true,
  })
  const { results, report } = await job.done
  sameAll(t, results, await upscaleThenBlend(market.engine, frames))
  // Before the fix the replacement never heard the end: it idled until its orchestrator closed it.
  t.is(report.route, 'direct', 'no fallback through the broadcaster')
  t.deepEqual(
    report.stages![0]!.peers.map((p) => [p.peerId === staller.peer.peerId, p.error === undefined]),
    [
      [true, false],
      [false, true],
    ],
  )
  t.is(report.stages![1]!.peers.length, 1, 'the second stage kept its orchestrator')
})

test('a stage whose orchestrator hangs and cannot be replaced (nobody else sells its model) fails the job, and that orchestrator is counted as failed once', async (t) => {
  const { mesh } = t.context
  // The only seller of esrgan-slim-x4 in this market; it makes 2 frames and then hangs.
  const x4 = 'esrgan-slim-x4'
  const staller = await startStaller(t.context, 10, x4, 2)
  const job = mesh.submit({
    stages: [
      { pipeline: 'upscale', model: x4 },
      { pipeline: 'interpolate', model: 'blend' },
    ],
    input: clip(12),
    collect: true,
  })
  const err = (await t.throwsAsync(job.done)) as FramemeshError
  // The fallback through the broadcaster found nobody either; the error also tells what happened
  // first: the stage stalled, and no replacement could be had.
  t.is(err.code, 'ERR_NO_OFFERS')
  const first = err.details?.directFailure as { code: string; message: string } | undefined
  t.is(first?.code, 'ERR_PEER_STALLED')
  t.regex(first?.message ?? '', /replacing stage 0 failed too \(ERR_NO_OFFERS/)
  t.regex(err.message, /the direct run had failed first \(ERR_PEER_STALLED/)
  // The job set no price limit: the message names none (it printed 2^256 - 1 wei) nor asks to raise it.
  t.notRegex(err.message, /wei per unit|raise maxPrice/)
  // Recorded when it failed mid-run; the failed run (and its fallback) did not count it again.
  t.is(mesh.stats.get(staller.peer.peerId)?.failures, 1)
})

/**
 * A second broadcaster (its own peer, mesh and order book: only live adverts) whose mesh suspends a
 * failed orchestrator for 1 ms: past that, only the run's own memory keeps one out. Made once.
 */
function forgetfulBuyer(ctx: Ctx): Promise<Buyer> {
  ctx.forgetful ??= (async () => {
    const buyer = await startPeer(ctx.market, { bootstrap: ctx.bootstrap.multiaddrs })
    const mesh = await startMesh(ctx.market, buyer, ctx.sender, {
      stallTimeoutMs: 3_000,
      peerStats: { baseSuspendMs: 1 },
    })
    return { buyer, mesh }
  })()
  return ctx.forgetful
}

const UP_THEN_MEDIUM = [
  { pipeline: 'upscale' as const, model: MODEL },
  { pipeline: 'upscale' as const, model: MEDIUM },
]

/**
 * The cheapest seller of both stages of UP_THEN_MEDIUM (a tenth of the price), so it runs the first
 * (feeding the second, it cannot run that too); it hangs after 3 frames. And the second stage's pick
 * (a fifth of the price), which hangs after 6, by when the first has failed and been replaced.
 */
async function twoStallers(ctx: Ctx, on: Buyer, accounts: [number, number]) {
  const engine = ctx.market.engine
  const [x, s] = await Promise.all([
    startSeller(
      ctx,
      accounts[0],
      { [MODEL]: PRICE / 10n, [MEDIUM]: PRICE / 10n },
      { engine: stallingEngine(engine, 3), on },
    ),
    startSeller(ctx, accounts[1], { [MEDIUM]: PRICE / 5n }, { engine: stallingEngine(engine, 6), on }),
  ])
  return { x: x.peer.peerId, s: s.peer.peerId }
}

/**
 * Every orchestrator picked for a stage, in order, as `stage peerId`; and the job's failures as
 * `stage peerId code`, with `run peerId code` where the direct run failed and the job went on
 * through the broadcaster ('route:fallback').
 */
function picksOf(job: MeshJob) {
  const picks: string[] = []
  const failures: string[] = []
  job.events.on('peer:selected', (e) => picks.push(`${stageOf(e)} ${e.peerId}`))
  job.events.on('peer:failed', (e) => failures.push(`${stageOf(e)} ${e.peerId} ${e.code}`))
  job.events.on('route:fallback', (e) => failures.push(`run ${e.peerId} ${e.code}`))
  return { picks, failures }
}

test('an orchestrator that failed in one stage of a direct run is not picked for another stage of it, though it is the cheapest seller and no longer suspended', async (t) => {
  const { market } = t.context
  const on = await forgetfulBuyer(t.context)
  const { mesh } = on
  const { x, s } = await twoStallers(t.context, on, [14, 15])
  // Honest sellers of both models at the usual price: one replaces X in the first stage, the other S.
  const honest = await Promise.all(
    [16, 17].map((account) => startSeller(t.context, account, { [MODEL]: PRICE, [MEDIUM]: PRICE }, { on })),
  )
  const frames = clip(12)
  const job = mesh.submit({
    stages: UP_THEN_MEDIUM,
    input: frames,
    // These four only: orchestrators of earlier tests stay out.
    peers: [x, s, ...honest.map((h) => h.peer.peerId)],
  })
  const { picks, failures } = picksOf(job)
  let xSuspended: boolean | undefined
  job.events.on('peer:failed', (e) => {
    if (stageOf(e) === 1) xSuspended = mesh.stats.isSuspended(x)
  })
  const { results, report } = await job.done
  const want = await Promise.all(
    frames.map(async (f) => market.engine.upscale(MEDIUM, await market.engine.upscale(MODEL, f))),
  )
  sameAll(t, results, want)
  t.is(report.route, 'direct', 'both stages were replaced in place')
  t.deepEqual(failures, [`0 ${x} ERR_PEER_STALLED`, `1 ${s} ERR_PEER_STALLED`])
  t.false(xSuspended, 'X was no longer suspended when the second stage needed a replacement')
  const [first, second] = report.stages!
  const h0 = first!.peers[1]?.peerId
  const h1 = second!.peers[1]?.peerId
  // The second stage's replacement could not be X's replacement (its feeder) nor S: of the four,
  // that leaves X, the cheapest by far, and the other honest seller.
  t.deepEqual([...new Set([h0, h1])].sort(), honest.map((h) => h.peer.peerId).sort())
  t.deepEqual(picks, [`0 ${x}`, `1 ${s}`, `0 ${h0}`, `1 ${h1}`])
  t.deepEqual(
    report.stages!.map((st) => st.peers.map((p) => [p.peerId, p.items, p.error])),
    [
      [
        [x, 3, 'ERR_PEER_STALLED'],
        [h0, 9, undefined],
      ],
      [
        [s, 6, 'ERR_PEER_STALLED'],
        [h1, 6, undefined],
      ],
    ],
  )
  t.is(mesh.stats.get(x)?.failures, 1)
})

test('when a direct run fails, its fallback through the broadcaster does not pick an orchestrator that failed earlier in the run, though it is the last seller left and no longer suspended: the job fails with ERR_NO_OFFERS', async (t) => {
  const on = await forgetfulBuyer(t.context)
  const { mesh } = on
  const { x, s } = await twoStallers(t.context, on, [18, 19])
  // Sells the first stage's model only: X's replacement; once S fails, nobody is left for the second.
  const honest = await startSeller(t.context, 20, { [MODEL]: PRICE }, { on })
  const job = mesh.submit({
    stages: UP_THEN_MEDIUM,
    input: clip(12),
    collect: true,
    peers: [x, s, honest.peer.peerId],
  })
  const { picks, failures } = picksOf(job)
  const err = (await t.throwsAsync(job.done)) as FramemeshError
  // The direct run: X failed and was replaced, then S failed and nobody but X was left for it; so
  // the run failed, and the job went on through the broadcaster, where nobody sells the second
  // stage's model: its first stage is cancelled, which is nobody's failure.
  t.deepEqual(failures, [`0 ${x} ERR_PEER_STALLED`, `1 ${s} ERR_PEER_STALLED`, `run ${s} ERR_PEER_STALLED`])
  const direct = err.details?.directFailure as { code: string; message: string } | undefined
  t.is(direct?.code, 'ERR_PEER_STALLED')
  t.regex(direct?.message ?? '', /replacing stage 1 failed too \(ERR_NO_OFFERS/)
  // The fallback found nobody either: X, though it sells both models, cheapest, was left out.
  t.is(err.code, 'ERR_NO_OFFERS')
  t.deepEqual(
    picks.filter((p) => p.endsWith(x)),
    [`0 ${x}`],
    'X was picked once, for the first stage of the direct run',
  )
  t.false(mesh.stats.isSuspended(x))
  t.is(mesh.stats.get(x)?.failures, 1, 'X failed once')
})
