/* store/vfs.c: SQLite's one-time set-up, and "grantd", a pass-through VFS
 * over the system default that counts syncs (fsync/fdatasync), so the
 * fsyncs metric is exact, and joins each WAL frame's two writes into one.
 *
 * SQLite writes a WAL frame as two pwrite calls: its 24-byte header, then
 * the page. Committing a batch writes dozens of frames, and in a VM each
 * system call is dear. So a small write to a WAL file is held back and sent
 * together with the write that follows it if that one is contiguous (the
 * page); anything else done to the file sends it first. Nothing is lost to
 * a reader: a frame only becomes visible when SQLite publishes it in the
 * WAL index, after all of the commit's frames have been written. */
#include "store/store_int.h"

#include <stdatomic.h>
#include <string.h>

static atomic_ullong sync_count;
static sqlite3_vfs counting_vfs;
static pthread_once_t registered = PTHREAD_ONCE_INIT;
static int register_rc = SQLITE_ERROR;

/* Writes up to this size are held back (a frame header is 24 bytes, the
 * WAL header 32); held writes and the one that joins them are sent as one. */
#define HOLD_MAX 64
#define JOIN_MAX (64 * 1024 + HOLD_MAX)

/* Our file header; the real VFS's file follows it in the same allocation. */
struct counting_file {
	sqlite3_file base;
	sqlite3_file *real;
	bool is_wal;
	int held_len;                   /* bytes held back, 0 if none */
	sqlite3_int64 held_off;
	unsigned char held[HOLD_MAX];
	unsigned char *join;            /* scratch for a joined write (owned) */
};

static sqlite3_file *real(sqlite3_file *f)
{
	return ((struct counting_file *)f)->real;
}

static sqlite3_vfs *real_vfs(void)
{
	return counting_vfs.pAppData;
}

/* Sends whatever is held back. Every method but xWrite calls it first. */
static int flush_held(sqlite3_file *f)
{
	struct counting_file *cf = (struct counting_file *)f;
	int n = cf->held_len;

	if (!n)
		return SQLITE_OK;
	cf->held_len = 0;
	return real(f)->pMethods->xWrite(real(f), cf->held, n, cf->held_off);
}

static int f_close(sqlite3_file *f)
{
	struct counting_file *cf = (struct counting_file *)f;
	int rc = flush_held(f), rc2 = real(f)->pMethods->xClose(real(f));

	sqlite3_free(cf->join);
	cf->join = NULL;
	return rc != SQLITE_OK ? rc : rc2;
}

static int f_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
	int rc = flush_held(f);

	return rc ? rc : real(f)->pMethods->xRead(real(f), buf, n, off);
}

/* Joins the held bytes and `buf` (contiguous) into one write. */
static int write_joined(struct counting_file *cf, const void *buf, int n)
{
	int total = cf->held_len + n;

	if (!cf->join)
		cf->join = sqlite3_malloc(JOIN_MAX);
	if (!cf->join)
		return SQLITE_NOMEM;
	memcpy(cf->join, cf->held, (size_t)cf->held_len);
	memcpy(cf->join + cf->held_len, buf, (size_t)n);
	cf->held_len = 0;
	return cf->real->pMethods->xWrite(cf->real, cf->join, total, cf->held_off);
}

static int f_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
	struct counting_file *cf = (struct counting_file *)f;
	bool follows = cf->held_len && off == cf->held_off + cf->held_len;
	int rc;

	if (!cf->is_wal)
		return real(f)->pMethods->xWrite(real(f), buf, n, off);
	if (follows && n <= HOLD_MAX - cf->held_len) {
		memcpy(cf->held + cf->held_len, buf, (size_t)n);  /* still small */
		cf->held_len += n;
		return SQLITE_OK;
	}
	if (follows && cf->held_len + n <= JOIN_MAX)
		return write_joined(cf, buf, n);
	if ((rc = flush_held(f)) != SQLITE_OK)
		return rc;
	if (n > HOLD_MAX)
		return real(f)->pMethods->xWrite(real(f), buf, n, off);
	memcpy(cf->held, buf, (size_t)n);
	cf->held_len = n;
	cf->held_off = off;
	return SQLITE_OK;
}

static int f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	int rc = flush_held(f);

	return rc ? rc : real(f)->pMethods->xTruncate(real(f), size);
}

static int f_sync(sqlite3_file *f, int flags)
{
	int rc = flush_held(f);

	if (rc)
		return rc;
	atomic_fetch_add_explicit(&sync_count, 1, memory_order_relaxed);
	return real(f)->pMethods->xSync(real(f), flags);
}

static int f_size(sqlite3_file *f, sqlite3_int64 *size)
{
	int rc = flush_held(f);

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
	int rc = flush_held(f);

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
	int rc = flush_held(f);

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
	cf->held_len = 0;
	cf->join = NULL;
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
