/**
 * The buyer's everyday question, "who should take this next?", answered from live state: the
 * order book's offers, PeerStats' health, and the pure selection function. A job stage calls the
 * returned function again after each failure, passing who to leave out.
 */
import type { Offer, OfferQuery } from './offer.js'
import type { OrderBook } from './order-book.js'
import type { PeerStats } from './peer-stats.js'
import { type SelectionOptions, selectOffer } from './selection.js'

export interface ChooserComponents {
  orderBook: Pick<OrderBook, 'query'>
  stats: Pick<PeerStats, 'health'>
}

/** Returns a function that picks an offer for `query`, never one in `exclude`; undefined when none is left. */
export function offerChooser(
  components: ChooserComponents,
  query: OfferQuery,
  options: Omit<SelectionOptions, 'exclude'> = {},
): (exclude?: ReadonlySet<string>) => Offer | undefined {
  return (exclude) =>
    selectOffer(components.orderBook.query(query), query, (peerId) => components.stats.health(peerId), {
      ...options,
      ...(exclude === undefined ? {} : { exclude }),
    })?.offer
}
