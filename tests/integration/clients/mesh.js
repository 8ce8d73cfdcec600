#!/usr/bin/env node
'use strict';
// Simulated service mesh instrumented with npm's unmodified `jaeger-client` 3.x
// (UDPSender: Thrift binary over UDP to 127.0.0.1:6832).
//
// Usage: node mesh.js TRUTH.jsonl [AGENT_HOST [AGENT_PORT]]
//
// Every span this program finishes is written to TRUTH.jsonl as one JSON line. IDs
// and timestamps are read back from the Thrift form the library itself builds for
// the span (ThriftUtils.spanToThrift, the function its RemoteReporter calls), so
// the truth is what goes on the wire, not a re-computation:
//   {"trace_id","id","parents","service","operation","start_us","duration_us",
//    "error","client":"node"}
//
// Span times are mostly explicit (OpenTracing startTime / finish(time) in
// milliseconds with sub-millisecond fractions) from a virtual clock anchored at the
// real start; a few spans use the library's own clock (Date.now(), whole ms).

const fs = require('fs');
const { initTracer, opentracing } = require('jaeger-client');
const ThriftUtils = require('jaeger-client/dist/src/thrift').default;

const TRUTH_PATH = process.argv[2] || 'node-truth.jsonl';
const AGENT_HOST = process.argv[3] || '127.0.0.1';
const AGENT_PORT = Number(process.argv[4] || 6832);
// The client's default flush interval (flushIntervalMs is left unset).
const FLUSH_MS = 1000;

const logger = {
  info() {},
  error(msg) { process.stderr.write(`jaeger-client: ${msg}\n`); },
};

const truthOut = fs.openSync(TRUTH_PATH, 'w');
let truthCount = 0;

function u64hex(buf) {
  // 8-byte big-endian buffer (possibly absent) -> 16 hex digits
  if (!buf || buf.length === 0) return '0000000000000000';
  return Buffer.from(buf).toString('hex').padStart(16, '0');
}

function recordTruth(span, service) {
  const t = ThriftUtils.spanToThrift(span);
  const traceId = u64hex(t.traceIdHigh) + u64hex(t.traceIdLow);
  const parents = new Set();
  const parent = u64hex(t.parentSpanId);
  if (parent !== '0000000000000000') parents.add(parent);
  for (const r of t.references) {
    if (u64hex(r.traceIdHigh) + u64hex(r.traceIdLow) === traceId) parents.add(u64hex(r.spanId));
  }
  const error = t.tags.some((g) => g.key === 'error' && g.vType === 'BOOL' && g.vBool === true);
  const line = {
    trace_id: traceId,
    id: u64hex(t.spanId),
    parents: [...parents].sort(),
    service,
    operation: t.operationName,
    start_us: Number(Buffer.from(t.startTime).readBigInt64BE(0)),
    duration_us: Number(Buffer.from(t.duration).readBigInt64BE(0)),
    error,
    client: 'node',
  };
  fs.writeSync(truthOut, JSON.stringify(line) + '\n');
  truthCount += 1;
}

// Virtual clock in (fractional) milliseconds since the epoch.
const clock = {
  ms: Date.now() + 0.25,
  at(offsetMs = 0) { return this.ms + offsetMs; },
  advance(ms) { this.ms += ms; },
};

const ZONES = ['us-east-1a', 'us-east-1b'];
const services = {};
function makeService(name, i, traceId128bit) {
  const tracer = initTracer(
    {
      serviceName: name,
      sampler: { type: 'const', param: 1 },
      reporter: { agentHost: AGENT_HOST, agentPort: AGENT_PORT },
    },
    {
      logger,
      traceId128bit,
      tags: { zone: ZONES[i % 2], replica: i, canary: i % 2 === 0, weight: 0.5 + i },
    },
  );
  services[name] = {
    name,
    tracer,
    start(operation, opts = {}) {
      const o = { ...opts };
      if (o.at !== undefined) { o.startTime = clock.at(o.at); delete o.at; }
      return tracer.startSpan(operation, o);
    },
    finish(span, at) {
      if (at === undefined) span.finish(); else span.finish(clock.at(at));
      recordTruth(span, name);
      return span;
    },
  };
}
['gateway', 'auth', 'orders', 'billing', 'ledger', 'notify', 'geo', 'catalog'].forEach(
  (n, i) => makeService(n, i, true),
);
makeService('batch-worker', 9, false); // 64-bit trace ids for the traces it roots

