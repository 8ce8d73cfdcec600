/* SPDX-License-Identifier: BSD-3-Clause
 * The template library: builder functions that lay out one instance of a
 * microservice trace (a DAG of spans and point events) with jittered
 * trace-relative times. Spans hanging off an event (X-Trace style) are not
 * covered by their span ancestors here; gen_trace_make stretches the root
 * over every synchronous node at the end.
 *
 * While a trace is being built, rec.parents[] holds parent *indices* into the
 * node array (parents always precede their children); gen_trace_make turns
 * them into node IDs once the shape is final. Adding a node stretches its
 * synchronous span ancestors so that a parent always covers its children.
 */
#include <stdlib.h>

#include "gen.h"

static const char *const svc_names[GEN_SVC_COUNT] = {
#define GEN_SVC_NAME(e, s) [GEN_SVC_##e] = s,
	GEN_SERVICES(GEN_SVC_NAME)
#undef GEN_SVC_NAME
};

static const uint8_t svc_lens[GEN_SVC_COUNT] = {
#define GEN_SVC_LEN(e, s) [GEN_SVC_##e] = sizeof(s) - 1,
	GEN_SERVICES(GEN_SVC_LEN)
#undef GEN_SVC_LEN
};

/* The name of a service ("?" out of range). */
const char *
gen_svc_name(enum gen_svc svc)
{
	if ((unsigned)svc >= GEN_SVC_COUNT)
		return "?";
	return svc_names[svc];
}

/* ---- builder primitives ---- */

static inline uint64_t
n_end(const struct gen_node *n)
{
	return n->rec.start_ns + n->rec.duration_ns;
}

/* Extend the synchronous span parents of node i (and theirs) so that each
 * ends a little after i does. */
void
gen_b_stretch_up(struct gen_build *b, uint32_t i)
{
	struct gen_node *n = &b->nodes[i];

	if (n->async)
		return;
	for (unsigned k = 0; k < n->rec.parent_count; k++) {
		uint32_t p = (uint32_t)n->rec.parents[k];
		struct gen_node *pn = &b->nodes[p];
		uint64_t need;

		if (pn->rec.kind != ALT_KIND_SPAN)
			continue;
		need = n_end(&b->nodes[i]) + 1000 + gen_rng_below(b->rng, 15000);
		if (n_end(pn) >= need)
			continue;
		pn->rec.duration_ns = need - pn->rec.start_ns;
		gen_b_stretch_up(b, p);
	}
}

/* Append a node with the given parents (indices of earlier nodes) and
 * trace-relative times; return its index, or GEN_NONE when memory ran out
 * (b->oom is then set and later calls do nothing). */
uint32_t
gen_b_node(struct gen_build *b, enum gen_svc svc, const char *op, enum alt_kind kind,
	   const uint32_t *parents, unsigned np, uint64_t start, uint64_t dur)
{
	struct gen_node *n;
	uint32_t i;

	if (b->oom)
		return GEN_NONE;
	for (unsigned k = 0; k < np; k++)
		if (parents[k] == GEN_NONE || parents[k] >= b->n)
			return GEN_NONE;
	if (b->n == b->cap) {
		uint32_t cap = b->cap ? b->cap * 2 : 64;
		struct gen_node *nn = realloc(b->nodes, (size_t)cap * sizeof(*nn));

		if (nn == NULL) {
			b->oom = true;
			return GEN_NONE;
		}
		b->nodes = nn;
		b->cap = cap;
	}
	if (np > ALT_MAX_PARENTS)
		np = ALT_MAX_PARENTS;
	i = b->n++;
	n = &b->nodes[i];
	memset(n, 0, sizeof(*n));
	n->svc = (uint16_t)svc;
	n->rec.kind = (uint8_t)kind;
	n->rec.start_ns = start;
	n->rec.duration_ns = kind == ALT_KIND_EVENT ? 0 : (dur ? dur : 1000);
	n->rec.service.p = gen_svc_name(svc);
	n->rec.service.len = svc_lens[svc];
	n->rec.operation.p = op;
	n->rec.operation.len = (uint32_t)strlen(op);
	n->rec.attrs.p = "";
	n->rec.parent_count = (uint8_t)np;
	for (unsigned k = 0; k < np; k++)
		n->rec.parents[k] = parents[k];
	gen_b_stretch_up(b, i);
	return i;
}

/* A span with at most one parent (GEN_NONE: a root). */
static uint32_t
b_span(struct gen_build *b, uint32_t parent, enum gen_svc svc, const char *op, uint64_t start,
       uint64_t dur)
{
	return gen_b_node(b, svc, op, ALT_KIND_SPAN, &parent, parent == GEN_NONE ? 0 : 1, start, dur);
}

