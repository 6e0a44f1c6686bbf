import { formatEther, parseUnits } from 'ethers'
import { builtinModelsDir } from '../../inference/builtins.js'
import { createModelRegistry, type ModelRegistry } from '../../inference/registry.js'
import type { Logger } from '../../logger.js'
import { defaultUnitFor } from '../../market/advert.js'
import { MICRO_UNITS_PER_UNIT } from '../../market/units.js'
import { type OrchestratorNode, startOrchestratorNode } from '../../node/orchestrator-node.js'
import type { CliCommand, CliContext } from '../command.js'
import { ConfigError, type ConfigSpec, configHelp, loadConfig } from '../config.js'
import { executionProvidersOf, INFERENCE_CONFIG, modelsDirOf } from '../inference.js'
import { NODE_CONFIG, peerOptionsOf, prepareNode } from '../node-config.js'
import { registerOrchestratorMetrics } from '../node-metrics.js'
import { commandLogger, startMetrics, untilAborted, withTeardown } from '../runtime.js'

const spec = {
  ...NODE_CONFIG,
  price: {
    kind: 'strings',
    help: 'a model for sale as <model-id>=<wei per unit> (repeatable; 2gwei and 0.001eth work too)',
  },
  capacity: { kind: 'int', help: 'jobs served at once', default: 4, min: 1, max: 10_000 },
  modelsDir: INFERENCE_CONFIG.modelsDir,
  budgetMb: INFERENCE_CONFIG.budgetMb,
  // One thread per run by default: the node serves several jobs at once, each run on its own core.
  threads: { ...INFERENCE_CONFIG.threads, help: 'onnxruntime threads one run may use', default: 1 },
  executionProvider: INFERENCE_CONFIG.executionProvider,
  inferenceThread: {
    kind: 'string',
    help: 'where models run: auto (a worker thread for all but the quickest), worker, or main (the event loop; no extra memory)',
    default: 'auto',
    choices: ['auto', 'worker', 'main'],
  },
  pin: { kind: 'strings', help: 'model id to load at start and keep warm (repeatable)' },
  ticketWork: {
    kind: 'string',
    help: 'work one ticket pays for, in pricing units (output megapixels, frames or input megapixels)',
    default: '1',
  },
} as const satisfies ConfigSpec

