/*
 * fake_cuda.c - libcuda.so.1 for machines without a GPU: a CUDA driver that
 * runs luminal_cuda's kernels on the CPU.
 *
 * It exists so CI can exercise traintop's CUDA path (the graph luminal_cuda
 * builds, luminal_cudarc's bindings, kernel launch arguments and the index
 * arithmetic inside the kernels) without a GPU. It is not a GPU emulator:
 * a kernel's threads run one after another, so anything that needs threads
 * to cooperate (shared memory, barriers, warp shuffles) is refused.
 *
 * How a kernel gets to run:
 *  - The NVRTC shim (nvrtc_shim.c) compiles the CUDA C source with NVIDIA's
 *    real NVRTC and hands each PTX it returns, with the source it came from,
 *    to traintop_fake_cuda_register() below.
 *  - cuModuleLoadData() receives that PTX and finds its source again. The
 *    PTX's `.entry` list says which functions exist and the size of each
 *    parameter, as the real driver would see them.
 *  - The first cuLaunchKernel() of a module compiles its source for the host:
 *    cuda_host.h + the source + one launcher per entry, built with the host
 *    C++ compiler into a cache folder and dlopen'ed. The launcher runs the
 *    whole grid, setting blockIdx/threadIdx/blockDim/gridDim for each thread.
 *
 * "Device memory" is host memory, and a CUdeviceptr is a host address. Each
 * allocation ends right before an inaccessible page and starts filled with
 * 0xff bytes (NaN as f32), so a kernel that reads past the end of a buffer
 * or reads memory nobody wrote fails or shows NaNs instead of passing by
 * luck. Faults inside a kernel become CUDA_ERROR_ILLEGAL_ADDRESS with the
 * block and thread that faulted. All work is synchronous: streams and events
 * exist but have nothing to wait for.
 *
 * Environment (all optional):
 *  TRAINTOP_FAKE_CUDA_INCLUDE  folder with cuda_host.h and the host
 *                              cuda_fp16.h (default: host-include/ next to
 *                              this library)
 *  TRAINTOP_FAKE_CUDA_CACHE    where compiled kernels are kept (default
 *                              $TMPDIR/traintop-fake-cuda-<uid>)
 *  TRAINTOP_FAKE_CUDA_CXX      host compiler (default $CXX, else c++)
 *  TRAINTOP_FAKE_CUDA_CXXFLAGS extra flags for it, space separated
 *  TRAINTOP_FAKE_CUDA_DEVICES  number of devices (default 1; 0 makes cuInit
 *                              fail with CUDA_ERROR_NO_DEVICE)
 *  TRAINTOP_FAKE_CUDA_GUARD    0: plain malloc, no guard pages
 *  TRAINTOP_FAKE_CUDA_POISON   byte new allocations are filled with
 *                              (default 0xff; 0 or off: zeros)
 *  TRAINTOP_FAKE_CUDA_ALIGN    alignment of allocations (default 4, a power
 *                              of two; real CUDA gives 256, but any slack
 *                              after the end hides overruns from the guard)
 *  TRAINTOP_FAKE_CUDA_VERBOSE  1: log module loads, compiles and launches
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* ------------------------------------------------------------------------ */
/* Types. Built with -DFAKE_CUDA_USE_CUDA_H and NVIDIA's cuda.h on the       */
/* include path, every definition below is checked against the real          */
/* prototypes (build.sh does this when it has the header).                   */
/* ------------------------------------------------------------------------ */
#ifdef FAKE_CUDA_USE_CUDA_H
#include <cuda.h>
/* Newer headers map these names to later versions; luminal_cudarc (CUDA
 * 11.8 bindings) links the old ones, which drivers keep exporting. */
#undef cuDeviceGetUuid
#undef cuEventElapsedTime
#else
typedef enum cudaError_enum {
  CUDA_SUCCESS = 0,
  CUDA_ERROR_INVALID_VALUE = 1,
  CUDA_ERROR_OUT_OF_MEMORY = 2,
  CUDA_ERROR_NOT_INITIALIZED = 3,
  CUDA_ERROR_NO_DEVICE = 100,
  CUDA_ERROR_INVALID_DEVICE = 101,
  CUDA_ERROR_INVALID_IMAGE = 200,
  CUDA_ERROR_INVALID_CONTEXT = 201,
  CUDA_ERROR_FILE_NOT_FOUND = 301,
  CUDA_ERROR_INVALID_HANDLE = 400,
  CUDA_ERROR_NOT_FOUND = 500,
  CUDA_ERROR_ILLEGAL_ADDRESS = 700,
  CUDA_ERROR_ILLEGAL_INSTRUCTION = 715,
  CUDA_ERROR_LAUNCH_FAILED = 719,
  CUDA_ERROR_NOT_SUPPORTED = 801,
  CUDA_ERROR_UNKNOWN = 999
} CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef struct CUevent_st *CUevent;
typedef int CUdevice_attribute;
typedef int CUfunction_attribute;
typedef int CUfunc_cache;
typedef int CUjit_option;
typedef struct CUuuid_st { char bytes[16]; } CUuuid;
typedef void (*CUhostFn)(void *userData);
typedef void (*CUstreamCallback)(CUstream hStream, CUresult status, void *userData);
typedef size_t (*CUoccupancyB2DSize)(int blockSize);
typedef struct CUlaunchAttribute_st CUlaunchAttribute;
typedef struct CUlaunchConfig_st {
  unsigned int gridDimX, gridDimY, gridDimZ;
  unsigned int blockDimX, blockDimY, blockDimZ;
  unsigned int sharedMemBytes;
  CUstream hStream;
  CUlaunchAttribute *attrs;
  unsigned int numAttrs;
} CUlaunchConfig;
#endif

#define FC_EXPORT __attribute__((visibility("default")))
#define FC_MAX_DEVICES 8
#define FC_TOTAL_MEM (80ull << 30) /* an 80 GB H100 */
#define FC_MAX_SMEM_PER_BLOCK 49152
#define FC_MAX_SMEM_OPTIN 232448
#define FC_STREAM_LEGACY ((CUstream)0x1)
#define FC_STREAM_PER_THREAD ((CUstream)0x2)

