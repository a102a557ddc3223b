/*
 * Built by test-install.sh against the installed headers and library through pkg-config: the
 * library loaded at run time must be the version the headers announce.
 */
#include <stdio.h>
#include <string.h>

#include <clcnn/clcnn.h>

int main(void)
{
	const char *lib = clcnn_version();
	printf("headers %s (%d.%d.%d), library %s\n", CLCNN_VERSION_STRING, CLCNN_VERSION_MAJOR, CLCNN_VERSION_MINOR,
	       CLCNN_VERSION_PATCH, lib);
	return strcmp(lib, CLCNN_VERSION_STRING) != 0;
}
