/* store/sqlite/vfs.c: SQLite's one-time set-up, and "grantd", a
 * pass-through VFS over the system default that counts syncs
 * (fsync/fdatasync), so the fsyncs metric is exact, and sends a
 * transaction's WAL frames to the file in one write.
 *
 * SQLite writes each WAL frame as two pwrite calls, its 24-byte header and
 * then the page, so committing a batch that dirtied a hundred pages costs
 * two hundred system calls on the writer's critical path (and in a VM each
 * is dear). Here writes that append to a WAL file are gathered in memory
 * and sent as one pwrite as soon as the frame that commits the transaction
 * (the one whose header carries the database size) is complete. Anything
 * else done to the file (a read, a write elsewhere, a truncate, a sync, a
 * size query, a file control, closing) sends what is gathered first, so
 * SQLite sees the file exactly as if every write had gone straight through.
 * Nothing is hidden from other connections: a frame only becomes visible
 * to them when SQLite publishes it in the WAL index, and that happens
 * after the commit frame's write has returned, by which time everything
 * gathered is in the file. A crash loses only frames of a transaction that
 * had not committed. */
#include "store/sqlite/sqlite_int.h"

#include <stdatomic.h>
#include <string.h>

static atomic_ullong sync_count;
static sqlite3_vfs counting_vfs;
static pthread_once_t registered = PTHREAD_ONCE_INIT;
static int register_rc = SQLITE_ERROR;

#define WAL_HEADER 32                   /* the WAL file's header */
#define FRAME_HEADER 24                 /* a WAL frame's header */
#define GATHER_SIZE (512 * 1024)        /* sent once this much is gathered */
/* The unix VFS masks a write's length with 0x1ffff (SQLite never writes
 * more at once), so gathered bytes go out in pieces below 128 KiB. */
#define WRITE_MAX (124 * 1024)

/* Our file header; the real VFS's file follows it in the same allocation. */
struct counting_file {
	sqlite3_file base;
	sqlite3_file *real;
	bool is_wal;
	bool commit_next;               /* the next write ends a commit frame */
	unsigned char *gather;          /* appends not yet sent (owned) */
	size_t len;
	sqlite3_int64 gather_off;       /* file offset of gather[0] */
};

static sqlite3_file *real(sqlite3_file *f)
{
	return ((struct counting_file *)f)->real;
}

static sqlite3_vfs *real_vfs(void)
{
	return counting_vfs.pAppData;
}

/* Sends whatever is gathered. Every method but xWrite calls it first. */
static int flush_gathered(sqlite3_file *f)
{
	struct counting_file *cf = (struct counting_file *)f;
	size_t done = 0;
	int rc = SQLITE_OK;

	while (done < cf->len && rc == SQLITE_OK) {
		size_t n = cf->len - done < WRITE_MAX ? cf->len - done : WRITE_MAX;

		rc = cf->real->pMethods->xWrite(cf->real, cf->gather + done, (int)n,
						cf->gather_off + (sqlite3_int64)done);
		done += n;
	}
	cf->len = 0;
	cf->commit_next = false;
	return rc;
}

static int f_close(sqlite3_file *f)
{
	struct counting_file *cf = (struct counting_file *)f;
	int rc = flush_gathered(f), rc2 = real(f)->pMethods->xClose(real(f));

	sqlite3_free(cf->gather);
	cf->gather = NULL;
	return rc != SQLITE_OK ? rc : rc2;
}

static int f_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
	int rc = flush_gathered(f);

	return rc ? rc : real(f)->pMethods->xRead(real(f), buf, n, off);
}

/* True if `n` more bytes fit. The buffer is made on first use, at its
 * full size and touched at once, so memory use does not creep up later
 * when a large batch first needs it all. */
static bool gather_room(struct counting_file *cf, size_t n)
{
	if (!cf->gather) {
		cf->gather = sqlite3_malloc(GATHER_SIZE);
		if (!cf->gather)
			return false;
		memset(cf->gather, 0, GATHER_SIZE);
	}
	return cf->len + n <= GATHER_SIZE;
}

/* True if `buf` is a frame header of a commit: bytes 4-7 hold the size of
 * the database after the commit, zero in every other frame. */
static bool commit_header(const void *buf, int n)
{
	const unsigned char *b = buf;

	return n == FRAME_HEADER && (b[4] | b[5] | b[6] | b[7]);
}

/* True if a write may begin a run of gathered bytes: the WAL's header, or
 * the header of a frame that does not commit. Nothing else does. A commit
 * frame's header on its own is SQLite rewriting checksums after the commit
 * frame went out (a page was logged twice in one transaction), which is the
 * last write before the commit is published: it goes to the file at once. */
static bool starts_run(const void *buf, int n, sqlite3_int64 off)
{
	return (n == WAL_HEADER && off == 0) ||
	       (n == FRAME_HEADER && !commit_header(buf, n));
}

static int f_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
	struct counting_file *cf = (struct counting_file *)f;
	bool appends, ends_commit;
	int rc;

	if (!cf->is_wal)
		return real(f)->pMethods->xWrite(real(f), buf, n, off);
	appends = cf->len && off == cf->gather_off + (sqlite3_int64)cf->len &&
		  gather_room(cf, (size_t)n);
	ends_commit = appends && cf->commit_next;
	if (!appends) {
		if ((rc = flush_gathered(f)) != SQLITE_OK)
			return rc;
		if (!starts_run(buf, n, off) || !gather_room(cf, (size_t)n))
			return real(f)->pMethods->xWrite(real(f), buf, n, off);
		cf->gather_off = off;
	}
	memcpy(cf->gather + cf->len, buf, (size_t)n);
	cf->len += (size_t)n;
	cf->commit_next = commit_header(buf, n);
	return ends_commit ? flush_gathered(f) : SQLITE_OK;
}