export const orchestratorCommand: CliCommand = {
  name: 'orchestrator',
  summary: 'sell inference on the mesh: advertise priced models, serve jobs, redeem tickets',
  help: [
    'usage: framemesh orchestrator --bootstrap <multiaddr> --rpc <url> --broker <address>',
    '                              --price <model>=<wei per unit> [--price ...] [options]',
    '',
    'The operator daemon. It joins the mesh through the bootstrap node(s), advertises the priced',
    'models with its free capacity, serves quotes and jobs, takes ticket payments into its wallet and',
    'redeems the winning tickets on the chain (queued in <data-dir>/redemptions.sqlite, so a restart',
    'loses none). Runs until Ctrl-C (SIGINT) or SIGTERM, then finishes cleanly.',
    '',
    'Prices are wei per unit: per output megapixel for upscale models, per frame for interpolate,',
    'per input megapixel for OCR. `framemesh models list` shows the model ids.',
    '',
    'The payment wallet is the keystore <data-dir>/wallet.json (`framemesh wallet new`), unlocked',
    'with FRAMEMESH_WALLET_PASSWORD or --password-file; --wallet-key takes a raw key on dev chains.',
    'To be reachable from other machines listen on a public interface (--listen',
    '/ip4/0.0.0.0/tcp/4010) and, behind NAT, --announce the public address.',
    '',
    configHelp(spec),
  ].join('\n'),
  async run(ctx) {
    const loaded = await loadConfig(spec, ctx)
    const { config } = loaded
    const prices = parsePrices(config.price ?? [])
    const unitsPerTicket = parseTicketWork(config.ticketWork)
    const modelsDir = modelsDirOf(config)
    const registry = createModelRegistry({}, { modelsDir, builtinDirs: [builtinModelsDir()] })
    const logger = commandLogger(ctx, config, 'orchestrator')
    // The node starts them before it reaches the chain or the mesh (startOrchestratorNode).
    const executionProviders = executionProvidersOf(config)
    const { chain, walletKey, lock } = await prepareNode('orchestrator', ctx, loaded, async () => {
      await registry.scan()
      checkModels(registry, Object.keys(prices), 'price')
      checkModels(registry, config.pin ?? [], 'pin')
    })

    return withTeardown(logger, async (teardown) => {
      teardown.add(() => lock.release())
      const metrics = await startMetrics(teardown, logger, config)
      const started = performance.now()
      const node = await startOrchestratorNode(
        { logger },
        {
          dataDir: config.dataDir,
          peer: peerOptionsOf(config),
          chain,
          walletKey,
          modelsDir,
          prices,
          capacity: config.capacity,
          budgetBytes: config.budgetMb * 1024 * 1024,
          intraOpThreads: config.threads,
          inferenceThread: config.inferenceThread as 'auto' | 'worker' | 'main',
          ...(executionProviders === undefined ? {} : { executionProviders }),
          ...(config.pin === undefined ? {} : { pin: config.pin }),
          recipient: { unitsPerTicket },
        },
      ).catch((err: unknown) => {
        throw withBudgetFlag(err)
      })
      teardown.add(() => node.stop())
      const readyMs = performance.now() - started
      // Redeeming a winning ticket is a transaction: a wallet with no ETH takes tickets but cannot cash them.
      const balance = await node.chain.broker.getBalance(node.address, { signal: ctx.signal })
      const inference = describeInference(executionProviders, config.threads, config.inferenceThread)
      printNode(ctx, node, registry, prices, chain.chainId ?? 0, readyMs, balance, inference)
      if (balance === 0n) {
        logger.warn(
          `the wallet ${node.address} holds no ETH, so it cannot pay the gas to redeem winning tickets; they wait in the queue until you send it some`,
        )
      }
      if (config.announce === undefined && config.listen.every((a) => a.startsWith('/ip4/127.'))) {
        logger.warn(
          'listening on loopback only: broadcasters on other machines cannot dial this orchestrator; pass --listen /ip4/0.0.0.0/tcp/4010 (and --announce <public multiaddr> behind NAT)',
        )
      }
      const offs = [
        logJobs(node, logger),
        metrics === undefined ? () => {} : registerOrchestratorMetrics(metrics.registry, node),
      ]
      await untilAborted(ctx.signal)
      for (const off of offs) off()
      logger.info('stopping: ending running jobs, closing the redemption queue and the peer')
      return 0
    })
  },
}

/** `<model>=<amount>` pairs into wei per unit; plain numbers are wei. */
export function parsePrices(entries: string[]): Record<string, bigint> {
  if (entries.length === 0) {
    throw new ConfigError(
      'ERR_CONFIG_INVALID',
      "'price' is empty, so there is nothing to sell: pass --price <model-id>=<wei per unit>, e.g. --price esrgan-slim-x2=2000000000000 (`framemesh models list` shows the ids)",
      { details: { key: 'price' } },
    )
  }
  const prices: Record<string, bigint> = {}
  for (const entry of entries) {
    const m = /^([^=\s]+)=\s*(\d+(?:\.\d+)?)\s*(wei|gwei|eth)?\s*$/i.exec(entry)
    const bad = (why: string) =>
      new ConfigError('ERR_CONFIG_INVALID', `'price' ${JSON.stringify(entry)}: ${why}`, {
        details: { key: 'price' },
      })
    if (m === null) throw bad('write it as <model-id>=<wei per unit>, e.g. esrgan-slim-x2=2000000000000')
    const unit = (m[3] ?? 'wei').toLowerCase()
    let wei: bigint
    try {
      wei = parseUnits(m[2]!, unit === 'wei' ? 0 : unit === 'gwei' ? 9 : 18)
    } catch {
      throw bad(`${m[2]} has more decimals than ${unit} allows`)
    }
    if (wei <= 0n) throw bad('a price must be more than 0 wei')
    if (prices[m[1]!] !== undefined) throw bad(`${m[1]} is priced twice`)
    prices[m[1]!] = wei
  }
  return prices
}

/**
 * Pricing units per ticket into the market's micro-units. One unit a ticket keeps a 4K frame's
 * upscale to a few dozen tickets, well under the per-params cap a sender may send.
 */
function parseTicketWork(text: string): bigint {
  // The market counts work in millionths of a pricing unit.
  const decimals = MICRO_UNITS_PER_UNIT.toString().length - 1
  let micro = 0n
  try {
    micro = /^\d+(\.\d+)?$/.test(text.trim()) ? parseUnits(text.trim(), decimals) : 0n
  } catch {
    // More than six decimals: refused below.
  }
  if (micro <= 0n) {
    throw new ConfigError(
      'ERR_CONFIG_INVALID',
      `'ticketWork' must be a positive number of pricing units with at most 6 decimals, e.g. 1 or 0.25; got ${JSON.stringify(text)}`,
      { details: { key: 'ticketWork' } },
    )
  }
  return micro
}

