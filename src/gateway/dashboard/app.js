// The dashboard's only script: plain ES module, no build step. It reads the gateway's own
// JSON routes and server-sent events, the same ones any app can use.
const $ = (id) => document.getElementById(id)
const weiToEth = (wei) => Number(BigInt(wei)) / 1e18
const shortPeer = (id) => (id.length > 16 ? `${id.slice(0, 8)}…${id.slice(-6)}` : id)

// A gateway with tokens answers 401 until the page has one; it is kept for this tab only.
const TOKEN_KEY = 'framemesh-gateway-token'
let token = sessionStorage.getItem(TOKEN_KEY) ?? ''

class NeedsToken extends Error {}

/** fetch with the tab's token; a 401 shows the token form and throws NeedsToken. */
async function api(path, init = {}) {
  const headers = new Headers(init.headers)
  if (token !== '') headers.set('authorization', `Bearer ${token}`)
  const res = await fetch(path, { ...init, headers })
  if (res.status === 401) {
    const body = await res.json().catch(() => ({}))
    $('token-box').hidden = false
    $('token-message').textContent =
      token === '' ? 'This gateway needs an access token.' : `Token refused: ${body.detail?.msg ?? ''}`
    throw new NeedsToken('this gateway needs an access token')
  }
  return res
}

function useToken(event) {
  event.preventDefault()
  token = $('token').value.trim()
  sessionStorage.setItem(TOKEN_KEY, token)
  $('token-box').hidden = true
  refreshOffers()
  refreshJobs()
}

/**
 * With a token, the job's signed links to its input and output, asked for once for both: a media
 * element cannot send the token, and through a link the player still streams and seeks.
 */
async function jobLinks(id) {
  const res = await api(`/v1/jobs/${id}/links`)
  if (!res.ok) throw new Error(`links: ${res.status}`)
  return res.json()
}

/** Where a media element reads a job's input or output: the route itself, or (`links`) its signed link. */
async function mediaSource(id, file, links) {
  if (links === undefined) return `/v1/jobs/${id}/${file}`
  const link = (await links)[file]
  if (link === undefined) throw new Error(`the job has no ${file} yet`)
  return link.url
}

/**
 * A job's server-sent events, read with fetch (EventSource cannot send a token): calls
 * `on(name, data)` for each until the stream ends.
 */
async function readEvents(id, on, signal) {
  const res = await api(`/v1/jobs/${id}/events`, { signal })
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return
    buffer += value
    let end = buffer.indexOf('\n\n')
    while (end >= 0) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      const name = /^event: (.*)$/m.exec(block)?.[1]
      const data = /^data: (.*)$/m.exec(block)?.[1]
      if (name !== undefined && data !== undefined) on(name, JSON.parse(data))
      end = buffer.indexOf('\n\n')
    }
  }
}

function cell(text) {
  const td = document.createElement('td')
  td.textContent = text
  return td
}

async function refreshOffers() {
  try {
    const res = await api('/v1/offers')
    const { offers } = await res.json()
    const body = $('offers').tBodies[0]
    body.replaceChildren()
    showUpscalers(offers)
    const peers = new Set(offers.map((o) => o.peerId))
    $('mesh-count').textContent = `${peers.size} peer${peers.size === 1 ? '' : 's'}, ${offers.length} offers`
    if (offers.length === 0) {
      const tr = document.createElement('tr')
      const td = cell('No orchestrator has advertised yet.')
      td.colSpan = 7
      tr.append(td)
      body.append(tr)
    }
    for (const o of offers) {
      const tr = document.createElement('tr')
      tr.dataset.peer = o.peerId
      tr.append(
        cell(shortPeer(o.peerId)),
        cell(o.modelId),
        cell(o.pipeline),
        cell(`${o.pricePerUnit} wei / ${o.unit}`),
        cell(`${o.slotsFree} / ${o.slotsTotal}`),
        cell(o.latencyMs == null ? '–' : `${o.latencyMs.toFixed(1)} ms`),
        cell(o.warm ? 'warm' : 'cold'),
      )
      body.append(tr)
    }
  } catch (err) {
    $('mesh-count').textContent = err instanceof NeedsToken ? 'token needed' : 'gateway unreachable'
  }
}

