/* store/sqlite/checkpoint.c: WAL checkpoints kept off the hot path.
 *
 * The writer's connection never checkpoints on its own. After each commit
 * its WAL hook wakes a background thread once 32 MiB of the log (a third
 * of RESET_BYTES) are not yet in the database; that thread runs PASSIVE
 * checkpoints on its own connection, copying pages to the database while
 * the writer goes on, and writes the copied pages back to the disk in small
 * paced steps while the disk has time to spare.
 *
 * Under continuous commits such a checkpoint never copies the very last
 * frames, and the WAL can only restart from its beginning once every frame
 * has been copied. So when the log passes RESET_BYTES (96 MiB), the
 * background thread first shrinks what is left (rounds of copy and sync,
 * each with only what arrived during the one before) and then asks the
 * writer to finish: between two batches the writer runs a PASSIVE
 * checkpoint itself, which has only those last frames to copy and little
 * to sync, and its next transaction restarts the WAL. The WAL file keeps its size when it
 * restarts (up to journal_size_limit, conn.c): frames then overwrite blocks
 * the file already has, and syncing such writes needs no file-system
 * journal commit, which on the test machine made WAL syncs 2-4 times
 * faster. */
#include "store/sqlite/sqlite_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ops/ops.h"

/* Thresholds in bytes of WAL, as fractions of the size at which it starts
 * over (store_options.wal_restart_bytes); turned into pages for the
 * database's page size. Few large passes copy less than many small ones: a
 * hot page (a balance, an index leaf) changed many times is copied once per
 * pass. */
#define RESET_BYTES (96LL * 1024 * 1024)  /* default: have the writer let it restart */
#define CHECKPOINT_SHARE 3    /* a third of that not yet copied: copy them */
#define WRITER_TURN_SHARE 96  /* most left to the writer: 1/96 (1 MiB) */
#define RESET_ROUNDS 6                       /* background rounds before it */
#define CHECKPOINT_MIN_GAP_MS 50    /* between background passes */
#define WRITEBACK_RANGE (256 * 1024) /* database written back this much at a time */
#define WRITEBACK_PAUSE_US 500      /* after a range that had dirty pages */
#define WRITEBACK_CLEAN_US 50       /* a range written back faster was clean */
#define CHECKPOINT_INTERVAL_MS 1000 /* idle timer */
#define CHECKPOINT_NICE 10          /* below the threads answers wait for */

/* True once enough of a WAL of `pages` frames is not yet copied to the
 * database for a background pass. */
static bool pass_due(const struct store_checkpointer *cp, int pages)
{
	int copied = atomic_load_explicit(&cp->backfilled, memory_order_relaxed);

	/* After a restart the WAL counts from 0 again. */
	if (copied > pages)
		copied = 0;
	return pages - copied >= cp->checkpoint_pages;
}

/* sqlite3_wal_hook callback, on the writer thread after every commit. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct store_checkpointer *cp = arg;

	(void)db;
	(void)name;
	atomic_store_explicit(&cp->wal_pages, pages, memory_order_relaxed);
	if (pass_due(cp, pages) && !atomic_exchange(&cp->due, true)) {
		pthread_mutex_lock(&cp->t.lock);
		pthread_cond_signal(&cp->t.wake);
		pthread_mutex_unlock(&cp->t.lock);
	}
	return SQLITE_OK;
}

/* Runs a PASSIVE checkpoint on `c`. Returns 0 or -1; *log_frames is the
 * WAL's size in frames and *backfilled how many of them are now in the
 * database. */
static int passive(struct store_conn *c, int *log_frames, int *backfilled)
{
	int rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
					   log_frames, backfilled);

	if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
		store_log_error(c, "wal_checkpoint", rc);
		return -1;
	}
	return 0;
}

/* SQLite syncs the database file only after a checkpoint that reached the
 * end of the WAL, which under load only the writer's pass does: the pages
 * the background passes copied would all be written by that one sync, on
 * the hot path. So they are written back here, ahead of it. Not with one
 * fdatasync: a burst of megabytes makes every WAL sync that overlaps it
 * wait (on this project's test machine a 0.1 ms sync became 3 ms and more),
 * and WAL syncs are what every answer waits for. Instead the file is walked
 * in small ranges, each written out and waited for, so a WAL sync never
 * queues behind more than one range, with a short pause after each range
 * that had dirty pages, which WAL syncs barely notice.
 *
 * That walk is only worth it while the disk has time to spare. It visits
 * the whole file one range at a time, and on a database of hundreds of
 * megabytes, with copied pages scattered through it, it took 0.2-1.4 s:
 * the WAL then grew past 500 MiB before it could restart and the writer's
 * final pass stalled commits for 50-85 ms. So the walk stops as soon as the
 * next pass is due; what it left is written by the next sync of the file
 * (sync_database, or SQLite's own at the end of a checkpoint). Durability
 * does not depend on any of this: SQLite syncs the database itself before
 * the WAL may start over. */
