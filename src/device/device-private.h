/* Internal layout of the device list. */
#ifndef CLCNN_DEVICE_PRIVATE_H
#define CLCNN_DEVICE_PRIVATE_H
#include "clcnn-private.h"

struct clcnn_device_entry {
	struct clcnn_device_info info;
	cl_platform_id platform;
	cl_device_id device;
	char *strings[6]; /* owned: name, vendor, driver, C version, platform name, platform version */
};

struct clcnn_device_list {
	int count, nplatforms;
	struct clcnn_device_entry *entries;
};
#endif