/**
 * The upscalers on offer, each with its lowest price, as the Upscaler choices; the choice made
 * stays while it is offered.
 */
function showUpscalers(offers) {
  const lowest = new Map()
  for (const o of offers) {
    if (o.pipeline !== 'upscale') continue
    const known = lowest.get(o.modelId)
    if (known === undefined || BigInt(o.pricePerUnit) < BigInt(known.pricePerUnit)) lowest.set(o.modelId, o)
  }
  const select = $('model')
  const chosen = select.value
  const offered = [...lowest.values()].sort((a, b) => a.modelId.localeCompare(b.modelId))
  // Rebuilt only when the choices change: the list refreshes every 2 s, maybe while it is open.
  const key = offered.map((o) => `${o.modelId}=${o.pricePerUnit}/${o.unit}`).join(' ')
  if (select.dataset.offered === key) return
  select.dataset.offered = key
  const options = offered.map((o) => {
    const option = document.createElement('option')
    option.value = o.modelId
    option.textContent = `${o.modelId} (from ${o.pricePerUnit} wei / ${o.unit})`
    return option
  })
  select.replaceChildren(select.options[0], ...options)
  select.value = lowest.has(chosen) ? chosen : ''
}

/** The pipeline field: the chosen upscaler named on the upscale stage, when one is chosen. */
function pipelineField() {
  const model = $('model').value
  const stages = $('pipeline').value.split(',')
  return stages.map((s) => (s === 'upscale' && model !== '' ? `upscale:${model}` : s)).join(',')
}

async function refreshJobs() {
  const res = await api('/v1/jobs').catch(() => undefined)
  if (res?.ok !== true) return
  const { jobs } = await res.json()
  const body = $('jobs').tBodies[0]
  body.replaceChildren()
  for (const j of jobs) {
    const tr = document.createElement('tr')
    const status = cell(j.status)
    status.className = `status-${j.status}`
    tr.append(
      cell(j.id.slice(0, 8)),
      cell(j.stages.join(' → ')),
      status,
      cell(`${j.framesDone} / ${j.framesTotal ?? '?'}${windowsNote(j.windows)}`),
      cell(j.peers.map(shortPeer).join(', ')),
      cell(`${weiToEth(j.paidWei).toExponential(3)} ETH`),
      actionCell(j),
    )
    body.append(tr)
  }
}

/** Cancel for a running job, Remove (with its files) for a finished one: both are DELETE. */
function actionCell(job) {
  const td = document.createElement('td')
  const button = document.createElement('button')
  button.type = 'button'
  button.className = 'job-action'
  button.textContent = job.status === 'running' ? 'Cancel' : 'Remove'
  button.setAttribute('aria-label', `${button.textContent} job ${job.id.slice(0, 8)}`)
  button.addEventListener('click', async () => {
    button.disabled = true
    await api(`/v1/jobs/${job.id}`, { method: 'DELETE' }).catch(() => {})
    refreshJobs()
  })
  td.append(button)
  return td
}

async function showMedia(view, kind, id, file, links) {
  try {
    if (kind === 'text') view.replaceChildren(await textView(id, file))
    else view.replaceChildren(mediaElement(kind, await mediaSource(id, file, links)))
  } catch (err) {
    view.textContent = `could not load: ${err.message}`
  }
}

