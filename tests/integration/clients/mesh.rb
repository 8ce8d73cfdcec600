#!/usr/bin/env ruby
# frozen_string_literal: true

# Simulated service mesh instrumented with Debian's unmodified `ruby-jaeger-client`
# (Thrift compact over UDP to 127.0.0.1:6831).
#
# Usage: ruby mesh.rb TRUTH.jsonl [AGENT_HOST [AGENT_PORT]]
#
# Every span this program finishes is written to TRUTH.jsonl as one JSON line, with
# IDs and timestamps taken from the objects the library created (nothing invented):
#   {"trace_id","id","parents","service","operation","start_us","duration_us",
#    "error","client":"ruby"}
#
# Span times come from a virtual clock (explicit start_time/end_time through the
# OpenTracing API) anchored at the real start time, so the mesh shows realistic
# latencies without sleeping. Flushes are explicit so that batches mix traces and
# services in a reproducible way.

require 'jaeger/client'
require 'json'
require 'logger'

TRUTH_PATH = ARGV[0] || 'ruby-truth.jsonl'
AGENT_HOST = ARGV[1] || '127.0.0.1'
AGENT_PORT = Integer(ARGV[2] || 6831)
# The gem's documented default flush interval (Jaeger::Client.build uses it).
FLUSH_INTERVAL = 10
SEED = Integer(ENV.fetch('MESH_SEED', '6831'))

LOGGER = Logger.new($stderr, level: Logger::WARN)
srand(SEED) # the gem draws IDs from Kernel#rand; seeding makes runs repeatable

# Virtual clock in integer microseconds since the epoch.
class Clock
  attr_reader :us

  def initialize
    now = Time.now
    @us = now.to_i * 1_000_000 + now.usec
  end

  def advance(us)
    @us += us
    self
  end

  def time(offset_us = 0)
    Time.at(0, @us + offset_us, :usec)
  end
end

# One simulated service: its own tracer, reporter and UDP socket, as in a real mesh.
class Service
  attr_reader :name, :tracer

  def initialize(name, truth, tags = {})
    @name = name
    @truth = truth
    encoder = Jaeger::Encoders::ThriftEncoder.new(service_name: name, logger: LOGGER, tags: tags)
    sender = Jaeger::UdpSender.new(host: AGENT_HOST, port: AGENT_PORT, encoder: encoder, logger: LOGGER)
    # The gem's default flush interval (10 s): its reporter thread sends once
    # right after the first span, then every 10 s, as in a real service.
    @reporter = Jaeger::Reporters::RemoteReporter.new(sender: sender, flush_interval: FLUSH_INTERVAL)
    @tracer = Jaeger::Client.build(
      service_name: name,
      reporter: @reporter,
      logger: LOGGER,
      tags: tags,
      extractors: {
        OpenTracing::FORMAT_RACK => [Jaeger::Extractors::TraceContextRackCodec,
                                     Jaeger::Extractors::JaegerRackCodec]
      }
    )
  end

  def start(operation, at:, **opts)
    @tracer.start_span(operation, start_time: at, ignore_active_scope: true, **opts)
  end

  # Finish through the library, then record what the library holds for the span.
  def finish(span, at:)
    span.finish(end_time: at)
    @truth.record(span, @name)
    span
  end
end

# Writes the ground truth as the library would encode it.
class Truth
  attr_reader :count

  def initialize(path)
    @io = File.open(path, 'w')
    @count = 0
  end

  def hex_trace(id)
    format('%032x', id)
  end

  def hex_span(id)
    format('%016x', id)
  end

  def record(span, service)
    ctx = span.context
    parents = []
    parents << ctx.parent_id if ctx.parent_id && ctx.parent_id != 0
    (span.references || []).each do |ref|
      parents << ref.context.span_id if ref.context.trace_id == ctx.trace_id
    end
    # Same arithmetic as Jaeger::Encoders::ThriftEncoder#build_timestamps.
    start_us = (span.start_time.to_f * 1_000_000).to_i
    end_us = (span.end_time.to_f * 1_000_000).to_i
    error = span.tags.any? do |t|
      t.key == 'error' && t.vType == Jaeger::Thrift::TagType::BOOL && t.vBool == true
    end
    @io.puts(JSON.generate(
               'trace_id' => hex_trace(ctx.trace_id),
               'id' => hex_span(ctx.span_id),
               'parents' => parents.uniq.map { |p| hex_span(p) }.sort,
               'service' => service,
               'operation' => span.operation_name,
               'start_us' => start_us,
               'duration_us' => end_us - start_us,
               'error' => error,
               'client' => 'ruby'
             ))
    @count += 1
  end

  def close
    @io.close
  end
