/**
 * The durable half of redemption: winning tickets and the transactions sent for them, in a
 * sqlite file (Node's built-in node:sqlite). Every state change is committed before the step
 * it guards, so a crash at any point leaves enough on disk to finish without losing a ticket
 * or paying one twice.
 */
import { mkdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type { DatabaseSync, SQLInputValue } from 'node:sqlite'
import { FramemeshError } from '../errors.js'
import type { Address, Hex } from './bytes.js'
import { ticketHashHex, type WinningTicket } from './ticket.js'

export type RedemptionStatus = 'queued' | 'redeeming' | 'redeemed' | 'failed'

export interface RedemptionRecord {
  ticketHash: Hex
  ticket: WinningTicket
  status: RedemptionStatus
  /** Failed redemption attempts so far. */
  attempts: number
  /** When a queued ticket is next tried (ms since epoch). */
  nextAttemptAt: number
  errorCode?: string
  errorMessage?: string
  /** The transaction that redeemed it (status redeemed). */
  txHash?: Hex
  paid?: bigint
  gasUsed?: bigint
  fee?: bigint
  createdAt: number
  updatedAt: number
}

export interface StatusTotals {
  count: number
  faceValue: bigint
}

export interface RedemptionTotals {
  queued: StatusTotals
  redeeming: StatusTotals
  redeemed: StatusTotals & { paid: bigint; fees: bigint }
  failed: StatusTotals & { byCode: Record<string, number> }
}

/** Where a node keeps its redemption queue unless told otherwise. */
export function redemptionDbPath(dataDir: string): string {
  return join(dataDir, 'redemptions.sqlite')
}

export class RedemptionStoreError extends FramemeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_REDEMPTION_STORE', message, options)
  }
}

/** Bumped with every change to the tables below (and a migration from the previous one). */
const SCHEMA_VERSION = 1

const SCHEMA = `
CREATE TABLE IF NOT EXISTS tickets (
  hash TEXT PRIMARY KEY,
  sender TEXT NOT NULL,
  face_value TEXT NOT NULL,
  ticket TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('queued', 'redeeming', 'redeemed', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  error_code TEXT,
  error_message TEXT,
  tx_hash TEXT,
  paid TEXT,
  gas_used TEXT,
  fee TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS tickets_due ON tickets (status, next_attempt_at);
CREATE TABLE IF NOT EXISTS txs (
  tx_hash TEXT NOT NULL,
  ticket_hash TEXT NOT NULL,
  raw TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (tx_hash, ticket_hash)
);
CREATE INDEX IF NOT EXISTS txs_ticket ON txs (ticket_hash, created_at);
`

interface Row {
  hash: string
  ticket: string
  status: RedemptionStatus
  attempts: number
  next_attempt_at: number
  error_code: string | null
  error_message: string | null
  tx_hash: string | null
  paid: string | null
  gas_used: string | null
  fee: string | null
  created_at: number
  updated_at: number
}

export class RedemptionStore {
  private readonly db: DatabaseSync

