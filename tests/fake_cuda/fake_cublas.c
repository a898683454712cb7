/*
 * fake_cublas.c - libcublas.so.13 for the traintop fake CUDA stack: handles,
 * and reference GEMM (summed as luminal's reference ops sum)/GEMV for f32 and f64 on "device"
 * memory, which the fake driver (fake_cuda.c) keeps in host memory.
 *
 * luminal_cuda does its matmuls with cublasSgemm_v2 and
 * cublasSgemmStridedBatched (column-major, host alpha/beta). Arguments are
 * checked as cuBLAS checks them (CUBLAS_STATUS_INVALID_VALUE for a bad
 * operation or leading dimension), and, when the fake driver is loaded, every
 * matrix must lie inside a live device allocation: that catches wrong
 * leading dimensions, strides and batch counts, which a real GPU might only
 * show as garbage or a late illegal-address error.
 *
 * Half precision (Hgemm) and everything else answer
 * CUBLAS_STATUS_NOT_SUPPORTED.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
  CUBLAS_STATUS_SUCCESS = 0,
  CUBLAS_STATUS_NOT_INITIALIZED = 1,
  CUBLAS_STATUS_ALLOC_FAILED = 3,
  CUBLAS_STATUS_INVALID_VALUE = 7,
  CUBLAS_STATUS_ARCH_MISMATCH = 8,
  CUBLAS_STATUS_MAPPING_ERROR = 11,
  CUBLAS_STATUS_EXECUTION_FAILED = 13,
  CUBLAS_STATUS_INTERNAL_ERROR = 14,
  CUBLAS_STATUS_NOT_SUPPORTED = 15,
  CUBLAS_STATUS_LICENSE_ERROR = 16
} cublasStatus_t;
typedef enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1, CUBLAS_OP_C = 2 } cublasOperation_t;
typedef int cublasPointerMode_t;
typedef int cublasAtomicsMode_t;
typedef int cublasMath_t;
typedef int cudaDataType;
typedef int cublasComputeType_t;
typedef int cublasGemmAlgo_t;
typedef int libraryPropertyType;
typedef struct CUstream_st *cudaStream_t;
typedef struct cublasContext *cublasHandle_t;

#define EXPORT __attribute__((visibility("default")))
#define HANDLE_MAGIC 0x7b1a5f4bu

struct cublasContext {
  unsigned magic;
  cudaStream_t stream;
  cublasPointerMode_t pointer_mode;
  cublasAtomicsMode_t atomics_mode;
  cublasMath_t math_mode;
  void *workspace;
  size_t workspace_size;
};

static void blas_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void blas_log(const char *fmt, ...) {
  char buf[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  dprintf(2, "traintop fake cuBLAS: %s\n", buf);
}

static unsigned long long n_gemms, n_gemvs;

/* For tests: "gemms" (GEMM calls, a batched call counts once), "gemvs". */
EXPORT unsigned long long traintop_fake_cublas_counter(const char *what) {
  if (what && !strcmp(what, "gemms")) return __atomic_load_n(&n_gemms, __ATOMIC_RELAXED);
  if (what && !strcmp(what, "gemvs")) return __atomic_load_n(&n_gemvs, __ATOMIC_RELAXED);
  return 0;
}

static int handle_ok(cublasHandle_t h) { return h && h->magic == HANDLE_MAGIC; }

/* ------------------------------------------------------------------------ */
/* Handles and settings                                                       */
/* ------------------------------------------------------------------------ */
EXPORT cublasStatus_t cublasCreate_v2(cublasHandle_t *handle) {
  if (!handle) return CUBLAS_STATUS_INVALID_VALUE;
  cublasHandle_t h = calloc(1, sizeof *h);
  if (!h) return CUBLAS_STATUS_ALLOC_FAILED;
  h->magic = HANDLE_MAGIC;
  *handle = h;
  return CUBLAS_STATUS_SUCCESS;
}

