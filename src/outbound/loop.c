/* outbound/loop.c: the event loop thread — requests queued by any thread,
 * driven by one libcurl multi handle, answered on the loop thread. */
#include "outbound/outbound_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct outbound {
	CURLM *multi;
	pthread_t thread;
	pthread_mutex_t lock;           /* guards the queue and stopping */
	struct outbound_transfer *queue;
	struct outbound_transfer *queue_tail;
	bool stopping;
	bool started;
	struct outbound_transfer *active; /* loop thread only */
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Moves the queue into the multi handle. Returns true when stopping. */
static bool take_queue(struct outbound *o)
{
	struct outbound_transfer *t, *next;
	bool stopping;

	pthread_mutex_lock(&o->lock);
	t = o->queue;
	o->queue = o->queue_tail = NULL;
	stopping = o->stopping;
	pthread_mutex_unlock(&o->lock);
	for (; t; t = next) {
		next = t->next;
		t->next = o->active;
		o->active = t;
		if (stopping || curl_multi_add_handle(o->multi, t->easy) != CURLM_OK)
			t->refused = true;  /* answered below, as closed or failed */
	}
	return stopping;
}

static void unlink_active(struct outbound *o, struct outbound_transfer *t)
{
	struct outbound_transfer **p = &o->active;

	while (*p && *p != t)
		p = &(*p)->next;
	if (*p)
		*p = t->next;
}

/* Ends a transfer: answers it, then frees it. */
static void finish(struct outbound *o, struct outbound_transfer *t, CURLcode rc,
		   enum outbound_error forced)
{
	unlink_active(o, t);
	curl_multi_remove_handle(o->multi, t->easy);
	outbound__answer(t, rc, forced);
	outbound__transfer_free(t);
}

/* Answers every transfer libcurl has finished, and those it refused. */
static void collect(struct outbound *o)
{
	struct outbound_transfer *t, *next;
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(o->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		t = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
		if (t)
			finish(o, t, msg->data.result, OUTBOUND_OK);
	}
	for (t = o->active; t; t = next) {
		next = t->next;
		if (t->refused)
			finish(o, t, CURLE_FAILED_INIT, OUTBOUND_FAILED);
	}
}

/* At stop: everything still queued or in flight ends as closed. */
static void abandon_all(struct outbound *o)
{
	take_queue(o);
	while (o->active)
		finish(o, o->active, CURLE_OK, OUTBOUND_CLOSED);
}

static void *loop(void *arg)
{
	struct outbound *o = arg;
	int running;

	while (!take_queue(o)) {
		curl_multi_perform(o->multi, &running);
		collect(o);
		curl_multi_poll(o->multi, NULL, 0, 1000, NULL);
	}
	abandon_all(o);
	return NULL;
}

int outbound_new(struct outbound **out, char **err)
{
	struct outbound *o;

	*out = NULL;
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK) {
		*err = util_xasprintf("libcurl: %s", curl_easy_strerror(global_rc));
		return -1;
	}
	o = util_xcalloc(1, sizeof(*o));
	pthread_mutex_init(&o->lock, NULL);
	o->multi = curl_multi_init();
	if (!o->multi || pthread_create(&o->thread, NULL, loop, o)) {
		*err = util_xstrdup("cannot start the outbound HTTP loop");
		outbound_free(o);
		return -1;
	}
	pthread_setname_np(o->thread, "grantd-http-out");
	o->started = true;
	*out = o;
	return 0;
}

void outbound_stop(struct outbound *o)
{
	if (!o || !o->started)
		return;
	pthread_mutex_lock(&o->lock);
	o->stopping = true;
	pthread_mutex_unlock(&o->lock);
	curl_multi_wakeup(o->multi);
	pthread_join(o->thread, NULL);
	o->started = false;
}

void outbound_free(struct outbound *o)
{
	if (!o)
		return;
	outbound_stop(o);
	if (o->multi)
		curl_multi_cleanup(o->multi);
	pthread_mutex_destroy(&o->lock);
	free(o);
}

int outbound_submit(struct outbound *o, const struct outbound_request *r)
{
	struct outbound_transfer *t = outbound__transfer_new(r);
	bool stopping;

	pthread_mutex_lock(&o->lock);
	stopping = o->stopping;
	if (!stopping) {
		if (o->queue_tail)
			o->queue_tail->next = t;
		else
			o->queue = t;
		o->queue_tail = t;
	}
	pthread_mutex_unlock(&o->lock);
	if (stopping) {
		outbound__transfer_free(t);
		return -1;
	}
	curl_multi_wakeup(o->multi);
	return 0;
}
