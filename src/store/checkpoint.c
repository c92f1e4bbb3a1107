/* store/checkpoint.c: WAL checkpoints kept off the hot path.
 *
 * The writer's connection never checkpoints on its own. After each commit
 * its WAL hook wakes a background thread once the log passes
 * CHECKPOINT_BYTES; that thread runs PASSIVE checkpoints on its own
 * connection, copying pages to the database while the writer goes on.
 *
 * Under continuous commits such a checkpoint never copies the very last
 * frames, and the WAL can only restart from its beginning once every frame
 * has been copied. So when the log passes RESET_BYTES, the background thread
 * asks the writer to finish the job: between two batches the writer runs a
 * PASSIVE checkpoint itself, which only has the few frames written since the
 * background pass to copy, and its next transaction restarts the WAL. */
#include "store/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ops/ops.h"

/* Thresholds in bytes of WAL; turned into pages for the database's size. */
#define CHECKPOINT_BYTES (4 * 1024 * 1024)   /* copy in the background */
#define RESET_BYTES (32 * 1024 * 1024)       /* have the writer let it restart */
#define WRITER_TURN_BYTES (1024 * 1024)      /* most left to the writer */
#define CHECKPOINT_MIN_GAP_MS 50    /* between background passes */
#define WRITEBACK_RANGE (256 * 1024) /* database written back this much at a time */
#define WRITEBACK_PAUSE_US 500      /* after a range that had dirty pages */
#define WRITEBACK_CLEAN_US 50       /* a range written back faster was clean */
#define CHECKPOINT_INTERVAL_MS 1000 /* idle timer */

/* sqlite3_wal_hook callback, on the writer thread after every commit. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct store_checkpointer *cp = arg;

	(void)db;
	(void)name;
	atomic_store_explicit(&cp->wal_pages, pages, memory_order_relaxed);
	if (pages >= cp->checkpoint_pages && !atomic_exchange(&cp->due, true)) {
		pthread_mutex_lock(&cp->lock);
		pthread_cond_signal(&cp->wake);
		pthread_mutex_unlock(&cp->lock);
	}
	return SQLITE_OK;
}

/* Runs a PASSIVE checkpoint on `c`; returns how many frames of the WAL it
 * left uncopied (0 when it could copy everything), and the WAL's size. */
static int passive(struct store_conn *c, int *log_frames)
{
	int copied = 0;
	int rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
					   log_frames, &copied);

	if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
		store_log_error(c, "wal_checkpoint", rc);
		return -1;
	}
	return *log_frames > copied ? *log_frames - copied : 0;
}

/* SQLite syncs the database file only after a checkpoint that reached the
 * end of the WAL, which under load only the writer's pass does: the pages
 * the background passes copied would all be written by that one sync, on
 * the hot path. So they are written back here, ahead of it. Not with one
 * fdatasync: a burst of megabytes makes every WAL sync that overlaps it
 * wait (on this project's test machine a 0.1 ms sync became 3 ms and more),
 * and WAL syncs are what every answer waits for. Instead the file is walked
 * in small ranges, each written out and waited for before a short pause,
 * which WAL syncs barely notice. Durability does not depend on this:
 * SQLite syncs the database itself before the WAL may start over. */
static void writeback_database(struct store_checkpointer *cp)
{
	struct timespec pause = { 0, WRITEBACK_PAUSE_US * 1000 };
	struct stat st;
	int64_t t0 = util_mono_us();

	if (cp->db_fd < 0 || fstat(cp->db_fd, &st))
		return;
	for (off_t off = 0; off < st.st_size && !cp->stopping; off += WRITEBACK_RANGE) {
		int64_t t = util_mono_us();

		if (sync_file_range(cp->db_fd, off, WRITEBACK_RANGE,
				    SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
				    SYNC_FILE_RANGE_WAIT_AFTER)) {
			ops_log(OPS_LOG_WARN, "store_error", "writeback of the "
				"database failed: %s", strerror(errno));
			return;
		}
		/* A clean range returns at once; pause only after real I/O. */
		if (util_mono_us() - t > WRITEBACK_CLEAN_US)
			nanosleep(&pause, NULL);
	}
	atomic_fetch_add_explicit(&cp->writeback_us,
				  (unsigned long long)(util_mono_us() - t0),
				  memory_order_relaxed);
}