  /** Opens (creating if needed) the store at `path`; ':memory:' for a throwaway one. */
  constructor(path: string) {
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
      this.db = new (loadSqlite().DatabaseSync)(path)
      // WAL + FULL sync: a committed change survives a crash or power loss.
      this.db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;')
      const { user_version: version } = this.db.prepare('PRAGMA user_version').get() as {
        user_version: number
      }
      if (version > SCHEMA_VERSION) {
        this.db.close()
        throw new RedemptionStoreError(
          `the redemption database at ${path} was written by a newer framemesh (schema ${version}, this one knows ${SCHEMA_VERSION}); upgrade framemesh`,
        )
      }
      this.db.exec(SCHEMA)
      this.db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`)
    } catch (cause) {
      if (cause instanceof RedemptionStoreError) throw cause
      throw new RedemptionStoreError(
        `cannot open the redemption database at ${path}: ${(cause as Error).message}; check the path and its permissions`,
        { cause },
      )
    }
  }

  close(): void {
    if (this.db.isOpen) this.db.close()
  }

  /** Adds a winning ticket as queued; returns its hash, or undefined when it is already stored. */
  insert(ticket: WinningTicket, now: number): Hex | undefined {
    const hash = ticketHashHex(ticket.ticket)
    const result = this.db
      .prepare(
        `INSERT OR IGNORE INTO tickets (hash, sender, face_value, ticket, status, next_attempt_at, created_at, updated_at)
         VALUES (?, ?, ?, ?, 'queued', ?, ?, ?)`,
      )
      .run(
        hash,
        ticket.ticket.sender,
        ticket.ticket.faceValue.toString(),
        encodeTicket(ticket),
        now,
        now,
        now,
      )
    return result.changes > 0 ? hash : undefined
  }

  get(hash: string): RedemptionRecord | undefined {
    const row = this.db.prepare('SELECT * FROM tickets WHERE hash = ?').get(hash.toLowerCase()) as
      | Row
      | undefined
    return row === undefined ? undefined : decodeRow(row)
  }

  /** Queued tickets whose time has come, oldest first. */
  due(now: number, limit: number): RedemptionRecord[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM tickets WHERE status = 'queued' AND next_attempt_at <= ? ORDER BY next_attempt_at, created_at LIMIT ?`,
      )
      .all(now, limit) as unknown as Row[]
    return rows.map(decodeRow)
  }

  /** When the next queued ticket falls due, or undefined when none is queued. */
  nextDueAt(): number | undefined {
    const row = this.db
      .prepare(`SELECT MIN(next_attempt_at) AS at FROM tickets WHERE status = 'queued'`)
      .get() as {
      at: number | null
    }
    return row.at ?? undefined
  }

  /** Tickets left mid-redemption (by a crash or a stop): recovery looks at each. */
  inFlight(): RedemptionRecord[] {
    const rows = this.db.prepare(`SELECT * FROM tickets WHERE status = 'redeeming'`).all() as unknown as Row[]
    return rows.map(decodeRow)
  }

  markRedeeming(hashes: string[], now: number): void {
    this.inTransaction(() => {
      const stmt = this.db.prepare(`UPDATE tickets SET status = 'redeeming', updated_at = ? WHERE hash = ?`)
      for (const h of hashes) stmt.run(now, h)
    })
  }

  /** Records a signed transaction for these tickets before it is broadcast. */
  recordTx(hashes: string[], txHash: string, raw: string, now: number): void {
    this.inTransaction(() => {
      const stmt = this.db.prepare(
        'INSERT OR IGNORE INTO txs (tx_hash, ticket_hash, raw, created_at) VALUES (?, ?, ?, ?)',
      )
      for (const h of hashes) stmt.run(txHash, h, raw, now)
    })
  }

  /** Transactions sent for a ticket, newest first. */
  txsOf(hash: string): { txHash: Hex; raw: Hex }[] {
    const rows = this.db
      .prepare('SELECT tx_hash, raw FROM txs WHERE ticket_hash = ? ORDER BY created_at DESC, rowid DESC')
      .all(hash) as { tx_hash: string; raw: string }[]
    return rows.map((r) => ({ txHash: r.tx_hash as Hex, raw: r.raw as Hex }))
  }

  markRedeemed(
    hash: string,
    result: { txHash: string; paid: bigint; gasUsed: bigint; fee: bigint },
    now: number,
  ): void {
    this.db
      .prepare(
        `UPDATE tickets SET status = 'redeemed', tx_hash = ?, paid = ?, gas_used = ?, fee = ?,
         error_code = NULL, error_message = NULL, updated_at = ? WHERE hash = ?`,
      )
      .run(result.txHash, result.paid.toString(), result.gasUsed.toString(), result.fee.toString(), now, hash)
  }

  /** Back to queued, to be tried again at `nextAttemptAt`, keeping why it waits. */
  reschedule(
    hash: string,
    nextAttemptAt: number,
    now: number,
    error?: { code: string; message: string },
    attempts?: number,
  ): void {
    this.db
      .prepare(
        `UPDATE tickets SET status = 'queued', next_attempt_at = ?, error_code = ?, error_message = ?,
         attempts = COALESCE(?, attempts), updated_at = ? WHERE hash = ?`,
      )
      .run(nextAttemptAt, error?.code ?? null, error?.message ?? null, attempts ?? null, now, hash)
  }

  markFailed(hash: string, error: { code: string; message: string }, now: number, attempts?: number): void {
    this.db
      .prepare(
        `UPDATE tickets SET status = 'failed', error_code = ?, error_message = ?, attempts = COALESCE(?, attempts),
         updated_at = ? WHERE hash = ?`,
      )
      .run(error.code, error.message, attempts ?? null, now, hash)
  }

  /** Tickets not yet redeemed or failed. */
  countPending(): number {
    const row = this.db
      .prepare(`SELECT COUNT(*) AS n FROM tickets WHERE status IN ('queued', 'redeeming')`)
      .get() as {
      n: number
    }
    return row.n
  }

  /** Face value not yet redeemed (queued or redeeming), per sender. */
  pendingBySender(): Map<Address, bigint> {
    const rows = this.db
      .prepare(`SELECT sender, face_value FROM tickets WHERE status IN ('queued', 'redeeming')`)
      .all() as { sender: string; face_value: string }[]
    const out = new Map<Address, bigint>()
    for (const r of rows)
      out.set(r.sender as Address, (out.get(r.sender as Address) ?? 0n) + BigInt(r.face_value))
    return out
  }

  totals(): RedemptionTotals {
    const totals: RedemptionTotals = {
      queued: { count: 0, faceValue: 0n },
      redeeming: { count: 0, faceValue: 0n },
      redeemed: { count: 0, faceValue: 0n, paid: 0n, fees: 0n },
      failed: { count: 0, faceValue: 0n, byCode: {} },
    }
    const rows = this.db.prepare('SELECT status, face_value, paid, fee, error_code FROM tickets').all() as {
      status: RedemptionStatus
      face_value: string
      paid: string | null
      fee: string | null
      error_code: string | null
    }[]
    for (const r of rows) {
      const t = totals[r.status]
      t.count += 1
      t.faceValue += BigInt(r.face_value)
      if (r.status === 'redeemed') {
        totals.redeemed.paid += BigInt(r.paid ?? '0')
        totals.redeemed.fees += BigInt(r.fee ?? '0')
      }
      if (r.status === 'failed') {
        const code = r.error_code ?? 'unknown'
        totals.failed.byCode[code] = (totals.failed.byCode[code] ?? 0) + 1
      }
    }
    return totals
  }

  /** Records with a given status, newest first (for `framemesh tickets status --list`). */
  list(status: RedemptionStatus | undefined, limit: number): RedemptionRecord[] {
    const params: SQLInputValue[] = status === undefined ? [limit] : [status, limit]
    const where = status === undefined ? '' : 'WHERE status = ?'
    const rows = this.db
      .prepare(`SELECT * FROM tickets ${where} ORDER BY updated_at DESC LIMIT ?`)
      .all(...params) as unknown as Row[]
    return rows.map(decodeRow)
  }

  private inTransaction(fn: () => void): void {
    this.db.exec('BEGIN IMMEDIATE')
    try {
      fn()
      this.db.exec('COMMIT')
    } catch (err) {
      this.db.exec('ROLLBACK')
      throw err
    }
  }
}

/**
 * node:sqlite is loaded on first use, not at import: Node 22 prints an experimental-feature
 * warning when it loads, which every importer of the library would otherwise see.
 */
function loadSqlite(): typeof import('node:sqlite') {
  return createRequire(import.meta.url)('node:sqlite') as typeof import('node:sqlite')
}

function encodeTicket(t: WinningTicket): string {
  return JSON.stringify(t, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))
}

function decodeTicket(json: string): WinningTicket {
  return JSON.parse(json, (_k, v) => (typeof v === 'string' && /^\d+n$/.test(v) ? BigInt(v.slice(0, -1)) : v))
}

function decodeRow(r: Row): RedemptionRecord {
  const opt = (v: string | null) => (v === null ? undefined : BigInt(v))
  return {
    ticketHash: r.hash as Hex,
    ticket: decodeTicket(r.ticket),
    status: r.status,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
    errorCode: r.error_code ?? undefined,
    errorMessage: r.error_message ?? undefined,
    txHash: (r.tx_hash ?? undefined) as Hex | undefined,
    paid: opt(r.paid),
    gasUsed: opt(r.gas_used),
    fee: opt(r.fee),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  }
}
