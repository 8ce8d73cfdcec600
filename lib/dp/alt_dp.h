/* SPDX-License-Identifier: BSD-3-Clause
 * The DPDK layer of the appliance: options and configuration, ports and
 * queues, worker lcores running the pipeline to completion, the control
 * lcore (sinks, epoch merging, telemetry, shutdown). The only code that
 * knows DPDK types.
 */
#ifndef ALT_DP_H
#define ALT_DP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "alt_net.h"
#include "alt_pipe.h"

#define ALT_DP_MAX_WORKERS 64
#define ALT_DP_MAX_PORTS 16
#define ALT_DP_MAX_BURST 512             /* largest --burst */

enum alt_dp_rss {
	ALT_DP_RSS_AUTO = 0,    /* ip-udp when a port has several queues and RSS */
	ALT_DP_RSS_IP_UDP = 1,  /* hash IP addresses and UDP ports */
	ALT_DP_RSS_L4_SRC = 2,  /* hash the UDP source port only (ATR/1 TRACE_AFFINE) */
	ALT_DP_RSS_OFF = 3,
};

enum alt_dp_steer {
	ALT_DP_STEER_HASH = 0,  /* owner = alt_trace_owner(trace ID) */
	ALT_DP_STEER_L4_SRC = 1, /* owner = the queue L4-source-port RSS picks */
};

enum alt_dp_detail {
	ALT_DP_DETAIL_SUMMARY = 0,
	ALT_DP_DETAIL_FULL = 1,
};

/* Everything the appliance is configured with (defaults, then --config
 * INI, then command-line options). */
struct alt_dp_conf {
	/* ports */
	uint16_t udp_port[ALT_FMT_COUNT];
	uint16_t rx_queues;             /* per port; 0 = one per worker */
	uint16_t rx_desc;
	uint32_t mbufs;
	uint32_t mbuf_size;             /* data room per mbuf, headroom included; 0 = by driver */
	uint16_t burst;
	bool promisc;
	enum alt_dp_rss rss;
	/* pipeline */
	uint32_t workers;               /* 0 = every lcore but the main one */
	enum alt_dp_steer steer_by;
	uint32_t steer_wait_ms;         /* bounded wait on a full steering ring / no buffer */
	uint64_t reorder_ms, bucket_us, gap_ms, grace_ms, epoch_ms, idle_advance_ms;
	uint64_t source_idle_min_ms, source_idle_max_ms, source_warmup_ms;
	uint32_t source_idle_mult, max_sources;
	uint32_t max_nodes, max_traces, max_nodes_per_trace, max_strings, closed_cache;
	uint32_t topk;
	uint32_t reasm_datagrams, reasm_mb, reasm_timeout_ms;
	uint32_t max_encap;
	/* outputs */
	char dags[512];
	char epochs[512];
	char summary[512];
	enum alt_dp_detail detail;
	bool shape_text;
	bool once;
	uint32_t idle_exit_ms;
	uint32_t out_blocks;            /* output blocks per worker */
	uint32_t stats_ops, stats_shapes;
	bool quiet;
	uint32_t progress_ms;           /* progress line period on stdout; 0 = none */
	/* settings given by a file or an option (bit i: entry i of the
	 * settings table in dp_conf.c), for the contradiction checks */
	uint64_t given;
	/* anomaly detection (docs/anomalies.md) */
	char templates[512];            /* template file loaded at start */
	char flagged[512];              /* flagged traces, full detail */
	double bloom_fpr;               /* target false-positive rate of the filters */
	uint64_t bloom_keys;            /* expected keys per filter; 0 = those loaded or learned */
	double latency_factor;          /* limit = learned p99 x this; 0 = no latency checks */
	uint32_t learn_epochs;          /* learn online during the first N epochs (0 = off) */
	uint32_t learn_min_support;     /* traces a shape or edge needs to be accepted */
	uint32_t relearn_epochs;        /* rebuild from the last M epochs, every M epochs (0 = never) */
	uint32_t learn_max_keys;        /* shapes, families and edges an epoch's observations hold */
};

void alt_dp_conf_default(struct alt_dp_conf *c);
/* Parse the application arguments (after EAL's). Returns 0, 1 when --help
 * or --version was printed, or -1 after printing an error naming the bad
 * option or value. */
int alt_dp_conf_parse(struct alt_dp_conf *c, int argc, char **argv, const char *prog);
/* Cross-checks between settings, and whether every output file can be
 * opened for writing (nothing is created or truncated); -1 after printing
 * what conflicts or which output cannot be written. */
int alt_dp_conf_check(const struct alt_dp_conf *c, const char *prog);
/* Apply an INI file (rte_cfgfile). Returns 0 or -1 after printing an error
 * naming the file, section and key. */
int alt_dp_conf_load(struct alt_dp_conf *c, const char *path);
/* Print the effective configuration as INI. */
void alt_dp_conf_print(const struct alt_dp_conf *c, FILE *f);
/* Fill the pipeline configuration from the appliance configuration. */
void alt_dp_conf_pipe(const struct alt_dp_conf *c, struct alt_pipe_cfg *pc);

/* Run the appliance after rte_eal_init: returns the process exit code. */
int alt_dp_run(struct alt_dp_conf *c);

#endif /* ALT_DP_H */