static int writeback_database(struct store_checkpointer *cp)
{
	struct timespec pause = { 0, WRITEBACK_PAUSE_US * 1000 };
	struct stat st;
	int64_t t0 = util_mono_us();

	if (cp->db_fd < 0 || fstat(cp->db_fd, &st))
		return -1;
	for (off_t off = 0; off < st.st_size && !util_thread_stopping(&cp->t) && !atomic_load(&cp->due);
	     off += WRITEBACK_RANGE) {
		int64_t t = util_mono_us();

		if (sync_file_range(cp->db_fd, off, WRITEBACK_RANGE,
				    SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
				    SYNC_FILE_RANGE_WAIT_AFTER)) {
			ops_log(OPS_LOG_WARN, "store_error", "writeback of the "
				"database failed: %s", strerror(errno));
			return -1;
		}
		/* A clean range returns at once; pause only after real I/O. */
		if (util_mono_us() - t > WRITEBACK_CLEAN_US)
			nanosleep(&pause, NULL);
	}
	atomic_fetch_add_explicit(&cp->writeback_us,
				  (unsigned long long)(util_mono_us() - t0),
				  memory_order_relaxed);
	return 0;
}

/* The WAL's size in frames after the writer's last commit. */
static int frames_now(struct store_checkpointer *cp)
{
	return atomic_load_explicit(&cp->wal_pages, memory_order_relaxed);
}

/* One background pass: copy WAL pages to the database, then, if
 * `write_back`, start writing them to the disk. Returns how many frames it
 * copied, or -1. */
static int pass_and_write_back(struct store_checkpointer *cp, bool write_back,
			       int *log_frames)
{
	int64_t t0 = util_mono_us();
	int before = atomic_load(&cp->backfilled), after = 0;

	if (passive(cp->conn, log_frames, &after))
		return -1;
	store_log_slow("checkpoint_pass", util_mono_us() - t0);
	atomic_fetch_add_explicit(&cp->count, 1, memory_order_relaxed);
	atomic_store(&cp->backfilled, after);
	/* While the pass ran, the WAL hook compared against the count from
	 * before it and flagged the next pass at once; that flag would cut the
	 * write-back short and run a pass with little to copy. Judge again. */
	atomic_store(&cp->due, pass_due(cp, frames_now(cp)));
	if (write_back && writeback_database(cp))
		return -1;
	/* A restarted WAL counts from 0 again. */
	return after >= before ? after - before : after;
}

/* Makes what the passes copied durable, off the writer's path. */
static int sync_database(struct store_checkpointer *cp)
{
	int64_t t0 = util_mono_us();

	if (fdatasync(cp->db_fd)) {
		ops_log(OPS_LOG_WARN, "store_error", "sync of the database "
			"failed: %s", strerror(errno));
		return -1;
	}
	store_vfs_count_sync();
	store_log_slow("checkpoint_sync", util_mono_us() - t0);
	return 0;
}

/* Copies in the background. Once the WAL is big enough to start over, the
 * writer must copy the last frames itself (between two of its batches no
 * new frame arrives), and SQLite then syncs the database on the writer's
 * path. To keep that pause short, both shares are made small first: copy
 * and sync here, again and again, each round only having what arrived
 * during the one before, until a round copies little; only then is the
 * writer asked to finish. The rounds sync with one fdatasync, not the paced
 * walk: they are there to be quick. */
static void background_pass(struct store_checkpointer *cp)
{
	int frames = 0, copied;

	atomic_store(&cp->due, false);
	/* Written back at a pace, unless the WAL is due to start over: then
	 * speed counts, and the rounds' syncs write it. */
	copied = pass_and_write_back(cp, frames_now(cp) < cp->reset_pages, &frames);
	if (copied < 0 || frames < cp->reset_pages)
		return;
	for (int i = 0; i < RESET_ROUNDS && !util_thread_stopping(&cp->t); i++) {
		if (sync_database(cp))
			return;
		if (copied <= cp->writer_turn_pages)
			break;
		copied = pass_and_write_back(cp, false, &frames);
		if (copied < 0)
			return;
	}
	/* Even if the rounds could not catch up (the disk is slower than the
	 * load), the writer finishes: a longer pause, but the WAL restarts
	 * and stays bounded. */
	atomic_store(&cp->reset_wanted, true);
}

void store_checkpoint_writer_turn(struct store *st)
{
	struct store_checkpointer *cp = &store_sqlite(st)->checkpointer;
	int64_t t0;
	int frames, backfilled = 0;

	if (!atomic_load_explicit(&cp->reset_wanted, memory_order_relaxed))
		return;
	atomic_store(&cp->reset_wanted, false);
	t0 = util_mono_us();
	if (passive(store_sqlite(st)->writer_conn, &frames, &backfilled) == 0)
		atomic_store(&cp->backfilled, backfilled);
	t0 = util_mono_us() - t0;
	atomic_fetch_add_explicit(&cp->writer_turns, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&cp->writer_turn_us, (unsigned long long)t0,
				  memory_order_relaxed);
	store_log_slow("writer_checkpoint", t0);
}

