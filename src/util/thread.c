/* util/thread.c: the life of a service thread — start, ask to stop, join —
 * written once for every thread grantd keeps. */
#include "util/util.h"

void util_thread_init(struct util_thread *t)
{
	if (t->ready)
		return;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->wake, NULL);
	atomic_store(&t->stopping, false);
	t->ready = true;
}

int util_thread_start(struct util_thread *t, const char *name,
		      void *(*main)(void *), void *arg)
{
	util_thread_init(t);
	if (pthread_create(&t->id, NULL, main, arg))
		return -1;
	pthread_setname_np(t->id, name);
	t->started = true;
	return 0;
}

void util_thread_ask_stop(struct util_thread *t)
{
	pthread_mutex_lock(&t->lock);
	atomic_store(&t->stopping, true);
	pthread_cond_broadcast(&t->wake);
	pthread_mutex_unlock(&t->lock);
}

void util_thread_stop(struct util_thread *t)
{
	if (!t->ready)
		return;
	if (t->started) {
		util_thread_ask_stop(t);
		pthread_join(t->id, NULL);
		t->started = false;
	}
	pthread_cond_destroy(&t->wake);
	pthread_mutex_destroy(&t->lock);
	t->ready = false;
}
