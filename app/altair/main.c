/* SPDX-License-Identifier: BSD-3-Clause
 * altair: the trace reconstruction appliance.
 *   altair [EAL options] -- [options]      (altair -- --help)
 */
#include <stdio.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>

#include "alt_dp.h"

int
main(int argc, char **argv)
{
	struct alt_dp_conf conf;
	int n, rc;

	/* --help and --version work without EAL (no hugepages, no devices). */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--version") == 0) {
			alt_dp_conf_default(&conf);
			char *args[2] = { argv[0], argv[i] };
			return alt_dp_conf_parse(&conf, 2, args, "altair") == 1 ? 0 : 2;
		}
	}
	/* --check-config: validate the configuration without EAL. */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--check-config") == 0) {
			int first = 0;
			for (int k = 1; k < argc; k++)
				if (strcmp(argv[k], "--") == 0)
					first = k;
			alt_dp_conf_default(&conf);
			rc = alt_dp_conf_parse(&conf, argc - first, argv + first, "altair");
			if (rc != 0)
				return rc > 0 ? 0 : 2;
			alt_dp_conf_print(&conf, stdout);
			return 0;
		}
	}
	n = rte_eal_init(argc, argv);
	if (n < 0) {
		fprintf(stderr, "altair: EAL initialisation failed: %s\n", rte_strerror(rte_errno));
		return 2;
	}
	argc -= n;
	argv += n;
	alt_dp_conf_default(&conf);
	rc = alt_dp_conf_parse(&conf, argc, argv, "altair");
	if (rc != 0) {
		rte_eal_cleanup();
		return rc > 0 ? 0 : 2;
	}
	rc = alt_dp_run(&conf);
	rte_eal_cleanup();
	return rc;
}
