// The tickets area's public face: ticket core, sender (broadcaster) and recipient (orchestrator).

// Settlement: the TicketBroker client, chain clock, durable redemption, wallet and dev chain.
export {
  type BatchRedeemResult,
  BrokerError,
  type BrokerErrorCode,
  isBrokerError,
  type OnChainSenderInfo,
  type RedeemResult,
  type RoundInfo,
  TicketBrokerClient,
  type TicketBrokerClientComponents,
  type TicketBrokerClientOptions,
  type TxResult,
} from './broker.js'
export { ChainWatcher, type ChainWatcherComponents, type ChainWatcherOptions } from './broker-watcher.js'
export {
  type Address,
  bytesToHex,
  type Hex,
  hexToBytes,
  MAX_UINT256,
  toAddress,
  ZERO_ADDRESS,
  ZERO_BYTES32,
} from './bytes.js'
export type { ChainClock, GasPriceSource, RedemptionQueue, SenderInfo, SenderInfoSource } from './chain.js'
export { type DevChain, type DevChainOptions, startDevChain } from './devchain.js'
export { isTicketError, TicketError, type TicketErrorCode } from './errors.js'
export { decryptSenderKey } from './keystore.js'
export { MemoryRedemptionQueue } from './memory-queue.js'
export {
  costOf,
  deriveRecipientRand,
  faceValueFor,
  issueTicketParams,
  normalizeTicketParams,
} from './params.js'
export {
  type BatchResult,
  TicketRecipient,
  type TicketRecipientComponents,
  type TicketRecipientOptions,
  type TicketRejection,
} from './recipient.js'
export {
  type RedemptionEvent,
  RedemptionService as TicketRedemptionService,
  type RedemptionServiceComponents,
  type RedemptionServiceOptions,
  type RedemptionTotals,
  redemptionDbPath,
} from './redemption.js'
export { createRedemptionMetrics, type RedemptionMetrics } from './redemption-metrics.js'
export { RoundKeeper, type RoundKeeperComponents, type RoundKeeperOptions } from './round-keeper.js'
export { defaultBackend as defaultSecp256k1Backend, type Secp256k1Backend } from './secp256k1.js'
export {
  TicketSender,
  type TicketSenderComponents,
  type TicketSenderOptions,
  ticketsNeeded,
} from './sender.js'
export {
  addressOfPrivateKey,
  batchToSignedTickets,
  decodeAuxData,
  encodeAuxData,
  expectedValue,
  isWinningTicket,
  MAX_SENDER_NONCE,
  MAX_WIN_PROB,
  normalizeTicket,
  type Price as TicketPrice,
  recipientRandHash,
  recoverTicketSigner,
  type SignedTicket,
  signTicket,
  type Ticket,
  type TicketBatch,
  type TicketExpirationParams,
  type TicketParams,
  type TicketSenderParams,
  ticketFromParams,
  ticketHash,
  ticketHashHex,
  verifyTicketSignature,
  type WinningTicket,
  winProbForExpectedValue,
} from './ticket.js'
export {
  createWalletFile,
  loadWalletFile,
  readWalletAddress,
  WalletError,
  walletFilePath,
} from './wallet.js'