end

TRUTH = Truth.new(TRUTH_PATH)
CLOCK = Clock.new

ZONES = %w[eu-west-1a eu-west-1b eu-west-1c].freeze
SERVICES = {}
%w[frontend cart checkout payment shipping inventory catalog search email
   recommendation indexer].each_with_index do |n, i|
  SERVICES[n] = Service.new(n, TRUTH, 'zone' => ZONES[i % 3], 'replica' => i, 'canary' => i.even?,
                                      'weight' => 0.25 * (i + 1))
end

def svc(name)
  SERVICES.fetch(name)
end

# An RPC: client span in `from`, context carried in a Rack-style header hash, server
# span in `to` built from the extracted context (a parent from another process).
def rpc(from, parent, to, operation, at:, latency_us:, tags: {})
  client = svc(from).start("#{to}.#{operation}", at: CLOCK.time(at), child_of: parent,
                                                 tags: { 'span.kind' => 'client', 'peer.service' => to })
  carrier = {}
  svc(from).tracer.inject(client.context, OpenTracing::FORMAT_RACK, carrier)
  rack = carrier.transform_keys { |k| "HTTP_#{k.upcase.tr('-', '_')}" }
  remote = svc(to).tracer.extract(OpenTracing::FORMAT_RACK, rack)
  server = svc(to).start(operation, at: CLOCK.time(at + 150), child_of: remote,
                                    tags: { 'span.kind' => 'server' }.merge(tags))
  yield server if block_given?
  svc(to).finish(server, at: CLOCK.time(at + latency_us - 150))
  client.set_tag('http.status_code', server.tags.any? { |t| t.key == 'error' && t.vBool } ? 500 : 200)
  svc(from).finish(client, at: CLOCK.time(at + latency_us))
  client
end

def db(service, parent, statement, at:, dur:)
  span = svc(service).start('db.query', at: CLOCK.time(at), child_of: parent,
                                        tags: { 'db.type' => 'sql', 'db.statement' => statement,
                                                'db.rows' => rand(1..500) })
  svc(service).finish(span, at: CLOCK.time(at + dur))
end

def fail!(span, message)
  span.set_tag('error', true)
  span.log_kv(timestamp: span.start_time + 0.0005, event: 'error', 'error.kind' => 'PaymentDeclined',
              message: message, 'retry.count' => 3, 'retry.backoff_s' => 0.125, fatal: false)
end

# --- scenarios ---------------------------------------------------------------

