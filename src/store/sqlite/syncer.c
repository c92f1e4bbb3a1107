/* store/sqlite/syncer.c: durability off the writer's critical path. The writer
 * commits with SQLite's synchronous=NORMAL (consistent across power loss;
 * SQLite syncs around checkpoints itself) and hands each committed batch
 * here. This thread fdatasyncs the WAL, which makes every commit written so
 * far durable, and only then answers the batches' intents. Meanwhile the
 * writer applies the next intents in a new transaction and commits it when
 * this thread is idle again (writer.c), so the sync overlaps useful work
 * and every sync carries all that arrived during the one before.
 *
 * An acknowledged intent therefore has its WAL frames on disk, as with
 * synchronous=FULL. If a sync fails the store is marked broken: after a
 * failed fsync the kernel may have dropped the pages, so nothing that
 * follows is acknowledged; grantd must be restarted (SQLite then recovers
 * from what reached the disk). */
#include "store/sqlite/sqlite_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ops/ops.h"

/* Opens the WAL file the writer appends to. SQLite never unlinks it while a
 * connection is open, and the writer's connection stays open. */
static int open_wal(struct store_syncer *sy, char **err)
{
	sy->wal_fd = open(sy->wal_path, O_RDONLY | O_CLOEXEC);
	if (sy->wal_fd >= 0)
		return 0;
	*err = util_xasprintf("cannot open %s: %s", sy->wal_path, strerror(errno));
	return -1;
}

/* True if wal_fd still is the file at wal_path (checked before each sync;
 * two system calls are cheap next to an fdatasync). */
static bool same_wal(struct store_syncer *sy)
{
	struct stat a, b;

	return fstat(sy->wal_fd, &a) == 0 && stat(sy->wal_path, &b) == 0 &&
	       a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

static void fail_batch(struct store_intent *batch)
{
	for (struct store_intent *in = batch; in; in = in->next_)
		in->rc_ = STORE_ERR;
}

static void mark_broken(struct store_syncer *sy, const char *why)
{
	ops_log(OPS_LOG_ERROR, "store_error", "%s: %s; nothing more is "
		"acknowledged until grantd restarts", sy->wal_path, why);
	atomic_store(&sy->broken, true);
}

/* Makes every commit so far durable. Returns 0 or -1 (then broken). */
static int sync_wal(struct store_syncer *sy)
{
	int64_t t0;

	if (atomic_load(&sy->broken))
		return -1;
	if (!same_wal(sy)) {
		mark_broken(sy, "the WAL file was replaced under grantd");
		return -1;
	}
	t0 = util_mono_us();
	if (fdatasync(sy->wal_fd) == 0) {
		int64_t us = util_mono_us() - t0;

		store_vfs_count_sync();
		atomic_fetch_add_explicit(&sy->syncs, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&sy->sync_us, (unsigned long long)us,
					  memory_order_relaxed);
		store_log_slow("wal_sync", us);
		return 0;
	}
	mark_broken(sy, strerror(errno));
	return -1;
}

/* Marks the syncer idle if nothing waits for it, and if so tells the
 * writer, so it commits its open batch. The flag is set under the
 * syncer's lock (so it never contradicts a batch handed over meanwhile),
 * the wake-up after it under the writer's lock alone (a writer about to
 * wait sees one or the other): the two threads never hold each other's
 * lock. */
static void announce_idle(struct store *st)
{
	struct store_syncer *sy = &store_sqlite(st)->syncer;
	bool idle;

	pthread_mutex_lock(&sy->t.lock);
	idle = !sy->head;
	if (idle)
		atomic_store(&sy->idle, true);
	pthread_mutex_unlock(&sy->t.lock);
	if (idle)
		store_writer_wake(st);
}

bool store_syncer_idle(struct store *st)
{
	return atomic_load(&store_sqlite(st)->syncer.idle);
}

static void *syncer_main(void *arg)
{
	struct store *st = arg;
	struct store_syncer *sy = &store_sqlite(st)->syncer;

	pthread_mutex_lock(&sy->t.lock);
	for (;;) {
		struct store_intent *batch;

		while (!sy->head && !util_thread_stopping(&sy->t))
			pthread_cond_wait(&sy->t.wake, &sy->t.lock);
		if (!sy->head)
			break;
		batch = sy->head;
		sy->head = sy->tail = NULL;
		pthread_cond_signal(&sy->taken);
		pthread_mutex_unlock(&sy->t.lock);
		if (sync_wal(sy))
			fail_batch(batch);
		/* Free the writer to commit before answering: the next commit
		 * then overlaps the answers instead of waiting for them. */
		announce_idle(st);
		store_answer_batch(batch);
		pthread_mutex_lock(&sy->t.lock);
	}
	pthread_mutex_unlock(&sy->t.lock);
	return NULL;
}

void store_syncer_submit(struct store *st, struct store_intent *batch)
{
	struct store_syncer *sy = &store_sqlite(st)->syncer;
	struct store_intent *last = batch;

	while (last->next_)
		last = last->next_;
	pthread_mutex_lock(&sy->t.lock);
	/* At most one batch waits here: while the syncer is busy with the one
	 * before, hold the writer, and let the requests pile into its queue. */
	while (sy->head)
		pthread_cond_wait(&sy->taken, &sy->t.lock);
	atomic_store(&sy->idle, false);
	sy->head = batch;
	sy->tail = last;
	pthread_cond_signal(&sy->t.wake);
	pthread_mutex_unlock(&sy->t.lock);
}

bool store_syncer_broken(struct store *st)
{
	return atomic_load(&store_sqlite(st)->syncer.broken);
}

int store_syncer_start(struct store *st, char **err)
{
	struct store_syncer *sy = &store_sqlite(st)->syncer;

	sy->wal_path = util_xasprintf("%s-wal", store_sqlite(st)->path);
	if (open_wal(sy, err))
		return -1;
	util_thread_init(&sy->t);
	pthread_cond_init(&sy->taken, NULL);
	atomic_store(&sy->idle, true);
	if (util_thread_start(&sy->t, "grantd-sync", syncer_main, st)) {
		*err = util_xstrdup("cannot start the syncer thread");
		return -1;
	}
	return 0;
}

void store_syncer_stop(struct store *st)
{
	struct store_syncer *sy = &store_sqlite(st)->syncer;

	if (sy->t.ready) {
		util_thread_stop(&sy->t);  /* answers what was queued */
		pthread_cond_destroy(&sy->taken);
	}
	if (sy->wal_fd >= 0)
		close(sy->wal_fd);
	sy->wal_fd = -1;
	free(sy->wal_path);
	sy->wal_path = NULL;
}
