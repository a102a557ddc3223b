/* STUB (skeleton): clcnn_loader, to be written. */
#include "io/io.h"
#include "io/source.h"

int clcnn_loader_new(struct clcnn_source *s, const struct clcnn_loader_options *opt, struct clcnn_loader **out,
		     char *err, size_t errlen)
{
	(void)s;
	(void)opt;
	*out = NULL;
	return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "loader not implemented yet");
}
