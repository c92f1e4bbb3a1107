/* Unit tests of the store's checkpoints: under commits that never pause,
 * the WAL still starts over and its file stays bounded, and the thread
 * that copies it runs below the threads answers wait for. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "util/util.h"

#define RESTART_BYTES (1024 * 1024)
#define INTENTS 30000
#define IN_FLIGHT 64   /* keeps the writer busy: it never waits for work */

struct filler {
	struct store_intent in;
	char account[40];
};

static atomic_int answered;
static atomic_int failed;

static int filler_apply(struct store_tx *tx, struct store_intent *in)
{
	struct filler *f = UTIL_CONTAINER_OF(in, struct filler, in);
	bool created;

	return store_tx_account_put(tx, f->account, STORE_ACCOUNT_ACTIVE, 1, &created)
	       ? STORE_ERR : STORE_OK;
}

static void filler_done(struct store_intent *in, int rc)
{
	(void)in;
	if (rc != STORE_OK)
		atomic_fetch_add(&failed, 1);
	atomic_fetch_add(&answered, 1);
}

static long long file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) ? 0 : (long long)sb.st_size;
}

/* Waits until at most `limit` submitted intents are unanswered. */
static void wait_until_in_flight(int submitted, int limit)
{
	for (int spins = 0; submitted - atomic_load(&answered) > limit; spins++) {
		cr_assert_lt(spins, 20000, "intents not answered within 20 s");
		usleep(1000);
	}
}

Test(checkpoint, wal_starts_over_under_unbroken_commits, .timeout = 120)
{
	char *dir = test_tmpdir();
	char *db = util_xasprintf("%s/test.db", dir);
	char *wal = util_xasprintf("%s/test.db-wal", dir);
	struct store_options opts = {
		.batch_max = 16,
		.sqlite = { .path = db, .synchronous_full = true,
			    .wal_restart_bytes = RESTART_BYTES },
	};
	struct filler *f = calloc(INTENTS, sizeof(*f));
	struct store *st = NULL;
	uint64_t writer_checkpoints = 0;
	long long wal_max = 0;
	char *err = NULL;

	cr_assert_not_null(f);
	atomic_store(&answered, 0);
	atomic_store(&failed, 0);
	cr_assert_eq(store_open(&opts, &st, &err), 0, "store_open: %s", err);
	for (int i = 0; i < INTENTS; i++) {
		snprintf(f[i].account, sizeof(f[i].account), "filler-%08d-%0*d", i, 16, i);
		f[i].in.apply = filler_apply;
		f[i].in.done = filler_done;
		wait_until_in_flight(i, IN_FLIGHT);
		cr_assert_eq(store_submit(st, &f[i].in), STORE_OK);
		if (i % 64 == 0 && file_size(wal) > wal_max)
			wal_max = file_size(wal);
	}
	wait_until_in_flight(INTENTS, 0);
	cr_assert_eq(store_stat_get(st, "writer_checkpoints_total",
				    &writer_checkpoints), 0);
	cr_assert_eq(store_stat_get(st, "no_such_stat", &writer_checkpoints), -1);
	store_close(st);

	cr_assert_eq(atomic_load(&failed), 0);
	/* The WAL passed its restart size again and again, and the writer let
	 * it start over each time, so the file stayed within a few restart
	 * sizes: without the writer's turn, frames keep arriving and a
	 * background pass never copies the last of them. */
	cr_assert_geq(writer_checkpoints, 2, "writer checkpoints: %llu",
		      (unsigned long long)writer_checkpoints);
	cr_assert_leq(wal_max, 4LL * RESTART_BYTES, "WAL file reached %lld bytes",
		      wal_max);
	cr_assert_eq(test_sql_int(dir, "SELECT count(*) FROM accounts"), INTENTS);
	free(f);
	free(wal);
	free(db);
	test_rmdir(dir);
}

/* The id of this process's thread named `name`, or -1. */
static long thread_named(const char *name)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	long found = -1;

	cr_assert_not_null(d);
	while (found < 0 && (e = readdir(d))) {
		char path[300], comm[32] = "";
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
		if (strcmp(comm, name) == 0)
			found = strtol(e->d_name, NULL, 10);
	}
	closedir(d);
	return found;
}

Test(checkpoint, checkpointer_runs_at_a_lower_priority)
{
	char *dir = test_tmpdir();
	struct store *st;
	int mine, want, theirs = 0;
	long tid = -1;

	errno = 0;
	mine = getpriority(PRIO_PROCESS, 0);
	cr_assert(mine != -1 || errno == 0);
	want = mine + 10 > 19 ? 19 : mine + 10;
	st = test_store_open(dir, 16);
	/* The thread names itself and lowers its priority once it runs. */
	for (int spins = 0; spins < 2000; spins++) {
		if (tid < 0)
			tid = thread_named("grantd-ckpt");
		if (tid > 0 && (theirs = getpriority(PRIO_PROCESS, (id_t)tid)) == want)
			break;
		usleep(1000);
	}
	cr_assert_gt(tid, 0, "no grantd-ckpt thread");
	cr_assert_eq(theirs, want, "checkpointer nice %d, process %d", theirs, mine);
	/* Only that thread: the writer and syncer keep the process's priority. */
	for (int i = 0; i < 2; i++) {
		const char *name = i ? "grantd-sync" : "grantd-writer";

		tid = thread_named(name);
		cr_assert_gt(tid, 0, "no %s thread", name);
		cr_assert_eq(getpriority(PRIO_PROCESS, (id_t)tid), mine, "%s", name);
	}
	store_close(st);
	test_rmdir(dir);
}
