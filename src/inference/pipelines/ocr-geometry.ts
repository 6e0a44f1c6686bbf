/**
 * Plane geometry for OCR boxes: the convex hull of a blob of pixels, its smallest enclosing
 * (rotated) rectangle, and the corner order TextLine uses (clockwise from top-left, y down).
 */
export type Point = [number, number]
export type Quad = [Point, Point, Point, Point]

export interface RotatedRect {
  center: Point
  /** Unit vector along the rectangle's `width` side. */
  axis: Point
  width: number
  height: number
}

/** Convex hull by the monotone chain method; returns the hull counter-clockwise in y-up terms. */
export function convexHull(points: Point[]): Point[] {
  const sorted = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1])
  if (sorted.length <= 2) return sorted
  const cross = (o: Point, a: Point, b: Point) =>
    (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
  const half = (pts: Point[]): Point[] => {
    const out: Point[] = []
    for (const p of pts) {
      while (out.length >= 2 && cross(out[out.length - 2], out[out.length - 1], p) <= 0) out.pop()
      out.push(p)
    }
    out.pop()
    return out
  }
  return [...half(sorted), ...half(sorted.reverse())]
}

/** The smallest-area rectangle containing the hull: one of its sides lies on a hull edge. */
export function minAreaRect(hull: Point[]): RotatedRect {
  if (hull.length === 0) return { center: [0, 0], axis: [1, 0], width: 0, height: 0 }
  let best: RotatedRect | undefined
  let bestArea = Infinity
  const edges = hull.length === 1 ? 1 : hull.length
  for (let i = 0; i < edges; i++) {
    const a = hull[i]
    const b = hull[(i + 1) % hull.length]
    const length = Math.hypot(b[0] - a[0], b[1] - a[1])
    const axis: Point = length === 0 ? [1, 0] : [(b[0] - a[0]) / length, (b[1] - a[1]) / length]
    let minU = Infinity
    let maxU = -Infinity
    let minV = Infinity
    let maxV = -Infinity
    for (const p of hull) {
      const u = p[0] * axis[0] + p[1] * axis[1]
      const v = -p[0] * axis[1] + p[1] * axis[0]
      minU = Math.min(minU, u)
      maxU = Math.max(maxU, u)
      minV = Math.min(minV, v)
      maxV = Math.max(maxV, v)
    }
    const area = (maxU - minU) * (maxV - minV)
    if (area < bestArea) {
      bestArea = area
      const cu = (minU + maxU) / 2
      const cv = (minV + maxV) / 2
      best = {
        center: [cu * axis[0] - cv * axis[1], cu * axis[1] + cv * axis[0]],
        axis,
        width: maxU - minU,
        height: maxV - minV,
      }
    }
  }
  return best as RotatedRect
}

/** Grows every side of the rectangle outwards by `distance`. */
export function growRect(rect: RotatedRect, distance: number): RotatedRect {
  return { ...rect, width: rect.width + 2 * distance, height: rect.height + 2 * distance }
}

/** The four corners, clockwise on screen (y down) starting from the top-left one. */
export function rectCorners(rect: RotatedRect): Quad {
  const [cx, cy] = rect.center
  const [ux, uy] = rect.axis
  const hw = rect.width / 2
  const hh = rect.height / 2
  const corners: Point[] = [
    [cx - ux * hw + uy * hh, cy - uy * hw - ux * hh],
    [cx + ux * hw + uy * hh, cy + uy * hw - ux * hh],
    [cx + ux * hw - uy * hh, cy + uy * hw + ux * hh],
    [cx - ux * hw - uy * hh, cy - uy * hw + ux * hh],
  ]
  return orderCorners(corners)
}

/** Orders four corners clockwise on screen, starting at the top-left (smallest x + y). */
export function orderCorners(corners: Point[]): Quad {
  const cx = corners.reduce((s, p) => s + p[0], 0) / corners.length
  const cy = corners.reduce((s, p) => s + p[1], 0) / corners.length
  // With y pointing down, increasing atan2 angle runs clockwise on screen.
  const byAngle = [...corners].sort(
    (a, b) => Math.atan2(a[1] - cy, a[0] - cx) - Math.atan2(b[1] - cy, b[0] - cx),
  )
  let start = 0
  for (let i = 1; i < byAngle.length; i++) {
    if (byAngle[i][0] + byAngle[i][1] < byAngle[start][0] + byAngle[start][1]) start = i
  }
  const out = [...byAngle.slice(start), ...byAngle.slice(0, start)]
  return out as Quad
}

export function distance(a: Point, b: Point): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1])
}