def checkout(n, with_error:)
  fe = svc('frontend')
  root = fe.start('HTTP POST /checkout', at: CLOCK.time,
                                         tags: { 'span.kind' => 'server', 'http.method' => 'POST',
                                                 'http.url' => "/checkout?order=#{n}", 'user.id' => 10_000 + n,
                                                 'cart.total' => 19.99 * (n + 1), 'user.premium' => n.odd? })
  root.log_kv(timestamp: CLOCK.time(20), event: 'request.received', bytes: 512 + n)
  rpc('frontend', root, 'cart', 'GetCart', at: 200, latency_us: 4_000) do |s|
    db('cart', s, "SELECT * FROM cart_items WHERE cart_id = #{n}", at: 600, dur: 1_800)
  end
  checkout_server = nil
  rpc('frontend', root, 'checkout', 'PlaceOrder', at: 4_500, latency_us: 60_000) do |co|
    checkout_server = co
    # fan-out: three concurrent calls from checkout
    rpc('checkout', co, 'inventory', 'Reserve', at: 5_000, latency_us: 9_000,
                                                tags: { 'items' => 3 + n })
    rpc('checkout', co, 'shipping', 'Quote', at: 5_100, latency_us: 12_000,
                                             tags: { 'shipping.express' => n.even?, 'weight.kg' => 1.5 })
    rpc('checkout', co, 'payment', 'Charge', at: 5_200, latency_us: 40_000) do |pay|
      if with_error
        fail!(pay, "card declined for order #{n}")
        co.set_tag('error', true)
      else
        pay.set_tag('payment.amount', 19.99 * (n + 1))
        pay.set_tag('error', false) if n == 4 # an explicit non-error
      end
    end
  end
  root.set_tag('http.status_code', with_error ? 502 : 201)
  root.set_tag('error', true) if with_error
  fe.finish(root, at: CLOCK.time(66_000))
  # Asynchronous confirmation e-mail, after the response: follows-from, same trace.
  unless with_error
    email = svc('email')
    mail = email.start('SendConfirmation', at: CLOCK.time(70_000),
                                           references: [OpenTracing::Reference.follows_from(checkout_server.context)],
                                           tags: { 'span.kind' => 'consumer', 'mail.to.domain' => 'example.org' })
    mail.log_kv(timestamp: CLOCK.time(71_000), event: 'smtp.accepted', queue_id: "q#{n}")
    email.finish(mail, at: CLOCK.time(75_000))
  end
  CLOCK.advance(80_000)
end

def browse(n)
  fe = svc('frontend')
  root = fe.start('HTTP GET /product', at: CLOCK.time, tags: { 'span.kind' => 'server', 'product.id' => 700 + n })
  rpc('frontend', root, 'catalog', 'GetProduct', at: 300, latency_us: 9_000) do |cat|
    rpc('catalog', cat, 'inventory', 'Stock', at: 1_000, latency_us: 6_000) do |inv|
      db('inventory', inv, "SELECT qty FROM stock WHERE sku = 'SKU-#{n}'", at: 1_600, dur: 3_000)
    end
  end
  rpc('frontend', root, 'recommendation', 'ForProduct', at: 9_500, latency_us: 5_000)
  fe.finish(root, at: CLOCK.time(15_000))
  CLOCK.advance(20_000)
end

def search(n, shards)
  fe = svc('frontend')
  root = fe.start('HTTP GET /search', at: CLOCK.time, tags: { 'span.kind' => 'server', 'q' => "query #{n}" })
  rpc('frontend', root, 'search', 'Query', at: 200, latency_us: 30_000) do |s|
    shards.times do |i|
      shard = svc('search').start("shard-#{i}", at: CLOCK.time(500 + i * 10), child_of: s,
                                                tags: { 'shard' => i, 'score.max' => rand.round(4), 'hit' => i.odd? })
      svc('search').finish(shard, at: CLOCK.time(2_000 + i * 900))
    end
  end
  fe.finish(root, at: CLOCK.time(31_000))
  CLOCK.advance(35_000)
end

# A request that enters through an un-mirrored gateway with a W3C traceparent:
# 128-bit trace id, root's parent is not in the capture.
def ingress_128
  fe = svc('frontend')
  rack = { 'HTTP_TRACEPARENT' => "00-#{format('%032x', rand(1 << 128) | (1 << 127))}-#{format('%016x', rand(1 << 64) | 1)}-01" }
  upstream = fe.tracer.extract(OpenTracing::FORMAT_RACK, rack)
  root = fe.start('HTTP GET /account', at: CLOCK.time, child_of: upstream,
                                       tags: { 'span.kind' => 'server', 'via' => 'edge-gateway' })
  rpc('frontend', root, 'cart', 'GetCart', at: 300, latency_us: 3_000)
  rpc('frontend', root, 'recommendation', 'ForUser', at: 3_500, latency_us: 4_000)
  fe.finish(root, at: CLOCK.time(8_000))
  CLOCK.advance(10_000)
end