static int f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	int rc = flush_gathered(f);

	return rc ? rc : real(f)->pMethods->xTruncate(real(f), size);
}

static int f_sync(sqlite3_file *f, int flags)
{
	int rc = flush_gathered(f);

	if (rc)
		return rc;
	atomic_fetch_add_explicit(&sync_count, 1, memory_order_relaxed);
	return real(f)->pMethods->xSync(real(f), flags);
}

static int f_size(sqlite3_file *f, sqlite3_int64 *size)
{
	int rc = flush_gathered(f);

	return rc ? rc : real(f)->pMethods->xFileSize(real(f), size);
}

static int f_lock(sqlite3_file *f, int lock)
{
	return real(f)->pMethods->xLock(real(f), lock);
}

static int f_unlock(sqlite3_file *f, int lock)
{
	return real(f)->pMethods->xUnlock(real(f), lock);
}

static int f_check_lock(sqlite3_file *f, int *out)
{
	return real(f)->pMethods->xCheckReservedLock(real(f), out);
}

static int f_control(sqlite3_file *f, int op, void *arg)
{
	int rc = flush_gathered(f);

	return rc ? rc : real(f)->pMethods->xFileControl(real(f), op, arg);
}

static int f_sector(sqlite3_file *f)
{
	return real(f)->pMethods->xSectorSize(real(f));
}

static int f_caps(sqlite3_file *f)
{
	return real(f)->pMethods->xDeviceCharacteristics(real(f));
}

static int f_shm_map(sqlite3_file *f, int pg, int size, int extend,
		     void volatile **p)
{
	return real(f)->pMethods->xShmMap(real(f), pg, size, extend, p);
}

static int f_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
	return real(f)->pMethods->xShmLock(real(f), off, n, flags);
}

static void f_shm_barrier(sqlite3_file *f)
{
	real(f)->pMethods->xShmBarrier(real(f));
}

static int f_shm_unmap(sqlite3_file *f, int del)
{
	return real(f)->pMethods->xShmUnmap(real(f), del);
}

static int f_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **p)
{
	int rc = flush_gathered(f);

	return rc ? rc : real(f)->pMethods->xFetch(real(f), off, n, p);
}

static int f_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	return real(f)->pMethods->xUnfetch(real(f), off, p);
}

/* Version 3 methods; the system's unix VFS provides all of them. */
static const sqlite3_io_methods counting_methods = {
	3, f_close, f_read, f_write, f_truncate, f_sync, f_size, f_lock,
	f_unlock, f_check_lock, f_control, f_sector, f_caps, f_shm_map,
	f_shm_lock, f_shm_barrier, f_shm_unmap, f_fetch, f_unfetch,
};

static int v_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f,
		  int flags, int *out_flags)
{
	struct counting_file *cf = (struct counting_file *)f;
	int rc;

	(void)vfs;
	cf->real = (sqlite3_file *)(cf + 1);
	cf->is_wal = (flags & SQLITE_OPEN_WAL) != 0;
	cf->commit_next = false;
	cf->gather = NULL;
	cf->len = 0;
	rc = real_vfs()->xOpen(real_vfs(), name, cf->real, flags, out_flags);
	/* SQLite calls xClose only if pMethods is set: mirror the real file. */
	cf->base.pMethods = cf->real->pMethods ? &counting_methods : NULL;
	return rc;
}

static int v_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
	(void)vfs;
	return real_vfs()->xDelete(real_vfs(), name, sync_dir);
}

static int v_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
	(void)vfs;
	return real_vfs()->xAccess(real_vfs(), name, flags, out);
}

static int v_full(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	(void)vfs;
	return real_vfs()->xFullPathname(real_vfs(), name, n, out);
}

static int v_random(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return real_vfs()->xRandomness(real_vfs(), n, out);
}

static int v_sleep(sqlite3_vfs *vfs, int us)
{
	(void)vfs;
	return real_vfs()->xSleep(real_vfs(), us);
}

static int v_time(sqlite3_vfs *vfs, double *out)
{
	(void)vfs;
	return real_vfs()->xCurrentTime(real_vfs(), out);
}

static int v_error(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return real_vfs()->xGetLastError(real_vfs(), n, out);
}

static int v_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
	(void)vfs;
	return real_vfs()->xCurrentTimeInt64(real_vfs(), out);
}

static void register_once(void)
{
	sqlite3_vfs *sys;

	/* Every SQLite allocation would otherwise take a global mutex to keep
	 * memory statistics grantd never reads. Must precede initialisation. */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	sys = sqlite3_vfs_find(NULL);

	if (!sys || sys->iVersion < 2)
		return;
	counting_vfs = (sqlite3_vfs){
		.iVersion = 2,
		.szOsFile = (int)sizeof(struct counting_file) + sys->szOsFile,
		.mxPathname = sys->mxPathname,
		.zName = STORE_VFS_NAME,
		.pAppData = sys,
		.xOpen = v_open,
		.xDelete = v_delete,
		.xAccess = v_access,
		.xFullPathname = v_full,
		.xRandomness = v_random,
		.xSleep = v_sleep,
		.xCurrentTime = v_time,
		.xGetLastError = v_error,
		.xCurrentTimeInt64 = v_time64,
	};
	register_rc = sqlite3_vfs_register(&counting_vfs, 0);
}

int store_vfs_register(void)
{
	pthread_once(&registered, register_once);
	return register_rc == SQLITE_OK ? 0 : -1;
}

uint64_t store_vfs_syncs(void)
{
	return atomic_load_explicit(&sync_count, memory_order_relaxed);
}

void store_vfs_count_sync(void)
{
	atomic_fetch_add_explicit(&sync_count, 1, memory_order_relaxed);
}