/* A point event inside parent at time t. */
static uint32_t
b_event(struct gen_build *b, uint32_t parent, enum gen_svc svc, const char *op, uint64_t t)
{
	return gen_b_node(b, svc, op, ALT_KIND_EVENT, &parent, parent == GEN_NONE ? 0 : 1, t, 0);
}

/* A point event that waits for several parents (a join). */
static uint32_t
b_join(struct gen_build *b, const uint32_t *parents, unsigned np, enum gen_svc svc, const char *op,
       uint64_t t)
{
	return gen_b_node(b, svc, op, ALT_KIND_EVENT, parents, np, t, 0);
}

/* A duration of about us microseconds: +-25 % jitter and a small chance of
 * a 1.5x..4x slow tail. */
static uint64_t
b_jit(struct gen_build *b, uint64_t us)
{
	double f = 0.75 + 0.5 * gen_rng_unit(b->rng);

	if (gen_rng_chance(b->rng, 0.03))
		f *= 1.5 + 2.5 * gen_rng_unit(b->rng);
	return (uint64_t)((double)us * 1000.0 * f) + 1;
}

static uint64_t
b_start(const struct gen_build *b, uint32_t i)
{
	return i == GEN_NONE ? 0 : b->nodes[i].rec.start_ns;
}

static uint64_t
b_end(const struct gen_build *b, uint32_t i)
{
	return i == GEN_NONE ? 0 : n_end(&b->nodes[i]);
}

static void
b_attrs(struct gen_build *b, uint32_t i, const char *attrs)
{
	if (i == GEN_NONE)
		return;
	b->nodes[i].rec.attrs.p = attrs;
	b->nodes[i].rec.attrs.len = (uint32_t)strlen(attrs);
}

/* Mark node i as one that can fail by design and make it fail with
 * probability p (then err_attrs, if given, replace its attributes).
 * Returns whether it failed. */
static bool
b_err(struct gen_build *b, uint32_t i, double p, const char *err_attrs)
{
	if (i == GEN_NONE)
		return false;
	b->nodes[i].may_error = 1;
	if (!gen_rng_chance(b->rng, p))
		return false;
	b->nodes[i].rec.flags |= ALT_RF_ERROR;
	if (err_attrs != NULL)
		b_attrs(b, i, err_attrs);
	return true;
}

static uint64_t
max_end(const struct gen_build *b, const uint32_t *idx, unsigned n)
{
	uint64_t m = 0;

	for (unsigned k = 0; k < n; k++)
		if (idx[k] != GEN_NONE && b_end(b, idx[k]) > m)
			m = b_end(b, idx[k]);
	return m;
}

/* ---- the templates ---- */

/* A load balancer probing an API instance, which pings its database. */
static void
tpl_health_check(struct gen_build *b)
{
	uint32_t lb, api, db;

	lb = b_span(b, GEN_NONE, GEN_SVC_LB, "GET /healthz", 0, b_jit(b, 60));
	b_attrs(b, lb, "http.method=GET\nhttp.route=/healthz\nhttp.status_code=200");
	api = b_span(b, lb, GEN_SVC_API, "healthz", b_start(b, lb) + b_jit(b, 40), b_jit(b, 120));
	db = b_span(b, api, GEN_SVC_POSTGRES, "SELECT 1", b_start(b, api) + b_jit(b, 15), b_jit(b, 150));
	b_attrs(b, db, "db.system=postgresql");
	if (b_err(b, db, 0.004, "db.system=postgresql\nerror.kind=connection_refused"))
		b_attrs(b, lb, "http.method=GET\nhttp.route=/healthz\nhttp.status_code=503");
}

/* Web shop checkout: the checkout service reads the cart, prices every
 * item, quotes shipping, charges the card (fraud-scored), ships, empties the
 * cart and sends a confirmation. */
