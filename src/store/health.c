/* store/health.c: whether the store takes writes now — for /readyz, so a
 * load balancer stops sending work to a node whose database fails or
 * stalls, and sends it again by itself once writes go through. */
#include "store/store_int.h"

static const char *const reasons[] = {
	[STORE_HEALTHY] = "",
	[STORE_UNREACHABLE] = "the store is unreachable",
	[STORE_WRITES_FAILING] = "writes are failing: the last commit failed",
	[STORE_WRITES_STALLED] =
		"writes are stalled: a write has waited over a second",
};

const char *store_health_reason(enum store_health h)
{
	return reasons[h];
}

static int probe_apply(struct store_tx *tx, struct store_intent *in)
{
	(void)in;
	return store_tx_health_touch(tx, util_now_ms());
}

static void probe_done(struct store_intent *in, int rc)
{
	struct store *st = UTIL_CONTAINER_OF(in, struct store, probe);

	(void)rc;  /* the writer notes whether its batch committed */
	atomic_store(&st->probe_busy, false);
}

/* One probe write at a time, at most once a second. */
static void probe(struct store *st)
{
	int64_t now = util_now_ms();
	bool idle = false;

	if (now - atomic_load(&st->probe_at_ms) < 1000 ||
	    !atomic_compare_exchange_strong(&st->probe_busy, &idle, true))
		return;
	atomic_store(&st->probe_at_ms, now);
	st->probe.apply = probe_apply;
	st->probe.done = probe_done;
	if (store_submit(st, &st->probe) != STORE_OK)
		atomic_store(&st->probe_busy, false);
}

enum store_health store_health(struct store *st)
{
	int64_t since = atomic_load(&st->writer.batch_since_ms);

	if (store_ping(st))
		return STORE_UNREACHABLE;
	if (atomic_load(&st->writer.failing)) {
		probe(st);
		return STORE_WRITES_FAILING;
	}
	if (since && util_now_ms() - since > STORE_STALL_MS)
		return STORE_WRITES_STALLED;
	return STORE_HEALTHY;
}
