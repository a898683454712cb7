/*
 * smoke.c - drives the fake CUDA stack the way luminal_cudarc does, with
 * kernels copied from luminal_cuda's templates, and checks the results.
 * Build and run: see build.sh. Exit status 0 when every check passes.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The few declarations needed, with the ABI luminal_cudarc's bindings use. */
typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef struct CUevent_st *CUevent;
CUresult cuInit(unsigned);
CUresult cuDeviceGet(CUdevice *, int);
CUresult cuDeviceGetCount(int *);
CUresult cuDeviceGetName(char *, int, CUdevice);
CUresult cuDeviceGetAttribute(int *, int, CUdevice);
CUresult cuDeviceTotalMem_v2(size_t *, CUdevice);
CUresult cuDevicePrimaryCtxRetain(CUcontext *, CUdevice);
CUresult cuDevicePrimaryCtxRelease_v2(CUdevice);
CUresult cuCtxSetCurrent(CUcontext);
CUresult cuEventCreate(CUevent *, unsigned);
CUresult cuEventDestroy_v2(CUevent);
CUresult cuMemAllocAsync(CUdeviceptr *, size_t, CUstream);
CUresult cuMemAlloc_v2(CUdeviceptr *, size_t);
CUresult cuMemFreeAsync(CUdeviceptr, CUstream);
CUresult cuMemFree_v2(CUdeviceptr);
CUresult cuMemsetD8Async(CUdeviceptr, unsigned char, size_t, CUstream);
CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr, const void *, size_t, CUstream);
CUresult cuMemcpyDtoHAsync_v2(void *, CUdeviceptr, size_t, CUstream);
CUresult cuMemcpyDtoH_v2(void *, CUdeviceptr, size_t);
CUresult cuMemGetInfo_v2(size_t *, size_t *);
CUresult cuStreamSynchronize(CUstream);
CUresult cuModuleLoadData(CUmodule *, const void *);
CUresult cuModuleGetFunction(CUfunction *, CUmodule, const char *);
CUresult cuModuleUnload(CUmodule);
CUresult cuLaunchKernel(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, CUstream,
                        void **, void **);
CUresult cuGetErrorName(CUresult, const char **);

typedef int nvrtcResult;
typedef struct _nvrtcProgram *nvrtcProgram;
nvrtcResult nvrtcVersion(int *, int *);
nvrtcResult nvrtcCreateProgram(nvrtcProgram *, const char *, const char *, int, const char *const *,
                               const char *const *);
nvrtcResult nvrtcCompileProgram(nvrtcProgram, int, const char *const *);
nvrtcResult nvrtcGetPTXSize(nvrtcProgram, size_t *);
nvrtcResult nvrtcGetPTX(nvrtcProgram, char *);
nvrtcResult nvrtcGetProgramLogSize(nvrtcProgram, size_t *);
nvrtcResult nvrtcGetProgramLog(nvrtcProgram, char *);
nvrtcResult nvrtcDestroyProgram(nvrtcProgram *);
const char *nvrtcGetErrorString(nvrtcResult);

typedef int cublasStatus_t;
typedef struct cublasContext *cublasHandle_t;
enum { N = 0, T = 1 };
cublasStatus_t cublasCreate_v2(cublasHandle_t *);
cublasStatus_t cublasDestroy_v2(cublasHandle_t);
cublasStatus_t cublasSetStream_v2(cublasHandle_t, CUstream);
cublasStatus_t cublasSgemm_v2(cublasHandle_t, int, int, int, int, int, const float *, const float *, int,
                              const float *, int, const float *, float *, int);
cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t, int, int, int, int, int, const float *, const float *, int,
                                         long long, const float *, int, long long, const float *, float *, int,
                                         long long, int);

unsigned long long traintop_fake_cuda_counter(const char *);

/* ------------------------------------------------------------------------ */
static int failures;

static void check(int ok, const char *what) {
  printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  if (!ok) failures++;
}