static void
tpl_web_checkout(struct gen_build *b)
{
	uint32_t root, co, cart, pay, ship, x;
	unsigned items = (unsigned)gen_rng_between(b->rng, 1, 6);
	uint64_t t;

	root = b_span(b, GEN_NONE, GEN_SVC_FRONTEND, "POST /cart/checkout", 0, b_jit(b, 300));
	b_attrs(b, root, "http.method=POST\nhttp.route=/cart/checkout\ncomponent=net/http");
	co = b_span(b, root, GEN_SVC_CHECKOUT, "PlaceOrder", b_jit(b, 120), b_jit(b, 200));
	b_attrs(b, co, "rpc.system=grpc\nrpc.service=hipstershop.CheckoutService");
	t = b_start(b, co) + b_jit(b, 40);
	cart = b_span(b, co, GEN_SVC_CART, "GetCart", t, b_jit(b, 250));
	x = b_span(b, cart, GEN_SVC_REDIS, "HGETALL", b_start(b, cart) + b_jit(b, 30), b_jit(b, 180));
	b_attrs(b, x, "db.system=redis");
	b_err(b, x, 0.002, "db.system=redis\nerror.kind=timeout");
	t = b_end(b, cart) + b_jit(b, 20);
	for (unsigned i = 0; i < items; i++) {
		x = b_span(b, co, GEN_SVC_PRODUCT, "GetProduct", t, b_jit(b, 220));
		t = b_end(b, x) + b_jit(b, 10);
	}
	for (unsigned i = 0; i < items; i++) {
		x = b_span(b, co, GEN_SVC_CURRENCY, "Convert", t, b_jit(b, 90));
		t = b_end(b, x) + b_jit(b, 10);
	}
	x = b_span(b, co, GEN_SVC_SHIPPING, "GetQuote", t, b_jit(b, 180));
	t = b_end(b, x) + b_jit(b, 15);
	pay = b_span(b, co, GEN_SVC_PAYMENT, "Charge", t, b_jit(b, 900));
	b_attrs(b, pay, "payment.method=card");
	x = b_span(b, pay, GEN_SVC_FRAUD, "Score", b_start(b, pay) + b_jit(b, 60), b_jit(b, 700));
	if (b_err(b, pay, 0.02, "payment.method=card\nerror.kind=card_declined")) {
		b_err(b, co, 1.0, "rpc.system=grpc\nrpc.grpc.status_code=9");
		b_event(b, co, GEN_SVC_CHECKOUT, "payment failed", b_end(b, pay) + b_jit(b, 5));
		return;
	}
	b_err(b, co, 0.0, NULL);
	t = b_end(b, pay) + b_jit(b, 15);
	ship = b_span(b, co, GEN_SVC_SHIPPING, "ShipOrder", t, b_jit(b, 350));
	t = b_end(b, ship) + b_jit(b, 10);
	x = b_span(b, co, GEN_SVC_CART, "EmptyCart", t, b_jit(b, 120));
	b_span(b, x, GEN_SVC_REDIS, "DEL", b_start(b, x) + b_jit(b, 20), b_jit(b, 60));
	t = b_end(b, x) + b_jit(b, 10);
	x = b_span(b, co, GEN_SVC_EMAIL, "SendOrderConfirmation", t, b_jit(b, 1500));
	b_err(b, x, 0.01, "error.kind=smtp_unavailable");
	x = b_event(b, co, GEN_SVC_CHECKOUT, "order placed", b_end(b, x) + b_jit(b, 5));
	b_attrs(b, x, "message=order placed\nlevel=info");
}

/* Search: the query fans out to 3..12 identical shard calls; a merge event
 * joins them all, then a ranker orders the results. */
static void
tpl_search_fanout(struct gen_build *b)
{
	uint32_t root, q, shards[12], merge, x;
	unsigned n = (unsigned)gen_rng_between(b->rng, 3, 12);
	uint64_t t;

	root = b_span(b, GEN_NONE, GEN_SVC_FRONTEND, "GET /search", 0, b_jit(b, 200));
	b_attrs(b, root, "http.method=GET\nhttp.route=/search");
	q = b_span(b, root, GEN_SVC_SEARCH_API, "Query", b_jit(b, 80), b_jit(b, 200));
	x = b_event(b, q, GEN_SVC_SEARCH_API, "query parsed", b_start(b, q) + b_jit(b, 30));
	b_attrs(b, x, "message=query parsed");
	t = b_start(b, q) + b_jit(b, 60);
	for (unsigned i = 0; i < n; i++) {
		shards[i] = b_span(b, q, GEN_SVC_SEARCH_SHARD, "Search", t + b_jit(b, 8), b_jit(b, 1800));
		b_attrs(b, shards[i], "index=products");
		b_err(b, shards[i], 0.003, "index=products\nerror.kind=shard_timeout");
	}
	merge = b_join(b, shards, n, GEN_SVC_SEARCH_API, "merge results", max_end(b, shards, n) + b_jit(b, 20));
	t = b_end(b, merge) + b_jit(b, 10);
	x = b_span(b, q, GEN_SVC_RANKER, "Rank", t, b_jit(b, 700));
	b_attrs(b, x, "model=ltr-v7");
}

