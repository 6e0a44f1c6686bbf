// The whole market on loopback: a bootstrap node, three orchestrators at different prices and a
// broadcaster that finds them by their adverts, buys upscaling with tickets and survives a failover.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import anyTest, { type ExecutionContext, type TestFn } from 'ava'
import type { BootstrapNode } from '../../bootstrap/index.js'
import type { Frame } from '../../src/inference/types.js'
import type { Mesh, MeshJob, MeshJobEvent } from '../../src/market/mesh.js'
import type { Peer } from '../../src/peer/index.js'
import type { TicketSender } from '../../src/tickets/sender.js'
import { eventually } from '../helpers/peer.js'
import { testFrame } from '../inference/helpers/engine-fixture.js'
import {
  clip,
  fundedSender,
  killOutright,
  type Market,
  type OrchestratorNode,
  PRICE,
  startBootstrap,
  startMarket,
  startMesh,
  startOrchestrator,
  startPeer,
  withUpscale,
} from './mesh-fixtures.js'

interface Ctx {
  market: Market
  bootstrap: BootstrapNode
  sender: TicketSender
  orchs: OrchestratorNode[]
  buyer: Peer
  mesh: Mesh
  /** Orchestrators a test stopped or killed. */
  ended: Set<string>
}
const test = anyTest.serial as TestFn<Ctx>

test.before(async (t) => {
  const market = await startMarket()
  const sender = await fundedSender(market, 1)
  await market.engine.warm('esrgan-slim-x2')
  const bootstrap = await startBootstrap(market)
  const orchs: OrchestratorNode[] = []
  for (const [i, multiple] of [1n, 2n, 3n].entries()) {
    orchs.push(
      await startOrchestrator(market, 2 + i, {
        bootstrap: bootstrap.multiaddrs,
        prices: { 'esrgan-slim-x2': PRICE * multiple },
      }),
    )
  }
  const buyer = await startPeer(market, { bootstrap: bootstrap.multiaddrs })
  const mesh = await startMesh(market, buyer, sender, { stallTimeoutMs: 10_000 })
  t.context = { market, bootstrap, sender, orchs, buyer, mesh, ended: new Set() }
})

test.after.always(async (t) => {
  await t.context.market?.stop()
})

/**
 * Waits for every offer and for a connection to every orchestrator. The bootstrap node can hand a
 * newcomer the adverts it holds (gossip IHAVE/IWANT) before the orchestrators, told of the newcomer
 * by its address announcement, have dialled it: until then their offers cannot be dialled.
 */
async function settled(ctx: Ctx): Promise<void> {
  const running = new Set(ctx.orchs.filter((o) => !ctx.ended.has(o.peer.peerId)).map((o) => o.peer.peerId))
  const offers = () => ctx.mesh.offers({ pipeline: 'upscale' }).filter((o) => running.has(o.peerId))
  await eventually(() => offers().length === running.size, { timeoutMs: 30_000 })
  await eventually(() => offers().every((o) => ctx.buyer.connectedPeers().includes(o.peerId)), {
    timeoutMs: 30_000,
    describe: () => `buyer connected to ${ctx.buyer.connectedPeers().length} peers`,
  })
}

async function localUpscale(ctx: Ctx, frames: Frame[]): Promise<Frame[]> {
  const out: Frame[] = []
  for (const f of frames) out.push(await ctx.market.engine.upscale('esrgan-slim-x2', f))
  return out
}

function sameFrames(
  t: { true: (v: boolean, m?: string) => void; is: (a: unknown, b: unknown, m?: string) => void },
  got: Frame[],
  want: Frame[],
) {
  t.is(got.length, want.length, 'frame count')
  for (const [i, w] of want.entries()) {
    t.true(Buffer.from(got[i]!.data).equals(Buffer.from(w.data)), `frame ${i} differs from local inference`)
  }
}

