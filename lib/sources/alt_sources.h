/* SPDX-License-Identifier: BSD-3-Clause
 * Sources and the low watermark over them (pure C).
 *
 * A source is anything that delivers records in roughly its own event-time
 * order: one sender as the wire names it (an ATR/1 emitter, a Jaeger
 * process, an X-Trace host, else a UDP flow). Its progress is the highest
 * event time it has delivered less the disorder allowed within one source
 * (disorder_ns, or 5/4 of the largest the source showed, when more: a
 * payload older than what it had sent before teaches it); the watermark is the minimum progress over the active sources, so no
 * record of an active source that keeps within its disorder is ever behind
 * it, however long the source batches.
 *
 * Time: idleness runs on the arrival clock (the capture timestamps under
 * replay, the clock when live), given by the caller; nothing here reads a
 * clock, so replays are deterministic.
 *
 * Rules (docs/time-model.md):
 *  - A source is active from the datagram that makes its progress reach the
 *    watermark; a source first heard (or heard again after going idle) with
 *    progress below the watermark is "behind": its records are late and it
 *    holds nothing back until it catches up.
 *  - An active source goes idle when it sends nothing for its idle timeout:
 *    idle_mult x its longest pause between datagrams (a pause after which
 *    it came back from idle with fresh records was quiet, not batching, and
 *    does not count), at least idle_min, at most idle_max; idle_max until it
 *    was heard over idle_min of arrival time.
 *  - A source also promises something while it is quiet: each payload's
 *    lag (its arrival less its oldest record's event time) is at most its
 *    flush interval plus transit plus its clock skew; once lag_obs flushes
 *    (payloads more than 1 ms apart) showed the largest lag L, a record it
 *    sends later is no older than the arrival clock less L times a margin
 *    that shrinks as flushes are seen (10000^(1/n), at least 5/4). So its progress is also at
 *    least now - L * margin - disorder: a sender that flushes every 100 ms
 *    but has nothing to send holds the watermark ~150 ms behind the clock,
 *    not until its idle timeout. A payload later than ever makes L grow.
 *  - Warm-up: for warmup_ns of arrival time after the first datagram the
 *    watermark stays at 0 (senders not yet heard may still deliver records of
 *    that time); it ends early by alt_sources_release (memory pressure).
 *  - No active source: event time follows the arrival clock from the
 *    highest progress reached when the last one stopped holding (the input
 *    went quiet), never below the highest progress heard since.
 *  - The watermark never goes back.
 *  - The table holds max_sources; a new source evicts the least recently
 *    heard one (counted).
 * Memory: alt_sources_memsize + alt_sources_init on caller memory.
 */
#ifndef ALT_SOURCES_H
#define ALT_SOURCES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The watermark when nothing was ever heard: no constraint. */
#define ALT_SOURCES_NONE UINT64_MAX

struct alt_sources_params {
	uint32_t max_sources;   /* table size, default 4096 */
	uint64_t disorder_ns;   /* event-time disorder allowed within one source, default 100 ms */
	uint64_t idle_min_ns;   /* idle timeout floor, default 250 ms */
	uint64_t idle_max_ns;   /* idle timeout cap, default 60 s */
	uint32_t idle_mult;     /* idle timeout = idle_mult x longest pause, default 4 */
	uint64_t warmup_ns;     /* hold after the first datagram, default 10 s; 0 = none */
	uint32_t lag_obs;       /* flushes seen before the lag bound applies, default 4; 0 = never */
};

struct alt_sources_stats {
	uint64_t heard;                 /* datagrams noted */
	uint64_t sources_new;           /* sources first heard */
	uint64_t evicted;               /* least recently heard sources dropped (table full) */
	uint64_t went_idle;             /* active sources that timed out */
	uint64_t returned;              /* idle sources heard again */
	uint64_t returned_behind;       /* ... with progress below the watermark */
	uint64_t released;              /* sources no longer waited for (memory pressure) */
	uint64_t warmup_released;       /* warm-ups ended early (memory pressure) */
	uint32_t known;                 /* in the table now */
	uint32_t active;                /* holding the watermark now */
	uint32_t known_peak;
	uint32_t pad;
};

/* One source as reported (telemetry). */
struct alt_source_info {
	uint64_t key;
	uint64_t max_event_ns;          /* highest event time delivered */
	uint64_t progress_ns;           /* max_event_ns - its disorder */
	uint64_t last_arrival_ns;
	uint64_t idle_timeout_ns;
	uint64_t max_lag_ns;            /* largest arrival - oldest event time of a payload */
	uint64_t max_disorder_ns;       /* largest event-time disorder between its payloads */
	uint64_t datagrams;
	bool active;
};

struct alt_sources;

void alt_sources_params_default(struct alt_sources_params *p);
/* Bytes for a table with these parameters; 0 if they are invalid. */
size_t alt_sources_memsize(const struct alt_sources_params *p);
/* Lay the table out on mem (8-byte aligned); NULL if p is invalid. */
struct alt_sources *alt_sources_init(void *mem, const struct alt_sources_params *p);

/* A datagram from source key arrived at arrival_ns; max_event_ns is the
 * highest event time among its records (0: it carried none). Advances the
 * arrival clock to arrival_ns if later. */
void alt_sources_heard(struct alt_sources *s, uint64_t key, uint64_t max_event_ns,
		       uint64_t arrival_ns);
/* The same, with the payload's oldest event time (its lag bounds what the
 * source may still send; see the rules above). */
void alt_sources_heard_span(struct alt_sources *s, uint64_t key, uint64_t min_event_ns,
			    uint64_t max_event_ns, uint64_t arrival_ns);
/* Advance the arrival clock (no datagram); sources past their idle
 * timeout stop holding the watermark. */
void alt_sources_clock(struct alt_sources *s, uint64_t now_ns);
/* The watermark now (monotonic), ALT_SOURCES_NONE before anything was heard. */
uint64_t alt_sources_watermark(struct alt_sources *s);
/* Memory pressure: end the warm-up if it holds, else stop waiting for the
 * active source holding the watermark furthest back (it comes back as any
 * idle source does). Returns 0, or -1 if nothing was held back. */
int alt_sources_release(struct alt_sources *s);

uint64_t alt_sources_now(const struct alt_sources *s);
void alt_sources_get_stats(const struct alt_sources *s, struct alt_sources_stats *st);
/* Copy up to cap sources, most recently heard first; returns how many. */
unsigned alt_sources_list(const struct alt_sources *s, struct alt_source_info *out, unsigned cap);

#ifdef __cplusplus
}
#endif

#endif /* ALT_SOURCES_H */