/* Social feed: followees from the graph (cache, on a miss the database),
 * then 4..10 parallel post fetches each with its own cache and database
 * fallback, ranking and ads. */
static void
tpl_feed_fanout(struct gen_build *b)
{
	uint32_t root, feed, sg, x, ps;
	unsigned n = (unsigned)gen_rng_between(b->rng, 4, 10);
	uint64_t t, t0, tmax;

	root = b_span(b, GEN_NONE, GEN_SVC_API_GATEWAY, "GET /v1/feed", 0, b_jit(b, 200));
	b_attrs(b, root, "http.method=GET\nhttp.route=/v1/feed");
	feed = b_span(b, root, GEN_SVC_FEED, "GetFeed", b_jit(b, 60), b_jit(b, 300));
	sg = b_span(b, feed, GEN_SVC_SOCIAL_GRAPH, "GetFollowees", b_start(b, feed) + b_jit(b, 30), b_jit(b, 100));
	x = b_span(b, sg, GEN_SVC_MEMCACHED, "get followees", b_start(b, sg) + b_jit(b, 10), b_jit(b, 80));
	t = b_end(b, x) + b_jit(b, 5);
	if (gen_rng_chance(b->rng, 0.2)) {
		x = b_span(b, sg, GEN_SVC_MYSQL, "SELECT followees", t, b_jit(b, 1200));
		b_attrs(b, x, "db.system=mysql\ndb.name=graph");
		b_err(b, x, 0.003, "db.system=mysql\nerror.kind=deadlock");
		x = b_span(b, sg, GEN_SVC_MEMCACHED, "set followees", b_end(b, x) + b_jit(b, 5), b_jit(b, 60));
	}
	t0 = b_end(b, sg) + b_jit(b, 10);
	tmax = t0;
	for (unsigned i = 0; i < n; i++) {
		ps = b_span(b, feed, GEN_SVC_POST_STORE, "GetPosts", t0 + b_jit(b, 5 + 3 * i), b_jit(b, 90));
		x = b_span(b, ps, GEN_SVC_MEMCACHED, "get posts", b_start(b, ps) + b_jit(b, 10), b_jit(b, 70));
		if (gen_rng_chance(b->rng, 0.3)) {
			t = b_end(b, x) + b_jit(b, 3);
			x = b_event(b, ps, GEN_SVC_POST_STORE, "cache miss", t);
			b_attrs(b, x, "message=cache miss\nlevel=debug");
			x = b_span(b, ps, GEN_SVC_MYSQL, "SELECT posts", t + b_jit(b, 5), b_jit(b, 900));
			b_attrs(b, x, "db.system=mysql\ndb.name=posts");
			b_err(b, x, 0.002, "db.system=mysql\nerror.kind=timeout");
			b_span(b, ps, GEN_SVC_MEMCACHED, "set posts", b_end(b, x) + b_jit(b, 5), b_jit(b, 50));
		}
		if (b_end(b, ps) > tmax)
			tmax = b_end(b, ps);
	}
	t = tmax + b_jit(b, 10);
	x = b_span(b, feed, GEN_SVC_RANKER, "ScoreFeed", t, b_jit(b, 600));
	x = b_span(b, feed, GEN_SVC_AD, "GetAds", b_end(b, x) + b_jit(b, 10), b_jit(b, 400));
	b_span(b, x, GEN_SVC_REDIS, "GET", b_start(b, x) + b_jit(b, 20), b_jit(b, 90));
}

/* HDFS file read in X-Trace style: the client asks the namenode for block
 * locations, then reads five blocks in turn; every block is a chain of
 * point events on a datanode (one per packet sent) with client-side chunk
 * events, and each block ends in a join of the datanode and client chains.
 * About 350 nodes. */
