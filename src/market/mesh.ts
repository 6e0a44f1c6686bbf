/**
 * `createMesh`: what an app embeds to buy work on the mesh. It listens to adverts (into an order
 * book), picks orchestrators (selection + what it has learned of each peer), negotiates, streams
 * frames, pays with tickets and fails over. `mesh.submit` returns a job whose `events` are both a
 * typed emitter and an async iterable, whose `results` stream the outputs in input order at the
 * reader's pace, and whose `done` holds the report (and every output, when collected).
 */
import { randomBytes } from 'node:crypto'
import { AbortedError } from '../errors.js'
import { silentLogger } from '../logger.js'
import { AdvertFeed } from './advert-gossip.js'
import { AdvertValidator } from './advert-validator.js'
import { JobEvents } from './job-events.js'
import type { MeshContext } from './mesh-context.js'
import { type ResultSink, runMeshJob } from './mesh-route.js'
import type {
  JobResult,
  Mesh,
  MeshComponents,
  MeshJob,
  MeshOptions,
  MeshResult,
  SubmitOptions,
} from './mesh-types.js'
import type { OfferQuery } from './offer.js'
import { OrderBook } from './order-book.js'
import { PeerStats } from './peer-stats.js'
import { Reachability } from './reachability.js'
import { CollectedResults, ResultQueue } from './result-queue.js'
import { selectOffer } from './selection.js'
import { SpareQuotes } from './spare-quotes.js'

export { JobEvents } from './job-events.js'
export type {
  JobReport,
  JobResult,
  Mesh,
  MeshComponents,
  MeshJob,
  MeshJobEvent,
  MeshJobEvents,
  MeshOptions,
  MeshResult,
  StageSpec,
  SubmitOptions,
} from './mesh-types.js'

export function createMesh(components: MeshComponents, options: MeshOptions = {}): Mesh {
  const logger = (components.logger ?? silentLogger).child('mesh')
  const orderBook = new OrderBook({ logger }, options.orderBook)
  const stats = new PeerStats({}, options.peerStats)
  const reach = new Reachability(
    { ...(components.peer.libp2p === undefined ? {} : { libp2p: components.peer.libp2p }), logger },
    options.reachWaitMs === undefined ? {} : { waitMs: options.reachWaitMs },
  )
  const feed = new AdvertFeed({
    gossip: components.peer.gossip,
    validator: new AdvertValidator({ logger }, options.advertValidator),
    orderBook,
    logger,
  })
  feed.start()
  orderBook.start()
  const running = new Set<AbortController>()
  const spareQuotes =
    options.spareQuotes === false ? undefined : new SpareQuotes({ peer: components.peer, logger })
  /** The book's offers for `query` among `allowed` (all when undefined). */
  const offersFor = (query: OfferQuery, allowed: ReadonlySet<string> | undefined) =>
    orderBook.query(query).filter((o) => allowed === undefined || allowed.has(o.peerId))
  const context: MeshContext = {
    peer: components.peer,
    sender: components.sender,
    stats,
    logger,
    options,
    ...(spareQuotes === undefined ? {} : { spareQuotes }),
    draw: (query, exclude, allowed, signal) =>
      reach.pick(
        () => offersFor(query, allowed),
        (list) => selectOffer(list, query, (p) => stats.health(p), { ...options.selection, exclude })?.offer,
        signal,
      ),
    sellers: (query, allowed) =>
      new Set(
        offersFor(query, allowed)
          .filter((o) => !stats.isSuspended(o.peerId))
          .map((o) => o.peerId),
      ).size,
  }

  const submit = (submitted: SubmitOptions): MeshJob => {
    const id = randomBytes(8).toString('hex')
    const events = new JobEvents()
    const controller = new AbortController()
    running.add(controller)
    const signal =
      submitted.signal === undefined
        ? controller.signal
        : AbortSignal.any([controller.signal, submitted.signal])
    const collect = submitted.collect ?? Array.isArray(submitted.input)
    const sink: ResultSink = collect
      ? new CollectedResults<MeshResult>()
      : new ResultQueue<MeshResult>(submitted.resultBuffer ?? 8)
    const done = runMeshJob(context, { id, submitted, events, sink, signal }).then(
      (report): JobResult => {
        sink.close()
        const results = sink instanceof CollectedResults ? sink.items : []
        return { frames: results.map((r) => r.frame), results, report }
      },
      (err: unknown) => {
        sink.fail(err as Error)
        throw err
      },
    )
    void done
      .finally(() => {
        running.delete(controller)
        events.close()
      })
      .catch(() => {})
    return {
      id,
      events,
      results: sink,
      done,
      cancel: () => controller.abort(new AbortedError('the job was cancelled')),
    }
  }

  return {
    orderBook,
    stats,
    offers: (query = {}) => orderBook.query(query),
    submit,
    async stop() {
      for (const c of running) c.abort(new AbortedError('the mesh stopped'))
      spareQuotes?.clear()
      feed.stop()
      orderBook.stop()
    },
  }
}
