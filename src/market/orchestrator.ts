/**
 * `createOrchestrator`: an orchestrator node's market side on a running peer. It serves both
 * market protocols from one table (quotes and jobs), advertises the engine's models with the
 * operator's prices and its live capacity, and runs the redemption of winning tickets that the
 * TicketRecipient queues while it takes payments.
 */
import type { PrivateKey } from '@libp2p/interface'
import type { InferenceEngine } from '../inference/engine.js'
import { type Logger, silentLogger } from '../logger.js'
import { TypedEmitter } from '../peer/events.js'
import type { HandleOptions, Peer, ProtocolHandler } from '../peer/peer.js'
import { PROTOCOLS } from '../peer/protocols.js'
import { handleRequests } from '../peer/request.js'
import type { TicketRecipient } from '../tickets/recipient.js'
import type { PaymentSigner } from './advert.js'
import { watchAdvertSubscribers } from './advert-gossip.js'
import { Advertiser, type AdvertiserOptions, type ModelPrice } from './advertiser.js'
import {
  createJobHandler,
  type JobHandlerEvents,
  type JobHandlerOptions,
  type JobSlots,
} from './job-handler.js'
import type { WorkEngine } from './job-work.js'
import { JOB_ERROR_CODES, JobError } from './market-errors.js'
import { withOcr } from './ocr-work.js'
import { FRAME_FORMAT_RGB24 } from './quote.js'
import { QuoteBook, type QuoteBookOptions } from './quote-book.js'
import { QUOTE_PROTOCOL, quoteHandler } from './quote-protocol.js'

/** Something that redeems queued winning tickets in the background (the tickets area's service). */
export interface RedemptionService {
  start(): void | Promise<void>
  stop(): void | Promise<void>
}

export interface OrchestratorComponents {
  /** With `dialProtocol`, it can also forward its outputs to a workflow's next stage. */
  peer: Pick<Peer, 'peerId' | 'handle' | 'unhandle' | 'gossip' | 'libp2p'> &
    Partial<Pick<Peer, 'dialProtocol'>>
  /** The peer's libp2p key: signs adverts and quotes. */
  privateKey: PrivateKey
  /** With `run`, the orchestrator also serves OCR (pipeline 'ocr', offered under each priced detector id). */
  engine: WorkEngine & Partial<Pick<InferenceEngine, 'on' | 'run'>>
  recipient: TicketRecipient
  /** The Ethereum key tickets pay; it signs the advert's payment binding. Must be the recipient's address. */
  wallet: PaymentSigner
  redemption?: RedemptionService
  logger?: Logger
  now?: () => number
}

export interface OrchestratorOptions
  extends Omit<QuoteBookOptions, 'prices'>,
    JobHandlerOptions,
    Partial<Pick<AdvertiserOptions, 'ttlMs' | 'heartbeatMs' | 'debounceMs'>> {
  /** Wei per unit, by model id; only priced models are advertised and quoted. */
  prices: Record<string, ModelPrice | bigint>
  /** Jobs at once (default 4). */
  capacity?: number
  /** Stream limits per connection for each protocol (libp2p's own guard before ours). */
  maxInboundStreams?: number
  /** Skip gossip adverts (a private orchestrator reached by direct dial). */
  advertise?: boolean
  /** The recogniser paired with every priced OCR detector (default ppocr-v4-rec). */
  ocrRecognizer?: string
}

export interface Orchestrator {
  readonly events: TypedEmitter<JobHandlerEvents>
  readonly advertiser?: Advertiser
  readonly quotes: QuoteBook
  /** Jobs running now. */
  activeJobs(): number
  capacity(): { free: number; total: number }
  stop(): Promise<void>
}

interface HandlerEntry {
  protocol: string
  register: () => Promise<void>
}