/* Waits for `ms` or until stopping; called with the lock held. */
static void wait_ms(struct store_checkpointer *cp, int ms, bool until_due)
{
	struct timespec until;

	util_deadline_in(&until, ms);
	while (!util_thread_stopping(&cp->t) && !(until_due && atomic_load(&cp->due)) &&
	       pthread_cond_timedwait(&cp->t.wake, &cp->t.lock, &until) != ETIMEDOUT)
		;
}

/* A pass is a burst of CPU: copying a third of the WAL takes 10-25 ms.
 * At the same priority as the rest of grantd it delayed the syncer and
 * the HTTP threads, whose wake-ups every answer waits for, and on a
 * two-CPU machine that was a good part of the latency tail. So this
 * thread runs CHECKPOINT_NICE below the process (Linux keeps a nice value
 * per thread). It still gets a share of a saturated CPU (at nice 10 about
 * a tenth of a thread at nice 0), which at 64 connections on the test
 * machine ran as many passes as before. */
static void lower_own_priority(void)
{
	id_t self = (id_t)gettid();
	int nice;

	errno = 0;
	nice = getpriority(PRIO_PROCESS, self);
	if (nice == -1 && errno)
		return;
	nice = nice + CHECKPOINT_NICE > 19 ? 19 : nice + CHECKPOINT_NICE;
	if (setpriority(PRIO_PROCESS, self, nice))
		ops_log(OPS_LOG_WARN, "store_error", "cannot lower the checkpoint "
			"thread's priority: %s", strerror(errno));
}

static void *checkpointer_main(void *arg)
{
	struct store_checkpointer *cp = arg;

	lower_own_priority();
	pthread_mutex_lock(&cp->t.lock);
	while (!util_thread_stopping(&cp->t)) {
		wait_ms(cp, CHECKPOINT_INTERVAL_MS, true);
		if (util_thread_stopping(&cp->t))
			break;
		pthread_mutex_unlock(&cp->t.lock);
		if (atomic_load(&cp->wal_pages) > 0)
			background_pass(cp);
		pthread_mutex_lock(&cp->t.lock);
		wait_ms(cp, CHECKPOINT_MIN_GAP_MS, false);
	}
	pthread_mutex_unlock(&cp->t.lock);
	return NULL;
}

static int page_size(struct store_conn *c, int *size, char **err)
{
	sqlite3_stmt *s = NULL;
	int rc = -1;

	if (sqlite3_prepare_v2(c->db, "PRAGMA page_size", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW) {
		*size = sqlite3_column_int(s, 0);
		rc = *size >= 512 ? 0 : -1;
	}
	sqlite3_finalize(s);
	if (rc)
		*err = util_xasprintf("cannot read the page size: %s",
				      sqlite3_errmsg(c->db));
	return rc;
}

int store_checkpointer_start(struct store *st, char **err)
{
	struct store_checkpointer *cp = &store_sqlite(st)->checkpointer;
	long long reset;
	int size = 0;

	if (store_conn_open(st, &cp->conn, err) || page_size(cp->conn, &size, err))
		return -1;
	reset = st->opts.sqlite.wal_restart_bytes > 0 ?
		st->opts.sqlite.wal_restart_bytes : RESET_BYTES;
	cp->reset_pages = (int)(reset / size);
	cp->checkpoint_pages = cp->reset_pages / CHECKPOINT_SHARE;
	cp->writer_turn_pages = cp->reset_pages / WRITER_TURN_SHARE;
	cp->db_fd = open(store_sqlite(st)->path, O_RDONLY | O_CLOEXEC);
	if (cp->db_fd < 0) {
		*err = util_xasprintf("cannot open %s: %s", store_sqlite(st)->path, strerror(errno));
		return -1;
	}
	util_thread_init(&cp->t);
	sqlite3_wal_autocheckpoint(store_sqlite(st)->writer_conn->db, 0);
	sqlite3_wal_hook(store_sqlite(st)->writer_conn->db, wal_hook, cp);
	if (util_thread_start(&cp->t, "grantd-ckpt", checkpointer_main, cp)) {
		*err = util_xstrdup("cannot start the checkpoint thread");
		return -1;
	}
	return 0;
}

void store_checkpointer_stop(struct store *st)
{
	struct store_checkpointer *cp = &store_sqlite(st)->checkpointer;

	util_thread_stop(&cp->t);
	store_conn_close(cp->conn);
	cp->conn = NULL;
	if (cp->db_fd >= 0)
		close(cp->db_fd);
	cp->db_fd = -1;
}
