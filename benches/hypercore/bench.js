// The Hypercore side of the side-by-side runner (benches/src/bin/side-by-side.rs): the same
// workload as the threads-node side, driven as a new user of Hypercore would drive it.
// Each mode prints one JSON line on stdout.
//
//   node bench.js append STORAGE DIR N BATCH   append N blocks of 1 KiB, BATCH per call (1: one await each)
//   node bench.js serve STORAGE DIR N          write N blocks (untimed), then serve them on 127.0.0.1
//   node bench.js follow STORAGE DIR KEY PORT N   download all N blocks from a server; time and peak RSS
//
// STORAGE is `ram` (random-access-memory) or `file` (Hypercore's default files under DIR).
'use strict'

const fs = require('fs')
const net = require('net')
const Hypercore = require('hypercore')
const RAM = require('random-access-memory')

const BLOCK = 1024

function storage (kind, dir) {
  return kind === 'ram' ? RAM.reusable() : dir
}

function block (i) {
  const b = Buffer.alloc(BLOCK, 0x5a)
  b.writeBigUInt64BE(BigInt(i))
  return b
}

function peakRssBytes () {
  const status = fs.readFileSync('/proc/self/status', 'utf8')
  const m = status.match(/VmHWM:\s+(\d+) kB/)
  return m ? Number(m[1]) * 1024 : null
}

async function appendAll (core, n, batch) {
  for (let i = 0; i < n; i += batch) {
    const count = Math.min(batch, n - i)
    if (count === 1) {
      await core.append(block(i))
    } else {
      const blocks = []
      for (let j = 0; j < count; j++) blocks.push(block(i + j))
      await core.append(blocks)
    }
  }
}

async function append ([kind, dir, n, batch]) {
  const core = new Hypercore(storage(kind, dir))
  await core.ready()
  const start = process.hrtime.bigint()
  await appendAll(core, Number(n), Number(batch))
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  console.log(JSON.stringify({ events: Number(n), seconds, length: core.length }))
  await core.close()
}

async function serve ([kind, dir, n]) {
  const core = new Hypercore(storage(kind, dir))
  await core.ready()
  await appendAll(core, Number(n), 1000)
  const server = net.createServer((socket) => {
    const stream = core.replicate(false)
    socket.pipe(stream).pipe(socket)
    socket.on('error', () => {})
    stream.on('error', () => {})
  })
  server.listen(0, '127.0.0.1', () => {
    console.log(JSON.stringify({ key: core.key.toString('hex'), port: server.address().port }))
  })
  // The runner closes stdin when it is done with this server.
  process.stdin.resume()
  process.stdin.on('end', () => process.exit(0))
}

async function follow ([kind, dir, key, port, n]) {
  const core = new Hypercore(storage(kind, dir), Buffer.from(key, 'hex'))
  await core.ready()
  const start = process.hrtime.bigint()
  const socket = net.connect(Number(port), '127.0.0.1')
  const stream = core.replicate(true)
  socket.pipe(stream).pipe(socket)
  await core.update({ wait: true })
  await core.download({ start: 0, end: Number(n) }).done()
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  console.log(JSON.stringify({
    events: Number(n), seconds, contiguous: core.contiguousLength, peak_rss: peakRssBytes()
  }))
  socket.destroy()
  process.exit(0)
}

const modes = { append, serve, follow }
const [mode, ...args] = process.argv.slice(2)
if (!modes[mode]) {
  console.error('usage: node bench.js append|serve|follow ...')
  process.exit(2)
}
modes[mode](args).catch((e) => { console.error(e); process.exit(1) })