static const char *err_name(CUresult r) {
  const char *s = "?";
  cuGetErrorName(r, &s);
  return s ? s : "?";
}

/* Aborts the test on an unexpected error in a setup step. */
#define MUST(call)                                                                            \
  do {                                                                                        \
    int r_ = (call);                                                                          \
    if (r_) {                                                                                 \
      printf("FAIL %s -> %d (%s) at line %d\n", #call, r_, err_name(r_), __LINE__);           \
      exit(1);                                                                                \
    }                                                                                         \
  } while (0)

static CUcontext ctx;
static CUstream stream = NULL; /* cudarc works on the default stream */
static int is_async;

/* luminal_cuda: compile_ptx_with_opts(code, {arch: sm_75, include_paths:
 * [/usr/local/cuda/include]}) then dev.load_ptx(ptx, name, &[name]). */
static CUfunction load_kernel(const char *src, const char *name) {
  nvrtcProgram prog;
  MUST(nvrtcCreateProgram(&prog, src, NULL, 0, NULL, NULL));
  const char *opts[] = {"--include-path=/usr/local/cuda/include", "--gpu-architecture=sm_75"};
  nvrtcResult r = nvrtcCompileProgram(prog, 2, opts);
  if (r) {
    size_t n;
    nvrtcGetProgramLogSize(prog, &n);
    char *log = malloc(n);
    nvrtcGetProgramLog(prog, log);
    printf("FAIL nvrtcCompileProgram(%s): %s\n%s\n", name, nvrtcGetErrorString(r), log);
    exit(1);
  }
  size_t n;
  MUST(nvrtcGetPTXSize(prog, &n));
  char *ptx = malloc(n);
  MUST(nvrtcGetPTX(prog, ptx));
  MUST(nvrtcDestroyProgram(&prog));
  CUmodule mod;
  MUST(cuModuleLoadData(&mod, ptx));
  free(ptx);
  CUfunction f;
  MUST(cuModuleGetFunction(&f, mod, name));
  return f;
}

/* CudaDevice::alloc / htod_copy_into / dtoh_sync_copy, async flavour. */
static CUdeviceptr dev_alloc(size_t bytes) {
  CUdeviceptr p;
  if (is_async) MUST(cuMemAllocAsync(&p, bytes, stream));
  else MUST(cuMemAlloc_v2(&p, bytes));
  return p;
}
static CUdeviceptr dev_zeros(size_t bytes) {
  CUdeviceptr p = dev_alloc(bytes);
  MUST(cuMemsetD8Async(p, 0, bytes, stream));
  return p;
}
static CUdeviceptr dev_upload(const void *host, size_t bytes) {
  CUdeviceptr p = dev_alloc(bytes);
  MUST(cuMemcpyHtoDAsync_v2(p, host, bytes, stream));
  return p;
}
static void dev_download(void *host, CUdeviceptr p, size_t bytes) {
  MUST(cuMemcpyDtoHAsync_v2(host, p, bytes, stream));
  MUST(cuStreamSynchronize(stream));
}
static void dev_free(CUdeviceptr p) {
  if (is_async) MUST(cuMemFreeAsync(p, stream));
  else MUST(cuMemFree_v2(p));
}

/* ------------------------------------------------------------------------ */
/* Kernels, as luminal_cuda renders them                                      */
/* ------------------------------------------------------------------------ */
/* CudaAdd: a [4, a] tensor plus a [a] row broadcast over it; `a` is a dynamic
 * dimension passed after numel. */
static const char *ADD_SRC =
    "\n#include \"cuda_fp16.h\"\n"
    "extern \"C\" __global__ void kernel_9160125519392475341(float *out, const float *inp_a, const float *inp_b, "
    "int numel, const int a) {\n"
    "    int idx = blockIdx.x * blockDim.x + threadIdx.x;\n"
    "    if (idx < numel) {\n"
    "        out[idx] =\n"
    "            ((1) == 0 ? 0.0 : inp_a[(int)idx])\n"
    "            + ((((((int)idx/a)<4))) == 0 ? 0.0 : inp_b[((int)idx%a)]);\n"
    "    }\n"
    "}";

/* CudaMaxReduce over the last dimension of a [4, a] tensor. */
static const char *MAX_SRC =
    "#include \"cuda_fp16.h\"\n"
    "extern \"C\" __global__ void kernel_2795151532217400339(float *out, const float *inp, const int front_size, "
    "const int back_size, const int dim_size, int numel, const int a) {\n"
    "    int i_ = blockIdx.x * blockDim.x + threadIdx.x;\n"
    "\n"
    "    if (i_ < numel) {\n"
    "        int a_ = i_ / back_size;\n"
    "        int b_ = i_ % back_size;\n"
    "        float reduce_value = -__int_as_float(0x7f800000);\n"
    "        for (int c_ = 0; c_ < dim_size; c_++) {\n"
    "            int idx = a_ * dim_size * back_size + c_ * back_size + b_;\n"
    "            if (((max((int)a, (int)0)<=((int)idx%a))==0) != 0) {\n"
    "                int a_idx = (int)idx;\n"
    "                reduce_value = max(reduce_value, (float)inp[a_idx]);\n"
    "            }\n"
    "        }\n"
    "        out[i_] = (float)reduce_value;\n"
    "    }\n"
    "}";

/* CudaGather: a 2D grid of 16x16 blocks. */
static const char *GATHER_SRC =
    "\n#include \"cuda_fp16.h\"\n"
    "extern \"C\" __global__ void gather(float *out, const float *weights, const float *inp, int n_embeddings, "
    "int embedding_dim) {\n"
    "    int x = blockIdx.x * blockDim.x + threadIdx.x;\n"
    "    int y = blockIdx.y * blockDim.y + threadIdx.y;\n"
    "    if (x < n_embeddings && y < embedding_dim) {\n"
    "        out[x * embedding_dim + y] = weights[(int)inp[x] * embedding_dim + y];\n"
    "    }\n"
    "}";

/* CudaARange. */
static const char *ARANGE_SRC =
    "\n#include \"cuda_fp16.h\"\n"
    "extern \"C\" __global__ void arange(float *out, int n_elements) {\n"
    "    int idx = blockIdx.x * blockDim.x + threadIdx.x;\n"
    "    if (idx < n_elements) {\n"
    "        out[idx] = (float)idx;\n"
    "    }\n"
    "}";

/* The unary ops' math (CudaExp2, CudaLog2, CudaSin, CudaSqrt, CudaRecip,
 * CudaMod) in one kernel. */
static const char *MATH_SRC =
    "#include \"cuda_fp16.h\"\n"
    "extern \"C\" __global__ void kernel_math(float *out, const float *inp, int numel) {\n"
    "    int i = blockIdx.x * blockDim.x + threadIdx.x;\n"
    "    if (i < numel) {\n"
    "        out[i] = exp2(inp[i]) + log2(inp[i]) + sin(inp[i]) + sqrt(inp[i]) + __frcp_rn(inp[i])\n"
    "                 + fmod(inp[i], (float)0.75) + (float)(min((int)i, 3) - max((int)i, 2));\n"
    "    }\n"
    "}";

/* Reads past the end of its input: must fail like a GPU's illegal address. */
static const char *OOB_SRC =
    "#include \"cuda_fp16.h\"\n"
    "extern \"C\" __global__ void kernel_oob(float *out, const float *inp, int numel) {\n"
    "    int i = blockIdx.x * blockDim.x + threadIdx.x;\n"
    "    if (i < numel) out[i] = inp[i + numel];\n"
    "}";

static float frand(unsigned *s) {
  *s = *s * 1664525u + 1013904223u;
  return (float)((*s >> 8) & 0xffff) / 65536.0f;
}

static int close_enough(double got, double want, double tol) {
  return fabs(got - want) <= tol * (1.0 + fabs(want));
}

/* ------------------------------------------------------------------------ */
static void test_add(void) {
  enum { ROWS = 4, COLS = 250, NUMEL = ROWS * COLS };
  CUfunction f = load_kernel(ADD_SRC, "kernel_9160125519392475341");
  float a[NUMEL], b[COLS], out[NUMEL];
  unsigned s = 1;
  for (int i = 0; i < NUMEL; i++) a[i] = frand(&s);
  for (int i = 0; i < COLS; i++) b[i] = frand(&s);
  CUdeviceptr da = dev_upload(a, sizeof a), db = dev_upload(b, sizeof b);
  /* Launch configurations: luminal's LaunchConfig::for_num_elems (one block
   * of 1024) and 4 blocks of 256. */
  const unsigned shapes[2][2] = {{1, 1024}, {4, 256}};
  for (int c = 0; c < 2; c++) {
    CUdeviceptr dout = dev_zeros(sizeof out);
    /* As luminal passes them: numel as a usize, dyn dims as i32s. */
    size_t numel = NUMEL;
    int dims[10] = {COLS};
    void *params[] = {&dout, &da, &db, &numel, &dims[0]};
    MUST(cuLaunchKernel(f, shapes[c][0], 1, 1, shapes[c][1], 1, 1, 0, stream, params, NULL));
    dev_download(out, dout, sizeof out);
    int ok = 1;
    for (int i = 0; i < NUMEL; i++) ok &= out[i] == a[i] + b[i % COLS];
    char what[128];
    snprintf(what, sizeof what, "add with a dynamic dimension, grid %u x block %u", shapes[c][0], shapes[c][1]);
    check(ok, what);
    dev_free(dout);
  }
  dev_free(da);
  dev_free(db);
}

static void test_max_reduce(void) {
  enum { ROWS = 4, COLS = 250 };
  CUfunction f = load_kernel(MAX_SRC, "kernel_2795151532217400339");
  float in[ROWS * COLS], out[ROWS];
  unsigned s = 7;
  for (int i = 0; i < ROWS * COLS; i++) in[i] = frand(&s) - 0.5f;
  CUdeviceptr din = dev_upload(in, sizeof in), dout = dev_zeros(sizeof out);
  size_t front = ROWS, back = 1, dim = COLS, numel = ROWS;
  int dims[10] = {COLS};
  void *params[] = {&dout, &din, &front, &back, &dim, &numel, &dims[0]};
  MUST(cuLaunchKernel(f, 1, 1, 1, 1024, 1, 1, 0, stream, params, NULL));
  dev_download(out, dout, sizeof out);
  int ok = 1;
  for (int r = 0; r < ROWS; r++) {
    float m = -INFINITY;
    for (int c = 0; c < COLS; c++) m = fmaxf(m, in[r * COLS + c]);
    ok &= out[r] == m;
  }
  check(ok, "max reduce (loops, max(float, float), __int_as_float)");
  dev_free(din);
  dev_free(dout);
}

static void test_gather(void) {
  enum { VOCAB = 10, DIM = 20, NIDX = 37 };
  CUfunction f = load_kernel(GATHER_SRC, "gather");
  float w[VOCAB * DIM], idx[NIDX], out[NIDX * DIM];
  for (int i = 0; i < VOCAB * DIM; i++) w[i] = (float)i * 0.5f;
  for (int i = 0; i < NIDX; i++) idx[i] = (float)((i * 7) % VOCAB);
  CUdeviceptr dw = dev_upload(w, sizeof w), di = dev_upload(idx, sizeof idx), dout = dev_zeros(sizeof out);
  size_t n = NIDX, d = DIM;
  void *params[] = {&dout, &dw, &di, &n, &d};
  MUST(cuLaunchKernel(f, (NIDX + 15) / 16, (DIM + 15) / 16, 1, 16, 16, 1, 0, stream, params, NULL));
  dev_download(out, dout, sizeof out);
  int ok = 1;
  for (int i = 0; i < NIDX; i++)
    for (int j = 0; j < DIM; j++) ok &= out[i * DIM + j] == w[(int)idx[i] * DIM + j];
  check(ok, "gather on a 2D grid of 16x16 blocks");
  dev_free(dw);
  dev_free(di);
  dev_free(dout);
}

static void test_arange_and_math(void) {
  enum { NUMEL = 3000 };
  CUfunction ar = load_kernel(ARANGE_SRC, "arange");
  float *out = malloc(NUMEL * sizeof *out), *in = malloc(NUMEL * sizeof *in);
  CUdeviceptr dout = dev_zeros(NUMEL * sizeof *out);
  int n = NUMEL;
  void *p1[] = {&dout, &n};
  MUST(cuLaunchKernel(ar, (NUMEL + 1023) / 1024, 1, 1, 1024, 1, 1, 0, stream, p1, NULL));
  dev_download(out, dout, NUMEL * sizeof *out);
  int ok = 1;
  for (int i = 0; i < NUMEL; i++) ok &= out[i] == (float)i;
  check(ok, "arange over 3 blocks (the last one partly idle)");

  CUfunction m = load_kernel(MATH_SRC, "kernel_math");
  for (int i = 0; i < NUMEL; i++) in[i] = 0.01f + (float)i * 0.003f;
  CUdeviceptr din = dev_upload(in, NUMEL * sizeof *in);
  size_t numel = NUMEL;
  void *p2[] = {&dout, &din, &numel};
  MUST(cuLaunchKernel(m, (NUMEL + 1023) / 1024, 1, 1, 1024, 1, 1, 0, stream, p2, NULL));
  dev_download(out, dout, NUMEL * sizeof *out);
  ok = 1;
  for (int i = 0; i < NUMEL; i++) {
    float x = in[i];
    double want = exp2f(x) + log2f(x) + sinf(x) + sqrtf(x) + 1.0f / x + fmodf(x, 0.75f) +
                  (double)((i < 3 ? i : 3) - (i > 2 ? i : 2));
    ok &= close_enough(out[i], want, 1e-5);
  }
  check(ok, "exp2, log2, sin, sqrt, __frcp_rn, fmod, min, max");
  dev_free(din);
  dev_free(dout);
  free(out);
  free(in);
}

static void test_errors(void) {
  CUresult r;
  CUfunction f = load_kernel(OOB_SRC, "kernel_oob");
  enum { NUMEL = 1000 };
  float host[NUMEL] = {0};
  CUdeviceptr din = dev_upload(host, sizeof host), dout = dev_zeros(sizeof host);
  size_t numel = NUMEL;
  void *params[] = {&dout, &din, &numel};
  printf("     (the next messages on stderr are expected)\n");
  fflush(stdout);
  const char *guard = getenv("TRAINTOP_FAKE_CUDA_GUARD");
  if (guard && (!strcmp(guard, "0") || !strcmp(guard, "off"))) {
    printf("skip a read past the end of a buffer (no guard pages: TRAINTOP_FAKE_CUDA_GUARD=%s)\n", guard);
  } else {
    r = cuLaunchKernel(f, 4, 1, 1, 256, 1, 1, 0, stream, params, NULL);
    check(r == 700, "a read past the end of a buffer is CUDA_ERROR_ILLEGAL_ADDRESS");
  }
  r = cuLaunchKernel(f, 0, 1, 1, 256, 1, 1, 0, stream, params, NULL);
  check(r == 1, "an empty grid is CUDA_ERROR_INVALID_VALUE");
  r = cuLaunchKernel(f, 1, 1, 1, 2048, 1, 1, 0, stream, params, NULL);
  check(r == 1, "a block of 2048 threads is CUDA_ERROR_INVALID_VALUE");
  CUdeviceptr bad = din + sizeof host - 8;
  r = cuMemcpyDtoH_v2(host, bad, 16);
  check(r == 1, "a copy running past the end of an allocation is CUDA_ERROR_INVALID_VALUE");
  dev_free(din);
  r = cuMemFree_v2(din);
  check(r == 1, "a double free is CUDA_ERROR_INVALID_VALUE");
  dev_free(dout);

  CUmodule mod;
  r = cuModuleLoadData(&mod, "//\n.version 9.0\n.target sm_75\n.address_size 64\n");
  check(r == 801, "PTX that did not come through the NVRTC shim is CUDA_ERROR_NOT_SUPPORTED");
  /* Real PTX, but asking for a name it does not have. */
  nvrtcProgram prog;
  MUST(nvrtcCreateProgram(&prog, ARANGE_SRC, NULL, 0, NULL, NULL));
  const char *opts[] = {"--gpu-architecture=sm_75"};
  MUST(nvrtcCompileProgram(prog, 1, opts));
  size_t n;
  MUST(nvrtcGetPTXSize(prog, &n));
  char *ptx = malloc(n);
  MUST(nvrtcGetPTX(prog, ptx));
  MUST(nvrtcDestroyProgram(&prog));
  MUST(cuModuleLoadData(&mod, ptx));
  free(ptx);
  CUfunction g;
  r = cuModuleGetFunction(&g, mod, "no_such_kernel");
  check(r == 500, "an unknown kernel name is CUDA_ERROR_NOT_FOUND");
  MUST(cuModuleUnload(mod));
  r = cuModuleUnload(mod);
  check(r == 400, "unloading a module twice is CUDA_ERROR_INVALID_HANDLE");
}

/* ------------------------------------------------------------------------ */
/* Threads: each compiles and runs its own kernel at the same time; one more  */
/* forgets to bind the context.                                               */
/* ------------------------------------------------------------------------ */
static void *thread_main(void *arg) {
  long id = (long)arg;
  if (cuCtxSetCurrent(ctx)) return (void *)1;
  char src[1024];
  char name[64];
  snprintf(name, sizeof name, "kernel_thread_%ld", id);
  snprintf(src, sizeof src,
           "#include \"cuda_fp16.h\"\nextern \"C\" __global__ void %s(float *out, const float *inp, int numel) {\n"
           "    int i = blockIdx.x * blockDim.x + threadIdx.x;\n"
           "    if (i < numel) out[i] = inp[i] * %ld.0f;\n}",
           name, id + 2);
  CUfunction f = load_kernel(src, name);
  enum { NUMEL = 5000 };
  static __thread float in[NUMEL], out[NUMEL];
  for (int i = 0; i < NUMEL; i++) in[i] = (float)i;
  CUdeviceptr din = dev_upload(in, sizeof in), dout = dev_zeros(sizeof out);
  size_t numel = NUMEL;
  void *params[] = {&dout, &din, &numel};
  for (int rep = 0; rep < 5; rep++)
    if (cuLaunchKernel(f, (NUMEL + 255) / 256, 1, 1, 256, 1, 1, 0, stream, params, NULL)) return (void *)1;
  dev_download(out, dout, sizeof out);
  dev_free(din);
  dev_free(dout);
  for (int i = 0; i < NUMEL; i++)
    if (out[i] != in[i] * (float)(id + 2)) return (void *)1;
  return NULL;
}

static void *unbound_thread(void *arg) {
  (void)arg;
  CUdeviceptr p;
  return (void *)(long)cuMemAlloc_v2(&p, 16);
}

static void test_threads(void) {
  pthread_t t[4];
  for (long i = 0; i < 4; i++) pthread_create(&t[i], NULL, thread_main, (void *)i);
  int ok = 1;
  for (int i = 0; i < 4; i++) {
    void *res;
    pthread_join(t[i], &res);
    ok &= res == NULL;
  }
  check(ok, "4 threads compiling and launching their own kernels at once");
  pthread_t u;
  void *res;
  pthread_create(&u, NULL, unbound_thread, NULL);
  pthread_join(u, &res);
  check((long)res == 201, "a thread with no current context gets CUDA_ERROR_INVALID_CONTEXT");
}

/* ------------------------------------------------------------------------ */
/* cuBLAS                                                                     */
/* ------------------------------------------------------------------------ */
/* Column-major C = alpha op(A) op(B) + beta C, naively. */
static void ref_gemm(int ta, int tb, int m, int n, int k, float alpha, const float *A, int lda, const float *B,
                     int ldb, float beta, float *C, int ldc) {
  for (int j = 0; j < n; j++)
    for (int i = 0; i < m; i++) {
      double acc = 0;
      for (int p = 0; p < k; p++) {
        double a = ta == N ? A[i + p * lda] : A[p + i * lda];
        double b = tb == N ? B[p + j * ldb] : B[j + p * ldb];
        acc += a * b;
      }
      C[i + j * ldc] = (float)(alpha * acc + beta * C[i + j * ldc]);
    }
}

static void test_sgemm(void) {
  cublasHandle_t h;
  MUST(cublasCreate_v2(&h));
  MUST(cublasSetStream_v2(h, stream));
  const int m = 5, n = 4, k = 3;
  unsigned s = 3;
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++) {
      int ra = ta == N ? m : k, ca = ta == N ? k : m, rb = tb == N ? k : n, cb = tb == N ? n : k;
      int lda = ra + 2, ldb = rb + 1, ldc = m + 3; /* leading dimensions larger than the rows */
      float A[64], B[64], C[64], want[64];
      for (int i = 0; i < lda * ca; i++) A[i] = frand(&s) - 0.5f;
      for (int i = 0; i < ldb * cb; i++) B[i] = frand(&s) - 0.5f;
      for (int i = 0; i < ldc * n; i++) C[i] = want[i] = frand(&s);
      float alpha = 1.5f, beta = 0.5f;
      ref_gemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, want, ldc);
      CUdeviceptr dA = dev_upload(A, sizeof(float) * lda * ca), dB = dev_upload(B, sizeof(float) * ldb * cb),
                  dC = dev_upload(C, sizeof(float) * ldc * n);
      MUST(cublasSgemm_v2(h, ta, tb, m, n, k, &alpha, (float *)dA, lda, (float *)dB, ldb, &beta, (float *)dC, ldc));
      dev_download(C, dC, sizeof(float) * ldc * n);
      int ok = 1;
      for (int i = 0; i < ldc * n; i++) ok &= close_enough(C[i], want[i], 1e-6);
      char what[96];
      snprintf(what, sizeof what, "cublasSgemm_v2 %c%c, lda=%d ldb=%d ldc=%d, alpha=1.5 beta=0.5", "NT"[ta],
               "NT"[tb], lda, ldb, ldc);
      check(ok, what);
      dev_free(dA);
      dev_free(dB);
      dev_free(dC);
    }

  /* luminal_cuda's CudaMatmul2D: row-major A [M,K] x B [K,N], computed as the
   * column-major C^T = B^T A^T; then CudaBatchMatmul2D with B shared
   * (stride 0) across the batch. */
  enum { M = 7, K = 6, NN = 5, BATCH = 3 };
  float A[BATCH * M * K], B[K * NN], C[BATCH * M * NN];
  for (int i = 0; i < BATCH * M * K; i++) A[i] = frand(&s) - 0.5f;
  for (int i = 0; i < K * NN; i++) B[i] = frand(&s) - 0.5f;
  CUdeviceptr dA = dev_upload(A, sizeof A), dB = dev_upload(B, sizeof B), dC = dev_zeros(sizeof C);
  float one = 1.0f, zero = 0.0f;
  MUST(cublasSgemm_v2(h, N, N, NN, M, K, &one, (float *)dB, NN, (float *)dA, K, &zero, (float *)dC, NN));
  dev_download(C, dC, sizeof(float) * M * NN);
  int ok = 1;
  for (int i = 0; i < M; i++)
    for (int j = 0; j < NN; j++) {
      double want = 0;
      for (int p = 0; p < K; p++) want += (double)A[i * K + p] * B[p * NN + j];
      ok &= close_enough(C[i * NN + j], want, 1e-6);
    }
  check(ok, "row-major matmul as luminal_cuda calls cublasSgemm_v2");
  MUST(cublasSgemmStridedBatched(h, N, N, NN, M, K, &one, (float *)dB, NN, 0, (float *)dA, K, M * K, &zero,
                                 (float *)dC, NN, M * NN, BATCH));
  dev_download(C, dC, sizeof C);
  ok = 1;
  for (int b = 0; b < BATCH; b++)
    for (int i = 0; i < M; i++)
      for (int j = 0; j < NN; j++) {
        double want = 0;
        for (int p = 0; p < K; p++) want += (double)A[b * M * K + i * K + p] * B[p * NN + j];
        ok &= close_enough(C[b * M * NN + i * NN + j], want, 1e-6);
      }
  check(ok, "batched row-major matmul (cublasSgemmStridedBatched, B stride 0)");

  printf("     (the next messages on stderr are expected)\n");
  fflush(stdout);
  cublasStatus_t st =
      cublasSgemm_v2(h, N, N, NN, M, K, &one, (float *)dB, NN, (float *)dA, K, &zero, (float *)dC, NN - 1);
  check(st == 7, "ldc smaller than m is CUBLAS_STATUS_INVALID_VALUE");
  st = cublasSgemmStridedBatched(h, N, N, NN, M, K, &one, (float *)dB, NN, 0, (float *)dA, K, M * K, &zero,
                                 (float *)dC, NN, M * NN, BATCH + 1);
  check(st == 13, "a batch running past its buffers is CUBLAS_STATUS_EXECUTION_FAILED");
  dev_free(dA);
  dev_free(dB);
  dev_free(dC);
  MUST(cublasDestroy_v2(h));
}