test("every orchestrator's advert reaches the broadcaster through the bootstrap node, with its price", async (t) => {
  const { mesh, orchs } = t.context
  await eventually(() => mesh.offers({ pipeline: 'upscale' }).length === 3, {
    timeoutMs: 30_000,
    describe: () => `${mesh.offers({ pipeline: 'upscale' }).length} offers`,
  })
  const byPeer = new Map(mesh.offers({ pipeline: 'upscale' }).map((o) => [o.peerId, o]))
  for (const [i, o] of orchs.entries()) {
    t.like(byPeer.get(o.peer.peerId), {
      modelId: 'esrgan-slim-x2',
      pricePerUnit: PRICE * BigInt(i + 1),
      unit: 'output-megapixel',
    })
    t.is(byPeer.get(o.peer.peerId)?.paymentAddress.toLowerCase(), o.wallet.address.toLowerCase())
  }
  t.is(mesh.offers({ pipeline: 'upscale', maxPricePerUnit: PRICE * 2n }).length, 2)
})

test('a 24-frame clip is upscaled through the mesh identical to local inference, and the report adds up', async (t) => {
  const ctx = t.context
  await settled(ctx)
  const frames = clip(24)
  const job = ctx.mesh.submit({
    pipeline: 'upscale',
    model: 'esrgan-slim-x2',
    maxPrice: PRICE * 3n,
    input: frames,
  })
  const seen: MeshJobEvent['type'][] = []
  const reading = (async () => {
    for await (const e of job.events) seen.push(e.type)
  })()
  const { frames: out, report } = await job.done
  await reading
  sameFrames(t, out, await localUpscale(ctx, frames))
  t.is(report.items, 24)
  t.is(report.resent, 0)
  t.true(report.evSent >= report.debited)
  const used = report.peers.filter((p) => p.items > 0)
  t.is(used.length, 1)
  // Debited at the quoted price for exactly the 24 delivered frames (the draw may pick any of the three).
  t.is(report.debited, (used[0]!.pricePerUnit * 64n * 64n * 24n) / 1_000_000n)
  t.true(seen.includes('peer:selected') && seen.includes('payment') && seen.at(-1) === 'finished')
  t.is(seen.filter((s) => s === 'progress').length, 24)
})

test('a frame whose upscaled result no job message could carry goes through in windows, pasted back as local inference gives it', async (t) => {
  const ctx = t.context
  await settled(ctx)
  // 1280x720 at x4 would be a 44 MB result: each frame goes as six windows of 459x392 (x2 here too).
  const frames = [testFrame(1280, 720, 7), testFrame(1280, 720, 8)]
  const job = ctx.mesh.submit({
    pipeline: 'upscale',
    model: 'esrgan-slim-x2',
    maxPrice: PRICE * 3n,
    input: frames,
  })
  // Progress in windows between frames: a large frame does not sit at 0 until its last window.
  const progress: string[] = []
  job.events.on('progress', (e) => progress.push(`${e.done}`))
  job.events.on('progress:windows', (e) => progress.push(`${e.done}/${e.of}`))
  const { frames: out, report } = await job.done
  t.is(report.items, 2)
  t.is(
    report.peers.reduce((n, p) => n + p.items, 0),
    12,
    'six windows a frame',
  )
  t.deepEqual(progress, ['1/6', '2/6', '3/6', '4/6', '5/6', '1', '1/6', '2/6', '3/6', '4/6', '5/6', '2'])
  const local = await localUpscale(ctx, frames)
  for (const [i, frame] of out.entries()) {
    t.like(frame, { width: 2560, height: 1440 })
    let worst = 0
    for (let j = 0; j < frame.data.length; j++)
      worst = Math.max(worst, Math.abs(frame.data[j]! - local[i]!.data[j]!))
    t.log(`frame ${i}: largest difference from local (engine-tiled) inference ${worst}/255`)
    t.true(worst <= 2, `frame ${i} differs from local inference by ${worst}`)
  }
})