/** OCR output: each frame's lines with their confidence (the first 200 lines). */
async function textView(id, file) {
  const res = await api(`/v1/jobs/${id}/${file}`)
  if (!res.ok) throw new Error(`${file}: ${res.status}`)
  const { frames } = await res.json()
  const rows = []
  for (const f of frames) {
    const at = f.time === undefined ? `frame ${f.index + 1}` : `${f.time.toFixed(2)} s`
    for (const line of f.lines) rows.push(`${at}  ${line.text}  (${Math.round(line.confidence * 100)} %)`)
  }
  const pre = document.createElement('pre')
  pre.className = 'ocr-text'
  pre.textContent =
    rows.length === 0
      ? 'no text found'
      : rows.slice(0, 200).join('\n') + (rows.length > 200 ? `\n… ${rows.length - 200} more` : '')
  return pre
}

function mediaElement(kind, url) {
  const el = document.createElement(kind === 'video' ? 'video' : 'img')
  el.src = url
  if (kind === 'video') {
    el.controls = true
    el.muted = true
  } else {
    el.alt = 'job media'
  }
  return el
}

function showReport(job) {
  const dl = $('report')
  dl.replaceChildren()
  const row = (k, v) => {
    const dt = document.createElement('dt')
    dt.textContent = k
    const dd = document.createElement('dd')
    dd.textContent = v
    dl.append(dt, dd)
  }
  row('Status', job.status)
  row('Frames', `${job.framesDone}`)
  row('Peers', job.peers.join(', ') || '–')
  row('Time', `${((job.finishedAt - job.startedAt) / 1000).toFixed(2)} s`)
  row(
    'Charged at the agreed prices',
    `${weiToEth(job.chargedWei).toExponential(4)} ETH ≈ $${job.cost.meshUsd.toFixed(8)}`,
  )
  row(
    'Tickets sent (expected value)',
    `${weiToEth(job.paidWei).toExponential(4)} ETH (unused credit stays with the peer)`,
  )
  row('Same work on a cloud GPU', `$${job.cost.cloudUsd.toFixed(8)} (${job.cost.cloudBasis})`)
  if (job.text !== undefined) row('Text found', job.text || '(none)')
  if (job.verification !== undefined)
    row('Checked on a second orchestrator', verificationText(job.verification))
}

/** "3 outputs checked, no mismatch" and what was found, for the report. */
function verificationText(v) {
  const blamed = v.blamed.map((b) => `${shortPeer(b.peerId)} (stage ${b.stage + 1}, ${b.reason})`)
  const found =
    blamed.length > 0
      ? `${v.mismatches} mismatch(es); found wrong: ${blamed.join(', ')}`
      : v.mismatches > 0
        ? `${v.mismatches} mismatch(es)`
        : 'no mismatch'
  const unchecked = v.unverified > 0 ? `; ${v.unverified} delivered unchecked (no second orchestrator)` : ''
  const by = v.checkers.length > 0 ? ` on ${v.checkers.map(shortPeer).join(', ')}` : ''
  const cost =
    BigInt(v.paidWei) > 0n ? `; checks paid ${weiToEth(v.paidWei).toExponential(4)} ETH in tickets` : ''
  return `${Math.round(v.share * 1000) / 10}% asked: ${v.checked} output(s) checked${by}, ${found}${unchecked}${cost}`
}

async function submit(event) {
  event.preventDefault()
  const file = $('file').files[0]
  if (file === undefined) return
  const form = new FormData()
  form.append('file', file)
  form.append('pipeline', pipelineField())
  // More than one: the frames are spread over that many orchestrators at once.
  if (Number($('parallel').value) > 1) form.append('parallel', $('parallel').value)
  // A percent here, a share (0–1) for the gateway.
  const verifyPercent = Number($('verify').value)
  if (verifyPercent > 0) {
    form.append('verify', String(verifyPercent / 100))
    if ($('verify-strict').checked) form.append('verify_strict', 'true')
  }
  $('submit-button').disabled = true
  $('progress-box').hidden = false
  $('result').hidden = true
  $('event-log').replaceChildren()
  $('progress').value = 0
  $('progress-text').textContent = 'uploading…'
  try {
    const res = await api('/v1/jobs', { method: 'POST', body: form })
    const body = await res.json()
    if (!res.ok) throw new Error(body.detail?.msg ?? JSON.stringify(body.detail))
    await follow(body.id)
  } catch (err) {
    $('progress-text').textContent = `failed: ${err.message}`
  } finally {
    $('submit-button').disabled = false
    $('cancel-button').hidden = true
    refreshJobs()
  }
}