EXPORT cublasStatus_t cublasDestroy_v2(cublasHandle_t handle) {
  if (!handle_ok(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->magic = 0;
  free(handle);
  return CUBLAS_STATUS_SUCCESS;
}

/* Work runs when called, so the stream only needs remembering. */
EXPORT cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t streamId) {
  if (!handle_ok(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->stream = streamId;
  return CUBLAS_STATUS_SUCCESS;
}

EXPORT cublasStatus_t cublasGetStream_v2(cublasHandle_t handle, cudaStream_t *streamId) {
  if (!handle_ok(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!streamId) return CUBLAS_STATUS_INVALID_VALUE;
  *streamId = handle->stream;
  return CUBLAS_STATUS_SUCCESS;
}

EXPORT cublasStatus_t cublasSetPointerMode_v2(cublasHandle_t handle, cublasPointerMode_t mode) {
  if (!handle_ok(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (mode != 0 && mode != 1) return CUBLAS_STATUS_INVALID_VALUE;
  handle->pointer_mode = mode;
  return CUBLAS_STATUS_SUCCESS;
}

EXPORT cublasStatus_t cublasGetPointerMode_v2(cublasHandle_t handle, cublasPointerMode_t *mode) {
  if (!handle_ok(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!mode) return CUBLAS_STATUS_INVALID_VALUE;
  *mode = handle->pointer_mode;
  return CUBLAS_STATUS_SUCCESS;
}

EXPORT cublasStatus_t cublasSetAtomicsMode(cublasHandle_t handle, cublasAtomicsMode_t mode) {
  if (!handle_ok(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (mode != 0 && mode != 1) return CUBLAS_STATUS_INVALID_VALUE;
  handle->atomics_mode = mode;
  return CUBLAS_STATUS_SUCCESS;
}

EXPORT cublasStatus_t cublasGetAtomicsMode(cublasHandle_t handle, cublasAtomicsMode_t *mode) {
  if (!handle_ok(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!mode) return CUBLAS_STATUS_INVALID_VALUE;
  *mode = handle->atomics_mode;
  return CUBLAS_STATUS_SUCCESS;
}

/* The math mode allows faster, less exact algorithms on a GPU; the
 * reference GEMM below is exact either way. */
EXPORT cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
  if (!handle_ok(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if ((mode & ~16) < 0 || (mode & ~16) > 3) return CUBLAS_STATUS_INVALID_VALUE;
  handle->math_mode = mode;
  return CUBLAS_STATUS_SUCCESS;
}

EXPORT cublasStatus_t cublasGetMathMode(cublasHandle_t handle, cublasMath_t *mode) {
  if (!handle_ok(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!mode) return CUBLAS_STATUS_INVALID_VALUE;
  *mode = handle->math_mode;
  return CUBLAS_STATUS_SUCCESS;
}

EXPORT cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t handle, void *workspace, size_t workspaceSizeInBytes) {
  if (!handle_ok(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (workspaceSizeInBytes && !workspace) return CUBLAS_STATUS_INVALID_VALUE;
  handle->workspace = workspace;
  handle->workspace_size = workspaceSizeInBytes;
  return CUBLAS_STATUS_SUCCESS;
}

EXPORT cublasStatus_t cublasGetVersion_v2(cublasHandle_t handle, int *version) {
  if (!handle_ok(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!version) return CUBLAS_STATUS_INVALID_VALUE;
  *version = 130000;
  return CUBLAS_STATUS_SUCCESS;
}

EXPORT cublasStatus_t cublasGetProperty(libraryPropertyType type, int *value) {
  if (!value) return CUBLAS_STATUS_INVALID_VALUE;
  switch (type) {
    case 0: *value = 13; return CUBLAS_STATUS_SUCCESS; /* MAJOR_VERSION */
    case 1: *value = 0; return CUBLAS_STATUS_SUCCESS;  /* MINOR_VERSION */
    case 2: *value = 0; return CUBLAS_STATUS_SUCCESS;  /* PATCH_LEVEL */
    default: return CUBLAS_STATUS_INVALID_VALUE;
  }
}

EXPORT size_t cublasGetCudartVersion(void) { return 13000; }

static const char *status_name(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
  }
  return "CUBLAS_STATUS_UNKNOWN";
}

EXPORT const char *cublasGetStatusName(cublasStatus_t status) { return status_name(status); }

EXPORT const char *cublasGetStatusString(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "success";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "the library was not initialized";
    case CUBLAS_STATUS_ALLOC_FAILED: return "the resource allocation failed";
    case CUBLAS_STATUS_INVALID_VALUE: return "an invalid numeric value was used as an argument";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "an absent device architectural feature is required";
    case CUBLAS_STATUS_MAPPING_ERROR: return "an access to GPU memory space failed";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "the GPU program failed to execute";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "an internal operation failed";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "the functionality requested is not supported";
    case CUBLAS_STATUS_LICENSE_ERROR: return "error detected trying to check the license";
  }
  return "unknown error";
}

EXPORT void cublasXerbla(const char *srName, int info) {
  blas_log("** On entry to %s parameter number %d had an illegal value", srName ? srName : "?", info);
}

/* ------------------------------------------------------------------------ */
/* Argument and memory checks                                                 */
/* ------------------------------------------------------------------------ */
static int max1(int x) { return x > 1 ? x : 1; }

/* The fake driver's check that [p, p+bytes) is device memory (NULL when the
 * real driver is loaded: then nothing is checked). */
static int (*check_range_fn)(const void *, size_t, char *, size_t);
static int check_range_looked_up;

/* Does the column-major rows x cols matrix at p (leading dimension ld),
 * repeated batch times `stride` elements apart, lie in device memory? */
static int matrix_in_device_memory(const char *fn, const char *what, const void *p, size_t elem, int rows, int cols,
                                   int ld, long long stride, int batch) {
  if (!__atomic_load_n(&check_range_looked_up, __ATOMIC_ACQUIRE)) {
    *(void **)&check_range_fn = dlsym(RTLD_DEFAULT, "traintop_fake_cuda_check_range");
    __atomic_store_n(&check_range_looked_up, 1, __ATOMIC_RELEASE);
  }
  if (rows <= 0 || cols <= 0 || batch <= 0) return 1;
  if (!p) {
    blas_log("%s: %s is a null pointer", fn, what);
    return 0;
  }
  if (!check_range_fn) return 1;
  long long span = (long long)(cols - 1) * ld + rows; /* elements of one matrix */
  long long first = stride < 0 ? stride * (batch - 1) : 0;
  long long last = (stride > 0 ? stride * (batch - 1) : 0) + span;
  const char *start = (const char *)p + first * (long long)elem;
  char why[256] = "";
  if (!check_range_fn(start, (size_t)(last - first) * elem, why, sizeof why)) {
    blas_log("%s: %s (%d x %d, leading dimension %d%s) is not inside device memory: %s", fn, what, rows, cols, ld,
             batch > 1 ? ", batched" : "", why);
    return 0;
  }
  return 1;
}

/* What cuBLAS checks before a GEMM; also the shapes of op(A) and op(B). */
static cublasStatus_t gemm_args(const char *fn, cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                                int n, int k, int lda, int ldb, int ldc, int *ra, int *ca, int *rb, int *cb) {
  if (!handle_ok(h)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if ((unsigned)ta > CUBLAS_OP_C || (unsigned)tb > CUBLAS_OP_C) {
    blas_log("%s: invalid operation (transa=%d, transb=%d)", fn, (int)ta, (int)tb);
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  *ra = ta == CUBLAS_OP_N ? m : k;
  *ca = ta == CUBLAS_OP_N ? k : m;
  *rb = tb == CUBLAS_OP_N ? k : n;
  *cb = tb == CUBLAS_OP_N ? n : k;
  if (m < 0 || n < 0 || k < 0) {
    blas_log("%s: negative size (m=%d, n=%d, k=%d)", fn, m, n, k);
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  if (lda < max1(*ra) || ldb < max1(*rb) || ldc < max1(m)) {
    blas_log("%s: leading dimension too small: lda=%d (op(A) has %d rows), ldb=%d (op(B) has %d rows), "
             "ldc=%d (C has %d rows); transa=%c transb=%c m=%d n=%d k=%d",
             fn, lda, *ra, ldb, *rb, ldc, m, "NTC"[ta], "NTC"[tb], m, n, k);
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  return CUBLAS_STATUS_SUCCESS;
}

/* ------------------------------------------------------------------------ */
/* Reference GEMM: C = alpha op(A) op(B) + beta C, column-major.              */
/* op(A) is copied row by row and op(B) column by column so each dot product  */
/* reads two contiguous arrays. Each product is rounded to T and summed in T  */
/* in order of k, as luminal's reference ops compute a matmul (a Mul, then a  */
/* SumReduce), so the CUDA path can be held to the reference tightly: a       */
/* difference is then a bug, not summation noise. As in cuBLAS, C is not      */
/* read when beta is 0 and A, B are not read when alpha is 0 or k is 0.       */
/* ------------------------------------------------------------------------ */
#define DEFINE_GEMM(NAME, T)                                                                             \
  static cublasStatus_t NAME(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, T alpha,   \
                             const T *A, int lda, const T *B, int ldb, T beta, T *C, int ldc) {          \
    if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;                                                  \
    if (alpha == 0 || k == 0) {                                                                          \
      for (int j = 0; j < n; j++)                                                                        \
        for (int i = 0; i < m; i++) {                                                                    \
          T *c = &C[i + (size_t)j * ldc];                                                                \
          *c = beta == 0 ? (T)0 : (T)((double)beta * (double)*c);                                        \
        }                                                                                                \
      return CUBLAS_STATUS_SUCCESS;                                                                      \
    }                                                                                                    \
    T *a = malloc((size_t)m * k * sizeof(T)), *b = malloc((size_t)n * k * sizeof(T));                    \
    if (!a || !b) {                                                                                      \
      free(a);                                                                                           \
      free(b);                                                                                           \
      return CUBLAS_STATUS_ALLOC_FAILED;                                                                 \
    }                                                                                                    \
    for (int i = 0; i < m; i++)                                                                          \
      for (int p = 0; p < k; p++)                                                                        \
        a[(size_t)i * k + p] = ta == CUBLAS_OP_N ? A[i + (size_t)p * lda] : A[p + (size_t)i * lda];      \
    for (int j = 0; j < n; j++)                                                                          \
      for (int p = 0; p < k; p++)                                                                        \
        b[(size_t)j * k + p] = tb == CUBLAS_OP_N ? B[p + (size_t)j * ldb] : B[j + (size_t)p * ldb];      \
    for (int j = 0; j < n; j++)                                                                          \
      for (int i = 0; i < m; i++) {                                                                      \
        const T *x = &a[(size_t)i * k], *y = &b[(size_t)j * k];                                          \
        T acc = 0;                                                                                       \
        for (int p = 0; p < k; p++) {                                                                    \
          T product = x[p] * y[p];                                                                       \
          acc += product;                                                                                \
        }                                                                                                \
        T *c = &C[i + (size_t)j * ldc];                                                                  \
        *c = (T)((double)alpha * acc + (beta == 0 ? 0.0 : (double)beta * (double)*c));                   \
      }                                                                                                  \
    free(a);                                                                                             \
    free(b);                                                                                             \
    return CUBLAS_STATUS_SUCCESS;                                                                        \
  }
DEFINE_GEMM(gemm_f32, float)
DEFINE_GEMM(gemm_f64, double)

/* Batched GEMM for either type: checks, then one reference GEMM per batch. */
#define DEFINE_GEMM_BATCHED(NAME, T)                                                                        \
  static cublasStatus_t NAME(const char *fn, cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb,  \
                             int m, int n, int k, const T *alpha, const T *A, int lda, long long sa,        \
                             const T *B, int ldb, long long sb, const T *beta, T *C, int ldc, long long sc, \
                             int batch) {                                                                   \
    int ra, ca, rb, cb;                                                                                     \
    cublasStatus_t st = gemm_args(fn, h, ta, tb, m, n, k, lda, ldb, ldc, &ra, &ca, &rb, &cb);               \
    if (st) return st;                                                                                      \
    if (batch < 0) {                                                                                        \
      blas_log("%s: negative batch count %d", fn, batch);                                                   \
      return CUBLAS_STATUS_INVALID_VALUE;                                                                   \
    }                                                                                                       \
    if (!alpha || !beta) {                                                                                  \
      blas_log("%s: alpha or beta is a null pointer", fn);                                                  \
      return CUBLAS_STATUS_INVALID_VALUE;                                                                   \
    }                                                                                                       \
    __atomic_add_fetch(&n_gemms, 1, __ATOMIC_RELAXED);                                                      \
    if (m == 0 || n == 0 || batch == 0) return CUBLAS_STATUS_SUCCESS;                                       \
    T al = *alpha, be = *beta;                                                                              \
    int reads_ab = al != 0 && k > 0;                                                                        \
    if ((reads_ab && (!matrix_in_device_memory(fn, "A", A, sizeof(T), ra, ca, lda, sa, batch) ||            \
                      !matrix_in_device_memory(fn, "B", B, sizeof(T), rb, cb, ldb, sb, batch))) ||          \
        !matrix_in_device_memory(fn, "C", C, sizeof(T), m, n, ldc, sc, batch))                              \
      return CUBLAS_STATUS_EXECUTION_FAILED;                                                                \
    for (int i = 0; i < batch; i++) {                                                                       \
      st = NAME##_one(ta, tb, m, n, k, al, A + sa * i, lda, B + sb * i, ldb, be, C + sc * i, ldc);          \
      if (st) return st;                                                                                    \
    }                                                                                                       \
    return CUBLAS_STATUS_SUCCESS;                                                                           \
  }
#define gemm_batched_f32_one gemm_f32
#define gemm_batched_f64_one gemm_f64
DEFINE_GEMM_BATCHED(gemm_batched_f32, float)
DEFINE_GEMM_BATCHED(gemm_batched_f64, double)

EXPORT cublasStatus_t cublasSgemm_v2(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m,
                                     int n, int k, const float *alpha, const float *A, int lda, const float *B,
                                     int ldb, const float *beta, float *C, int ldc) {
  return gemm_batched_f32("cublasSgemm_v2", handle, transa, transb, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, C,
                          ldc, 0, 1);
}

EXPORT cublasStatus_t cublasDgemm_v2(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m,
                                     int n, int k, const double *alpha, const double *A, int lda, const double *B,
                                     int ldb, const double *beta, double *C, int ldc) {
  return gemm_batched_f64("cublasDgemm_v2", handle, transa, transb, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, C,
                          ldc, 0, 1);
}

EXPORT cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa,
                                                cublasOperation_t transb, int m, int n, int k, const float *alpha,
                                                const float *A, int lda, long long strideA, const float *B, int ldb,
                                                long long strideB, const float *beta, float *C, int ldc,
                                                long long strideC, int batchCount) {
  return gemm_batched_f32("cublasSgemmStridedBatched", handle, transa, transb, m, n, k, alpha, A, lda, strideA, B,
                          ldb, strideB, beta, C, ldc, strideC, batchCount);
}

EXPORT cublasStatus_t cublasDgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa,
                                                cublasOperation_t transb, int m, int n, int k, const double *alpha,
                                                const double *A, int lda, long long strideA, const double *B,
                                                int ldb, long long strideB, const double *beta, double *C, int ldc,
                                                long long strideC, int batchCount) {
  return gemm_batched_f64("cublasDgemmStridedBatched", handle, transa, transb, m, n, k, alpha, A, lda, strideA, B,
                          ldb, strideB, beta, C, ldc, strideC, batchCount);
}

/* GemmEx for all-f32 or all-f64 operands; the compute type may be any of the
 * f32 (resp. f64) ones, including the legacy CUDA_R_32F / CUDA_R_64F. */
static int gemm_ex_kind(const char *fn, cudaDataType at, cudaDataType bt, cudaDataType ct, cublasComputeType_t comp) {
  if (at == 0 && bt == 0 && ct == 0 && (comp == 0 || comp == 68 || comp == 69 || comp == 74 || comp == 75 ||
                                       comp == 77))
    return 32;
  if (at == 1 && bt == 1 && ct == 1 && (comp == 1 || comp == 70 || comp == 71)) return 64;
  blas_log("%s: only all-f32 or all-f64 operands are supported (A %d, B %d, C %d, compute %d)", fn, at, bt, ct,
           comp);
  return 0;
}

EXPORT cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t handle, cublasOperation_t transa,
                                                 cublasOperation_t transb, int m, int n, int k, const void *alpha,
                                                 const void *A, cudaDataType Atype, int lda, long long strideA,
                                                 const void *B, cudaDataType Btype, int ldb, long long strideB,
                                                 const void *beta, void *C, cudaDataType Ctype, int ldc,
                                                 long long strideC, int batchCount, cublasComputeType_t computeType,
                                                 cublasGemmAlgo_t algo) {
  (void)algo;
  const char *fn = "cublasGemmStridedBatchedEx";
  switch (gemm_ex_kind(fn, Atype, Btype, Ctype, computeType)) {
    case 32:
      return gemm_batched_f32(fn, handle, transa, transb, m, n, k, alpha, A, lda, strideA, B, ldb, strideB, beta, C,
                              ldc, strideC, batchCount);
    case 64:
      return gemm_batched_f64(fn, handle, transa, transb, m, n, k, alpha, A, lda, strideA, B, ldb, strideB, beta, C,
                              ldc, strideC, batchCount);
    default: return CUBLAS_STATUS_NOT_SUPPORTED;
  }
}

EXPORT cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m,
                                   int n, int k, const void *alpha, const void *A, cudaDataType Atype, int lda,
                                   const void *B, cudaDataType Btype, int ldb, const void *beta, void *C,
                                   cudaDataType Ctype, int ldc, cublasComputeType_t computeType,
                                   cublasGemmAlgo_t algo) {
  (void)algo;
  const char *fn = "cublasGemmEx";
  switch (gemm_ex_kind(fn, Atype, Btype, Ctype, computeType)) {
    case 32:
      return gemm_batched_f32(fn, handle, transa, transb, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1);
    case 64:
      return gemm_batched_f64(fn, handle, transa, transb, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1);
    default: return CUBLAS_STATUS_NOT_SUPPORTED;
  }
}

/* Half precision is not faked: luminal_cuda's f16 matmuls stop here. */
static int hgemm_warned;
static cublasStatus_t hgemm_not_supported(const char *fn) {
  if (!__atomic_exchange_n(&hgemm_warned, 1, __ATOMIC_RELAXED))
    blas_log("%s: half precision GEMM is not supported by the fake cuBLAS", fn);
  return CUBLAS_STATUS_NOT_SUPPORTED;
}
EXPORT cublasStatus_t cublasHgemm(void) { return hgemm_not_supported("cublasHgemm"); }
EXPORT cublasStatus_t cublasHgemmStridedBatched(void) { return hgemm_not_supported("cublasHgemmStridedBatched"); }

/* ------------------------------------------------------------------------ */
/* GEMV: y = alpha op(A) x + beta y                                           */
/* ------------------------------------------------------------------------ */
#define DEFINE_GEMV(FN, T)                                                                                          \
  EXPORT cublasStatus_t FN(cublasHandle_t handle, cublasOperation_t trans, int m, int n, const T *alpha,            \
                           const T *A, int lda, const T *x, int incx, const T *beta, T *y, int incy) {              \
    if (!handle_ok(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;                                                   \
    if ((unsigned)trans > CUBLAS_OP_C || m < 0 || n < 0 || lda < max1(m) || incx == 0 || incy == 0 || !alpha ||     \
        !beta) {                                                                                                    \
      blas_log("%s: invalid argument (trans=%d m=%d n=%d lda=%d incx=%d incy=%d)", #FN, (int)trans, m, n, lda,      \
               incx, incy);                                                                                         \
      return CUBLAS_STATUS_INVALID_VALUE;                                                                           \
    }                                                                                                               \
    __atomic_add_fetch(&n_gemvs, 1, __ATOMIC_RELAXED);                                                              \
    if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;                                                             \
    int lx = trans == CUBLAS_OP_N ? n : m, ly = trans == CUBLAS_OP_N ? m : n;                                       \
    int ax = incx < 0 ? -incx : incx, ay = incy < 0 ? -incy : incy;                                                 \
    if (!matrix_in_device_memory(#FN, "A", A, sizeof(T), m, n, lda, 0, 1) ||                                        \
        !matrix_in_device_memory(#FN, "x", x, sizeof(T), 1, lx, ax, 0, 1) ||                                        \
        !matrix_in_device_memory(#FN, "y", y, sizeof(T), 1, ly, ay, 0, 1))                                          \
      return CUBLAS_STATUS_EXECUTION_FAILED;                                                                        \
    T al = *alpha, be = *beta;                                                                                      \
    for (int i = 0; i < ly; i++) {                                                                                  \
      double acc = 0;                                                                                               \
      for (int j = 0; j < lx; j++) {                                                                                \
        double a = trans == CUBLAS_OP_N ? A[i + (size_t)j * lda] : A[j + (size_t)i * lda];                          \
        acc += a * (double)x[(size_t)(incx > 0 ? j : lx - 1 - j) * ax];                                             \
      }                                                                                                             \
      T *yi = &y[(size_t)(incy > 0 ? i : ly - 1 - i) * ay];                                                         \
      *yi = (T)((double)al * acc + (be == 0 ? 0.0 : (double)be * (double)*yi));                                     \
    }                                                                                                               \
    return CUBLAS_STATUS_SUCCESS;                                                                                   \
  }
DEFINE_GEMV(cublasSgemv_v2, float)
DEFINE_GEMV(cublasDgemv_v2, double)
