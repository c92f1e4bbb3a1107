/* http/listen.c: the listening socket — "host:port" resolved, bound and
 * listening before libmicrohttpd takes it, so a failure names the address
 * and the system's reason. */
#include "http/http_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Resolves "host:port" or "[v6]:port" into *res. */
static int resolve_listen(const char *listen, struct addrinfo **res, char **err)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	const char *colon = strrchr(listen, ':'), *host_at = listen;
	char host[256];
	size_t hlen;
	int rc;

	if (!colon || colon == listen)
		goto bad;
	hlen = (size_t)(colon - listen);
	if (listen[0] == '[') {
		if (hlen < 3 || listen[hlen - 1] != ']')
			goto bad;
		host_at++;
		hlen -= 2;
	}
	if (hlen >= sizeof(host))
		goto bad;
	memcpy(host, host_at, hlen);
	host[hlen] = '\0';
	rc = getaddrinfo(host, colon + 1, &hints, res);
	if (rc == 0)
		return 0;
	*err = util_xasprintf("server.listen \"%s\": %s", listen, gai_strerror(rc));
	return -1;
bad:
	*err = util_xasprintf("server.listen \"%s\": expected host:port", listen);
	return -1;
}

int http_listen_open(const char *address, int *fd, int *family, char **err)
{
	struct addrinfo *ai = NULL;
	int s = -1, one = 1, e;
	const char *step;

	if (resolve_listen(address, &ai, err))
		return -1;
	*family = ai->ai_family;
	step = "socket";
	s = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
	if (s < 0)
		goto fail;
	step = "setsockopt";
	if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		goto fail;
	if (ai->ai_family == AF_INET6 &&
	    setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)))
		goto fail;
	step = "bind";
	if (bind(s, ai->ai_addr, ai->ai_addrlen))
		goto fail;
	step = "listen";
	if (listen(s, SOMAXCONN))
		goto fail;
	freeaddrinfo(ai);
	*fd = s;
	return 0;
fail:
	e = errno;
	if (strcmp(step, "bind") == 0)
		*err = util_xasprintf("cannot listen on %s: %s", address, strerror(e));
	else
		*err = util_xasprintf("cannot listen on %s: %s: %s", address, step,
				      strerror(e));
	if (s >= 0)
		close(s);
	freeaddrinfo(ai);
	return -1;
}

int http_listen(const char *address, int *fd, int *family, char **err)
{
	return http_listen_open(address, fd, family, err);
}