/** ", next frame 12/63 windows" while a frame sent in windows is under way. */
function windowsNote(windows) {
  return windows ? `, next frame ${windows.done}/${windows.of} windows` : ''
}

async function follow(id) {
  const log = (text) => {
    const li = document.createElement('li')
    li.textContent = text
    $('event-log').append(li)
  }
  const cancel = $('cancel-button')
  cancel.hidden = false
  cancel.disabled = false
  cancel.onclick = () => {
    cancel.disabled = true
    api(`/v1/jobs/${id}`, { method: 'DELETE' }).catch(() => {})
  }
  let job
  const stagesStarted = new Set()
  // Outputs checked on a second orchestrator so far (a verified job), shown with the progress.
  let checked = 0
  const checkedNote = () => (checked > 0 ? `, ${checked} checked` : '')
  await readEvents(id, (name, p) => {
    if (name === 'progress') {
      // A frame sent in windows counts by its share of windows back, so one large image moves.
      const through = p.framesDone + (p.windows ? p.windows.done / p.windows.of : 0)
      $('progress').max = p.framesTotal ?? Math.max(1, Math.ceil(through))
      $('progress').value = through
      $('progress-text').textContent =
        `${p.framesDone} / ${p.framesTotal ?? '?'} frames${windowsNote(p.windows)}${checkedNote()}`
    } else if (name === 'peer') {
      // A stage spread over several orchestrators (parallel) starts one on each.
      const also = !p.from && stagesStarted.has(p.stage) ? 'also ' : ''
      stagesStarted.add(p.stage)
      log(
        `stage ${p.stage + 1}: ${also}${p.from ? `${shortPeer(p.from)} → ` : ''}${shortPeer(p.to)}${p.reason ? ` (${p.reason})` : ''}`,
      )
    } else if (name === 'payment') {
      log(
        `paid ${p.tickets} ticket(s) to ${shortPeer(p.peerId)}${p.check ? ' for checks' : ''}, EV ${weiToEth(p.evWei).toExponential(3)} ETH`,
      )
    } else if (name === 'check') {
      checked++
      // Matches are the rule and only counted; a mismatch is news.
      if (!p.match)
        log(
          `stage ${p.stage + 1}: ${shortPeer(p.checker)} disagrees with ${shortPeer(p.peerId)}; asking a third`,
        )
    } else if (name === 'blamed') {
      log(
        `stage ${p.stage + 1}: ${shortPeer(p.peerId)} found wrong (${p.reason}, against ${shortPeer(p.against)}); its work is redone elsewhere`,
      )
    } else if (name === 'done' || name === 'failed') {
      job = p
    }
  })
  cancel.hidden = true
  if (job === undefined) throw new Error('the event stream ended without an outcome')
  $('progress-text').textContent = job.status === 'done' ? 'done' : `failed: ${job.error ?? ''}`
  if (job.status === 'done') {
    const out = $('output-view')
    out.replaceChildren()
    const links = token === '' ? undefined : jobLinks(id)
    // Each view reports its own failure; an OCR result does not read the links at all.
    links?.catch(() => {})
    await Promise.all([
      showMedia($('input-view'), job.input.kind, id, 'input', links),
      job.output === undefined ? undefined : showMedia(out, job.output.kind, id, 'output', links),
    ])
    showReport(job)
    $('result').hidden = false
  }
}

$('submit-form').addEventListener('submit', submit)
// OCR alone has no upscaler to choose.
$('pipeline').addEventListener('change', () => {
  $('model').disabled = !$('pipeline').value.includes('upscale')
})
$('token-form').addEventListener('submit', useToken)
refreshOffers()
refreshJobs()
setInterval(refreshOffers, 2000)