/* One background pass: copy WAL pages to the database, then write them
 * back (paced). */
static int pass_and_write_back(struct store_checkpointer *cp, int *frames)
{
	int64_t t0 = util_mono_us();
	int left = passive(cp->conn, frames);

	store_log_slow("checkpoint_pass", util_mono_us() - t0);
	atomic_fetch_add_explicit(&cp->count, 1, memory_order_relaxed);
	writeback_database(cp);
	return left;
}

/* Copies in the background. Once the WAL is big, passes again until little
 * is left (each pass only copies what arrived during the one before, and
 * the database is written back in between), then hands the rest to the
 * writer, whose final checkpoint then has little to copy or sync. */
static void background_pass(struct store_checkpointer *cp)
{
	int frames = 0, left;

	atomic_store(&cp->due, false);
	left = pass_and_write_back(cp, &frames);
	if (left < 0 || frames < cp->reset_pages)
		return;
	for (int i = 0; i < 8 && left > cp->writer_turn_pages && !cp->stopping; i++)
		left = pass_and_write_back(cp, &frames);
	if (left >= 0 && left <= cp->writer_turn_pages)
		atomic_store(&cp->reset_wanted, true);
}

void store_checkpoint_writer_turn(struct store *st)
{
	struct store_checkpointer *cp = &st->checkpointer;
	int64_t t0;
	int frames;

	if (!atomic_load_explicit(&cp->reset_wanted, memory_order_relaxed))
		return;
	atomic_store(&cp->reset_wanted, false);
	t0 = util_mono_us();
	passive(st->writer_conn, &frames);
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
	while (!cp->stopping && !(until_due && atomic_load(&cp->due)) &&
	       pthread_cond_timedwait(&cp->wake, &cp->lock, &until) != ETIMEDOUT)
		;
}

static void *checkpointer_main(void *arg)
{
	struct store_checkpointer *cp = arg;

	pthread_mutex_lock(&cp->lock);
	while (!cp->stopping) {
		wait_ms(cp, CHECKPOINT_INTERVAL_MS, true);
		if (cp->stopping)
			break;
		pthread_mutex_unlock(&cp->lock);
		if (atomic_load(&cp->wal_pages) > 0)
			background_pass(cp);
		pthread_mutex_lock(&cp->lock);
		wait_ms(cp, CHECKPOINT_MIN_GAP_MS, false);
	}
	pthread_mutex_unlock(&cp->lock);
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
	struct store_checkpointer *cp = &st->checkpointer;
	int size = 0;

	if (store_conn_open(st, &cp->conn, err) || page_size(cp->conn, &size, err))
		return -1;
	cp->checkpoint_pages = CHECKPOINT_BYTES / size;
	cp->reset_pages = RESET_BYTES / size;
	cp->writer_turn_pages = WRITER_TURN_BYTES / size;
	cp->db_fd = open(st->path, O_RDONLY | O_CLOEXEC);
	if (cp->db_fd < 0) {
		*err = util_xasprintf("cannot open %s: %s", st->path, strerror(errno));
		return -1;
	}
	pthread_mutex_init(&cp->lock, NULL);
	pthread_cond_init(&cp->wake, NULL);
	sqlite3_wal_autocheckpoint(st->writer_conn->db, 0);
	sqlite3_wal_hook(st->writer_conn->db, wal_hook, cp);
	if (pthread_create(&cp->thread, NULL, checkpointer_main, cp)) {
		*err = util_xstrdup("cannot start the checkpoint thread");
		return -1;
	}
	pthread_setname_np(cp->thread, "grantd-ckpt");
	cp->started = true;
	return 0;
}

void store_checkpointer_stop(struct store *st)
{
	struct store_checkpointer *cp = &st->checkpointer;

	if (cp->started) {
		pthread_mutex_lock(&cp->lock);
		cp->stopping = true;
		pthread_cond_signal(&cp->wake);
		pthread_mutex_unlock(&cp->lock);
		pthread_join(cp->thread, NULL);
		cp->started = false;
		pthread_cond_destroy(&cp->wake);
		pthread_mutex_destroy(&cp->lock);
	}
	store_conn_close(cp->conn);
	cp->conn = NULL;
	if (cp->db_fd >= 0)
		close(cp->db_fd);
	cp->db_fd = -1;
}