/* ------------------------------------------------------------------------ */
/* Messages, settings, counters                                              */
/* ------------------------------------------------------------------------ */
static void fc_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fc_log(const char *fmt, ...) {
  char buf[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  /* One write per message, so lines from parallel test threads don't mix. */
  dprintf(2, "traintop fake CUDA: %s\n", buf);
}

static struct {
  int devices;
  int guard;
  int poison; /* -1: none */
  size_t align;
  int verbose;
} cfg;
static pthread_once_t cfg_once = PTHREAD_ONCE_INIT;

static void cfg_load(void) {
  const char *s;
  cfg.devices = 1;
  if ((s = getenv("TRAINTOP_FAKE_CUDA_DEVICES")) && *s) {
    cfg.devices = atoi(s);
    if (cfg.devices < 0) cfg.devices = 0;
    if (cfg.devices > FC_MAX_DEVICES) cfg.devices = FC_MAX_DEVICES;
  }
  s = getenv("TRAINTOP_FAKE_CUDA_GUARD");
  cfg.guard = !(s && (!strcmp(s, "0") || !strcmp(s, "off")));
  cfg.poison = 0xff;
  if ((s = getenv("TRAINTOP_FAKE_CUDA_POISON")) && *s)
    cfg.poison = (!strcmp(s, "0") || !strcmp(s, "off")) ? -1 : (int)(strtol(s, NULL, 0) & 0xff);
  cfg.align = 4;
  if ((s = getenv("TRAINTOP_FAKE_CUDA_ALIGN")) && *s) {
    long a = strtol(s, NULL, 0);
    if (a >= 1 && a <= 4096 && (a & (a - 1)) == 0)
      cfg.align = (size_t)a;
    else
      fc_log("TRAINTOP_FAKE_CUDA_ALIGN=%s is not a power of two up to 4096; using 4", s);
  }
  s = getenv("TRAINTOP_FAKE_CUDA_VERBOSE");
  cfg.verbose = s && *s && strcmp(s, "0") != 0;
}
static void cfg_init(void) { pthread_once(&cfg_once, cfg_load); }

static unsigned long long n_launches, n_htod, n_dtoh, n_dtod, n_allocs, n_frees, n_modules,
    n_compiles, n_live_allocs, n_live_bytes;
#define COUNT(var, v) __atomic_add_fetch(&(var), (unsigned long long)(v), __ATOMIC_RELAXED)
#define UNCOUNT(var, v) __atomic_sub_fetch(&(var), (unsigned long long)(v), __ATOMIC_RELAXED)
#define READ(var) __atomic_load_n(&(var), __ATOMIC_RELAXED)

/* Counters for tests. Tests run in parallel in one process, so compare
 * differences, not absolute values. */
FC_EXPORT unsigned long long traintop_fake_cuda_counter(const char *what) {
  if (!what) return 0;
  if (!strcmp(what, "launches")) return READ(n_launches);
  if (!strcmp(what, "htod_bytes")) return READ(n_htod);
  if (!strcmp(what, "dtoh_bytes")) return READ(n_dtoh);
  if (!strcmp(what, "dtod_bytes")) return READ(n_dtod);
  if (!strcmp(what, "allocs")) return READ(n_allocs);
  if (!strcmp(what, "frees")) return READ(n_frees);
  if (!strcmp(what, "modules")) return READ(n_modules);
  if (!strcmp(what, "host_compiles")) return READ(n_compiles);
  if (!strcmp(what, "live_allocs")) return READ(n_live_allocs);
  if (!strcmp(what, "live_bytes")) return READ(n_live_bytes);
  if (!strcmp(what, "gemms")) {
    /* Kept by the fake cuBLAS, which may not be loaded. */
    unsigned long long (*f)(const char *) =
        (unsigned long long (*)(const char *))dlsym(RTLD_DEFAULT, "traintop_fake_cublas_counter");
    return f ? f(what) : 0;
  }
  fc_log("traintop_fake_cuda_counter: unknown counter \"%s\"", what);
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Live handles. Streams, events, modules and functions are checked against  */
/* this set, so a stale or foreign handle is CUDA_ERROR_INVALID_HANDLE        */
/* rather than a crash.                                                       */
/* ------------------------------------------------------------------------ */
enum { H_FREE = 0, H_TOMB, H_STREAM, H_EVENT, H_MODULE, H_FUNCTION };
static struct hslot { const void *p; int kind; } *hset;
static size_t hcap, hused; /* hused counts live + tombstones */
static pthread_mutex_t hlock = PTHREAD_MUTEX_INITIALIZER;

static size_t hidx(const void *p) {
  uint64_t x = (uint64_t)(uintptr_t)p;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return (size_t)x & (hcap - 1);
}

static int handle_add(const void *p, int kind) {
  pthread_mutex_lock(&hlock);
  if ((hused + 1) * 2 > hcap) { /* grow (dropping tombstones) */
    size_t oldcap = hcap;
    struct hslot *old = hset;
    hcap = hcap ? hcap * 2 : 256;
    hset = calloc(hcap, sizeof *hset);
    if (!hset) {
      hset = old;
      hcap = oldcap;
      pthread_mutex_unlock(&hlock);
      return 0;
    }
    hused = 0;
    for (size_t i = 0; i < oldcap; i++)
      if (old[i].kind > H_TOMB) {
        size_t j = hidx(old[i].p);
        while (hset[j].kind != H_FREE) j = (j + 1) & (hcap - 1);
        hset[j] = old[i];
        hused++;
      }
    free(old);
  }
  size_t j = hidx(p);
  while (hset[j].kind > H_TOMB) j = (j + 1) & (hcap - 1);
  if (hset[j].kind == H_FREE) hused++;
  hset[j].p = p;
  hset[j].kind = kind;
  pthread_mutex_unlock(&hlock);
  return 1;
}

static struct hslot *hfind(const void *p) {
  if (!hcap) return NULL;
  for (size_t j = hidx(p);; j = (j + 1) & (hcap - 1)) {
    if (hset[j].kind == H_FREE) return NULL;
    if (hset[j].kind > H_TOMB && hset[j].p == p) return &hset[j];
  }
}

static int handle_ok(const void *p, int kind) {
  if (!p) return 0;
  pthread_mutex_lock(&hlock);
  struct hslot *s = hfind(p);
  int ok = s && s->kind == kind;
  pthread_mutex_unlock(&hlock);
  return ok;
}

/* Removes p if it is a live handle of this kind; says whether it was. */
static int handle_remove(const void *p, int kind) {
  if (!p) return 0;
  pthread_mutex_lock(&hlock);
  struct hslot *s = hfind(p);
  int ok = s && s->kind == kind;
  if (ok) s->kind = H_TOMB;
  pthread_mutex_unlock(&hlock);
  return ok;
}

/* ------------------------------------------------------------------------ */
/* Initialization, devices, contexts                                         */
/* ------------------------------------------------------------------------ */
struct CUctx_st {
  CUdevice device;
  int refcount; /* primary context retains; 0: inactive */
  unsigned flags;
};
static struct CUctx_st primary[FC_MAX_DEVICES];
static int initialized;
static pthread_mutex_t ctx_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread CUcontext tls_ctx;
static __thread CUcontext tls_ctx_stack[16];
static __thread int tls_ctx_depth;

static int is_our_ctx(CUcontext c) {
  return c >= &primary[0] && c < &primary[FC_MAX_DEVICES] &&
         ((uintptr_t)c - (uintptr_t)&primary[0]) % sizeof(primary[0]) == 0;
}

static CUresult need_init(void) {
  return __atomic_load_n(&initialized, __ATOMIC_ACQUIRE) ? CUDA_SUCCESS : CUDA_ERROR_NOT_INITIALIZED;
}

/* The real driver refuses most calls on a thread with no current context;
 * so does this one, which catches a missing bind_to_thread() in CI. */
static CUresult need_ctx(const char *fn) {
  if (need_init() != CUDA_SUCCESS) return CUDA_ERROR_NOT_INITIALIZED;
  CUcontext c = tls_ctx;
  if (!c) {
    fc_log("%s: no current context on this thread (cuCtxSetCurrent / cudarc's bind_to_thread)", fn);
    return CUDA_ERROR_INVALID_CONTEXT;
  }
  pthread_mutex_lock(&ctx_lock);
  int alive = c->refcount > 0;
  pthread_mutex_unlock(&ctx_lock);
  if (!alive) {
    fc_log("%s: the current context was released (its primary context has no references left)", fn);
    return CUDA_ERROR_INVALID_CONTEXT;
  }
  return CUDA_SUCCESS;
}

static CUresult check_device(CUdevice dev) {
  if (need_init() != CUDA_SUCCESS) return CUDA_ERROR_NOT_INITIALIZED;
  return dev >= 0 && dev < cfg.devices ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

FC_EXPORT CUresult cuInit(unsigned int Flags) {
  cfg_init();
  if (Flags != 0) return CUDA_ERROR_INVALID_VALUE;
  if (cfg.devices == 0) return CUDA_ERROR_NO_DEVICE;
  for (int i = 0; i < FC_MAX_DEVICES; i++) primary[i].device = i;
  __atomic_store_n(&initialized, 1, __ATOMIC_RELEASE);
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuDriverGetVersion(int *driverVersion) {
  if (!driverVersion) return CUDA_ERROR_INVALID_VALUE;
  *driverVersion = 13000;
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuDeviceGetCount(int *count) {
  if (!count) return CUDA_ERROR_INVALID_VALUE;
  if (need_init()) return CUDA_ERROR_NOT_INITIALIZED;
  *count = cfg.devices;
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuDeviceGet(CUdevice *device, int ordinal) {
  if (!device) return CUDA_ERROR_INVALID_VALUE;
  CUresult r = check_device(ordinal);
  if (r) return r;
  *device = ordinal;
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuDeviceGetName(char *name, int len, CUdevice dev) {
  if (!name || len <= 0) return CUDA_ERROR_INVALID_VALUE;
  CUresult r = check_device(dev);
  if (r) return r;
  snprintf(name, (size_t)len, "NVIDIA H100 (traintop fake driver)");
  return CUDA_SUCCESS;
}

static void fill_uuid(CUuuid *uuid, CUdevice dev) {
  static const char base[16] = "traintopfakecuda";
  memcpy(uuid->bytes, base, 16);
  uuid->bytes[15] = (char)('0' + dev);
}
FC_EXPORT CUresult cuDeviceGetUuid(CUuuid *uuid, CUdevice dev) {
  if (!uuid) return CUDA_ERROR_INVALID_VALUE;
  CUresult r = check_device(dev);
  if (r) return r;
  fill_uuid(uuid, dev);
  return CUDA_SUCCESS;
}
FC_EXPORT CUresult cuDeviceGetUuid_v2(CUuuid *uuid, CUdevice dev) { return cuDeviceGetUuid(uuid, dev); }

FC_EXPORT CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev) {
  if (!bytes) return CUDA_ERROR_INVALID_VALUE;
  CUresult r = check_device(dev);
  if (r) return r;
  *bytes = FC_TOTAL_MEM;
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuDeviceComputeCapability(int *major, int *minor, CUdevice dev) {
  if (!major || !minor) return CUDA_ERROR_INVALID_VALUE;
  CUresult r = check_device(dev);
  if (r) return r;
  *major = 9;
  *minor = 0;
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuDeviceGetPCIBusId(char *pciBusId, int len, CUdevice dev) {
  if (!pciBusId || len <= 0) return CUDA_ERROR_INVALID_VALUE;
  CUresult r = check_device(dev);
  if (r) return r;
  snprintf(pciBusId, (size_t)len, "0000:%02x:00.0", 0x18 + dev);
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuDeviceCanAccessPeer(int *canAccessPeer, CUdevice dev, CUdevice peerDev) {
  if (!canAccessPeer) return CUDA_ERROR_INVALID_VALUE;
  CUresult r = check_device(dev);
  if (!r) r = check_device(peerDev);
  if (r) return r;
  *canAccessPeer = 0;
  return CUDA_SUCCESS;
}

/* An H100 SXM (compute capability 9.0) as the real driver describes it;
 * attributes not listed are 0. */
static int attribute_value(int attrib, int *value) {
  switch (attrib) {
    case 1: *value = 1024; return 1;        /* MAX_THREADS_PER_BLOCK */
    case 2: *value = 1024; return 1;        /* MAX_BLOCK_DIM_X */
    case 3: *value = 1024; return 1;        /* MAX_BLOCK_DIM_Y */
    case 4: *value = 64; return 1;          /* MAX_BLOCK_DIM_Z */
    case 5: *value = 2147483647; return 1;  /* MAX_GRID_DIM_X */
    case 6: *value = 65535; return 1;       /* MAX_GRID_DIM_Y */
    case 7: *value = 65535; return 1;       /* MAX_GRID_DIM_Z */
    case 8: *value = FC_MAX_SMEM_PER_BLOCK; return 1;
    case 9: *value = 65536; return 1;       /* TOTAL_CONSTANT_MEMORY */
    case 10: *value = 32; return 1;         /* WARP_SIZE */
    case 11: *value = 2147483647; return 1; /* MAX_PITCH */
    case 12: *value = 65536; return 1;      /* MAX_REGISTERS_PER_BLOCK */
    case 13: *value = 1980000; return 1;    /* CLOCK_RATE (kHz) */
    case 14: *value = 512; return 1;        /* TEXTURE_ALIGNMENT */
    case 15: *value = 1; return 1;          /* GPU_OVERLAP */
    case 16: *value = 132; return 1;        /* MULTIPROCESSOR_COUNT */
    case 19: *value = 1; return 1;          /* CAN_MAP_HOST_MEMORY */
    case 30: *value = 512; return 1;        /* SURFACE_ALIGNMENT */
    case 31: *value = 1; return 1;          /* CONCURRENT_KERNELS */
    case 32: *value = 1; return 1;          /* ECC_ENABLED */
    case 33: *value = 0x18; return 1;       /* PCI_BUS_ID */
    case 36: *value = 2619000; return 1;    /* MEMORY_CLOCK_RATE */
    case 37: *value = 5120; return 1;       /* GLOBAL_MEMORY_BUS_WIDTH */
    case 38: *value = 52428800; return 1;   /* L2_CACHE_SIZE */
    case 39: *value = 2048; return 1;       /* MAX_THREADS_PER_MULTIPROCESSOR */
    case 40: *value = 3; return 1;          /* ASYNC_ENGINE_COUNT */
    case 41: *value = 1; return 1;          /* UNIFIED_ADDRESSING */
    case 51: *value = 32; return 1;         /* TEXTURE_PITCH_ALIGNMENT */
    case 75: *value = 9; return 1;          /* COMPUTE_CAPABILITY_MAJOR */
    case 76: *value = 0; return 1;          /* COMPUTE_CAPABILITY_MINOR */
    case 78: *value = 1; return 1;          /* STREAM_PRIORITIES_SUPPORTED */
    case 79: *value = 1; return 1;          /* GLOBAL_L1_CACHE_SUPPORTED */
    case 80: *value = 1; return 1;          /* LOCAL_L1_CACHE_SUPPORTED */
    case 81: *value = 233472; return 1;     /* MAX_SHARED_MEMORY_PER_MULTIPROCESSOR */
    case 82: *value = 65536; return 1;      /* MAX_REGISTERS_PER_MULTIPROCESSOR */
    case 83: *value = 1; return 1;          /* MANAGED_MEMORY */
    case 87: *value = 2; return 1;          /* SINGLE_TO_DOUBLE_PRECISION_PERF_RATIO */
    case 89: *value = 1; return 1;          /* CONCURRENT_MANAGED_ACCESS */
    case 90: *value = 1; return 1;          /* COMPUTE_PREEMPTION_SUPPORTED */
    case 95: *value = 1; return 1;          /* COOPERATIVE_LAUNCH */
    case 97: *value = FC_MAX_SMEM_OPTIN; return 1;
    case 99: *value = 1; return 1;          /* HOST_REGISTER_SUPPORTED */
    case 102: *value = 1; return 1;         /* VIRTUAL_ADDRESS_MANAGEMENT_SUPPORTED */
    case 106: *value = 32; return 1;        /* MAX_BLOCKS_PER_MULTIPROCESSOR */
    case 108: *value = 32505856; return 1;  /* MAX_PERSISTING_L2_CACHE_SIZE */
    case 109: *value = 134213632; return 1; /* MAX_ACCESS_POLICY_WINDOW_SIZE */
    case 111: *value = 1024; return 1;      /* RESERVED_SHARED_MEMORY_PER_BLOCK */
    /* MEMORY_POOLS_SUPPORTED: 1 makes cudarc use cuMemAllocAsync/cuMemFreeAsync,
     * as on a real H100. */
    case 115: *value = 1; return 1;
    case 120: *value = 1; return 1;         /* CLUSTER_LAUNCH */
    default:
      if (attrib < 1 || attrib > 160) return 0;
      *value = 0;
      return 1;
  }
}

FC_EXPORT CUresult cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib, CUdevice dev) {
  if (!pi) return CUDA_ERROR_INVALID_VALUE;
  CUresult r = check_device(dev);
  if (r) return r;
  return attribute_value((int)attrib, pi) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

FC_EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev) {
  if (!pctx) return CUDA_ERROR_INVALID_VALUE;
  CUresult r = check_device(dev);
  if (r) return r;
  pthread_mutex_lock(&ctx_lock);
  primary[dev].refcount++;
  pthread_mutex_unlock(&ctx_lock);
  *pctx = &primary[dev];
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev) {
  CUresult r = check_device(dev);
  if (r) return r;
  pthread_mutex_lock(&ctx_lock);
  if (primary[dev].refcount <= 0)
    r = CUDA_ERROR_INVALID_CONTEXT;
  else
    primary[dev].refcount--;
  pthread_mutex_unlock(&ctx_lock);
  return r;
}

FC_EXPORT CUresult cuDevicePrimaryCtxGetState(CUdevice dev, unsigned int *flags, int *active) {
  if (!flags || !active) return CUDA_ERROR_INVALID_VALUE;
  CUresult r = check_device(dev);
  if (r) return r;
  pthread_mutex_lock(&ctx_lock);
  *flags = primary[dev].flags;
  *active = primary[dev].refcount > 0;
  pthread_mutex_unlock(&ctx_lock);
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuDevicePrimaryCtxSetFlags_v2(CUdevice dev, unsigned int flags) {
  CUresult r = check_device(dev);
  if (r) return r;
  pthread_mutex_lock(&ctx_lock);
  primary[dev].flags = flags;
  pthread_mutex_unlock(&ctx_lock);
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuDevicePrimaryCtxReset_v2(CUdevice dev) { return check_device(dev); }

FC_EXPORT CUresult cuCtxSetCurrent(CUcontext ctx) {
  if (need_init()) return CUDA_ERROR_NOT_INITIALIZED;
  if (ctx && !is_our_ctx(ctx)) return CUDA_ERROR_INVALID_CONTEXT;
  tls_ctx = ctx;
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuCtxGetCurrent(CUcontext *pctx) {
  if (!pctx) return CUDA_ERROR_INVALID_VALUE;
  if (need_init()) return CUDA_ERROR_NOT_INITIALIZED;
  *pctx = tls_ctx;
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuCtxPushCurrent_v2(CUcontext ctx) {
  if (need_init()) return CUDA_ERROR_NOT_INITIALIZED;
  if (!ctx || !is_our_ctx(ctx)) return CUDA_ERROR_INVALID_CONTEXT;
  if (tls_ctx_depth >= (int)(sizeof tls_ctx_stack / sizeof *tls_ctx_stack)) return CUDA_ERROR_UNKNOWN;
  tls_ctx_stack[tls_ctx_depth++] = tls_ctx;
  tls_ctx = ctx;
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuCtxPopCurrent_v2(CUcontext *pctx) {
  if (need_init()) return CUDA_ERROR_NOT_INITIALIZED;
  if (!tls_ctx) return CUDA_ERROR_INVALID_CONTEXT;
  if (pctx) *pctx = tls_ctx;
  tls_ctx = tls_ctx_depth > 0 ? tls_ctx_stack[--tls_ctx_depth] : NULL;
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuCtxGetDevice(CUdevice *device) {
  if (!device) return CUDA_ERROR_INVALID_VALUE;
  CUresult r = need_ctx("cuCtxGetDevice");
  if (r) return r;
  *device = tls_ctx->device;
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuCtxGetFlags(unsigned int *flags) {
  if (!flags) return CUDA_ERROR_INVALID_VALUE;
  CUresult r = need_ctx("cuCtxGetFlags");
  if (r) return r;
  *flags = tls_ctx->flags;
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuCtxGetApiVersion(CUcontext ctx, unsigned int *version) {
  if (!version) return CUDA_ERROR_INVALID_VALUE;
  if (need_init()) return CUDA_ERROR_NOT_INITIALIZED;
  if (ctx && !is_our_ctx(ctx)) return CUDA_ERROR_INVALID_CONTEXT;
  *version = 3020; /* what every driver since CUDA 3.2 reports */
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuCtxGetStreamPriorityRange(int *leastPriority, int *greatestPriority) {
  CUresult r = need_ctx("cuCtxGetStreamPriorityRange");
  if (r) return r;
  if (leastPriority) *leastPriority = 0;
  if (greatestPriority) *greatestPriority = -5;
  return CUDA_SUCCESS;
}

/* All work is done by the time its call returns. */
FC_EXPORT CUresult cuCtxSynchronize(void) { return need_ctx("cuCtxSynchronize"); }

/* ------------------------------------------------------------------------ */
/* Streams and events                                                         */
/* ------------------------------------------------------------------------ */
struct CUstream_st {
  unsigned flags;
  int priority;
  CUcontext ctx;
};
struct CUevent_st {
  unsigned flags;
  int recorded;
  struct timespec when;
};

static int stream_ok(CUstream s) {
  return s == NULL || s == FC_STREAM_LEGACY || s == FC_STREAM_PER_THREAD || handle_ok(s, H_STREAM);
}

FC_EXPORT CUresult cuStreamCreateWithPriority(CUstream *phStream, unsigned int flags, int priority) {
  if (!phStream || (flags & ~1u)) return CUDA_ERROR_INVALID_VALUE;
  CUresult r = need_ctx("cuStreamCreate");
  if (r) return r;
  struct CUstream_st *s = calloc(1, sizeof *s);
  if (!s || !handle_add(s, H_STREAM)) {
    free(s);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  s->flags = flags;
  s->priority = priority < -5 ? -5 : (priority > 0 ? 0 : priority);
  s->ctx = tls_ctx;
  *phStream = s;
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuStreamCreate(CUstream *phStream, unsigned int Flags) {
  return cuStreamCreateWithPriority(phStream, Flags, 0);
}

FC_EXPORT CUresult cuStreamDestroy_v2(CUstream hStream) {
  if (need_init()) return CUDA_ERROR_NOT_INITIALIZED;
  if (!handle_remove(hStream, H_STREAM)) return CUDA_ERROR_INVALID_HANDLE;
  free(hStream);
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuStreamSynchronize(CUstream hStream) {
  CUresult r = need_ctx("cuStreamSynchronize");
  if (r) return r;
  return stream_ok(hStream) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

FC_EXPORT CUresult cuStreamQuery(CUstream hStream) { return cuStreamSynchronize(hStream); }

FC_EXPORT CUresult cuStreamGetFlags(CUstream hStream, unsigned int *flags) {
  if (!flags) return CUDA_ERROR_INVALID_VALUE;
  if (!stream_ok(hStream)) return CUDA_ERROR_INVALID_HANDLE;
  *flags = (hStream && hStream != FC_STREAM_LEGACY && hStream != FC_STREAM_PER_THREAD) ? hStream->flags : 0;
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuStreamGetPriority(CUstream hStream, int *priority) {
  if (!priority) return CUDA_ERROR_INVALID_VALUE;
  if (!stream_ok(hStream)) return CUDA_ERROR_INVALID_HANDLE;
  *priority = (hStream && hStream != FC_STREAM_LEGACY && hStream != FC_STREAM_PER_THREAD) ? hStream->priority : 0;
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuStreamGetCtx(CUstream hStream, CUcontext *pctx) {
  if (!pctx) return CUDA_ERROR_INVALID_VALUE;
  CUresult r = need_ctx("cuStreamGetCtx");
  if (r) return r;
  if (!stream_ok(hStream)) return CUDA_ERROR_INVALID_HANDLE;
  *pctx = (hStream && hStream != FC_STREAM_LEGACY && hStream != FC_STREAM_PER_THREAD) ? hStream->ctx : tls_ctx;
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuStreamWaitEvent(CUstream hStream, CUevent hEvent, unsigned int Flags) {
  (void)Flags;
  if (need_init()) return CUDA_ERROR_NOT_INITIALIZED;
  if (!stream_ok(hStream) || !handle_ok(hEvent, H_EVENT)) return CUDA_ERROR_INVALID_HANDLE;
  return CUDA_SUCCESS;
}

/* Host functions run at once: everything queued before them is done. */
FC_EXPORT CUresult cuLaunchHostFunc(CUstream hStream, CUhostFn fn, void *userData) {
  if (!fn) return CUDA_ERROR_INVALID_VALUE;
  CUresult r = need_ctx("cuLaunchHostFunc");
  if (r) return r;
  if (!stream_ok(hStream)) return CUDA_ERROR_INVALID_HANDLE;
  fn(userData);
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuStreamAddCallback(CUstream hStream, CUstreamCallback callback, void *userData,
                                       unsigned int flags) {
  if (!callback || flags) return CUDA_ERROR_INVALID_VALUE;
  CUresult r = need_ctx("cuStreamAddCallback");
  if (r) return r;
  if (!stream_ok(hStream)) return CUDA_ERROR_INVALID_HANDLE;
  callback(hStream, CUDA_SUCCESS, userData);
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuEventCreate(CUevent *phEvent, unsigned int Flags) {
  if (!phEvent || (Flags & ~0xfu)) return CUDA_ERROR_INVALID_VALUE;
  CUresult r = need_ctx("cuEventCreate");
  if (r) return r;
  struct CUevent_st *e = calloc(1, sizeof *e);
  if (!e || !handle_add(e, H_EVENT)) {
    free(e);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  e->flags = Flags;
  *phEvent = e;
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuEventDestroy_v2(CUevent hEvent) {
  if (need_init()) return CUDA_ERROR_NOT_INITIALIZED;
  if (!handle_remove(hEvent, H_EVENT)) return CUDA_ERROR_INVALID_HANDLE;
  free(hEvent);
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuEventRecord(CUevent hEvent, CUstream hStream) {
  CUresult r = need_ctx("cuEventRecord");
  if (r) return r;
  if (!handle_ok(hEvent, H_EVENT) || !stream_ok(hStream)) return CUDA_ERROR_INVALID_HANDLE;
  clock_gettime(CLOCK_MONOTONIC, &hEvent->when);
  hEvent->recorded = 1;
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuEventRecordWithFlags(CUevent hEvent, CUstream hStream, unsigned int flags) {
  (void)flags;
  return cuEventRecord(hEvent, hStream);
}

FC_EXPORT CUresult cuEventQuery(CUevent hEvent) {
  if (need_init()) return CUDA_ERROR_NOT_INITIALIZED;
  return handle_ok(hEvent, H_EVENT) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

FC_EXPORT CUresult cuEventSynchronize(CUevent hEvent) { return cuEventQuery(hEvent); }

FC_EXPORT CUresult cuEventElapsedTime(float *pMilliseconds, CUevent hStart, CUevent hEnd) {
  if (!pMilliseconds) return CUDA_ERROR_INVALID_VALUE;
  if (need_init()) return CUDA_ERROR_NOT_INITIALIZED;
  if (!handle_ok(hStart, H_EVENT) || !handle_ok(hEnd, H_EVENT)) return CUDA_ERROR_INVALID_HANDLE;
  /* As on the device: events made with CU_EVENT_DISABLE_TIMING (2), or never
   * recorded, have no time. */
  if ((hStart->flags & 2u) || (hEnd->flags & 2u) || !hStart->recorded || !hEnd->recorded)
    return CUDA_ERROR_INVALID_HANDLE;
  *pMilliseconds = (float)((double)(hEnd->when.tv_sec - hStart->when.tv_sec) * 1e3 +
                           (double)(hEnd->when.tv_nsec - hStart->when.tv_nsec) / 1e6);
  return CUDA_SUCCESS;
}

/* ------------------------------------------------------------------------ */
/* Device memory                                                              */
/* ------------------------------------------------------------------------ */
struct fc_alloc {
  uintptr_t start;
  size_t size;
  void *map; /* what to give back: the mmap'ed region, or the malloc block */
  size_t map_len; /* 0: malloc'ed */
};
static struct fc_alloc *allocs; /* sorted by start */
static size_t n_alloc_entries, alloc_cap;
static pthread_mutex_t mem_lock = PTHREAD_MUTEX_INITIALIZER;

/* Index of the last entry with start <= p, or -1. Caller holds mem_lock. */
static long alloc_floor(uintptr_t p) {
  long lo = 0, hi = (long)n_alloc_entries - 1, best = -1;
  while (lo <= hi) {
    long mid = (lo + hi) / 2;
    if (allocs[mid].start <= p) {
      best = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return best;
}

/* Whether [p, p+bytes) lies inside one live allocation. On failure, `why`
 * explains (when given). */
static int range_ok(uintptr_t p, size_t bytes, char *why, size_t why_len) {
  pthread_mutex_lock(&mem_lock);
  long i = alloc_floor(p);
  int ok = 0;
  if (i >= 0) {
    const struct fc_alloc *a = &allocs[i];
    ok = p - a->start <= a->size && bytes <= a->size - (p - a->start);
    if (!ok && why && p - a->start <= a->size)
      snprintf(why, why_len, "%zu bytes at 0x%llx run %zu bytes past the end of a %zu-byte allocation at 0x%llx",
               bytes, (unsigned long long)p, bytes - (a->size - (p - a->start)), a->size,
               (unsigned long long)a->start);
  }
  if (!ok && why && (i < 0 || p - allocs[i].start > allocs[i].size))
    snprintf(why, why_len, "0x%llx is not inside any live device allocation (never allocated, or freed)",
             (unsigned long long)p);
  pthread_mutex_unlock(&mem_lock);
  return ok;
}

/* For the fake cuBLAS: does [p, p+bytes) lie in one live allocation? */
FC_EXPORT int traintop_fake_cuda_check_range(const void *p, size_t bytes, char *why, size_t why_len) {
  if (!p) {
    if (why && why_len) snprintf(why, why_len, "null device pointer");
    return 0;
  }
  return range_ok((uintptr_t)p, bytes, why, why_len);
}

/* What is at address p, for a fault message. */
static void describe_address(uintptr_t p, char *out, size_t len) {
  pthread_mutex_lock(&mem_lock);
  long i = alloc_floor(p);
  if (i >= 0 && p < allocs[i].start + allocs[i].size) {
    snprintf(out, len, "inside the %zu-byte allocation at 0x%llx", allocs[i].size,
             (unsigned long long)allocs[i].start);
  } else if (i >= 0 && allocs[i].map_len && p < (uintptr_t)allocs[i].map + allocs[i].map_len) {
    snprintf(out, len, "%llu bytes past the end of the %zu-byte allocation at 0x%llx",
             (unsigned long long)(p - (allocs[i].start + allocs[i].size)), allocs[i].size,
             (unsigned long long)allocs[i].start);
  } else if (i + 1 < (long)n_alloc_entries && allocs[i + 1].map_len &&
             p >= (uintptr_t)allocs[i + 1].map) {
    snprintf(out, len, "%llu bytes before the start of the %zu-byte allocation at 0x%llx",
             (unsigned long long)(allocs[i + 1].start - p), allocs[i + 1].size,
             (unsigned long long)allocs[i + 1].start);
  } else {
    snprintf(out, len, "not in any live device allocation (freed, never allocated, or a host pointer)");
  }
  pthread_mutex_unlock(&mem_lock);
}

static CUresult mem_alloc(CUdeviceptr *dptr, size_t bytesize, int zero_ok, const char *fn) {
  if (!dptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult r = need_ctx(fn);
  if (r) return r;
  if (bytesize == 0) {
    /* cuMemAlloc refuses 0 bytes; the stream-ordered allocator returns 0. */
    if (!zero_ok) return CUDA_ERROR_INVALID_VALUE;
    *dptr = 0;
    return CUDA_SUCCESS;
  }
  if (bytesize > FC_TOTAL_MEM - READ(n_live_bytes)) {
    fc_log("%s: %zu bytes do not fit in the fake device's %llu bytes (%llu in use)", fn, bytesize,
           (unsigned long long)FC_TOTAL_MEM, (unsigned long long)READ(n_live_bytes));
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  struct fc_alloc a = {0, bytesize, NULL, 0};
  size_t rounded = (bytesize + cfg.align - 1) & ~(cfg.align - 1);
  if (cfg.guard) {
    /* guard page | data pages, the buffer ending at their end | guard page */
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t data = (rounded + page - 1) & ~(page - 1);
    a.map_len = data + 2 * page;
    a.map = mmap(NULL, a.map_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (a.map == MAP_FAILED) {
      fc_log("%s: mmap of %zu bytes failed (%s); TRAINTOP_FAKE_CUDA_GUARD=0 uses malloc instead", fn,
             a.map_len, strerror(errno));
      return CUDA_ERROR_OUT_OF_MEMORY;
    }
    if (mprotect((char *)a.map + page, data, PROT_READ | PROT_WRITE) != 0) {
      munmap(a.map, a.map_len);
      return CUDA_ERROR_OUT_OF_MEMORY;
    }
    a.start = (uintptr_t)a.map + page + data - rounded;
  } else {
    size_t al = cfg.align < sizeof(void *) ? sizeof(void *) : cfg.align;
    if (posix_memalign(&a.map, al, rounded) != 0) return CUDA_ERROR_OUT_OF_MEMORY;
    a.start = (uintptr_t)a.map;
    if (cfg.poison < 0) memset(a.map, 0, rounded);
  }
  if (cfg.poison >= 0) memset((void *)a.start, cfg.poison, bytesize);

  pthread_mutex_lock(&mem_lock);
  if (n_alloc_entries == alloc_cap) {
    size_t cap = alloc_cap ? alloc_cap * 2 : 1024;
    struct fc_alloc *na = realloc(allocs, cap * sizeof *na);
    if (!na) {
      pthread_mutex_unlock(&mem_lock);
      if (a.map_len) munmap(a.map, a.map_len); else free(a.map);
      return CUDA_ERROR_OUT_OF_MEMORY;
    }
    allocs = na;
    alloc_cap = cap;
  }
  long at = alloc_floor(a.start) + 1;
  memmove(&allocs[at + 1], &allocs[at], (n_alloc_entries - (size_t)at) * sizeof *allocs);
  allocs[at] = a;
  n_alloc_entries++;
  pthread_mutex_unlock(&mem_lock);

  COUNT(n_allocs, 1);
  COUNT(n_live_allocs, 1);
  COUNT(n_live_bytes, bytesize);
  *dptr = (CUdeviceptr)a.start;
  return CUDA_SUCCESS;
}

static CUresult mem_free(CUdeviceptr dptr, const char *fn) {
  CUresult r = need_ctx(fn);
  if (r) return r;
  if (dptr == 0) return CUDA_SUCCESS;
  pthread_mutex_lock(&mem_lock);
  long i = alloc_floor((uintptr_t)dptr);
  if (i < 0 || allocs[i].start != (uintptr_t)dptr) {
    pthread_mutex_unlock(&mem_lock);
    fc_log("%s(0x%llx): not the start of a live allocation (double free?)", fn, dptr);
    return CUDA_ERROR_INVALID_VALUE;
  }
  struct fc_alloc a = allocs[i];
  memmove(&allocs[i], &allocs[i + 1], (n_alloc_entries - (size_t)i - 1) * sizeof *allocs);
  n_alloc_entries--;
  pthread_mutex_unlock(&mem_lock);
  if (a.map_len) munmap(a.map, a.map_len); else free(a.map);
  COUNT(n_frees, 1);
  UNCOUNT(n_live_allocs, 1);
  UNCOUNT(n_live_bytes, a.size);
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize) {
  return mem_alloc(dptr, bytesize, 0, "cuMemAlloc");
}
FC_EXPORT CUresult cuMemAllocAsync(CUdeviceptr *dptr, size_t bytesize, CUstream hStream) {
  if (!stream_ok(hStream)) return CUDA_ERROR_INVALID_HANDLE;
  return mem_alloc(dptr, bytesize, 1, "cuMemAllocAsync");
}
FC_EXPORT CUresult cuMemAllocManaged(CUdeviceptr *dptr, size_t bytesize, unsigned int flags) {
  if (flags != 1 && flags != 2) return CUDA_ERROR_INVALID_VALUE; /* GLOBAL or HOST */
  return mem_alloc(dptr, bytesize, 0, "cuMemAllocManaged");
}
FC_EXPORT CUresult cuMemFree_v2(CUdeviceptr dptr) { return mem_free(dptr, "cuMemFree"); }
FC_EXPORT CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream hStream) {
  if (!stream_ok(hStream)) return CUDA_ERROR_INVALID_HANDLE;
  return mem_free(dptr, "cuMemFreeAsync");
}

FC_EXPORT CUresult cuMemGetInfo_v2(size_t *free_bytes, size_t *total) {
  if (!free_bytes || !total) return CUDA_ERROR_INVALID_VALUE;
  CUresult r = need_ctx("cuMemGetInfo");
  if (r) return r;
  *total = FC_TOTAL_MEM;
  *free_bytes = FC_TOTAL_MEM - READ(n_live_bytes);
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuMemGetAddressRange_v2(CUdeviceptr *pbase, size_t *psize, CUdeviceptr dptr) {
  CUresult r = need_ctx("cuMemGetAddressRange");
  if (r) return r;
  pthread_mutex_lock(&mem_lock);
  long i = alloc_floor((uintptr_t)dptr);
  int ok = i >= 0 && (uintptr_t)dptr < allocs[i].start + allocs[i].size;
  if (ok) {
    if (pbase) *pbase = allocs[i].start;
    if (psize) *psize = allocs[i].size;
  }
  pthread_mutex_unlock(&mem_lock);
  return ok ? CUDA_SUCCESS : CUDA_ERROR_NOT_FOUND;
}

/* Page-locked host memory is just host memory here. */
FC_EXPORT CUresult cuMemHostAlloc(void **pp, size_t bytesize, unsigned int Flags) {
  (void)Flags;
  if (!pp) return CUDA_ERROR_INVALID_VALUE;
  CUresult r = need_ctx("cuMemHostAlloc");
  if (r) return r;
  if (posix_memalign(pp, 4096, bytesize ? bytesize : 1) != 0) return CUDA_ERROR_OUT_OF_MEMORY;
  return CUDA_SUCCESS;
}
FC_EXPORT CUresult cuMemAllocHost_v2(void **pp, size_t bytesize) { return cuMemHostAlloc(pp, bytesize, 0); }
FC_EXPORT CUresult cuMemFreeHost(void *p) {
  CUresult r = need_ctx("cuMemFreeHost");
  if (r) return r;
  free(p);
  return CUDA_SUCCESS;
}
FC_EXPORT CUresult cuMemHostRegister_v2(void *p, size_t bytesize, unsigned int Flags) {
  (void)Flags;
  if (!p || !bytesize) return CUDA_ERROR_INVALID_VALUE;
  return need_ctx("cuMemHostRegister");
}
FC_EXPORT CUresult cuMemHostUnregister(void *p) {
  if (!p) return CUDA_ERROR_INVALID_VALUE;
  return need_ctx("cuMemHostUnregister");
}
FC_EXPORT CUresult cuMemHostGetDevicePointer_v2(CUdeviceptr *pdptr, void *p, unsigned int Flags) {
  if (!pdptr || !p || Flags) return CUDA_ERROR_INVALID_VALUE;
  CUresult r = need_ctx("cuMemHostGetDevicePointer");
  if (r) return r;
  *pdptr = (CUdeviceptr)(uintptr_t)p;
  return CUDA_SUCCESS;
}

/* Checks one side of a copy or memset. */
static CUresult check_device_range(CUdeviceptr p, size_t bytes, const char *fn, const char *side) {
  char why[256];
  if (!range_ok((uintptr_t)p, bytes, why, sizeof why)) {
    fc_log("%s: %s: %s", fn, side, why);
    return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}

static int is_device(uintptr_t p) {
  pthread_mutex_lock(&mem_lock);
  long i = alloc_floor(p);
  int yes = i >= 0 && p < allocs[i].start + allocs[i].size;
  pthread_mutex_unlock(&mem_lock);
  return yes;
}

enum { HTOD, DTOH, DTOD, ANY };
static CUresult copy(uintptr_t dst, uintptr_t src, size_t n, int dir, CUstream s, const char *fn) {
  CUresult r = need_ctx(fn);
  if (r) return r;
  if (!stream_ok(s)) return CUDA_ERROR_INVALID_HANDLE;
  if (n == 0) return CUDA_SUCCESS;
  if (!dst || !src) return CUDA_ERROR_INVALID_VALUE;
  if (dir == ANY) /* unified addressing: the pointers say where they are */
    dir = is_device(dst) ? (is_device(src) ? DTOD : HTOD) : (is_device(src) ? DTOH : ANY);
  if ((dir == HTOD || dir == DTOD) && (r = check_device_range(dst, n, fn, "destination"))) return r;
  if ((dir == DTOH || dir == DTOD) && (r = check_device_range(src, n, fn, "source"))) return r;
  memmove((void *)dst, (const void *)src, n);
  if (dir == HTOD) COUNT(n_htod, n);
  if (dir == DTOH) COUNT(n_dtoh, n);
  if (dir == DTOD) COUNT(n_dtod, n);
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount) {
  return copy(dstDevice, (uintptr_t)srcHost, ByteCount, HTOD, NULL, "cuMemcpyHtoD");
}
FC_EXPORT CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount,
                                        CUstream hStream) {
  return copy(dstDevice, (uintptr_t)srcHost, ByteCount, HTOD, hStream, "cuMemcpyHtoDAsync");
}
FC_EXPORT CUresult cuMemcpyDtoH_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount) {
  return copy((uintptr_t)dstHost, srcDevice, ByteCount, DTOH, NULL, "cuMemcpyDtoH");
}
FC_EXPORT CUresult cuMemcpyDtoHAsync_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream) {
  return copy((uintptr_t)dstHost, srcDevice, ByteCount, DTOH, hStream, "cuMemcpyDtoHAsync");
}
FC_EXPORT CUresult cuMemcpyDtoD_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount) {
  return copy(dstDevice, srcDevice, ByteCount, DTOD, NULL, "cuMemcpyDtoD");
}
FC_EXPORT CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount,
                                        CUstream hStream) {
  return copy(dstDevice, srcDevice, ByteCount, DTOD, hStream, "cuMemcpyDtoDAsync");
}
FC_EXPORT CUresult cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount) {
  return copy(dst, src, ByteCount, ANY, NULL, "cuMemcpy");
}
FC_EXPORT CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount, CUstream hStream) {
  return copy(dst, src, ByteCount, ANY, hStream, "cuMemcpyAsync");
}

static CUresult memset_n(CUdeviceptr dst, unsigned value, size_t n, size_t width, CUstream s, const char *fn) {
  CUresult r = need_ctx(fn);
  if (r) return r;
  if (!stream_ok(s)) return CUDA_ERROR_INVALID_HANDLE;
  if (n == 0) return CUDA_SUCCESS;
  if (dst % width) {
    fc_log("%s: 0x%llx is not %zu-byte aligned", fn, dst, width);
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (n > SIZE_MAX / width) return CUDA_ERROR_INVALID_VALUE;
  if ((r = check_device_range(dst, n * width, fn, "destination"))) return r;
  if (width == 1) {
    memset((void *)(uintptr_t)dst, (int)(value & 0xff), n);
  } else if (width == 2) {
    uint16_t *p = (uint16_t *)(uintptr_t)dst;
    for (size_t i = 0; i < n; i++) p[i] = (uint16_t)value;
  } else {
    uint32_t *p = (uint32_t *)(uintptr_t)dst;
    for (size_t i = 0; i < n; i++) p[i] = (uint32_t)value;
  }
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuMemsetD8_v2(CUdeviceptr dstDevice, unsigned char uc, size_t N) {
  return memset_n(dstDevice, uc, N, 1, NULL, "cuMemsetD8");
}
FC_EXPORT CUresult cuMemsetD8Async(CUdeviceptr dstDevice, unsigned char uc, size_t N, CUstream hStream) {
  return memset_n(dstDevice, uc, N, 1, hStream, "cuMemsetD8Async");
}
FC_EXPORT CUresult cuMemsetD16_v2(CUdeviceptr dstDevice, unsigned short us, size_t N) {
  return memset_n(dstDevice, us, N, 2, NULL, "cuMemsetD16");
}
FC_EXPORT CUresult cuMemsetD16Async(CUdeviceptr dstDevice, unsigned short us, size_t N, CUstream hStream) {
  return memset_n(dstDevice, us, N, 2, hStream, "cuMemsetD16Async");
}
FC_EXPORT CUresult cuMemsetD32_v2(CUdeviceptr dstDevice, unsigned int ui, size_t N) {
  return memset_n(dstDevice, ui, N, 4, NULL, "cuMemsetD32");
}
FC_EXPORT CUresult cuMemsetD32Async(CUdeviceptr dstDevice, unsigned int ui, size_t N, CUstream hStream) {
  return memset_n(dstDevice, ui, N, 4, hStream, "cuMemsetD32Async");
}

/* ------------------------------------------------------------------------ */
/* PTX registry: PTX text -> the CUDA C source it was compiled from           */
/* ------------------------------------------------------------------------ */
struct fc_entry { /* one `.entry` of a PTX */
  char *name;
  int nparams;
  unsigned *param_sizes;
};

typedef void (*fc_run_fn)(const unsigned *grid, const unsigned *block, void **params);
typedef void (*fc_where_fn)(unsigned *out6);

struct fc_ptx {
  struct fc_ptx *next;
  uint64_t hash;
  char *ptx;
  size_t ptx_len;
  char *source;
  struct fc_entry *entries;
  int nentries;
  /* Host build, shared by every module loaded from this PTX. */
  int build_state; /* 0: not tried, 1: built, -1: failed */
  void *lib;
  char *so_path;
};

static struct fc_ptx *registry[1024];
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t fnv1a(const void *data, size_t n, uint64_t h) {
  const unsigned char *p = data;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}
#define FNV_BASIS 0xcbf29ce484222325ull

static size_t ptx_text_len(const char *ptx, size_t len) {
  while (len > 0 && ptx[len - 1] == '\0') len--;
  return len;
}

static int is_ident_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '$';
}

/* Size in bytes of one PTX parameter declaration, such as
 * ".param .u64 k_param_0" or ".param .align 4 .b8 k_param_3[12]". */
static unsigned ptx_param_size(const char *decl, size_t len) {
  const char *br = memchr(decl, '[', len);
  if (br) return (unsigned)strtoul(br + 1, NULL, 10);
  for (size_t i = 0; i + 2 < len; i++) {
    if (decl[i] == '.' && strchr("usbf", decl[i + 1]) && decl[i + 2] >= '0' && decl[i + 2] <= '9')
      return (unsigned)strtoul(decl + i + 2, NULL, 10) / 8;
  }
  return 0;
}

/* Finds the kernels (`.entry NAME(...)`) of a PTX and their parameter sizes. */
static int parse_ptx_entries(struct fc_ptx *e) {
  const char *p = e->ptx, *end = e->ptx + e->ptx_len;
  while ((p = memmem(p, (size_t)(end - p), ".entry", 6)) != NULL) {
    p += 6;
    if (p >= end || (*p != ' ' && *p != '\t')) continue;
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    const char *name = p;
    while (p < end && is_ident_char(*p)) p++;
    size_t name_len = (size_t)(p - name);
    if (!name_len) continue;
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    int nparams = 0;
    unsigned sizes[256];
    if (p < end && *p == '(') {
      const char *close = memchr(p, ')', (size_t)(end - p));
      if (!close) return -1;
      const char *q = p + 1;
      while (q < close) {
        const char *comma = memchr(q, ',', (size_t)(close - q));
        const char *stop = comma ? comma : close;
        const char *dp = memmem(q, (size_t)(stop - q), ".param", 6);
        if (dp) {
          if (nparams == 256) return -1;
          sizes[nparams++] = ptx_param_size(dp, (size_t)(stop - dp));
        }
        q = stop + 1;
      }
      p = close + 1;
    }
    struct fc_entry *ne = realloc(e->entries, (size_t)(e->nentries + 1) * sizeof *ne);
    if (!ne) return -1;
    e->entries = ne;
    struct fc_entry *k = &e->entries[e->nentries];
    k->name = strndup(name, name_len);
    k->nparams = nparams;
    k->param_sizes = malloc((size_t)(nparams ? nparams : 1) * sizeof(unsigned));
    if (!k->name || !k->param_sizes) {
      free(k->name);
      free(k->param_sizes);
      return -1;
    }
    memcpy(k->param_sizes, sizes, (size_t)nparams * sizeof(unsigned));
    e->nentries++;
  }
  return 0;
}

static void free_ptx_entry(struct fc_ptx *e) {
  if (!e) return;
  for (int i = 0; i < e->nentries; i++) {
    free(e->entries[i].name);
    free(e->entries[i].param_sizes);
  }
  free(e->entries);
  free(e->ptx);
  free(e->source);
  free(e);
}

/* Caller holds reg_lock. */
static struct fc_ptx *registry_find(const char *ptx, size_t len, uint64_t h) {
  for (struct fc_ptx *e = registry[h % 1024]; e; e = e->next)
    if (e->hash == h && e->ptx_len == len && memcmp(e->ptx, ptx, len) == 0) return e;
  return NULL;
}

/* Called by the NVRTC shim for every PTX it hands out: remembers which CUDA C
 * source the PTX came from. Entries live as long as the process; there is one
 * per distinct kernel. */
FC_EXPORT void traintop_fake_cuda_register(const char *ptx, size_t ptx_len, const char *source) {
  if (!ptx || !source) return;
  size_t len = ptx_text_len(ptx, ptx_len);
  uint64_t h = fnv1a(ptx, len, FNV_BASIS);
  pthread_mutex_lock(&reg_lock);
  /* Identical PTX means identical kernels: the first source is as good as any. */
  if (registry_find(ptx, len, h)) {
    pthread_mutex_unlock(&reg_lock);
    return;
  }
  struct fc_ptx *e = calloc(1, sizeof *e);
  if (e) {
    e->hash = h;
    e->ptx_len = len;
    e->ptx = malloc(len + 1);
    e->source = strdup(source);
  }
  if (!e || !e->ptx || !e->source) {
    pthread_mutex_unlock(&reg_lock);
    free_ptx_entry(e);
    fc_log("out of memory registering a PTX");
    return;
  }
  memcpy(e->ptx, ptx, len);
  e->ptx[len] = '\0';
  if (parse_ptx_entries(e) != 0) {
    pthread_mutex_unlock(&reg_lock);
    fc_log("could not read the .entry list of a PTX; it is not registered");
    free_ptx_entry(e);
    return;
  }
  e->next = registry[h % 1024];
  registry[h % 1024] = e;
  pthread_mutex_unlock(&reg_lock);
}

/* ------------------------------------------------------------------------ */
/* Modules and functions                                                      */
/* ------------------------------------------------------------------------ */
struct CUfunc_st {
  struct CUmod_st *mod;
  const struct fc_entry *entry;
  fc_run_fn run; /* resolved on first launch */
  fc_where_fn where;
  int max_dynamic_smem;
  int carveout;
  struct CUfunc_st *next;
};
struct CUmod_st {
  struct fc_ptx *ptx;
  struct CUfunc_st *funcs;
};
static pthread_mutex_t mod_lock = PTHREAD_MUTEX_INITIALIZER;

static CUresult module_from_image(CUmodule *module, const void *image, const char *fn) {
  if (!module || !image) return CUDA_ERROR_INVALID_VALUE;
  CUresult r = need_ctx(fn);
  if (r) return r;
  const unsigned char *b = image;
  if ((b[0] == 0x7f && b[1] == 'E' && b[2] == 'L' && b[3] == 'F') ||
      (b[0] == 0x50 && b[1] == 0xed && b[2] == 0x55 && b[3] == 0xba) || /* fatbin wrapper */
      (b[0] == 0xb1 && b[1] == 0x43 && b[2] == 0x62 && b[3] == 0x46)) { /* fatbin */
    fc_log("%s: cubin/fatbin images cannot run on the CPU; only PTX from the NVRTC shim can", fn);
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  const char *ptx = image;
  size_t len = strlen(ptx);
  uint64_t h = fnv1a(ptx, len, FNV_BASIS);
  pthread_mutex_lock(&reg_lock);
  struct fc_ptx *e = registry_find(ptx, len, h);
  pthread_mutex_unlock(&reg_lock);
  if (!e) {
    fc_log("%s: this PTX did not come through the traintop NVRTC shim, so its CUDA source is unknown "
           "and it cannot run on the CPU (is the shim's libnvrtc.so.13 first on LD_LIBRARY_PATH, "
           "next to this libcuda.so.1?)",
           fn);
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  struct CUmod_st *m = calloc(1, sizeof *m);
  if (!m || !handle_add(m, H_MODULE)) {
    free(m);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  m->ptx = e;
  COUNT(n_modules, 1);
  if (cfg.verbose) fc_log("loaded module %p (%d kernel(s), first: %s)", (void *)m, e->nentries,
                          e->nentries ? e->entries[0].name : "-");
  *module = m;
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuModuleLoadData(CUmodule *module, const void *image) {
  return module_from_image(module, image, "cuModuleLoadData");
}

FC_EXPORT CUresult cuModuleLoadDataEx(CUmodule *module, const void *image, unsigned int numOptions,
                                      CUjit_option *options, void **optionValues) {
  (void)numOptions, (void)options, (void)optionValues; /* JIT options mean nothing here */
  return module_from_image(module, image, "cuModuleLoadDataEx");
}

FC_EXPORT CUresult cuModuleLoad(CUmodule *module, const char *fname) {
  if (!module || !fname) return CUDA_ERROR_INVALID_VALUE;
  CUresult r = need_ctx("cuModuleLoad");
  if (r) return r;
  FILE *f = fopen(fname, "rb");
  if (!f) return CUDA_ERROR_FILE_NOT_FOUND;
  char *buf = NULL;
  size_t len = 0, cap = 0, got;
  do {
    if (len + 65536 + 1 > cap) {
      cap = (len + 65536 + 1) * 2;
      char *nb = realloc(buf, cap);
      if (!nb) {
        free(buf);
        fclose(f);
        return CUDA_ERROR_OUT_OF_MEMORY;
      }
      buf = nb;
    }
    got = fread(buf + len, 1, 65536, f);
    len += got;
  } while (got > 0);
  fclose(f);
  buf[len] = '\0';
  r = module_from_image(module, buf, "cuModuleLoad");
  free(buf);
  return r;
}

FC_EXPORT CUresult cuModuleUnload(CUmodule hmod) {
  if (need_init()) return CUDA_ERROR_NOT_INITIALIZED;
  if (!handle_remove(hmod, H_MODULE)) return CUDA_ERROR_INVALID_HANDLE;
  pthread_mutex_lock(&mod_lock);
  struct CUfunc_st *f = hmod->funcs;
  hmod->funcs = NULL;
  pthread_mutex_unlock(&mod_lock);
  while (f) {
    struct CUfunc_st *next = f->next;
    handle_remove(f, H_FUNCTION);
    free(f);
    f = next;
  }
  free(hmod);
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod, const char *name) {
  if (!hfunc || !name) return CUDA_ERROR_INVALID_VALUE;
  CUresult r = need_ctx("cuModuleGetFunction");
  if (r) return r;
  if (!handle_ok(hmod, H_MODULE)) return CUDA_ERROR_INVALID_HANDLE;
  const struct fc_entry *entry = NULL;
  for (int i = 0; i < hmod->ptx->nentries; i++)
    if (!strcmp(hmod->ptx->entries[i].name, name)) entry = &hmod->ptx->entries[i];
  if (!entry) {
    char list[1024] = "";
    for (int i = 0; i < hmod->ptx->nentries && strlen(list) < 900; i++)
      snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
               hmod->ptx->entries[i].name);
    fc_log("cuModuleGetFunction: no kernel \"%s\" in this module (it has: %s)", name, list);
    return CUDA_ERROR_NOT_FOUND;
  }
  pthread_mutex_lock(&mod_lock);
  struct CUfunc_st *f;
  for (f = hmod->funcs; f; f = f->next)
    if (f->entry == entry) break;
  if (!f) { /* the real driver also hands out one handle per function */
    f = calloc(1, sizeof *f);
    if (f && handle_add(f, H_FUNCTION)) {
      f->mod = hmod;
      f->entry = entry;
      f->carveout = -1;
      f->next = hmod->funcs;
      hmod->funcs = f;
    } else {
      free(f);
      f = NULL;
    }
  }
  pthread_mutex_unlock(&mod_lock);
  if (!f) return CUDA_ERROR_OUT_OF_MEMORY;
  *hfunc = f;
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuFuncGetModule(CUmodule *hmod, CUfunction hfunc) {
  if (!hmod) return CUDA_ERROR_INVALID_VALUE;
  if (!handle_ok(hfunc, H_FUNCTION)) return CUDA_ERROR_INVALID_HANDLE;
  *hmod = hfunc->mod;
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuFuncGetAttribute(int *pi, CUfunction_attribute attrib, CUfunction hfunc) {
  if (!pi) return CUDA_ERROR_INVALID_VALUE;
  if (need_init()) return CUDA_ERROR_NOT_INITIALIZED;
  if (!handle_ok(hfunc, H_FUNCTION)) return CUDA_ERROR_INVALID_HANDLE;
  switch ((int)attrib) {
    case 0: *pi = 1024; break;                    /* MAX_THREADS_PER_BLOCK */
    case 1: case 2: case 3: *pi = 0; break;       /* SHARED/CONST/LOCAL_SIZE_BYTES */
    case 4: *pi = 32; break;                      /* NUM_REGS */
    case 5: case 6: *pi = 90; break;              /* PTX_VERSION, BINARY_VERSION */
    case 7: *pi = 0; break;                       /* CACHE_MODE_CA */
    case 8: *pi = hfunc->max_dynamic_smem; break; /* MAX_DYNAMIC_SHARED_SIZE_BYTES */
    case 9: *pi = hfunc->carveout; break;         /* PREFERRED_SHARED_MEMORY_CARVEOUT */
    case 10: case 11: case 12: case 13: case 14: case 15: *pi = 0; break; /* cluster attributes */
    default: return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuFuncSetAttribute(CUfunction hfunc, CUfunction_attribute attrib, int value) {
  if (need_init()) return CUDA_ERROR_NOT_INITIALIZED;
  if (!handle_ok(hfunc, H_FUNCTION)) return CUDA_ERROR_INVALID_HANDLE;
  switch ((int)attrib) {
    case 8:
      if (value < 0 || value > FC_MAX_SMEM_OPTIN) return CUDA_ERROR_INVALID_VALUE;
      hfunc->max_dynamic_smem = value;
      return CUDA_SUCCESS;
    case 9:
      if (value < -1 || value > 100) return CUDA_ERROR_INVALID_VALUE;
      hfunc->carveout = value;
      return CUDA_SUCCESS;
    case 10: case 11: case 12: case 13: case 14: return CUDA_SUCCESS; /* cluster hints */
    default: return CUDA_ERROR_INVALID_VALUE;
  }
}

FC_EXPORT CUresult cuFuncSetCacheConfig(CUfunction hfunc, CUfunc_cache config) {
  (void)config;
  if (need_init()) return CUDA_ERROR_NOT_INITIALIZED;
  return handle_ok(hfunc, H_FUNCTION) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

/* ------------------------------------------------------------------------ */
/* Host build of a module's CUDA source                                       */
/* ------------------------------------------------------------------------ */
struct sbuf {
  char *p;
  size_t len, cap;
  int oom;
};
static void sb_add(struct sbuf *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = (b->len + n + 1) * 2;
    char *np = realloc(b->p, cap);
    if (!np) {
      b->oom = 1;
      return;
    }
    b->p = np;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}
static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...) {
  char tmp[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof tmp) {
    sb_add(b, tmp, (size_t)n);
    return;
  }
  char *big = malloc((size_t)n + 1);
  if (!big) {
    b->oom = 1;
    return;
  }
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  sb_add(b, big, (size_t)n);
  free(big);
}

static char *read_file(const char *path, size_t *len_out) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  struct sbuf b = {0};
  char tmp[65536];
  size_t got;
  while ((got = fread(tmp, 1, sizeof tmp, f)) > 0) sb_add(&b, tmp, got);
  fclose(f);
  if (b.oom) {
    free(b.p);
    return NULL;
  }
  if (!b.p) b.p = strdup("");
  if (len_out) *len_out = b.len;
  return b.p;
}

static struct {
  char include_dir[PATH_MAX];
  char cache_dir[PATH_MAX];
  char **cxx_argv; /* compiler and its flags, NULL-terminated */
  int cxx_argc;
  uint64_t env_hash; /* headers + compiler command: part of every cache key */
  int ready;
} build;
static pthread_mutex_t build_lock = PTHREAD_MUTEX_INITIALIZER;

static void split_words(const char *s, char ***argv, int *argc) {
  if (!s) return;
  char *copy = strdup(s), *save = NULL;
  if (!copy) return;
  for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
    char **na = realloc(*argv, (size_t)(*argc + 2) * sizeof *na);
    if (!na) break;
    *argv = na;
    (*argv)[(*argc)++] = strdup(w);
    (*argv)[*argc] = NULL;
  }
  free(copy);
}

static int mkdirs(const char *path) {
  char tmp[PATH_MAX];
  snprintf(tmp, sizeof tmp, "%s", path);
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST) return -1;
    *p = '/';
  }
  return mkdir(tmp, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

/* Finds the host headers, the cache folder and the compiler, once. Caller
 * holds build_lock. */
static int build_setup(void) {
  if (build.ready) return 0;
  const char *s = getenv("TRAINTOP_FAKE_CUDA_INCLUDE");
  if (s && *s) {
    snprintf(build.include_dir, sizeof build.include_dir, "%s", s);
  } else {
    /* By default: host-include/ in the folder this library was loaded from. */
    Dl_info info;
    if (!dladdr((void *)&build_setup, &info) || !info.dli_fname) {
      fc_log("cannot find my own path; set TRAINTOP_FAKE_CUDA_INCLUDE");
      return -1;
    }
    char self[PATH_MAX];
    snprintf(self, sizeof self, "%s", info.dli_fname);
    char *slash = strrchr(self, '/');
    if (slash) *slash = '\0'; else snprintf(self, sizeof self, ".");
    if (snprintf(build.include_dir, sizeof build.include_dir, "%s/host-include", self) >=
        (int)sizeof build.include_dir) {
      fc_log("the path of this library is too long");
      return -1;
    }
  }
  char hdr[PATH_MAX + 32];
  size_t hlen1 = 0, hlen2 = 0;
  snprintf(hdr, sizeof hdr, "%s/cuda_host.h", build.include_dir);
  char *h1 = read_file(hdr, &hlen1);
  snprintf(hdr, sizeof hdr, "%s/cuda_fp16.h", build.include_dir);
  char *h2 = read_file(hdr, &hlen2);
  if (!h1 || !h2) {
    fc_log("cuda_host.h or cuda_fp16.h missing in %s (set TRAINTOP_FAKE_CUDA_INCLUDE to the host-include "
           "folder that tests/fake_cuda/build.sh writes)", build.include_dir);
    free(h1);
    free(h2);
    return -1;
  }

  s = getenv("TRAINTOP_FAKE_CUDA_CACHE");
  if (s && *s) {
    snprintf(build.cache_dir, sizeof build.cache_dir, "%s", s);
  } else {
    const char *tmp = getenv("TMPDIR");
    snprintf(build.cache_dir, sizeof build.cache_dir, "%s/traintop-fake-cuda-%u", tmp && *tmp ? tmp : "/tmp",
             (unsigned)getuid());
  }
  if (mkdirs(build.cache_dir) != 0) {
    fc_log("cannot create the kernel cache folder %s: %s", build.cache_dir, strerror(errno));
    free(h1);
    free(h2);
    return -1;
  }

  s = getenv("TRAINTOP_FAKE_CUDA_CXX");
  if (!s || !*s) s = getenv("CXX");
  split_words(s && *s ? s : "c++", &build.cxx_argv, &build.cxx_argc);
  /* -fwrapv: signed overflow wraps, as it does on the device. -w: kernels
   * are generated code; only errors matter. */
  split_words("-std=c++17 -O1 -fPIC -shared -fwrapv -fno-strict-aliasing -ffp-contract=off -w", &build.cxx_argv, &build.cxx_argc);
  split_words(getenv("TRAINTOP_FAKE_CUDA_CXXFLAGS"), &build.cxx_argv, &build.cxx_argc);
  if (!build.cxx_argc) {
    free(h1);
    free(h2);
    return -1;
  }

  uint64_t h = fnv1a(h1, hlen1, FNV_BASIS);
  h = fnv1a(h2, hlen2, h);
  for (int i = 0; i < build.cxx_argc; i++) h = fnv1a(build.cxx_argv[i], strlen(build.cxx_argv[i]) + 1, h);
  build.env_hash = h;
  free(h1);
  free(h2);
  build.ready = 1;
  return 0;
}

/* Writes data to path through a temporary name and rename(), so a reader
 * (another thread or process) never sees half a file. */
static int write_atomically(const char *path, const char *data, size_t len) {
  static unsigned long seq;
  char tmp[PATH_MAX + 64];
  if (snprintf(tmp, sizeof tmp, "%s.tmp.%d.%lu", path, (int)getpid(), __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED)) >=
      (int)sizeof tmp)
    return -1;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return -1;
  size_t off = 0;
  while (off < len) {
    ssize_t w = write(fd, data + off, len - off);
    if (w <= 0) {
      close(fd);
      unlink(tmp);
      return -1;
    }
    off += (size_t)w;
  }
  if (close(fd) != 0 || rename(tmp, path) != 0) {
    unlink(tmp);
    return -1;
  }
  return 0;
}

/* Runs the host compiler; its output goes to log_path. Returns the exit
 * status (or -1 if it could not start). */
static int run_compiler(const char *out, const char *src, const char *log_path) {
  int argc = build.cxx_argc;
  char **argv = calloc((size_t)argc + 8, sizeof *argv);
  if (!argv) return -1;
  memcpy(argv, build.cxx_argv, (size_t)argc * sizeof *argv);
  argv[argc++] = "-I";
  argv[argc++] = build.include_dir;
  argv[argc++] = "-o";
  argv[argc++] = (char *)out;
  argv[argc++] = (char *)src;
  argv[argc] = NULL;

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  pid_t pid;
  int err = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  free(argv);
  if (err != 0) {
    fc_log("cannot run the host compiler \"%s\": %s (set TRAINTOP_FAKE_CUDA_CXX or CXX)", build.cxx_argv[0],
           strerror(err));
    return -1;
  }
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* The C++ file for a module: the header, the CUDA source untouched, and per
 * kernel a launcher that runs the grid plus its parameter sizes, which the
 * launch checks against the PTX. */
static char *generate_host_source(const struct fc_ptx *e) {
  struct sbuf b = {0};
  sb_printf(&b, "// traintop fake CUDA: host build of a kernel module (PTX hash %016llx)\n"
                "#include \"cuda_host.h\"\n#line 1 \"kernel.cu\"\n",
            (unsigned long long)e->hash);
  sb_add(&b, e->source, strlen(e->source));
  sb_printf(&b, "\n#line 1 \"traintop-fake-cuda-launchers\"\n"
                "extern \"C\" void traintop_fake_cuda_where(unsigned *o) {\n"
                "  o[0] = blockIdx.x; o[1] = blockIdx.y; o[2] = blockIdx.z;\n"
                "  o[3] = threadIdx.x; o[4] = threadIdx.y; o[5] = threadIdx.z;\n}\n");
  for (int i = 0; i < e->nentries; i++) {
    const char *n = e->entries[i].name;
    if (!strncmp(n, "_Z", 2)) continue; /* C++-mangled: not an extern "C" kernel */
    sb_printf(&b,
              "extern \"C\" void %s__traintop_run(const unsigned *g, const unsigned *b, void **p) "
              "{ traintop_fake_cuda::run(&%s, g, b, p); }\n"
              "extern \"C\" const unsigned *%s__traintop_param_sizes(unsigned *n) "
              "{ return traintop_fake_cuda::param_sizes(&%s, n); }\n",
              n, n, n, n);
  }
  if (b.oom) {
    free(b.p);
    return NULL;
  }
  return b.p;
}

/* Builds (or finds in the cache) the host library of a PTX's source.
 * Caller holds build_lock. */
static int build_module(struct fc_ptx *e) {
  if (e->build_state) return e->build_state > 0 ? 0 : -1;
  e->build_state = -1;
  if (build_setup() != 0) return -1;
  char *text = generate_host_source(e);
  if (!text) return -1;
  size_t text_len = strlen(text);
  uint64_t h1 = fnv1a(text, text_len, build.env_hash);
  uint64_t h2 = fnv1a(text, text_len, h1 ^ 0x9e3779b97f4a7c15ull);
  char so[PATH_MAX + 64], cpp[PATH_MAX + 64];
  snprintf(so, sizeof so, "%s/k-%016llx%016llx.so", build.cache_dir, (unsigned long long)h1,
           (unsigned long long)h2);
  snprintf(cpp, sizeof cpp, "%s/k-%016llx%016llx.cpp", build.cache_dir, (unsigned long long)h1,
           (unsigned long long)h2);

  void *lib = access(so, R_OK) == 0 ? dlopen(so, RTLD_NOW | RTLD_LOCAL) : NULL;
  if (!lib) {
    static unsigned long seq;
    char tmp_so[PATH_MAX + 96], log_path[PATH_MAX + 96];
    unsigned long n = __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED);
    snprintf(tmp_so, sizeof tmp_so, "%s.tmp.%d.%lu", so, (int)getpid(), n);
    snprintf(log_path, sizeof log_path, "%s.log.%d.%lu", so, (int)getpid(), n);
    if (write_atomically(cpp, text, text_len) != 0) {
      fc_log("cannot write %s: %s", cpp, strerror(errno));
      free(text);
      return -1;
    }
    if (cfg.verbose) fc_log("compiling %s", cpp);
    int status = run_compiler(tmp_so, cpp, log_path);
    char *log = read_file(log_path, NULL);
    unlink(log_path);
    if (status != 0) {
      /* Each line prefixed, so the compiler's words read as the fake's. */
      struct sbuf msg = {0};
      const char *l = log ? log : "";
      while (*l) {
        const char *nl = strchr(l, '\n');
        size_t n2 = nl ? (size_t)(nl - l) : strlen(l);
        sb_add(&msg, "traintop fake CUDA:   ", 22);
        sb_add(&msg, l, n2);
        sb_add(&msg, "\n", 1);
        l += n2 + (nl ? 1 : 0);
      }
      fc_log("host compile of kernel module %s failed (exit %d); the generated file is %s", e->nentries
             ? e->entries[0].name : "?", status, cpp);
      if (msg.p) dprintf(2, "%s", msg.p);
      free(msg.p);
      free(log);
      unlink(tmp_so);
      free(text);
      return -1;
    }
    free(log);
    if (rename(tmp_so, so) != 0) {
      fc_log("cannot rename %s: %s", tmp_so, strerror(errno));
      unlink(tmp_so);
      free(text);
      return -1;
    }
    COUNT(n_compiles, 1);
    lib = dlopen(so, RTLD_NOW | RTLD_LOCAL);
  }
  free(text);
  if (!lib) {
    fc_log("cannot load the host build of a kernel module: %s", dlerror());
    return -1;
  }
  e->lib = lib; /* never closed: functions of it may be launched at any time */
  e->so_path = strdup(so);
  e->build_state = 1;
  return 0;
}

/* Resolves f's launcher, building the module if needed, and checks that the
 * host build agrees with the PTX on the parameters. */
static CUresult prepare_function(CUfunction f) {
  if (__atomic_load_n(&f->run, __ATOMIC_ACQUIRE)) return CUDA_SUCCESS;
  pthread_mutex_lock(&build_lock);
  CUresult r = CUDA_SUCCESS;
  struct fc_ptx *e = f->mod->ptx;
  const char *name = f->entry->name;
  if (f->run) goto out;
  if (build_module(e) != 0) {
    fc_log("cuLaunchKernel(%s): the kernel's module has no host build (see the messages above)", name);
    r = CUDA_ERROR_LAUNCH_FAILED;
    goto out;
  }
  char sym[512];
  snprintf(sym, sizeof sym, "%s__traintop_run", name);
  fc_run_fn run = (fc_run_fn)dlsym(e->lib, sym);
  snprintf(sym, sizeof sym, "%s__traintop_param_sizes", name);
  const unsigned *(*sizes_fn)(unsigned *) = (const unsigned *(*)(unsigned *))dlsym(e->lib, sym);
  f->where = (fc_where_fn)dlsym(e->lib, "traintop_fake_cuda_where");
  if (!run || !sizes_fn) {
    fc_log("cuLaunchKernel(%s): no launcher in the host build %s (is it an extern \"C\" __global__ function?)",
           name, e->so_path);
    r = CUDA_ERROR_LAUNCH_FAILED;
    goto out;
  }
  unsigned n = 0;
  const unsigned *sizes = sizes_fn(&n);
  int same = (int)n == f->entry->nparams;
  for (unsigned i = 0; same && i < n; i++) same = sizes[i] == f->entry->param_sizes[i];
  if (!same) {
    char a[512] = "", b2[512] = "";
    for (unsigned i = 0; i < n && strlen(a) < 480; i++) snprintf(a + strlen(a), sizeof a - strlen(a), " %u", sizes[i]);
    for (int i = 0; i < f->entry->nparams && strlen(b2) < 480; i++)
      snprintf(b2 + strlen(b2), sizeof b2 - strlen(b2), " %u", f->entry->param_sizes[i]);
    fc_log("cuLaunchKernel(%s): host build and PTX disagree on the parameters (host sizes:%s; PTX sizes:%s)",
           name, a, b2);
    r = CUDA_ERROR_LAUNCH_FAILED;
    goto out;
  }
  __atomic_store_n(&f->run, run, __ATOMIC_RELEASE);
out:
  pthread_mutex_unlock(&build_lock);
  return r;
}

/* ------------------------------------------------------------------------ */
/* Launch                                                                     */
/* ------------------------------------------------------------------------ */
/* Kernels run one at a time. While one runs, SIGSEGV/SIGBUS/SIGFPE/SIGILL on
 * its thread jump back to the launch, which reports them as the device
 * would (an illegal address); faults on other threads go to whatever
 * handler was there before. */
static pthread_mutex_t run_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread sigjmp_buf tls_fault_jmp;
static __thread volatile sig_atomic_t tls_in_kernel;
static __thread volatile int tls_fault_sig, tls_fault_code;
static __thread void *volatile tls_fault_addr;
static const int fault_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL};
#define N_FAULT_SIGNALS (int)(sizeof fault_signals / sizeof *fault_signals)
static struct sigaction previous_action[N_FAULT_SIGNALS];

static void on_fault(int sig, siginfo_t *info, void *uctx) {
  if (tls_in_kernel) {
    tls_in_kernel = 0;
    tls_fault_sig = sig;
    tls_fault_code = info ? info->si_code : 0;
    tls_fault_addr = info ? info->si_addr : NULL;
    siglongjmp(tls_fault_jmp, 1);
  }
  for (int i = 0; i < N_FAULT_SIGNALS; i++) {
    if (fault_signals[i] != sig) continue;
    const struct sigaction *old = &previous_action[i];
    if ((old->sa_flags & SA_SIGINFO) && old->sa_sigaction) {
      old->sa_sigaction(sig, info, uctx);
      return;
    }
    if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
      old->sa_handler(sig);
      return;
    }
  }
  /* Default action: returning re-runs the faulting instruction, which now
   * kills the process the usual way. */
  signal(sig, SIG_DFL);
}

static CUresult run_kernel(CUfunction f, const unsigned grid[3], const unsigned block[3], void **params) {
  struct sigaction sa;
  /* volatile: it is assigned after sigsetjmp returns the second time. */
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  volatile CUresult r = CUDA_SUCCESS;

  pthread_mutex_lock(&run_lock);
  for (int i = 0; i < N_FAULT_SIGNALS; i++) sigaction(fault_signals[i], &sa, &previous_action[i]);
  if (sigsetjmp(tls_fault_jmp, 1) == 0) {
    tls_in_kernel = 1;
    f->run(grid, block, params);
    tls_in_kernel = 0;
  } else {
    unsigned w[6] = {0, 0, 0, 0, 0, 0};
    if (f->where) f->where(w);
    char what[256];
    describe_address((uintptr_t)tls_fault_addr, what, sizeof what);
    const char *name = f->entry->name;
    if (tls_fault_sig == SIGFPE) {
      /* A GPU does not trap here (it returns an unspecified value); a kernel
       * that divides by zero is wrong either way. */
      fc_log("kernel %s: arithmetic fault (%s) in block (%u,%u,%u) thread (%u,%u,%u)", name,
             tls_fault_code == FPE_INTDIV ? "integer division by zero" : "SIGFPE", w[0], w[1], w[2], w[3], w[4], w[5]);
      r = CUDA_ERROR_LAUNCH_FAILED;
    } else if (tls_fault_sig == SIGILL) {
      fc_log("kernel %s: illegal instruction in block (%u,%u,%u) thread (%u,%u,%u)", name, w[0], w[1], w[2], w[3],
             w[4], w[5]);
      r = CUDA_ERROR_ILLEGAL_INSTRUCTION;
    } else {
      fc_log("kernel %s: illegal memory access at %p (%s) in block (%u,%u,%u) thread (%u,%u,%u)", name,
             tls_fault_addr, what, w[0], w[1], w[2], w[3], w[4], w[5]);
      r = CUDA_ERROR_ILLEGAL_ADDRESS;
    }
  }
  for (int i = 0; i < N_FAULT_SIGNALS; i++) sigaction(fault_signals[i], &previous_action[i], NULL);
  pthread_mutex_unlock(&run_lock);
  return r;
}

static CUresult launch(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                       unsigned smem, CUstream s, void **params, void **extra, const char *fn) {
  CUresult r = need_ctx(fn);
  if (r) return r;
  if (!handle_ok(f, H_FUNCTION)) return CUDA_ERROR_INVALID_HANDLE;
  if (!stream_ok(s)) return CUDA_ERROR_INVALID_HANDLE;
  const char *name = f->entry->name;
  /* The device's limits (an empty grid is an error too). */
  if (!gx || !gy || !gz || !bx || !by || !bz || gy > 65535 || gz > 65535 || gx > 2147483647u || bx > 1024 ||
      by > 1024 || bz > 64 || (unsigned long long)bx * by * bz > 1024) {
    fc_log("%s(%s): invalid launch: grid (%u,%u,%u), block (%u,%u,%u)", fn, name, gx, gy, gz, bx, by, bz);
    return CUDA_ERROR_INVALID_VALUE;
  }
  int smem_limit = f->max_dynamic_smem > FC_MAX_SMEM_PER_BLOCK ? f->max_dynamic_smem : FC_MAX_SMEM_PER_BLOCK;
  if (smem > (unsigned)smem_limit) {
    fc_log("%s(%s): %u bytes of dynamic shared memory exceed the limit of %d", fn, name, smem, smem_limit);
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (extra) {
    fc_log("%s(%s): parameters through `extra` are not supported by the fake driver", fn, name);
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  if (!params && f->entry->nparams > 0) {
    fc_log("%s(%s): the kernel takes %d parameters but kernelParams is NULL", fn, name, f->entry->nparams);
    return CUDA_ERROR_INVALID_VALUE;
  }
  for (int i = 0; params && i < f->entry->nparams; i++)
    if (!params[i]) {
      fc_log("%s(%s): kernelParams[%d] is NULL", fn, name, i);
      return CUDA_ERROR_INVALID_VALUE;
    }
  if ((r = prepare_function(f))) return r;
  if (cfg.verbose)
    fc_log("launch %s grid (%u,%u,%u) block (%u,%u,%u)", name, gx, gy, gz, bx, by, bz);
  const unsigned grid[3] = {gx, gy, gz}, block[3] = {bx, by, bz};
  r = run_kernel(f, grid, block, params);
  if (!r) COUNT(n_launches, 1);
  return r;
}

FC_EXPORT CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY, unsigned int gridDimZ,
                                  unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ,
                                  unsigned int sharedMemBytes, CUstream hStream, void **kernelParams, void **extra) {
  return launch(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes, hStream,
                kernelParams, extra, "cuLaunchKernel");
}

FC_EXPORT CUresult cuLaunchKernelEx(const CUlaunchConfig *config, CUfunction f, void **kernelParams, void **extra) {
  if (!config) return CUDA_ERROR_INVALID_VALUE;
  if (config->numAttrs) {
    fc_log("cuLaunchKernelEx: launch attributes are not supported by the fake driver");
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  return launch(f, config->gridDimX, config->gridDimY, config->gridDimZ, config->blockDimX, config->blockDimY,
                config->blockDimZ, config->sharedMemBytes, config->hStream, kernelParams, extra, "cuLaunchKernelEx");
}

/* ------------------------------------------------------------------------ */
/* Occupancy: plausible H100 numbers (2048 threads and 32 blocks per SM).     */
/* ------------------------------------------------------------------------ */
static int blocks_per_sm(int block_size) {
  if (block_size <= 0) return 0;
  int by_threads = 2048 / block_size;
  return by_threads < 32 ? by_threads : 32;
}

FC_EXPORT CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(int *numBlocks, CUfunction func, int blockSize,
                                                                size_t dynamicSMemSize) {
  if (!numBlocks || blockSize <= 0 || blockSize > 1024) return CUDA_ERROR_INVALID_VALUE;
  if (!handle_ok(func, H_FUNCTION)) return CUDA_ERROR_INVALID_HANDLE;
  int n = blocks_per_sm(blockSize);
  if (dynamicSMemSize) {
    int by_smem = (int)(FC_MAX_SMEM_OPTIN / dynamicSMemSize);
    if (by_smem < n) n = by_smem;
  }
  *numBlocks = n;
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(int *numBlocks, CUfunction func,
                                                                         int blockSize, size_t dynamicSMemSize,
                                                                         unsigned int flags) {
  (void)flags;
  return cuOccupancyMaxActiveBlocksPerMultiprocessor(numBlocks, func, blockSize, dynamicSMemSize);
}

FC_EXPORT CUresult cuOccupancyMaxPotentialBlockSize(int *minGridSize, int *blockSize, CUfunction func,
                                                     CUoccupancyB2DSize blockSizeToDynamicSMemSize,
                                                     size_t dynamicSMemSize, int blockSizeLimit) {
  (void)blockSizeToDynamicSMemSize, (void)dynamicSMemSize;
  if (!minGridSize || !blockSize) return CUDA_ERROR_INVALID_VALUE;
  if (!handle_ok(func, H_FUNCTION)) return CUDA_ERROR_INVALID_HANDLE;
  int b = blockSizeLimit > 0 && blockSizeLimit < 1024 ? blockSizeLimit : 1024;
  *blockSize = b;
  *minGridSize = 132 * blocks_per_sm(b);
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuOccupancyMaxPotentialBlockSizeWithFlags(int *minGridSize, int *blockSize, CUfunction func,
                                                              CUoccupancyB2DSize blockSizeToDynamicSMemSize,
                                                              size_t dynamicSMemSize, int blockSizeLimit,
                                                              unsigned int flags) {
  (void)flags;
  return cuOccupancyMaxPotentialBlockSize(minGridSize, blockSize, func, blockSizeToDynamicSMemSize,
                                          dynamicSMemSize, blockSizeLimit);
}

FC_EXPORT CUresult cuOccupancyAvailableDynamicSMemPerBlock(size_t *dynamicSmemSize, CUfunction func, int numBlocks,
                                                            int blockSize) {
  if (!dynamicSmemSize || numBlocks <= 0 || blockSize <= 0) return CUDA_ERROR_INVALID_VALUE;
  if (!handle_ok(func, H_FUNCTION)) return CUDA_ERROR_INVALID_HANDLE;
  size_t per = (size_t)FC_MAX_SMEM_OPTIN / (size_t)numBlocks;
  *dynamicSmemSize = per;
  return CUDA_SUCCESS;
}

/* ------------------------------------------------------------------------ */
/* Profiler and errors                                                        */
/* ------------------------------------------------------------------------ */
FC_EXPORT CUresult cuProfilerStart(void) { return need_ctx("cuProfilerStart"); }
FC_EXPORT CUresult cuProfilerStop(void) { return need_ctx("cuProfilerStop"); }

static const struct {
  int code;
  const char *name, *text;
} error_table[] = {
    {0, "CUDA_SUCCESS", "no error"},
    {1, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {2, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {3, "CUDA_ERROR_NOT_INITIALIZED", "initialization error"},
    {4, "CUDA_ERROR_DEINITIALIZED", "driver shutting down"},
    {5, "CUDA_ERROR_PROFILER_DISABLED", "profiler disabled while using external profiling tool"},
    {6, "CUDA_ERROR_PROFILER_NOT_INITIALIZED", "profiler not initialized: call cudaProfilerInitialize()"},
    {7, "CUDA_ERROR_PROFILER_ALREADY_STARTED", "profiler already started"},
    {8, "CUDA_ERROR_PROFILER_ALREADY_STOPPED", "profiler already stopped"},
    {34, "CUDA_ERROR_STUB_LIBRARY", "CUDA driver is a stub library"},
    {46, "CUDA_ERROR_DEVICE_UNAVAILABLE", "CUDA-capable device(s) is/are busy or unavailable"},
    {100, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
    {101, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"},
    {102, "CUDA_ERROR_DEVICE_NOT_LICENSED", "device doesn't have valid Grid license"},
    {200, "CUDA_ERROR_INVALID_IMAGE", "device kernel image is invalid"},
    {201, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
    {202, "CUDA_ERROR_CONTEXT_ALREADY_CURRENT", "context already current"},
    {205, "CUDA_ERROR_MAP_FAILED", "mapping of buffer object failed"},
    {206, "CUDA_ERROR_UNMAP_FAILED", "unmapping of buffer object failed"},
    {207, "CUDA_ERROR_ARRAY_IS_MAPPED", "array is mapped"},
    {208, "CUDA_ERROR_ALREADY_MAPPED", "resource already mapped"},
    {209, "CUDA_ERROR_NO_BINARY_FOR_GPU", "no kernel image is available for execution on the device"},
    {210, "CUDA_ERROR_ALREADY_ACQUIRED", "resource already acquired"},
    {211, "CUDA_ERROR_NOT_MAPPED", "resource not mapped"},
    {212, "CUDA_ERROR_NOT_MAPPED_AS_ARRAY", "resource not mapped as array"},
    {213, "CUDA_ERROR_NOT_MAPPED_AS_POINTER", "resource not mapped as pointer"},
    {214, "CUDA_ERROR_ECC_UNCORRECTABLE", "uncorrectable ECC error encountered"},
    {215, "CUDA_ERROR_UNSUPPORTED_LIMIT", "limit is not supported on this architecture"},
    {216, "CUDA_ERROR_CONTEXT_ALREADY_IN_USE", "exclusive-thread device already in use by a different thread"},
    {217, "CUDA_ERROR_PEER_ACCESS_UNSUPPORTED", "peer access is not supported between these two devices"},
    {218, "CUDA_ERROR_INVALID_PTX", "a PTX JIT compilation failed"},
    {219, "CUDA_ERROR_INVALID_GRAPHICS_CONTEXT", "invalid OpenGL or DirectX context"},
    {220, "CUDA_ERROR_NVLINK_UNCORRECTABLE", "uncorrectable NVLink error detected during the execution"},
    {221, "CUDA_ERROR_JIT_COMPILER_NOT_FOUND", "PTX JIT compiler library not found"},
    {222, "CUDA_ERROR_UNSUPPORTED_PTX_VERSION", "the provided PTX was compiled with an unsupported toolchain."},
    {223, "CUDA_ERROR_JIT_COMPILATION_DISABLED", "PTX JIT compilation was disabled"},
    {224, "CUDA_ERROR_UNSUPPORTED_EXEC_AFFINITY", "the provided execution affinity is not supported"},
    {300, "CUDA_ERROR_INVALID_SOURCE", "device kernel image is invalid"},
    {301, "CUDA_ERROR_FILE_NOT_FOUND", "file not found"},
    {302, "CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND", "shared object symbol not found"},
    {303, "CUDA_ERROR_SHARED_OBJECT_INIT_FAILED", "shared object initialization failed"},
    {304, "CUDA_ERROR_OPERATING_SYSTEM", "OS call failed or operation not supported on this OS"},
    {400, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
    {401, "CUDA_ERROR_ILLEGAL_STATE", "the operation cannot be performed in the present state"},
    {500, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
    {600, "CUDA_ERROR_NOT_READY", "device not ready"},
    {700, "CUDA_ERROR_ILLEGAL_ADDRESS", "an illegal memory access was encountered"},
    {701, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES", "too many resources requested for launch"},
    {702, "CUDA_ERROR_LAUNCH_TIMEOUT", "the launch timed out and was terminated"},
    {703, "CUDA_ERROR_LAUNCH_INCOMPATIBLE_TEXTURING", "launch uses incompatible texturing mode"},
    {704, "CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED", "peer access is already enabled"},
    {705, "CUDA_ERROR_PEER_ACCESS_NOT_ENABLED", "peer access has not been enabled"},
    {708, "CUDA_ERROR_PRIMARY_CONTEXT_ACTIVE", "cannot set while device is active in this process"},
    {709, "CUDA_ERROR_CONTEXT_IS_DESTROYED", "context is destroyed"},
    {710, "CUDA_ERROR_ASSERT", "device-side assert triggered"},
    {711, "CUDA_ERROR_TOO_MANY_PEERS", "peer mapping resources exhausted"},
    {712, "CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED", "part or all of the requested memory range is already mapped"},
    {713, "CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED", "pointer does not correspond to a registered memory region"},
    {714, "CUDA_ERROR_HARDWARE_STACK_ERROR", "hardware stack error"},
    {715, "CUDA_ERROR_ILLEGAL_INSTRUCTION", "an illegal instruction was encountered"},
    {716, "CUDA_ERROR_MISALIGNED_ADDRESS", "misaligned address"},
    {717, "CUDA_ERROR_INVALID_ADDRESS_SPACE", "operation not supported on global/shared address space"},
    {718, "CUDA_ERROR_INVALID_PC", "invalid program counter"},
    {719, "CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure"},
    {720, "CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE", "too many blocks in cooperative launch"},
    {800, "CUDA_ERROR_NOT_PERMITTED", "operation not permitted"},
    {801, "CUDA_ERROR_NOT_SUPPORTED", "operation not supported"},
    {802, "CUDA_ERROR_SYSTEM_NOT_READY", "system not yet initialized"},
    {803, "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH", "system has unsupported display driver / cuda driver combination"},
    {804, "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE", "forward compatibility was attempted on non supported HW"},
    {805, "CUDA_ERROR_MPS_CONNECTION_FAILED", "MPS client failed to connect to the MPS control daemon or the MPS server"},
    {806, "CUDA_ERROR_MPS_RPC_FAILURE", "the remote procedural call between the MPS server and the MPS client failed"},
    {807, "CUDA_ERROR_MPS_SERVER_NOT_READY", "MPS server is not ready to accept new MPS client requests"},
    {808, "CUDA_ERROR_MPS_MAX_CLIENTS_REACHED", "the hardware resources required to create MPS client have been exhausted"},
    {809, "CUDA_ERROR_MPS_MAX_CONNECTIONS_REACHED", "the hardware resources required to support device connections have been exhausted"},
    {810, "CUDA_ERROR_MPS_CLIENT_TERMINATED", "the MPS client has been terminated by the server"},
    {900, "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED", "operation not permitted when stream is capturing"},
    {901, "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED", "operation failed due to a previous error during capture"},
    {902, "CUDA_ERROR_STREAM_CAPTURE_MERGE", "operation would result in a merge of separate capture sequences"},
    {903, "CUDA_ERROR_STREAM_CAPTURE_UNMATCHED", "capture was not ended in the same stream as it began"},
    {904, "CUDA_ERROR_STREAM_CAPTURE_UNJOINED", "capturing stream has unjoined work"},
    {905, "CUDA_ERROR_STREAM_CAPTURE_ISOLATION", "dependency created on uncaptured work in another stream"},
    {906, "CUDA_ERROR_STREAM_CAPTURE_IMPLICIT", "operation would make the legacy stream depend on a capturing blocking stream"},
    {907, "CUDA_ERROR_CAPTURED_EVENT", "operation not permitted on an event last recorded in a capturing stream"},
    {908, "CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD", "attempt to terminate a thread-local capture sequence from another thread"},
    {909, "CUDA_ERROR_TIMEOUT", "wait operation timed out"},
    {910, "CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE", "the graph update was not performed because it included changes which violated constraints specific to instantiated graph update"},
    {911, "CUDA_ERROR_EXTERNAL_DEVICE", "an async error has occured in external entity outside of CUDA"},
    {912, "CUDA_ERROR_INVALID_CLUSTER_SIZE", "a kernel launch error has occurred due to cluster misconfiguration"},
    {999, "CUDA_ERROR_UNKNOWN", "unknown error"},
};

static CUresult lookup_error(int code, int want_name, const char **pStr) {
  if (!pStr) return CUDA_ERROR_INVALID_VALUE;
  for (size_t i = 0; i < sizeof error_table / sizeof *error_table; i++)
    if (error_table[i].code == code) {
      *pStr = want_name ? error_table[i].name : error_table[i].text;
      return CUDA_SUCCESS;
    }
  *pStr = NULL;
  return CUDA_ERROR_INVALID_VALUE;
}

/* NVIDIA's NVRTC dlopen()s libcuda.so.1 and asks it for private export
 * tables; it copes without them. Answered quietly, unlike the generated
 * stubs, since every compile asks. */
FC_EXPORT CUresult cuGetExportTable(const void **ppExportTable, const CUuuid *pExportTableId) {
  (void)pExportTableId;
  if (ppExportTable) *ppExportTable = NULL;
  return CUDA_ERROR_NOT_SUPPORTED;
}

/* These work before cuInit, as in the real driver. */
FC_EXPORT CUresult cuGetErrorName(CUresult error, const char **pStr) { return lookup_error((int)error, 1, pStr); }
FC_EXPORT CUresult cuGetErrorString(CUresult error, const char **pStr) { return lookup_error((int)error, 0, pStr); }