test('a job whose frames change size is ended with ERR_FRAME_SIZE_MISMATCH naming the frame', async (t) => {
  const ctx = t.context
  await settled(ctx)
  const frames = [testFrame(32, 32, 1), testFrame(32, 32, 2), testFrame(40, 32, 3)]
  const job = ctx.mesh.submit({
    pipeline: 'upscale',
    model: 'esrgan-slim-x2',
    maxPrice: PRICE * 3n,
    input: frames,
  })
  await t.throwsAsync(job.done, {
    code: 'ERR_FRAME_SIZE_MISMATCH',
    message: /^frame 2 is 40x32, the job's first frame 32x32/,
  } as never)
})

test('with parallel 3 a clip is spread over the three orchestrators at once: every frame once, in input order, identical to local inference, each paid for exactly its frames', async (t) => {
  const ctx = t.context
  await settled(ctx)
  // 64×64 frames: each takes long enough that every lane is open before the clip is done.
  const frames = clip(48, 64, 64)
  const job = ctx.mesh.submit({ pipeline: 'upscale', model: 'esrgan-slim-x2', input: frames, parallel: 3 })
  const order: number[] = []
  job.events.on('result', (r) => order.push(r.seq))
  const { frames: out, results, report } = await job.done
  sameFrames(t, out, await localUpscale(ctx, frames))
  t.deepEqual(order, [...frames.keys()], 'results leave in input order')
  t.deepEqual(
    results.map((r) => r.seq),
    [...frames.keys()],
  )
  t.is(report.items, 48)
  const used = new Set(report.peers.filter((p) => p.items > 0).map((p) => p.peerId))
  t.is(used.size, 3, report.peers.map((p) => `${p.peerId.slice(-6)}: ${p.items}`).join(', '))
  t.is(
    report.peers.reduce((n, p) => n + p.items, 0),
    48,
  )
  for (const use of report.peers) {
    t.is(use.debited, (use.pricePerUnit * 128n * 128n * BigInt(use.items)) / 1_000_000n)
    t.true(results.filter((r) => r.peerId === use.peerId).length === use.items, `${use.peerId} delivered`)
  }
  t.log(report.peers.map((p) => `${p.peerId.slice(-6)}: ${p.items} frames`).join(', '))
})

test('parallel asks for at most as many orchestrators as sell the stage: with one allowed, one runs it all', async (t) => {
  const ctx = t.context
  await settled(ctx)
  const only = ctx.orchs[0]!.peer.peerId
  const frames = clip(12)
  const { frames: out, report } = await ctx.mesh.submit({
    pipeline: 'upscale',
    input: frames,
    parallel: 3,
    peers: [only],
  }).done
  sameFrames(t, out, await localUpscale(ctx, frames))
  t.deepEqual(
    report.peers.map((p) => [p.peerId, p.items]),
    [[only, 12]],
  )
})

test('a clip no longer than one window stays on one orchestrator though parallel 3 was asked: no lane is opened (quoted, prepaid) for nothing', async (t) => {
  const ctx = t.context
  await settled(ctx)
  const job = ctx.mesh.submit({ pipeline: 'upscale', input: clip(4), parallel: 3 })
  const selected: string[] = []
  job.events.on('peer:selected', (e) => selected.push(e.peerId))
  const { report } = await job.done
  t.is(selected.length, 1)
  t.deepEqual(
    report.peers.map((p) => p.items),
    [4],
  )
})

test('a parallel of 0, above 16 or not a whole number is refused with ERR_BAD_JOB', async (t) => {
  for (const parallel of [0, 17, 1.5]) {
    await t.throwsAsync(
      t.context.mesh.submit({ pipeline: 'upscale', input: clip(1), parallel }).done,
      { code: 'ERR_BAD_JOB', message: /parallel/ },
      String(parallel),
    )
  }
})

/**
 * Ends (with `end`) the orchestrator that delivers the job's first result, from inside its fourth:
 * frames are then in flight and most of the clip is still to come. `failed`: its peer:failed event.
 */
