/*
 * fake_cublaslt.c - libcublasLt.so.13 for the traintop fake CUDA stack.
 * luminal_cudarc links cuBLASLt but luminal_cuda never calls it, so only the
 * functions that return values rather than a status are written out here
 * (a generated stub could not return a valid string); build.sh adds every
 * other symbol as a stub answering CUBLAS_STATUS_NOT_SUPPORTED.
 */
#include <stddef.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

EXPORT const char *cublasLtGetStatusName(int status) {
  return status == 0 ? "CUBLAS_STATUS_SUCCESS"
                     : status == 15 ? "CUBLAS_STATUS_NOT_SUPPORTED" : "CUBLAS_STATUS_UNKNOWN";
}

EXPORT const char *cublasLtGetStatusString(int status) {
  return status == 0 ? "success"
                     : status == 15 ? "the functionality requested is not supported (traintop fake cuBLASLt)"
                                    : "unknown error";
}

EXPORT size_t cublasLtGetVersion(void) { return 130000; }
EXPORT size_t cublasLtGetCudartVersion(void) { return 13000; }
EXPORT unsigned cublasLtDisableCpuInstructionsSetMask(unsigned mask) { (void)mask; return 0; }

EXPORT int cublasLtGetProperty(int type, int *value) {
  if (!value || type < 0 || type > 2) return 7; /* CUBLAS_STATUS_INVALID_VALUE */
  *value = type == 0 ? 13 : 0;
  return 0;
}
