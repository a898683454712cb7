/*
 * fake_curand.c - libcurand.so.10 for the traintop fake CUDA stack.
 * luminal_cudarc links cuRAND (a default feature) but traintop never calls
 * it. The version queries work; build.sh adds every other symbol as a stub
 * answering CURAND_STATUS_ARCH_MISMATCH (204, "the device does not support
 * the requested feature"), cuRAND having no "not supported" status.
 */
#define EXPORT __attribute__((visibility("default")))

EXPORT int curandGetVersion(int *version) {
  if (!version) return 104; /* CURAND_STATUS_OUT_OF_RANGE */
  *version = 10400;
  return 0;
}

EXPORT int curandGetProperty(int type, int *value) {
  if (!value || type < 0 || type > 2) return 104;
  *value = type == 0 ? 10 : (type == 1 ? 4 : 0);
  return 0;
}
