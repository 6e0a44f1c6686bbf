// The dashboard's only script: plain ES module, no build step. It reads the gateway's own
// JSON routes and server-sent events, the same ones any app can use.
const $ = (id) => document.getElementById(id)
const weiToEth = (wei) => Number(BigInt(wei)) / 1e18
const shortPeer = (id) => (id.length > 16 ? `${id.slice(0, 8)}…${id.slice(-6)}` : id)

function cell(text) {
  const td = document.createElement('td')
  td.textContent = text
  return td
}

async function refreshOffers() {
  try {
    const res = await fetch('/v1/offers')
    const { offers } = await res.json()
    const body = $('offers').tBodies[0]
    body.replaceChildren()
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
  } catch {
    $('mesh-count').textContent = 'gateway unreachable'
  }
}

async function refreshJobs() {
  const res = await fetch('/v1/jobs')
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
    )
    body.append(tr)
  }
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
}

async function submit(event) {
  event.preventDefault()
  const file = $('file').files[0]
  if (file === undefined) return
  const form = new FormData()
  form.append('file', file)
  form.append('pipeline', $('pipeline').value)
  $('submit-button').disabled = true
  $('progress-box').hidden = false
  $('result').hidden = true
  $('event-log').replaceChildren()
  $('progress').value = 0
  $('progress-text').textContent = 'uploading…'
  try {
    const res = await fetch('/v1/jobs', { method: 'POST', body: form })
    const body = await res.json()
    if (!res.ok) throw new Error(body.detail?.msg ?? JSON.stringify(body.detail))
    await follow(body.id)
  } catch (err) {
    $('progress-text').textContent = `failed: ${err.message}`
  } finally {
    $('submit-button').disabled = false
    refreshJobs()
  }
}

/** ", next frame 12/63 windows" while a frame sent in windows is under way. */
function windowsNote(windows) {
  return windows ? `, next frame ${windows.done}/${windows.of} windows` : ''
}

function follow(id) {
  return new Promise((resolve) => {
    const events = new EventSource(`/v1/jobs/${id}/events`)
    const log = (text) => {
      const li = document.createElement('li')
      li.textContent = text
      $('event-log').append(li)
    }
    events.addEventListener('progress', (e) => {
      const p = JSON.parse(e.data)
      // A frame sent in windows counts by its share of windows back, so one large image moves.
      const through = p.framesDone + (p.windows ? p.windows.done / p.windows.of : 0)
      $('progress').max = p.framesTotal ?? Math.max(1, Math.ceil(through))
      $('progress').value = through
      $('progress-text').textContent =
        `${p.framesDone} / ${p.framesTotal ?? '?'} frames${windowsNote(p.windows)}`
    })
    events.addEventListener('peer', (e) => {
      const p = JSON.parse(e.data)
      log(
        `stage ${p.stage}: ${p.from ? `${shortPeer(p.from)} → ` : ''}${shortPeer(p.to)}${p.reason ? ` (${p.reason})` : ''}`,
      )
    })
    events.addEventListener('payment', (e) => {
      const p = JSON.parse(e.data)
      log(
        `paid ${p.tickets} ticket(s) to ${shortPeer(p.peerId)}, EV ${weiToEth(p.evWei).toExponential(3)} ETH`,
      )
    })
    const finish = (job) => {
      events.close()
      $('progress-text').textContent = job.status === 'done' ? 'done' : `failed: ${job.error ?? ''}`
      if (job.status === 'done') {
        $('input-view').replaceChildren(mediaElement(job.input.kind, `/v1/jobs/${id}/input`))
        const out = $('output-view')
        out.replaceChildren()
        if (job.output !== undefined) out.append(mediaElement(job.output.kind, `/v1/jobs/${id}/output`))
        showReport(job)
        $('result').hidden = false
      }
      resolve()
    }
    events.addEventListener('done', (e) => finish(JSON.parse(e.data)))
    events.addEventListener('failed', (e) => finish(JSON.parse(e.data)))
  })
}

$('submit-form').addEventListener('submit', submit)
refreshOffers()
refreshJobs()
setInterval(refreshOffers, 2000)