static void
tpl_hdfs_read(struct gen_build *b)
{
	uint32_t root, prev, dn, chunk;
	uint64_t t;

	root = b_span(b, GEN_NONE, GEN_SVC_DFS_CLIENT, "FsShell -cat", 0, b_jit(b, 500));
	b_attrs(b, root, "path=/user/etl/part-00042\ncmd=cat");
	t = b_jit(b, 50);
	prev = b_event(b, root, GEN_SVC_DFS_CLIENT, "DFSClient.open", t);
	t += b_jit(b, 150);
	prev = b_event(b, prev, GEN_SVC_NAMENODE, "NameNode.getBlockLocations", t);
	t += b_jit(b, 200);
	prev = b_event(b, prev, GEN_SVC_NAMENODE, "FSNamesystem.getBlockLocations done", t);
	for (unsigned blk = 0; blk < 5; blk++) {
		unsigned packets = (unsigned)gen_rng_between(b->rng, 50, 62);
		uint32_t two[2];

		t += b_jit(b, 100);
		prev = b_event(b, prev, GEN_SVC_DFS_CLIENT, "DFSInputStream.blockSeekTo", t);
		t += b_jit(b, 250);
		dn = b_event(b, prev, GEN_SVC_DATANODE, "DataXceiver.opReadBlock", t);
		chunk = prev;
		for (unsigned p = 0; p < packets; p++) {
			t += b_jit(b, 60);
			dn = b_event(b, dn, GEN_SVC_DATANODE, "BlockSender.sendPacket", t);
			if (p % 8 == 7) {
				uint32_t par[2] = { dn, chunk };

				chunk = b_join(b, par, 2, GEN_SVC_DFS_CLIENT, "DFSInputStream.readChunk",
					       t + b_jit(b, 20));
			}
		}
		t += b_jit(b, 40);
		dn = b_event(b, dn, GEN_SVC_DATANODE, "DataXceiver.readBlock done", t);
		b_err(b, dn, 0.01, "error.kind=checksum_error\nmessage=block checksum mismatch");
		t += b_jit(b, 30);
		two[0] = dn;
		two[1] = chunk;
		prev = b_join(b, two, 2, GEN_SVC_DFS_CLIENT, "DFSInputStream.blockDone", t);
	}
	t += b_jit(b, 80);
	b_event(b, prev, GEN_SVC_DFS_CLIENT, "DFSClient.close", t);
}

/* Object PUT in X-Trace style: ACL and quota checks run in parallel and an
 * "admitted" event joins them; the write goes to three replicas whose acks
 * join in a quorum event. */
static void
tpl_object_put(struct gen_build *b)
{
	uint32_t root, two[2], admit, w, rep[3], x;
	uint64_t t;

	root = b_span(b, GEN_NONE, GEN_SVC_API, "PUT /objects/{key}", 0, b_jit(b, 200));
	b_attrs(b, root, "http.method=PUT\nhttp.route=/objects/{key}");
	t = b_jit(b, 40);
	two[0] = b_span(b, root, GEN_SVC_AUTH, "CheckACL", t, b_jit(b, 300));
	two[1] = b_span(b, root, GEN_SVC_QUOTA, "CheckQuota", t + b_jit(b, 5), b_jit(b, 450));
	b_err(b, two[1], 0.005, "error.kind=quota_exceeded");
	admit = b_join(b, two, 2, GEN_SVC_API, "admitted", max_end(b, two, 2) + b_jit(b, 10));
	t = b_end(b, admit) + b_jit(b, 10);
	w = gen_b_node(b, GEN_SVC_OBJECT_STORE, "Write", ALT_KIND_SPAN, &admit, 1, t, b_jit(b, 200));
	for (unsigned i = 0; i < 3; i++) {
		rep[i] = b_span(b, w, GEN_SVC_DATANODE, "WriteReplica", b_start(b, w) + b_jit(b, 20),
				b_jit(b, 1500));
		b_err(b, rep[i], 0.003, "error.kind=disk_full");
	}
	x = b_join(b, rep, 3, GEN_SVC_OBJECT_STORE, "quorum ack", max_end(b, rep, 3) + b_jit(b, 10));
	b_attrs(b, x, "replicas=3");
}

/* Asynchronous order: the API inserts the order and publishes a message,
 * then answers; a worker consumes the message later (FOLLOWS_FROM the
 * producer span), ending after the root span. */
