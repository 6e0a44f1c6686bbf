/**
 * `npm run bench:mesh-workflow`: what workflows and verification cost. A real mesh on loopback
 * (bootstrap node, three orchestrators, quotes, ticket payments on a dev chain), all in this
 * process on one shared engine. Measured in the same run, frames/s:
 *  - a two-stage workflow (esrgan-slim-x2, then blend) routed directly from orchestrator to
 *    orchestrator vs routed through the broadcaster (baseline); ratio = direct / broadcaster;
 *  - an upscale job with verification of 10% of the frames vs the same job unverified (baseline);
 *    ratio = verified / unverified;
 *  - the direct two-stage workflow verified (10%: confirmed feeds, checks through both stages) vs
 *    the same direct workflow unverified (baseline); ratio = verified / unverified;
 *  - the same direct workflow with confirmed feeds alone (no checks) vs without; ratio =
 *    confirmed / not.
 * Each pair alternates the two variants over 3 rounds; medians.
 */
import {
  clip,
  fundedSender,
  PRICE,
  startBootstrap,
  startMarket,
  startMesh,
  startOrchestrator,
  startPeer,
} from '../test/market/mesh-fixtures.js'

const MODEL = 'esrgan-slim-x2'
const ROUNDS = 3

const market = await startMarket()
try {
  const sender = await fundedSender(market, 1)
  await market.engine.warm(MODEL)
  await market.engine.warm('blend')
  const bootstrap = await startBootstrap(market)
  for (const account of [2, 3, 4]) {
    await startOrchestrator(market, account, {
      bootstrap: bootstrap.multiaddrs,
      prices: { [MODEL]: PRICE, blend: 4_000_000n },
      capacity: 8,
    })
  }
  const buyer = await startPeer(market, { bootstrap: bootstrap.multiaddrs })
  const mesh = await startMesh(market, buyer, sender, { stallTimeoutMs: 10_000 })
  const start = Date.now()
  while (mesh.offers().length < 6 || buyer.libp2p.getConnections().length < 4) {
    if (Date.now() - start > 30_000) throw new Error('the orchestrators did not show up within 30 s')
    await new Promise((r) => setTimeout(r, 20))
  }

  const fps = async (run: () => Promise<number>): Promise<number> => {
    const t0 = performance.now()
    const frames = await run()
    return (frames * 1000) / (performance.now() - t0)
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

  const workflow =
    (route: 'direct' | 'broadcaster', size: number, count: number, verify = false, confirmFeeds = false) =>
    async () => {
      const { report } = await mesh.submit({
        stages: [
          { pipeline: 'upscale', model: MODEL },
          { pipeline: 'interpolate', model: 'blend' },
        ],
        input: clip(count, size, size),
        route,
        ...(verify ? { verify: { share: 0.1 } } : {}),
        ...(confirmFeeds ? { confirmFeeds } : {}),
      }).done
      if (route === 'direct' && report.route !== 'direct') {
        throw new Error(`the direct run failed over: ${report.peers.map((p) => p.error).join(', ')}`)
      }
      return report.items
    }
  const upscale = (verify: boolean, count: number) => async () => {
    const { report } = await mesh.submit({
      pipeline: 'upscale',
      model: MODEL,
      input: clip(count),
      ...(verify ? { verify: { share: 0.1 } } : {}),
    }).done
    return report.items
  }

  const rows: Array<[string, number, number]> = []
  for (const [size, count] of [
    [32, 60],
    [64, 30],
  ] as const) {
    const direct: number[] = []
    const chained: number[] = []
    for (let r = 0; r < ROUNDS; r++) {
      chained.push(await fps(workflow('broadcaster', size, count)))
      direct.push(await fps(workflow('direct', size, count)))
    }
    rows.push([`workflow x2+blend ${count}x${size}²`, median(chained), median(direct)])
  }
  const plain: number[] = []
  const verified: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    plain.push(await fps(upscale(false, 60)))
    verified.push(await fps(upscale(true, 60)))
  }
  rows.push(['upscale 60x32², verify 10%', median(plain), median(verified)])
  const directPlain: number[] = []
  const directVerified: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    directPlain.push(await fps(workflow('direct', 32, 60)))
    directVerified.push(await fps(workflow('direct', 32, 60, true)))
  }
  rows.push(['direct x2+blend 60x32², verify 10%', median(directPlain), median(directVerified)])
  const unconfirmed: number[] = []
  const confirmed: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    unconfirmed.push(await fps(workflow('direct', 32, 60)))
    confirmed.push(await fps(workflow('direct', 32, 60, false, true)))
  }
  rows.push(['direct x2+blend 60x32², confirmed feeds', median(unconfirmed), median(confirmed)])

  console.log('frames/s (median of 3); baseline = through the broadcaster / unverified')
  console.log(`${''.padEnd(36)} ${'baseline'.padStart(9)} ${'variant'.padStart(9)}  ratio`)
  for (const [what, base, variant] of rows) {
    console.log(
      `${what.padEnd(36)} ${base.toFixed(1).padStart(9)} ${variant.toFixed(1).padStart(9)}  ${(variant / base).toFixed(2)}`,
    )
  }
} finally {
  await market.stop()
}
