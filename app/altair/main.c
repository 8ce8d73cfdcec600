/* SPDX-License-Identifier: BSD-3-Clause
 * altair: the trace reconstruction appliance.
 *   altair [EAL options] -- [options]      (altair -- --help)
 *
 * Everything that can be checked without DPDK is checked before EAL
 * starts: the options, the configuration file, the output files and
 * whether there is memory to start on; each error names its cause and
 * exits 2.
 */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>

#include "alt_dp.h"

#define HUGEPAGES_SYSFS "/sys/kernel/mm/hugepages"

/* Free hugepages of every size, in bytes, from sysfs (0 when none are
 * reserved or sysfs cannot tell). */
static unsigned long long
hugepages_free_bytes(void)
{
	DIR *d = opendir(HUGEPAGES_SYSFS);
	unsigned long long total = 0;
	struct dirent *e;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		unsigned long long kb, n;
		char path[512];
		FILE *f;

		if (sscanf(e->d_name, "hugepages-%llukB", &kb) != 1)
			continue;
		snprintf(path, sizeof(path), HUGEPAGES_SYSFS "/%s/free_hugepages", e->d_name);
		f = fopen(path, "r");
		if (f == NULL)
			continue;
		if (fscanf(f, "%llu", &n) == 1)
			total += n * kb * 1024;
		fclose(f);
	}
	closedir(d);
	return total;
}

/* Whether the EAL options (before the first "--") ask for ordinary memory. */
static bool
eal_no_huge(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--no-huge") == 0)
			return true;
	return false;
}

static void
hugepage_hint(void)
{
	fprintf(stderr, "altair: EAL needs hugepages, mounted on hugetlbfs and usable by this user "
		"(dpdk-hugepages.py -s shows them); reserve some with dpdk-hugepages.py -p 2M --setup 2G "
		"(as root), or run on ordinary memory with --no-huge -m 1024 before the --\n");
}

int
main(int argc, char **argv)
{
	struct alt_dp_conf conf;
	int first = argc, last = argc, n, rc;
	bool check_only = false;

	/* --help and --version work without EAL (no hugepages, no devices). */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--version") == 0) {
			alt_dp_conf_default(&conf);
			char *args[2] = { argv[0], argv[i] };
			return alt_dp_conf_parse(&conf, 2, args, "altair") == 1 ? 0 : 2;
		}
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			if (first == argc)
				first = i;
			last = i;
		}
		check_only |= strcmp(argv[i], "--check-config") == 0;
	}
	/* The options are Altair's part of the command line: after the first
	 * "--", where EAL stops (--check-config: after the last one, or all of
	 * it without one). argv[k] stands in for the program name, as EAL
	 * leaves it. */
	int k = check_only ? (last < argc ? last : 0) : first;
	char *none[1] = { argv[0] };
	alt_dp_conf_default(&conf);
	rc = k < argc ? alt_dp_conf_parse(&conf, argc - k, argv + k, "altair")
		      : alt_dp_conf_parse(&conf, 1, none, "altair");
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	if (check_only) {
		alt_dp_conf_print(&conf, stdout);
		return 0;
	}
	if (!eal_no_huge(argc, argv) && hugepages_free_bytes() == 0) {
		fprintf(stderr, "altair: no free hugepages (" HUGEPAGES_SYSFS "/*/free_hugepages are 0) "
			"and no --no-huge\n");
		hugepage_hint();
		return 2;
	}
	n = rte_eal_init(argc, argv);
	if (n < 0) {
		fprintf(stderr, "altair: EAL initialisation failed: %s\n", rte_strerror(rte_errno));
		if (!eal_no_huge(argc, argv))
			hugepage_hint();
		return 2;
	}
	rc = alt_dp_run(&conf);
	rte_eal_cleanup();
	return rc;
}
