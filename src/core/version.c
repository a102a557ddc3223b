/*
 * The library's own version: compiled in from the generated header, so a program built against
 * other headers can tell which library it actually loaded.
 */
#include "clcnn-private.h"

const char *clcnn_version(void)
{
	return CLCNN_VERSION_STRING;
}