# Producer trace, then a consumer trace that references the producer span
# (a cross-trace FOLLOWS_FROM, not a parent), plus an in-trace multi-parent join.
def async_pipeline(n)
  co = svc('checkout')
  prod_root = co.start('order.publish', at: CLOCK.time, tags: { 'span.kind' => 'producer', 'topic' => 'orders' })
  co.finish(prod_root, at: CLOCK.time(900))

  sh = svc('shipping')
  batch = sh.start('orders.consume-batch', at: CLOCK.time(50_000), tags: { 'batch.size' => 2 + n })
  consume = sh.start('order.consume', at: CLOCK.time(50_100), child_of: batch,
                                      references: [OpenTracing::Reference.follows_from(prod_root.context)],
                                      tags: { 'span.kind' => 'consumer' })
  label = sh.start('label.print', at: CLOCK.time(50_500),
                                  references: [OpenTracing::Reference.child_of(consume.context)])
  sh.finish(label, at: CLOCK.time(52_000))
  pickup = sh.start('pickup.schedule', at: CLOCK.time(50_600), child_of: consume)
  sh.finish(pickup, at: CLOCK.time(53_000))
  # join: child of `label`, follows from `pickup`
  join = sh.start('shipment.ready', at: CLOCK.time(53_100),
                                    references: [OpenTracing::Reference.child_of(label.context),
                                                 OpenTracing::Reference.follows_from(pickup.context)])
  sh.finish(join, at: CLOCK.time(53_400))
  sh.finish(consume, at: CLOCK.time(53_500))
  sh.finish(batch, at: CLOCK.time(54_000))
  CLOCK.advance(60_000)
end

def single(n)
  s = svc('email')
  span = s.start('heartbeat', at: CLOCK.time, tags: { 'seq' => n, 'ok' => n.even? })
  span.set_tag('error', true) if n.odd?
  s.finish(span, at: CLOCK.time(50))
  CLOCK.advance(1_000)
end

# Big trace: hundreds of spans with large tag values finished before one flush, so
# the indexer's batch approaches the 65,000-byte limit (≈44 IPv4 fragments at MTU
# 1500) and the gem splits it into several datagrams.
def reindex(spans)
  ix = svc('indexer')
  root = ix.start('nightly.reindex', at: CLOCK.time, tags: { 'job' => 'reindex', 'tables' => spans })
  t = 100
  parent = root
  spans.times do |i|
    # a chain of stage spans, each with a fan of row-batch spans
    if (i % 25).zero?
      parent = ix.start("stage-#{i / 25}", at: CLOCK.time(t), child_of: root, tags: { 'stage' => i / 25 })
      @stages = (@stages || []) << [parent, t]
    end
    s = ix.start('rows.copy', at: CLOCK.time(t + 10), child_of: parent,
                              tags: { 'db.statement' => "INSERT INTO search_idx_#{i % 7} SELECT #{(['col'] * 40).each_with_index.map { |c, j| "#{c}_#{j}" }.join(', ')} FROM src WHERE id BETWEEN #{i * 1000} AND #{i * 1000 + 999}",
                                      'rows' => 1000, 'ratio' => 0.5 + i / 1000.0, 'dry_run' => false })
    s.log_kv(timestamp: CLOCK.time(t + 20), event: 'progress', pct: (100.0 * i / spans).round(2))
    ix.finish(s, at: CLOCK.time(t + 400))
    t += 450
  end
  @stages.each { |(st, st_t)| ix.finish(st, at: CLOCK.time([st_t + 25 * 450, t].min)) }
  ix.finish(root, at: CLOCK.time(t + 100))
  CLOCK.advance(t + 1_000)
end

# --- run ---------------------------------------------------------------------

traces = 0
6.times do |n|
  checkout(n, with_error: (n % 3) == 2)
  traces += 1
end
6.times do |n|
  browse(n)
  traces += 1
end
[4, 12, 24].each_with_index do |shards, n|
  search(n, shards)
  traces += 1
end
ingress_128
traces += 1
2.times do |n|
  async_pipeline(n)
  traces += 2
end
2.times do |n|
  single(n)
  traces += 1
end
reindex(160)
traces += 1
# No flush by hand: wait for the reporter threads' next 10 s tick, which sends
# everything still buffered.
sleep(FLUSH_INTERVAL + 1.5)
TRUTH.close
warn "mesh.rb: #{traces} traces, #{TRUTH.count} spans -> #{TRUTH_PATH}"