function endFirstDeliverer(ctx: Ctx, job: MeshJob, end: (node: OrchestratorNode) => Promise<void>) {
  let victim: string | undefined
  let fromVictim = 0
  job.events.on('result', (r) => {
    // The victim is whoever delivers first (a refused quote may move the job on before any result).
    victim ??= r.peerId
    if (r.peerId !== victim || ++fromVictim !== 4) return
    ctx.ended.add(victim)
    void end(ctx.orchs.find((o) => o.peer.peerId === victim)!)
  })
  const failed = job.events.waitFor('peer:failed', { filter: (e) => e.peerId === victim, timeoutMs: 60_000 })
  return { failed, victim: () => victim }
}

/**
 * A 48-frame job whose orchestrator is ended by `end` from inside its fourth result: frames are in
 * flight and most of the clip is still to come. The rest moves on; returns the victim's failure code.
 */
async function failoverMidJob(
  t: ExecutionContext<Ctx>,
  end: (node: OrchestratorNode) => Promise<void>,
): Promise<string> {
  const ctx = t.context
  await settled(ctx)
  const frames = clip(48)
  const job = ctx.mesh.submit({ pipeline: 'upscale', input: frames })
  const ending = endFirstDeliverer(ctx, job, end)
  const switched = job.events.waitFor('peer:switch', {
    filter: (e) => e.from === ending.victim(),
    timeoutMs: 60_000,
  })
  const { frames: out, report } = await job.done
  const failure = await ending.failed
  const victim = ending.victim()
  t.is<string | undefined, string | undefined>(failure.peerId, victim)
  t.is<string | undefined, string | undefined>((await switched).from, victim)
  sameFrames(t, out, await localUpscale(ctx, frames))
  t.is(report.items, 48)
  const victimUse = report.peers.find((p) => p.peerId === victim)!
  t.true(victimUse.items >= 4 && victimUse.items < 48)
  t.truthy(victimUse.error)
  // Each orchestrator was paid (debited) for exactly the frames it delivered.
  for (const use of report.peers)
    t.is(use.debited, (use.pricePerUnit * 64n * 64n * BigInt(use.items)) / 1_000_000n)
  t.is(
    report.peers.reduce((n, p) => n + p.items, 0),
    48,
  )
  // Prepaid credit left unused with a peer is bounded by one credit window (4 frames ahead + 4 in progress) and a ticket.
  for (const use of report.peers) {
    t.log(`${use.peerId.slice(-6)}: ${use.items} frames, debited ${use.debited}, EV sent ${use.evSent}`)
    const perFrame = (use.pricePerUnit * 64n * 64n) / 1_000_000n
    t.true(use.evSent - use.debited <= perFrame * 8n + 4_000_000n, `${use.peerId} was overpaid`)
  }
  t.log(
    `failover: ${victimUse.items} frames from the ended peer, ${report.resent} re-sent, EV sent ${report.evSent} for ${report.debited} debited`,
  )
  return failure.code
}

test('when the chosen orchestrator stops mid-job (shutting down) the rest moves on: every frame exactly once, in order', async (t) => {
  // Its peer tells its jobs why they end before it closes its connections.
  t.is(await failoverMidJob(t, (node) => node.peer.stop()), 'ERR_SHUTTING_DOWN')
})

test('when the chosen orchestrator crashes mid-job (its connections reset) the rest moves on: every frame exactly once, in order', async (t) => {
  // Nothing is told: the broadcaster sees its stream end.
  t.is(await failoverMidJob(t, killOutright), 'ERR_STREAM_ENDED')
})

