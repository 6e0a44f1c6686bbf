/**
 * Units of work and what they cost. Prices are wei per pricing unit (an output megapixel for
 * upscale, a frame for interpolate, an input megapixel for ocr). Work is counted in micro-units
 * (a pixel is a micro-megapixel), so a frame's cost is exact integer arithmetic: the ticket Price
 * is `pricePerUnit` wei per 1,000,000 micro-units.
 */
import type { PipelineId } from '../inference/types.js'
import type { Price } from '../tickets/ticket.js'
import { defaultUnitFor, type PricingUnit } from './advert.js'

export const MICRO_UNITS_PER_UNIT = 1_000_000n

export interface WorkShape {
  pipeline: PipelineId
  /** Input frame size. */
  width: number
  height: number
  /** Output ÷ input size (upscale models: 2, 4, ...). */
  scale: number
}

/** Micro-units one work item costs: output pixels (upscale), 1e6 per frame (interpolate), input pixels (ocr). */
export function microUnitsPerItem(
  shape: WorkShape,
  unit: PricingUnit = defaultUnitFor(shape.pipeline),
): bigint {
  const inputPixels = BigInt(shape.width) * BigInt(shape.height)
  switch (unit) {
    case 'output-megapixel':
      return inputPixels * BigInt(shape.scale) * BigInt(shape.scale)
    case 'input-megapixel':
      return inputPixels
    case 'frame':
      return MICRO_UNITS_PER_UNIT
  }
}

/** The tickets' Price for a price per unit: that many wei per 1e6 micro-units. */
export function ticketPrice(pricePerUnit: bigint): Price {
  return { wei: pricePerUnit, units: MICRO_UNITS_PER_UNIT }
}

/** Wei for `items` work items of this shape at `pricePerUnit`, rounded up. */
export function costOfItems(pricePerUnit: bigint, microUnits: bigint, items = 1): bigint {
  const units = microUnits * BigInt(items)
  return (pricePerUnit * units + MICRO_UNITS_PER_UNIT - 1n) / MICRO_UNITS_PER_UNIT
}
