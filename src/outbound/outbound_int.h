/* outbound/outbound_int.h (private to outbound): one request in flight and
 * what the loop does with it. */
#ifndef GRANTD_OUTBOUND_INT_H
#define GRANTD_OUTBOUND_INT_H

#include <curl/curl.h>

#include "outbound/outbound.h"
#include "util/util.h"

#define OUTBOUND_HEADER_VALUE_MAX 64

/* A request from submission to answer: its copies, its libcurl handle and
 * what has arrived. Used by the submitting thread until queued, then by
 * the loop thread only. */
struct outbound_transfer {
	struct outbound_transfer *next;
	CURL *easy;
	struct curl_slist *headers;
	char *url;
	char *body;
	void (*done)(const struct outbound_response *r, void *arg);
	void *arg;
	const char *peer;            /* static, for the counters */
	struct util_buf response;    /* capped at max_response_bytes */
	bool too_large;
	bool refused;                /* the multi handle would not take it */
	char retry_after[OUTBOUND_HEADER_VALUE_MAX];
	char ratelimit_reset[OUTBOUND_HEADER_VALUE_MAX];
	char errbuf[CURL_ERROR_SIZE];
	int64_t start_us;
};

/* A transfer ready for the multi handle (owned; free with
 * outbound__transfer_free). Never fails: a request libcurl cannot set up
 * fails when it is answered. */
struct outbound_transfer *outbound__transfer_new(const struct outbound_request *r);
void outbound__transfer_free(struct outbound_transfer *t);
/* Counts an answer (stats.c). */
void outbound__count(const char *peer, enum outbound_error e, long status);
/* Calls the transfer's done with what happened: libcurl's result `rc`,
 * unless `forced` (not OUTBOUND_OK) says how it ended. */
void outbound__answer(struct outbound_transfer *t, CURLcode rc,
		      enum outbound_error forced);

#endif