test('with parallel 2, when one lane’s orchestrator crashes mid-job that lane moves on and the other keeps going: every frame once, in order, each paid for its own', async (t) => {
  const ctx = t.context
  // The failover tests above ended two of the three; two fresh ones join the survivor.
  for (const account of [5, 6]) {
    ctx.orchs.push(
      await startOrchestrator(ctx.market, account, {
        bootstrap: ctx.bootstrap.multiaddrs,
        prices: { 'esrgan-slim-x2': PRICE },
      }),
    )
  }
  await settled(ctx)
  const frames = clip(48, 64, 64)
  const job = ctx.mesh.submit({ pipeline: 'upscale', input: frames, parallel: 2 })
  const ending = endFirstDeliverer(ctx, job, killOutright)
  const { frames: out, results, report } = await job.done
  t.is((await ending.failed).code, 'ERR_STREAM_ENDED')
  const victim = ending.victim()
  sameFrames(t, out, await localUpscale(ctx, frames))
  t.deepEqual(
    results.map((r) => r.seq),
    [...frames.keys()],
  )
  const victimUse = report.peers.find((p) => p.peerId === victim)!
  t.true(victimUse.items >= 4 && victimUse.items < 48, `${victimUse.items} frames from the crashed one`)
  t.truthy(victimUse.error)
  t.true(report.peers.filter((p) => p.items > 0).length >= 2)
  t.is(
    report.peers.reduce((n, p) => n + p.items, 0),
    48,
  )
  for (const use of report.peers) {
    t.is(use.debited, (use.pricePerUnit * 128n * 128n * BigInt(use.items)) / 1_000_000n)
  }
  t.log(
    `${report.peers.map((p) => `${p.peerId.slice(-6)}: ${p.items}${p.error === undefined ? '' : ` (${p.error})`}`).join(', ')}; ${report.resent} re-sent`,
  )
})

test('with parallel 2 and verification, a lane whose orchestrator crashes mid-job moves on: every frame once, in order, checked, nobody blamed for the crash', async (t) => {
  const ctx = t.context
  // Three sellers: two lanes, and a checker for each that is not its own primary.
  ctx.orchs.push(
    await startOrchestrator(ctx.market, 8, {
      bootstrap: ctx.bootstrap.multiaddrs,
      prices: { 'esrgan-slim-x2': PRICE },
    }),
  )
  await settled(ctx)
  t.is(ctx.mesh.offers({ pipeline: 'upscale' }).filter((o) => !ctx.ended.has(o.peerId)).length, 3)
  const frames = clip(48, 64, 64)
  const job = ctx.mesh.submit({ pipeline: 'upscale', input: frames, parallel: 2, verify: { share: 0.2 } })
  const ending = endFirstDeliverer(ctx, job, killOutright)
  const { frames: out, results, report } = await job.done
  t.is((await ending.failed).code, 'ERR_STREAM_ENDED')
  sameFrames(t, out, await localUpscale(ctx, frames))
  t.deepEqual(
    results.map((r) => r.seq),
    [...frames.keys()],
  )
  const v = report.verification!
  t.true(v.checked >= 2, `${v.checked} checked`)
  t.is(v.mismatches, 0)
  t.deepEqual(v.blamed, [])
  t.is(v.unverified, 0)
  t.log(
    `${report.peers.map((p) => `${p.peerId.slice(-6)}: ${p.items}${p.error === undefined ? '' : ` (${p.error})`}`).join(', ')}; ${v.checked} checked on ${v.checkers.map((c) => c.slice(-6)).join(', ')}; ${report.resent} re-sent`,
  )
})

