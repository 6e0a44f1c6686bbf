/**
 * A mesh job's report, built from its stages' reports: totals over every stage, each stage's own
 * report for a workflow, and the verification of all of them. A direct run that failed and the
 * broadcaster run that went on from it are merged stage by stage, so the report covers both.
 */
import type { StageReport } from './failover.js'
import type { JobReport } from './mesh-types.js'
import { emptyVerificationReport, type VerificationReport } from './verifier.js'

export interface JobReportInput {
  jobId: string
  /** Outputs handed to the caller. */
  delivered: number
  /** One report per stage, in stage order. */
  stages: StageReport[]
  /** Several stages: the report lists them (`stages`). */
  workflow: boolean
  route: JobReport['route']
  /** Every verification the job ran (direct and chained runs); none: the report has none. */
  checks: VerificationReport[]
}

export function jobReport(input: JobReportInput): JobReport {
  const { stages: reports, route, checks } = input
  return {
    jobId: input.jobId,
    items: input.delivered,
    peers: reports.flatMap((r) => r.peers),
    debited: reports.reduce((n, r) => n + r.debited, 0n),
    evSent: reports.reduce((n, r) => n + r.evSent, 0n),
    resent: reports.reduce((n, r) => n + r.resent, 0),
    ...(input.workflow ? { stages: reports } : {}),
    ...(route === undefined ? {} : { route }),
    ...(checks.length === 0 ? {} : { verification: mergeVerification(checks) }),
  }
}

/** One stage's report over a failed direct run and the chained run that went on from it. */
export function mergeReports(before: StageReport | undefined, after: StageReport): StageReport {
  if (before === undefined) return after
  const checks = [before.verification, after.verification].filter((v) => v !== undefined)
  return {
    items: before.items + after.items,
    peers: [...before.peers, ...after.peers],
    debited: before.debited + after.debited,
    evSent: before.evSent + after.evSent,
    resent: before.resent + after.resent,
    ...(checks.length === 0 ? {} : { verification: mergeVerification(checks) }),
  }
}

export function mergeVerification(reports: VerificationReport[]): VerificationReport {
  const out = emptyVerificationReport()
  for (const r of reports) {
    out.checked += r.checked
    out.mismatches += r.mismatches
    out.unverified += r.unverified
    out.blamed.push(...r.blamed)
    for (const checker of r.checkers) if (!out.checkers.includes(checker)) out.checkers.push(checker)
    out.evSent += r.evSent
  }
  return out
}
