/*
 * Oclgrind 21.10's uninitialised-value check, without clcnn: a buffer written whole by one kernel
 * and summed by another reads as uninitialised when an earlier, smaller buffer had its address (the
 * shadow keeps the old size). tools/oclgrind.sh leaves OCLGRIND_UNINITIALIZED off because of it.
 *   cc shadow-reuse.c -lOpenCL && OCL_ICD_VENDORS=<dir with oclgrind's .icd> OCLGRIND_UNINITIALIZED=1 ./a.out
 * prints sums 3 and 10 (both right) with a report for the second ("./a.out 5 5": no report).
 */
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <stdio.h>
#include <stdlib.h>

static const char *src = "__kernel void wr(__global float *p, int n)\n"
			 "{ int i = get_global_id(0); if (i < n) p[i] = (float)i; }\n"
			 "__kernel void sum(__global const float *p, __global float *q, int n)\n"
			 "{ float s = 0; for (int i = 0; i < n; i++) s += p[i]; q[0] = s; }\n";

int main(int argc, char **argv)
{
	int sizes[2] = {argc > 1 ? atoi(argv[1]) : 3, argc > 2 ? atoi(argv[2]) : 5};
	cl_platform_id pl;
	cl_device_id d;
	cl_int e;
	if (clGetPlatformIDs(1, &pl, NULL) || clGetDeviceIDs(pl, CL_DEVICE_TYPE_ALL, 1, &d, NULL))
		return 1;
	cl_context c = clCreateContext(NULL, 1, &d, NULL, NULL, &e);
	cl_command_queue q = clCreateCommandQueue(c, d, 0, &e);
	cl_program p = clCreateProgramWithSource(c, 1, &src, NULL, &e);
	if (clBuildProgram(p, 1, &d, "", NULL, NULL))
		return 1;
	cl_kernel wr = clCreateKernel(p, "wr", &e), sum = clCreateKernel(p, "sum", &e);
	cl_mem out = clCreateBuffer(c, CL_MEM_READ_WRITE, 4, NULL, &e);
	for (int r = 0; r < 2; r++) {
		int n = sizes[r];
		cl_mem b = clCreateBuffer(c, CL_MEM_READ_WRITE, (size_t)n * 4, NULL, &e);
		size_t g = (size_t)n, one = 1;
		clSetKernelArg(wr, 0, sizeof b, &b);
		clSetKernelArg(wr, 1, sizeof n, &n);
		clEnqueueNDRangeKernel(q, wr, 1, NULL, &g, NULL, 0, NULL, NULL);
		clSetKernelArg(sum, 0, sizeof b, &b);
		clSetKernelArg(sum, 1, sizeof out, &out);
		clSetKernelArg(sum, 2, sizeof n, &n);
		clEnqueueNDRangeKernel(q, sum, 1, NULL, &one, NULL, 0, NULL, NULL);
		float v = 0;
		clEnqueueReadBuffer(q, out, CL_TRUE, 0, 4, &v, 0, NULL, NULL);
		printf("buffer of %d floats: sum %g (want %d)\n", n, v, n * (n - 1) / 2);
		clReleaseMemObject(b);
	}
	return 0;
}
