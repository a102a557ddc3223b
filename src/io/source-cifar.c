/* STUB (skeleton): the cifar backend of clcnn_source_open, to be written. */
#include "io/io.h"
#include "io/source.h"

int clcnn_source_open_cifar(struct clcnn_source *s, const char *path, const char *split, int cifar100, const struct clcnn_source_options *o, int *missing_split, char *err, size_t errlen)
{
	(void)s;
	(void)split;
	(void)o;
	(void)cifar100;
	*missing_split = 0;
	return clcnn_io_fail(err, errlen, CLCNN_ERR_INVALID, "%s: cifar datasets are not implemented yet", path);
}