static void
tpl_async_order(struct gen_build *b)
{
	uint32_t root, prod, cons, x;
	uint64_t t;

	root = b_span(b, GEN_NONE, GEN_SVC_ORDERS, "POST /orders", 0, b_jit(b, 150));
	b_attrs(b, root, "http.method=POST\nhttp.route=/orders");
	x = b_span(b, root, GEN_SVC_POSTGRES, "INSERT orders", b_jit(b, 40), b_jit(b, 800));
	b_attrs(b, x, "db.system=postgresql");
	b_err(b, x, 0.002, "db.system=postgresql\nerror.kind=unique_violation");
	t = b_end(b, x) + b_jit(b, 10);
	prod = b_span(b, root, GEN_SVC_ORDERS, "kafka.produce orders", t, b_jit(b, 400));
	b_attrs(b, prod, "messaging.system=kafka\nmessaging.destination=orders");
	t = b_end(b, root) + 2000000 + gen_rng_below(b->rng, 40000000);
	cons = b_span(b, prod, GEN_SVC_ORDER_WORKER, "kafka.consume orders", t, b_jit(b, 200));
	if (cons == GEN_NONE)
		return;
	b->nodes[cons].async = 1;
	b_attrs(b, cons, "messaging.system=kafka\nmessaging.operation=process\nref.type=follows_from");
	x = b_span(b, cons, GEN_SVC_INVENTORY, "Reserve", t + b_jit(b, 30), b_jit(b, 300));
	b_span(b, x, GEN_SVC_POSTGRES, "UPDATE stock", b_start(b, x) + b_jit(b, 20), b_jit(b, 600));
	x = b_span(b, cons, GEN_SVC_NOTIFICATION, "SendPush", b_end(b, x) + b_jit(b, 10), b_jit(b, 2000));
	b_err(b, x, 0.03, "error.kind=apns_unreachable");
	x = b_event(b, cons, GEN_SVC_ORDER_WORKER, "order fulfilled", b_end(b, x) + b_jit(b, 5));
	b_attrs(b, x, "message=order fulfilled\nlevel=info");
}

/* Login: authenticate against the user store; a wrong password fails the
 * authentication span by design, otherwise a session token is issued. */
static void
tpl_login(struct gen_build *b)
{
	uint32_t root, a, u, x;
	uint64_t t;

	root = b_span(b, GEN_NONE, GEN_SVC_API_GATEWAY, "POST /login", 0, b_jit(b, 100));
	b_attrs(b, root, "http.method=POST\nhttp.route=/login");
	a = b_span(b, root, GEN_SVC_AUTH, "Authenticate", b_jit(b, 50), b_jit(b, 100));
	u = b_span(b, a, GEN_SVC_USERS, "GetUserByEmail", b_start(b, a) + b_jit(b, 20), b_jit(b, 60));
	x = b_span(b, u, GEN_SVC_POSTGRES, "SELECT users", b_start(b, u) + b_jit(b, 15), b_jit(b, 400));
	b_attrs(b, x, "db.system=postgresql\ndb.name=accounts");
	t = b_end(b, u) + b_jit(b, 2000);       /* bcrypt */
	if (b_err(b, a, 0.05, "error.kind=invalid_credentials")) {
		x = b_event(b, a, GEN_SVC_AUTH, "password mismatch", t);
		b_attrs(b, x, "message=password mismatch\nlevel=warn");
		return;
	}
	x = b_event(b, a, GEN_SVC_AUTH, "password verified", t);
	b_attrs(b, x, "message=password verified\nlevel=info");
	x = b_span(b, a, GEN_SVC_TOKEN, "IssueToken", t + b_jit(b, 10), b_jit(b, 150));
	b_span(b, x, GEN_SVC_REDIS, "SET session", b_start(b, x) + b_jit(b, 20), b_jit(b, 80));
}

/* Payment with retries: up to three authorisation attempts against the
 * bank, the failed ones erroneous by design, a retry event between them. */
static void
tpl_payment_retry(struct gen_build *b)
{
	uint32_t root, p, bank, x;
	uint64_t t;
	double u = gen_rng_unit(b->rng);
	unsigned attempts = u < 0.8 ? 1 : u < 0.95 ? 2 : 3;

	root = b_span(b, GEN_NONE, GEN_SVC_PAYMENT_GW, "POST /v1/payments", 0, b_jit(b, 200));
	b_attrs(b, root, "http.method=POST\nhttp.route=/v1/payments");
	x = b_span(b, root, GEN_SVC_FRAUD, "Score", b_jit(b, 40), b_jit(b, 900));
	t = b_end(b, x) + b_jit(b, 10);
	for (unsigned k = 0; k < attempts; k++) {
		bool last = k + 1 == attempts;

		p = b_span(b, root, GEN_SVC_PAYMENT, "Authorize", t, b_jit(b, 150));
		bank = b_span(b, p, GEN_SVC_BANK, "iso8583.authorize", b_start(b, p) + b_jit(b, 30),
			      b_jit(b, last ? 4000 : 12000));
		b_attrs(b, bank, "peer.service=acquirer");
		if (!last) {
			b_err(b, bank, 1.0, "peer.service=acquirer\nerror.kind=timeout");
			b_err(b, p, 1.0, "error.kind=upstream_timeout");
			t = b_end(b, p) + b_jit(b, 5);
			x = b_event(b, root, GEN_SVC_PAYMENT_GW, "retrying", t);
			b_attrs(b, x, "message=retrying authorization\nlevel=warn");
			t += b_jit(b, 2000);
		} else {
			b_err(b, bank, 0.0, NULL);
			if (b_err(b, p, 0.02, "error.kind=declined"))
				return;
			t = b_end(b, p) + b_jit(b, 10);
		}
	}
	x = b_span(b, root, GEN_SVC_PAYMENT, "Capture", t, b_jit(b, 300));
	b_span(b, x, GEN_SVC_POSTGRES, "INSERT ledger", b_start(b, x) + b_jit(b, 20), b_jit(b, 500));
}

