/*
 * ONNX import on any byte string: the reader, then the translation to netfile text and weights
 * (io/onnx-import.h), then the netfile parser and shape inference on what was written. A model is
 * imported or refused with one message starting with the file's path (CLCNN_ERR_FORMAT, or
 * CLCNN_ERR_NO_MEMORY); never a crash, a leak or undefined behaviour, whatever the graph holds
 * (dims, attributes, shape computations, patterns cut short).
 *
 * Host-only: the parser and graph_infer need no device (see fuzz-netfile.c).
 */
#include <string.h>

#include "clcnn/graph.h"
#include "fuzz.h"
#include "graph/graph-private.h"
#include "io/onnx-import.h"
#include "io/onnx.h"

static struct clcnn_context host_ctx;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file(data, size);
	struct onnx_model *m = NULL;
	char err[2048] = "";
	if (clcnn_onnx_read(path, &m, err, sizeof err))
		return 0; /* the reader's own target checks its failures */
	struct onnx_import_result r;
	int rc = onnx_import_model(m, path, &r, err, sizeof err);
	clcnn_onnx_free(m);
	if (rc) {
		FUZZ_ASSERT(rc == CLCNN_ERR_FORMAT || rc == CLCNN_ERR_NO_MEMORY, "status %d", rc);
		FUZZ_ASSERT(strstr(err, path) == err, "message does not start with the path: %s", err);
		FUZZ_ASSERT(strlen(err) > strlen(path) + 2, "empty message: %s", err);
		return 0;
	}
	FUZZ_ASSERT(r.text && strstr(r.text, "@output "), "an import without an output: %s", r.text ? r.text : "");
	for (int i = 0; i < r.nw; i++)
		FUZZ_ASSERT(r.w[i].name && (r.w[i].data || !r.w[i].count), "weight %d without name or data", i);
	struct clcnn_graph *g = NULL;
	if (!clcnn_graph_parse(&host_ctx, r.text, path, &g)) {
		(void)graph_infer(g, 2);
		clcnn_graph_free(g);
	}
	onnx_import_result_free(&r);
	return 0;
}