test('a seller that joins while a job with parallel 2 runs on one orchestrator gets a lane of it: every frame once, in order', async (t) => {
  const ctx = t.context
  await settled(ctx)
  const running = ctx.orchs.find((o) => !ctx.ended.has(o.peer.peerId))!
  const newcomerKey = await generateKeyPair('Ed25519')
  const newcomer = peerIdFromPrivateKey(newcomerKey).toString()
  const frames = clip(96, 64, 64)
  // Only these two may run it, and the newcomer does not exist yet: the job starts on one lane.
  const job = ctx.mesh.submit({
    pipeline: 'upscale',
    input: frames,
    parallel: 2,
    peers: [running.peer.peerId, newcomer],
  })
  await job.events.waitFor('result', { timeoutMs: 30_000 })
  ctx.orchs.push(
    await startOrchestrator(ctx.market, 7, {
      bootstrap: ctx.bootstrap.multiaddrs,
      prices: { 'esrgan-slim-x2': PRICE },
      privateKey: newcomerKey,
    }),
  )
  const { frames: out, results, report } = await job.done
  sameFrames(t, out, await localUpscale(ctx, frames))
  t.deepEqual(
    results.map((r) => r.seq),
    [...frames.keys()],
  )
  const items = new Map(report.peers.map((p) => [p.peerId, p.items]))
  t.true((items.get(newcomer) ?? 0) > 0, `the newcomer ran ${items.get(newcomer) ?? 0} frames`)
  t.true((items.get(running.peer.peerId) ?? 0) > 0)
  t.log(
    `${items.get(running.peer.peerId)} frames on the first seller, ${items.get(newcomer)} on the newcomer`,
  )
})

test('an input that fails while lanes share it fails the job with the input’s error, whichever lane (or lane about to start) read it', async (t) => {
  const ctx = t.context
  await settled(ctx)
  // Four frames: a window's worth, so the read that fails may be the one for the lane about to start.
  const frames = clip(4, 64, 64)
  async function* failing() {
    yield* frames
    await new Promise((resolve) => setTimeout(resolve, 100))
    throw new Error('the camera was unplugged')
  }
  const err = await t.throwsAsync(
    ctx.mesh.submit({ pipeline: 'upscale', input: failing(), parallel: 2, collect: true }).done,
  )
  t.is((err as { code?: string }).code, 'ERR_INPUT_FAILED')
  t.regex(err!.message, /the camera was unplugged/)
})

test('verified lanes waiting behind a slow lane’s results held for a check start that check rather than wait for ever: every frame once, in order', async (t) => {
  const ctx = t.context
  // One seller far slower than the rest: its lane holds the front results while the fast lane
  // fills the cap on undelivered items, and then gets no item that would bring a check.
  const slow = await startOrchestrator(ctx.market, 9, {
    bootstrap: ctx.bootstrap.multiaddrs,
    prices: { 'esrgan-slim-x2': PRICE },
    engine: withUpscale(ctx.market.engine, async (id, frame, options) => {
      await new Promise((resolve) => setTimeout(resolve, 150))
      return ctx.market.engine.upscale(id, frame, options)
    }),
  })
  ctx.orchs.push(slow)
  await settled(ctx)
  const fast = ctx.orchs.find((o) => o !== slow && !ctx.ended.has(o.peer.peerId))!.peer.peerId
  const frames = clip(64, 64, 64)
  const job = ctx.mesh.submit({
    pipeline: 'upscale',
    input: frames,
    // Two sellers, two lanes: each runs a lane and checks the other's.
    peers: [slow.peer.peerId, fast],
    parallel: 2,
    // Checks only when 12 results of one orchestrator wait unchecked (the draw never fires): more
    // than a lane has in flight, so the slow lane cannot get there without new items.
    verify: { share: 0.000001, maxUnchecked: 12 },
  })
  const peers = new Set<string>()
  job.events.on('peer:selected', (e) => peers.add(e.peerId))
  const outcome = await Promise.race([
    job.done,
    new Promise<'stuck'>((resolve) => setTimeout(() => resolve('stuck'), 60_000).unref()),
  ])
  if (outcome === 'stuck') job.cancel()
  t.not(outcome, 'stuck')
  if (outcome === 'stuck') return
  sameFrames(t, outcome.frames, await localUpscale(ctx, frames))
  t.true(peers.has(slow.peer.peerId), 'the slow seller ran a lane')
  t.log(
    `${outcome.report.peers.map((p) => `${p.peerId.slice(-6)}: ${p.items}`).join(', ')}; ${outcome.report.verification!.checked} checked`,
  )
})