/* Video upload: store the source, transcode 2..5 renditions in parallel,
 * each fetching the source, emitting segment events and storing its
 * output; a join event waits for all renditions. */
static void
tpl_media_transcode(struct gen_build *b)
{
	uint32_t root, put, tc[5], x;
	unsigned n = (unsigned)gen_rng_between(b->rng, 2, 5);
	uint64_t t;

	root = b_span(b, GEN_NONE, GEN_SVC_API, "POST /videos", 0, b_jit(b, 300));
	b_attrs(b, root, "http.method=POST\nhttp.route=/videos");
	put = b_span(b, root, GEN_SVC_OBJECT_STORE, "PutObject source", b_jit(b, 50), b_jit(b, 8000));
	t = b_end(b, put) + b_jit(b, 50);
	for (unsigned i = 0; i < n; i++) {
		unsigned segs = (unsigned)gen_rng_between(b->rng, 2, 4);
		uint64_t s;

		tc[i] = b_span(b, root, GEN_SVC_TRANSCODER, "Transcode", t + b_jit(b, 20), b_jit(b, 500));
		b_err(b, tc[i], 0.005, "error.kind=codec_error");
		x = b_span(b, tc[i], GEN_SVC_OBJECT_STORE, "GetObject", b_start(b, tc[i]) + b_jit(b, 30),
			   b_jit(b, 4000));
		s = b_end(b, x);
		for (unsigned k = 0; k < segs; k++) {
			s += b_jit(b, 15000);
			x = b_event(b, tc[i], GEN_SVC_TRANSCODER, "segment encoded", s);
			b_attrs(b, x, "message=segment encoded");
		}
		b_span(b, tc[i], GEN_SVC_OBJECT_STORE, "PutObject rendition", s + b_jit(b, 100), b_jit(b, 6000));
	}
	b_join(b, tc, n, GEN_SVC_API, "renditions ready", max_end(b, tc, n) + b_jit(b, 20));
}

/* GraphQL product page: product, reviews (with 1..8 review authors, each
 * cached, a miss going to the database), stock and recommendations. */
static void
tpl_graphql_page(struct gen_build *b)
{
	uint32_t root, rev, u, x;
	unsigned n = (unsigned)gen_rng_between(b->rng, 1, 8);
	uint64_t t0, t;

	root = b_span(b, GEN_NONE, GEN_SVC_GRAPHQL, "query ProductPage", 0, b_jit(b, 300));
	b_attrs(b, root, "graphql.operation.type=query\ngraphql.operation.name=ProductPage");
	t0 = b_jit(b, 100);
	x = b_span(b, root, GEN_SVC_PRODUCT, "GetProduct", t0, b_jit(b, 120));
	b_span(b, x, GEN_SVC_REDIS, "GET", b_start(b, x) + b_jit(b, 10), b_jit(b, 80));
	rev = b_span(b, root, GEN_SVC_REVIEWS, "ListReviews", t0 + b_jit(b, 5), b_jit(b, 100));
	x = b_span(b, rev, GEN_SVC_POSTGRES, "SELECT reviews", b_start(b, rev) + b_jit(b, 15), b_jit(b, 700));
	t = b_end(b, x) + b_jit(b, 10);
	for (unsigned i = 0; i < n; i++) {
		u = b_span(b, rev, GEN_SVC_USERS, "GetUser", t + b_jit(b, 5), b_jit(b, 60));
		x = b_span(b, u, GEN_SVC_REDIS, "GET", b_start(b, u) + b_jit(b, 10), b_jit(b, 70));
		if (gen_rng_chance(b->rng, 0.2)) {
			x = b_span(b, u, GEN_SVC_POSTGRES, "SELECT users", b_end(b, x) + b_jit(b, 5), b_jit(b, 500));
			b_attrs(b, x, "db.system=postgresql");
		}
	}
	x = b_span(b, root, GEN_SVC_INVENTORY, "GetStock", t0 + b_jit(b, 10), b_jit(b, 400));
	b_err(b, x, 0.004, "error.kind=unavailable");
	x = b_span(b, root, GEN_SVC_RECOMMEND, "GetRecommendations", t0 + b_jit(b, 15), b_jit(b, 1500));
	b_span(b, x, GEN_SVC_AD, "GetAds", b_start(b, x) + b_jit(b, 100), b_jit(b, 400));
}