int main(void) {
  /* CudaDevice::new(0) */
  MUST(cuInit(0));
  CUdevice dev;
  MUST(cuDeviceGet(&dev, 0));
  MUST(cuDevicePrimaryCtxRetain(&ctx, dev));
  MUST(cuCtxSetCurrent(ctx));
  CUevent ev;
  MUST(cuEventCreate(&ev, 2 /* CU_EVENT_DISABLE_TIMING */));
  MUST(cuDeviceGetAttribute(&is_async, 115 /* MEMORY_POOLS_SUPPORTED */, dev));

  char name[128];
  int count, major, minor, maj, min;
  size_t total, free_b;
  MUST(cuDeviceGetCount(&count));
  MUST(cuDeviceGetName(name, sizeof name, dev));
  MUST(cuDeviceGetAttribute(&major, 75, dev));
  MUST(cuDeviceGetAttribute(&minor, 76, dev));
  MUST(cuDeviceTotalMem_v2(&total, dev));
  MUST(cuMemGetInfo_v2(&free_b, &total));
  MUST(nvrtcVersion(&maj, &min));
  printf("device: %d x %s, compute capability %d.%d, %zu MiB; memory pools: %d; NVRTC %d.%d\n", count, name, major,
         minor, total >> 20, is_async, maj, min);

  test_add();
  test_max_reduce();
  test_gather();
  test_arange_and_math();
  test_threads();
  test_sgemm();
  test_errors();

  const char *counters[] = {"launches", "htod_bytes", "dtoh_bytes", "allocs", "frees", "live_allocs",
                            "modules", "host_compiles", "gemms"};
  printf("counters:");
  for (size_t i = 0; i < sizeof counters / sizeof *counters; i++)
    printf(" %s=%llu", counters[i], traintop_fake_cuda_counter(counters[i]));
  printf("\n");
  check(traintop_fake_cuda_counter("live_allocs") == 0, "every allocation was freed");

  MUST(cuEventDestroy_v2(ev));
  MUST(cuDevicePrimaryCtxRelease_v2(dev));
  printf(failures ? "smoke test FAILED (%d)\n" : "smoke test passed\n", failures);
  return failures ? 1 : 0;
}
