/* linking/linking_int.h (private to linking): the flow's settings and the
 * helpers its handlers share. */
#ifndef GRANTD_LINKING_INT_H
#define GRANTD_LINKING_INT_H

#include "http/http.h"
#include "linking/linking.h"
#include "sources/sources.h"
#include "store/store.h"

struct linking {
	struct linking_options opts;
};

/* True if the flow is on; otherwise replies 404 LinkingDisabled. */
bool linking_enabled(struct http_request *req, const struct linking *l);

#endif
