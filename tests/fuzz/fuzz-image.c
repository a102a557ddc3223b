/*
 * Image reader (PNG through libpng, JPEG through libjpeg-turbo, PGM/PPM parsed by clcnn): any byte string is read without a
 * crash; an accepted image is resized into exactly the requested floats, each in [0, 1]. The
 * requested channels and size come from the input's length, so every input is deterministic.
 */
#include <math.h>
#include <string.h>

#include "fuzz.h"
#include "io/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file(data, size);
	int channels = size & 1 ? 3 : 1, h = 1 + (int)(size % 13), w = 1 + (int)(size / 13 % 11);
	size_t n = (size_t)channels * (size_t)h * (size_t)w;
	/* one guard float on each side catches a write outside the requested size */
	float *buf = malloc((n + 2) * sizeof *buf);
	if (!buf)
		return 0;
	buf[0] = buf[n + 1] = -7.0f;
	char err[1024] = "";
	int rc = clcnn_image_load(path, channels, h, w, buf + 1, err, sizeof err);
	FUZZ_ASSERT(buf[0] == -7.0f && buf[n + 1] == -7.0f, "write outside the output");
	if (rc) {
		FUZZ_ASSERT(strstr(err, path) == err, "message does not start with the path: %s", err);
	} else {
		for (size_t i = 1; i <= n; i++)
			FUZZ_ASSERT(buf[i] >= 0.0f && buf[i] <= 1.0f, "value %g at %zu", (double)buf[i], i - 1);
	}
	free(buf);
	return 0;
}