const svc = (n) => services[n];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// RPC: client span in `from`, context through HTTP headers, server span in `to`.
function rpc(from, parent, to, operation, at, latency, tags = {}, body) {
  const client = svc(from).start(`${to}.${operation}`, {
    at, childOf: parent, tags: { 'span.kind': 'client', 'peer.service': to },
  });
  const headers = {};
  svc(from).tracer.inject(client.context(), opentracing.FORMAT_HTTP_HEADERS, headers);
  const remote = svc(to).tracer.extract(opentracing.FORMAT_HTTP_HEADERS, headers);
  const server = svc(to).start(operation, {
    at: at + 0.2, childOf: remote, tags: { 'span.kind': 'server', ...tags },
  });
  let failed = false;
  if (body) failed = body(server) === 'error';
  svc(to).finish(server, at + latency - 0.2);
  client.setTag('http.status_code', failed ? 503 : 200);
  svc(from).finish(client, at + latency);
  return client;
}

function fail(span, at, message) {
  span.setTag('error', true);
  span.log({ event: 'error', 'error.kind': 'Timeout', message, attempts: 2, backoff: 0.05 },
    clock.at(at));
}

function login(n) {
  const gw = svc('gateway');
  const root = gw.start('POST /login', {
    at: 0,
    tags: {
      'span.kind': 'server', 'http.method': 'POST', attempt: n, ratio: n / 7,
      remember: n % 2 === 0, client: { os: 'linux', build: 1000 + n },
      nonce: Buffer.from([0xde, 0xad, 0xbe, 0xef, n]), big: 12345678901234567890n,
      nothing: null, missing: undefined,
    },
  });
  root.log({ event: 'request', size: 300 + n }, clock.at(0.05));
  rpc('gateway', root, 'auth', 'CheckPassword', 0.4, 7.3, { user: `u${n}` }, (s) => {
    const q = svc('auth').start('db.select users', { at: 1.1, childOf: s, tags: { 'db.type': 'pg' } });
    svc('auth').finish(q, 3.456);
    if (n % 4 === 3) { fail(s, 6.0, 'pg timeout'); return 'error'; }
    return undefined;
  });
  if (n % 4 === 3) root.setTag('error', true);
  gw.finish(root, 8.5);
  clock.advance(10);
}

function placeOrder(n) {
  const gw = svc('gateway');
  const root = gw.start('POST /orders', { at: 0, tags: { 'span.kind': 'server', items: n + 1 } });
  let orderSpan;
  rpc('gateway', root, 'orders', 'Create', 0.3, 48, { 'order.id': `o-${n}` }, (o) => {
    orderSpan = o;
    // fan-out from orders
    rpc('orders', o, 'catalog', 'Price', 1, 6, { skus: n + 2 });
    rpc('orders', o, 'geo', 'Zone', 1.05, 4.2);
    rpc('orders', o, 'billing', 'Authorize', 1.1, 30, { amount: 12.5 * (n + 1) }, (b) => {
      rpc('billing', b, 'ledger', 'Hold', 2, 9.75);
      if (n === 2) { fail(b, 20, 'acquirer timeout'); return 'error'; }
      if (n === 1) b.setTag('error', false);
      return undefined;
    });
  });
  gw.finish(root, 49.5);
  // after the response: notification follows from the order span (same trace)
  const nt = svc('notify');
  const mail = nt.start('email.receipt', {
    at: 55, references: [opentracing.followsFrom(orderSpan.context())], tags: { channel: 'email' },
  });
  nt.finish(mail, 57.125);
  clock.advance(60);
}

function fanout(n, width) {
  const gw = svc('gateway');
  const root = gw.start('GET /nearby', { at: 0, tags: { 'span.kind': 'server', width } });
  rpc('gateway', root, 'geo', 'Nearby', 0.2, 25, {}, (g) => {
    for (let i = 0; i < width; i += 1) {
      const c = svc('geo').start(`cell.lookup`, {
        at: 0.5 + i * 0.01, childOf: g, tags: { cell: i, hit: i % 3 === 0, load: i / width },
      });
      svc('geo').finish(c, 1 + i * 0.7);
    }
  });
  gw.finish(root, 26);
  clock.advance(30);
}

// Span created with the library's own clock (Date.now(), whole milliseconds).
async function realTime(n) {
  const gw = svc('gateway');
  const r = gw.tracer.startSpan('GET /health', { tags: { 'span.kind': 'server', n } });
  const child = svc('auth').tracer.startSpan('token.cache', { childOf: r.context() });
  await sleep(2);
  svc('auth').finish(child);
  await sleep(1);
  gw.finish(r);
}

// 128-bit trace entering from an un-mirrored upstream (Jaeger header):
// the root's parent is not in the capture.
function ingress(n) {
  const hi = (0x8000000000000000n | BigInt(n + 1) * 0x1234567n).toString(16).padStart(16, '0');
  const lo = (0x0fedcba987654321n + BigInt(n)).toString(16).padStart(16, '0');
  const headers = { 'uber-trace-id': `${hi}${lo}:${(0x7a7a0000n + BigInt(n)).toString(16)}:0:1` };
  const upstream = svc('gateway').tracer.extract(opentracing.FORMAT_HTTP_HEADERS, headers);
  const root = svc('gateway').start('GET /profile', {
    at: 0, childOf: upstream, tags: { 'span.kind': 'server', via: 'edge' },
  });
  rpc('gateway', root, 'auth', 'Whoami', 0.5, 3);
  svc('gateway').finish(root, 4);
  clock.advance(6);
}