export async function createOrchestrator(
  components: OrchestratorComponents,
  options: OrchestratorOptions,
): Promise<Orchestrator> {
  const { peer, recipient } = components
  const engine = withOcr(components.engine, { recognizerId: options.ocrRecognizer })
  const logger = (components.logger ?? silentLogger).child('orchestrator')
  const total = Math.max(1, options.capacity ?? 4)
  const prices: Record<string, ModelPrice> = Object.fromEntries(
    Object.entries(options.prices).map(([id, p]) => [id, typeof p === 'bigint' ? { pricePerUnit: p } : p]),
  )
  let used = 0
  let advertiser: Advertiser | undefined
  const slots: JobSlots = {
    tryAcquire() {
      if (used >= total) return false
      used++
      advertiser?.changed()
      return true
    },
    release() {
      used = Math.max(0, used - 1)
      advertiser?.changed()
    },
  }
  const quotes = new QuoteBook(
    {
      peerId: peer.peerId,
      privateKey: components.privateKey,
      recipient,
      engine,
      hasFreeSlot: () => used < total,
      ...(components.now === undefined ? {} : { now: components.now }),
    },
    { ...options, prices },
  )
  const events = new TypedEmitter<JobHandlerEvents>()
  const dialer = peer.dialProtocol === undefined ? undefined : { dialProtocol: peer.dialProtocol.bind(peer) }
  const jobs = createJobHandler(
    { quotes, recipient, engine, slots, logger, events, ...(dialer === undefined ? {} : { peer: dialer }) },
    options,
  )

  const handleOptions: HandleOptions = {
    maxInboundStreams: options.maxInboundStreams ?? 32,
    maxOutboundStreams: 1,
  }
  // Every market protocol this node serves, registered (and removed) together.
  const table: HandlerEntry[] = [
    {
      protocol: PROTOCOLS.quote,
      register: () => handleRequests({ peer }, QUOTE_PROTOCOL, quoteHandler(quotes), handleOptions),
    },
    {
      protocol: PROTOCOLS.job,
      register: () => peer.handle(PROTOCOLS.job, jobs.handler as ProtocolHandler, handleOptions),
    },
  ]
  for (const entry of table) await entry.register()

  const stops: Array<() => void | Promise<void>> = []
  if (options.advertise ?? true) {
    advertiser = new Advertiser(
      {
        privateKey: components.privateKey,
        peerId: peer.peerId,
        payment: components.wallet,
        publish: (topic, data) => peer.gossip.publish(topic, data),
        models: () => engine.models(),
        capacity: () => ({ free: total - used, total }),
        logger: logger.child('advertiser'),
        ...(components.now === undefined ? {} : { now: components.now }),
      },
      {
        prices,
        frameFormats: [FRAME_FORMAT_RGB24],
        maxFrameWidth: options.maxFrameWidth ?? 0,
        maxFrameHeight: options.maxFrameHeight ?? 0,
        ...(options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs }),
        ...(options.heartbeatMs === undefined ? {} : { heartbeatMs: options.heartbeatMs }),
        ...(options.debounceMs === undefined ? {} : { debounceMs: options.debounceMs }),
      },
    )
    const adv = advertiser
    stops.push(watchAdvertSubscribers(peer, () => adv.changed()))
    const offModels = engine.on?.('model:state', () => adv.changed())
    if (offModels !== undefined) stops.push(offModels)
    stops.push(() => adv.stop())
    await advertiser.start()
  }
  if (components.redemption !== undefined) {
    await components.redemption.start()
    stops.push(() => components.redemption!.stop())
  }
  logger.info('orchestrator serving', { models: Object.keys(prices), capacity: total })

  let stopped = false
  return {
    events,
    ...(advertiser === undefined ? {} : { advertiser }),
    quotes,
    activeJobs: () => jobs.activeJobs(),
    capacity: () => ({ free: total - used, total }),
    async stop() {
      if (stopped) return
      stopped = true
      for (const entry of table) await peer.unhandle(entry.protocol).catch(() => {})
      // Running jobs are told, so their broadcasters fail over at once instead of waiting for a stall.
      jobs.closeAll(
        new JobError(
          JOB_ERROR_CODES.shuttingDown,
          'the orchestrator is shutting down; send the rest elsewhere',
        ),
      )
      // Then buyers drop our offers rather than pick us until the advert expires.
      await advertiser?.withdraw()
      for (const stop of stops.reverse()) await stop()
    },
  }
}