/* Nightly report: 24..48 partition scans (each reading an object and
 * logging its row count), partial aggregates joining up to eight scans
 * each, a final join, then the report is mailed. 80..160 nodes. */
static void
tpl_batch_report(struct gen_build *b)
{
	uint32_t root, scans[8], parts[6], x, fin;
	unsigned n = (unsigned)gen_rng_between(b->rng, 24, 48);
	unsigned np = 0, ns = 0;
	uint64_t t, t0;

	root = b_span(b, GEN_NONE, GEN_SVC_REPORTING, "GenerateDailyReport", 0, b_jit(b, 1000));
	b_attrs(b, root, "job=daily-revenue\nscheduler=cron");
	t0 = b_jit(b, 300);
	x = b_event(b, root, GEN_SVC_REPORTING, "plan ready", t0);
	b_attrs(b, x, "message=query plan ready");
	for (unsigned i = 0; i < n; i++) {
		uint32_t s;

		t = t0 + (uint64_t)(i / 8) * 20000000 + b_jit(b, 200);
		s = b_span(b, root, GEN_SVC_WAREHOUSE, "ScanPartition", t, b_jit(b, 500));
		b_err(b, s, 0.002, "error.kind=corrupt_parquet");
		x = b_span(b, s, GEN_SVC_OBJECT_STORE, "GetObject", t + b_jit(b, 50), b_jit(b, 12000));
		x = b_event(b, s, GEN_SVC_WAREHOUSE, "rows scanned", b_end(b, x) + b_jit(b, 2000));
		b_attrs(b, x, "message=rows scanned");
		scans[ns++] = s;
		if (ns == 8 || i + 1 == n) {
			parts[np++] = b_join(b, scans, ns, GEN_SVC_REPORTING, "partial aggregate",
					     max_end(b, scans, ns) + b_jit(b, 500));
			ns = 0;
		}
	}
	fin = b_join(b, parts, np, GEN_SVC_REPORTING, "report assembled", max_end(b, parts, np) + b_jit(b, 800));
	gen_b_node(b, GEN_SVC_EMAIL, "SendReport", ALT_KIND_SPAN, &fin, 1, b_end(b, fin) + b_jit(b, 100),
		   b_jit(b, 3000));
}

const struct gen_template gen_templates[] = {
	{ "health-check", "LB probe -> API -> DB ping (3 nodes)", 20, tpl_health_check },
	{ "web-checkout", "shop checkout: cart, N x product/currency, payment+fraud, shipping, email (12-25)",
	  10, tpl_web_checkout },
	{ "search-fanout", "query fanned out to 3..12 identical shards, merge join, rank (8-17)", 10,
	  tpl_search_fanout },
	{ "feed-fanout", "feed: followees, 4..10 post fetches with nested caches, ranking, ads (15-50)", 10,
	  tpl_feed_fanout },
	{ "hdfs-read", "X-Trace style HDFS read: per-datanode event chains, joins (~330-390)", 1, tpl_hdfs_read },
	{ "object-put", "ACL and quota in parallel joined by an event, 3 replicas joined (10)", 8,
	  tpl_object_put },
	{ "async-order", "order API + kafka producer; consumer FOLLOWS_FROM it ends after the root (9)", 8,
	  tpl_async_order },
	{ "login", "authenticate (5% wrong password by design), issue a token (6-8)", 12, tpl_login },
	{ "payment-retry", "1..3 bank authorisations, failed ones in error by design (6-13)", 8,
	  tpl_payment_retry },
	{ "media-transcode", "2..5 parallel renditions with segment events, join (13-40)", 3,
	  tpl_media_transcode },
	{ "graphql-page", "resolvers: product, reviews with 1..8 cached authors, stock, recs (11-30)", 8,
	  tpl_graphql_page },
	{ "batch-report", "24..48 partition scans, partial aggregate joins, final join (80-160)", 1,
	  tpl_batch_report },
};

const unsigned gen_n_templates = sizeof(gen_templates) / sizeof(gen_templates[0]);

/* The template whose name is exactly name, or NULL. */
const struct gen_template *
gen_template_find(const char *name)
{
	for (unsigned i = 0; i < gen_n_templates; i++)
		if (strcmp(gen_templates[i].name, name) == 0)
			return &gen_templates[i];
	return NULL;
}
