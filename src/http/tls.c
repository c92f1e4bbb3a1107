/* http/tls.c: TLS 1.2 and 1.3 on the listener with OpenSSL, and the byte
 * moving every connection does, through TLS or straight on the socket. */
#include "http/http_int.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

/* The certificate chain (leaf first) and key from PEM texts. */
static int load_identity(SSL_CTX *ctx, const char *cert_pem,
			 const char *key_pem)
{
	BIO *cb = BIO_new_mem_buf(cert_pem, -1);
	BIO *kb = BIO_new_mem_buf(key_pem, -1);
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	int rc = -1;

	if (!cb || !kb)
		goto out;
	x = PEM_read_bio_X509(cb, NULL, NULL, NULL);
	if (!x || SSL_CTX_use_certificate(ctx, x) != 1)
		goto out;
	for (X509 *extra; (extra = PEM_read_bio_X509(cb, NULL, NULL, NULL));)
		if (SSL_CTX_add_extra_chain_cert(ctx, extra) != 1) {
			X509_free(extra);
			goto out;
		}
	key = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL);
	if (!key || SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		goto out;
	rc = 0;
out:
	ERR_clear_error();
	EVP_PKEY_free(key);
	X509_free(x);
	BIO_free(cb);
	BIO_free(kb);
	return rc;
}

int http_tls_init(struct http_server *s, char **err)
{
	SSL_CTX *ctx;

	if (!s->opts.tls_cert_pem || !s->opts.tls_key_pem)
		return 0;
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    load_identity(ctx, s->opts.tls_cert_pem, s->opts.tls_key_pem)) {
		SSL_CTX_free(ctx);
		*err = util_xstrdup("cannot set up TLS with the configured "
				    "certificate and key");
		return -1;
	}
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	s->tls = ctx;
	return 0;
}

void http_tls_free(struct http_server *s)
{
	SSL_CTX_free(s->tls);
	s->tls = NULL;
}

int http_tls_attach(struct http_server *s, struct http_conn *c)
{
	SSL *ssl;

	if (!s->tls)
		return 0;
	ssl = SSL_new(s->tls);
	if (!ssl || SSL_set_fd(ssl, c->fd) != 1) {
		SSL_free(ssl);
		return -1;
	}
	SSL_set_accept_state(ssl);
	c->ssl = ssl;
	return 0;
}

void http_tls_detach(struct http_conn *c)
{
	if (!c->ssl)
		return;
	/* a close_notify if the socket takes it at once; never waits */
	SSL_shutdown(c->ssl);
	SSL_free(c->ssl);
	ERR_clear_error();
	c->ssl = NULL;
}

/* What an SSL_read or SSL_write result means. */
static long tls_result(struct http_conn *c, int r)
{
	int e = SSL_get_error(c->ssl, r);

	c->tls_wants_write = e == SSL_ERROR_WANT_WRITE;
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return -1;
	ERR_clear_error();
	return e == SSL_ERROR_ZERO_RETURN ? 0 : -2;
}

long http_conn_recv(struct http_conn *c, char *buf, size_t n)
{
	ssize_t r;

	if (c->ssl) {
		int got = SSL_read(c->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);

		return got > 0 ? got : tls_result(c, got);
	}
	r = recv(c->fd, buf, n, 0);
	if (r >= 0)
		return (long)r;
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -1 : -2;
}

long http_conn_send(struct http_conn *c, const char *buf, size_t n)
{
	ssize_t r;

	if (c->ssl) {
		int put = SSL_write(c->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);

		return put > 0 ? put : tls_result(c, put);
	}
	r = send(c->fd, buf, n, MSG_NOSIGNAL);
	if (r >= 0)
		return (long)r;
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -1 : -2;
}

size_t http_tls_pending(const struct http_conn *c)
{
	return c->ssl ? (size_t)SSL_pending(c->ssl) : 0;
}