/** Every id must name a usable model before anything starts. */
function checkModels(registry: ModelRegistry, ids: string[], key: string): void {
  for (const id of ids) {
    if (!registry.has(id)) {
      throw new ConfigError(
        'ERR_CONFIG_INVALID',
        `'${key}' names unknown model '${id}'; known models: ${registry.ids().join(', ')} (add your own with \`framemesh models add\`)`,
        { details: { key, model: id } },
      )
    }
    const error = registry.get(id).error
    if (error !== undefined) {
      throw new ConfigError(
        'ERR_CONFIG_INVALID',
        `'${key}' names model '${id}', which fails its checks (${error.message}); fix it or run \`framemesh models verify ${id}\``,
        { details: { key, model: id }, cause: error },
      )
    }
  }
}

function printNode(
  ctx: CliContext,
  node: OrchestratorNode,
  registry: ModelRegistry,
  prices: Record<string, bigint>,
  chainId: number,
  startMs: number,
  balance: bigint,
  inference: string,
): void {
  ctx.stdout(`orchestrator ${node.peer.peerId} ready in ${Math.round(startMs)} ms`)
  ctx.stdout(`payment address: ${node.address}`)
  ctx.stdout(`balance: ${formatEther(balance)} ETH (pays the gas to redeem winning tickets)`)
  ctx.stdout(`chain: ${chainId}, broker ${node.chain.broker.contractAddress}`)
  ctx.stdout(`inference: ${inference}`)
  ctx.stdout('listening on:')
  for (const addr of node.peer.multiaddrs) ctx.stdout(`  ${addr}`)
  ctx.stdout(`selling (${node.orchestrator.capacity().total} jobs at once):`)
  const rows = Object.entries(prices).map(([id, wei]) => {
    const pipeline = registry.get(id).manifest.pipeline
    return [id, pipeline, `${wei} wei per ${defaultUnitFor(pipeline)}`]
  })
  const widths = [0, 1].map((i) => Math.max(...rows.map((r) => r[i]!.length)))
  for (const [id, pipeline, price] of rows) {
    ctx.stdout(`  ${id!.padEnd(widths[0]!)}  ${pipeline!.padEnd(widths[1]!)}  ${price}`)
  }
}

/** A model too large for the budget, told in this command's terms: the flag and the value it needs. */
function withBudgetFlag(err: unknown): unknown {
  const { code, details, message } = err as {
    code?: string
    details?: { bytes?: number; modelId?: string }
    message: string
  }
  if (code !== 'ERR_BUDGET_TOO_SMALL' || details?.bytes === undefined) return err
  const mb = Math.ceil(details.bytes / (1024 * 1024))
  return new ConfigError(
    'ERR_BUDGET_TOO_SMALL',
    `${message} (here: --budget-mb ${mb} or more, or stop selling "${details.modelId}")`,
    { details: { key: 'budgetMb', ...details }, cause: err },
  )
}

/** e.g. "cuda (then cpu), 1 thread per run, models on worker threads (all but the quickest)". */
function describeInference(providers: string[] | undefined, threads: number, placement: string): string {
  const used = providers ?? ['cpu']
  const fallback = used.includes('cpu') ? '' : ' (then cpu)'
  const where = {
    auto: 'worker threads (all but the quickest)',
    worker: 'worker threads',
    main: 'the main thread',
  }[placement as 'auto' | 'worker' | 'main']
  return `${used.join(', ')}${fallback}, ${threads} thread${threads === 1 ? '' : 's'} per run, models on ${where}`
}

function logJobs(node: OrchestratorNode, logger: Logger): () => void {
  const events = node.orchestrator.events
  const offs = [
    events.on('job:started', (e) => logger.info('job started', { job: e.jobId, peer: e.peerId })),
    events.on('job:ended', (e) =>
      logger.info('job ended', {
        job: e.jobId,
        peer: e.peerId,
        items: e.items,
        earnedWei: e.debited.toString(),
        ...(e.error === undefined ? {} : { error: e.error.message, code: e.error.code }),
      }),
    ),
    events.on('job:refused', (e) => logger.info('job refused', { peer: e.peerId, code: e.code })),
  ]
  return () => {
    for (const off of offs) off()
  }
}