// Batch consumer in its own (64-bit) trace referencing producer spans in other
// traces (cross-trace FOLLOWS_FROM, not parents), with an in-trace join that has
// two parents (CHILD_OF + FOLLOWS_FROM references).
function batch(n) {
  const producers = [];
  for (let i = 0; i < 3; i += 1) {
    const p = svc('orders').start('event.publish', { at: i * 0.3, tags: { 'span.kind': 'producer', seq: i } });
    svc('orders').finish(p, i * 0.3 + 0.25);
    producers.push(p);
  }
  const w = svc('batch-worker');
  // Only FOLLOWS_FROM references: the library makes the first one the parent, so
  // this span joins producer 0's trace; the other two references cross traces.
  const late = w.start('consume.late', {
    at: 5, references: producers.map((p) => opentracing.followsFrom(p.context())), tags: { size: 3 },
  });
  // The batch itself: a fresh root (64-bit trace id from this tracer).
  const batchRoot = w.tracer.startSpan('consume.batch', { startTime: clock.at(5), tags: { size: 3, n } });
  const items = producers.map((p, i) => {
    const it = w.start('consume.item', {
      at: 5.1 + i,
      childOf: batchRoot,
      references: [opentracing.followsFrom(p.context())],
      tags: { seq: i },
    });
    return it;
  });
  items.forEach((it, i) => w.finish(it, 5.9 + i));
  const join = w.start('batch.commit', {
    at: 9,
    references: [opentracing.childOf(items[2].context()), opentracing.followsFrom(items[0].context())],
  });
  w.finish(join, 9.5);
  w.finish(batchRoot, 10);
  w.finish(late, 10.5);
  clock.advance(12);
}

// Big trace: many spans with large tags, enough to fill 65,000-byte datagrams.
function bulk(spans) {
  const w = svc('catalog');
  const root = w.start('catalog.rebuild', { at: 0, tags: { spans } });
  let stage = root;
  const stages = [];
  const sql = `UPDATE products SET ${Array.from({ length: 45 }, (_, j) => `attr_${j} = $${j + 1}`).join(', ')}`;
  for (let i = 0; i < spans; i += 1) {
    if (i % 30 === 0) {
      stage = w.start(`stage-${i / 30}`, { at: 0.1 + i * 0.4, childOf: root, tags: { stage: i / 30 } });
      stages.push([stage, 0.1 + i * 0.4]);
    }
    const s = w.start('products.update', {
      at: 0.2 + i * 0.4,
      childOf: stage,
      tags: { 'db.statement': `${sql} WHERE id = ${i}`, rows: 1, pct: i / spans, dry: false },
    });
    s.log({ event: 'progress', i }, clock.at(0.3 + i * 0.4));
    w.finish(s, 0.5 + i * 0.4);
  }
  stages.forEach(([s, t]) => w.finish(s, Math.min(t + 30 * 0.4, spans * 0.4)));
  w.finish(root, spans * 0.4 + 1);
  clock.advance(spans * 0.4 + 5);
}

async function main() {
  let traces = 0;
  for (let n = 0; n < 6; n += 1) { login(n); traces += 1; await sleep(20); }
  for (let n = 0; n < 4; n += 1) { placeOrder(n); traces += 1; await sleep(40); }
  for (const [n, w] of [[0, 5], [1, 16], [2, 40]]) { fanout(n, w); traces += 1; }
  await sleep(FLUSH_MS + 50);
  for (let n = 0; n < 2; n += 1) { await realTime(n); traces += 1; }
  for (let n = 0; n < 2; n += 1) { ingress(n); traces += 1; }
  await sleep(FLUSH_MS + 50);
  batch(0); traces += 4; // 3 producer traces + the batch trace
  await sleep(FLUSH_MS + 50);
  bulk(220); traces += 1;
  // UDPSender quirk: a span that does not fit the current 65,000-byte batch is only
  // queued in the send callback of the flush it triggered. Closing in the same tick
  // flushes before those callbacks run and silently drops those spans (one per
  // overflow flush). Yield to the event loop first, as a real service would.
  await sleep(FLUSH_MS + 50);
  await Promise.all(Object.values(services).map((s) => new Promise((r) => s.tracer.close(r))));
  fs.closeSync(truthOut);
  process.stderr.write(`mesh.js: ${traces} traces, ${truthCount} spans -> ${TRUTH_PATH}\n`);
}

main().catch((e) => { process.stderr.write(`mesh.js: ${e.stack}\n`); process.exit(1); });
