/*
 * nvrtc_shim.c - libnvrtc.so.13 that forwards to NVIDIA's real NVRTC and
 * tells the fake CUDA driver (fake_cuda.c) which CUDA C source each PTX came
 * from, so the driver can run the kernel on the CPU.
 *
 * Every luminal_cuda kernel really goes through NVIDIA's compiler, so a
 * kernel NVRTC rejects fails here exactly as on a GPU machine; the PTX can
 * also be kept for ptxas (TRAINTOP_PTX_DIR).
 *
 * Environment:
 *  TRAINTOP_REAL_NVRTC     full path of NVIDIA's libnvrtc.so.13 (required).
 *                          Its libnvrtc-builtins.so.* is loaded from the same
 *                          folder, so LD_LIBRARY_PATH need not name it.
 *  TRAINTOP_CUDA_INCLUDE   folder with NVIDIA's cuda_fp16.h and friends
 *                          (NVRTC 13 has no built-in cuda_fp16.h); added to
 *                          every compile as --include-path.
 *  TRAINTOP_NVRTC_ARCH     e.g. sm_90: replaces the program's
 *                          --gpu-architecture (luminal_cuda asks for sm_75).
 *  TRAINTOP_PTX_DIR        if set, every PTX handed out is also written there
 *                          as <hash>.ptx (with its source as <hash>.cu), once
 *                          per distinct content.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef NVRTC_SHIM_USE_NVRTC_H
#include <nvrtc.h> /* build.sh checks every definition below against it */
#else
typedef enum {
  NVRTC_SUCCESS = 0,
  NVRTC_ERROR_OUT_OF_MEMORY = 1,
  NVRTC_ERROR_INVALID_INPUT = 3,
  NVRTC_ERROR_INVALID_PROGRAM = 4,
  NVRTC_ERROR_INTERNAL_ERROR = 11
} nvrtcResult;
typedef struct _nvrtcProgram *nvrtcProgram;
#endif

#define SHIM_EXPORT __attribute__((visibility("default")))

static void shim_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void shim_log(const char *fmt, ...) {
  char buf[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  dprintf(2, "traintop NVRTC shim: %s\n", buf);
}

/* ------------------------------------------------------------------------ */
/* The real library                                                           */
/* ------------------------------------------------------------------------ */
static struct {
  void *lib;
  const char *(*GetErrorString)(nvrtcResult);
  nvrtcResult (*Version)(int *, int *);
  nvrtcResult (*GetNumSupportedArchs)(int *);
  nvrtcResult (*GetSupportedArchs)(int *);
  nvrtcResult (*CreateProgram)(nvrtcProgram *, const char *, const char *, int, const char *const *,
                               const char *const *);
  nvrtcResult (*DestroyProgram)(nvrtcProgram *);
  nvrtcResult (*CompileProgram)(nvrtcProgram, int, const char *const *);
  nvrtcResult (*GetPTXSize)(nvrtcProgram, size_t *);
  nvrtcResult (*GetPTX)(nvrtcProgram, char *);
  nvrtcResult (*GetCUBINSize)(nvrtcProgram, size_t *);
  nvrtcResult (*GetCUBIN)(nvrtcProgram, char *);
  nvrtcResult (*GetLTOIRSize)(nvrtcProgram, size_t *);
  nvrtcResult (*GetLTOIR)(nvrtcProgram, char *);
  nvrtcResult (*GetOptiXIRSize)(nvrtcProgram, size_t *);
  nvrtcResult (*GetOptiXIR)(nvrtcProgram, char *);
  nvrtcResult (*GetProgramLogSize)(nvrtcProgram, size_t *);
  nvrtcResult (*GetProgramLog)(nvrtcProgram, char *);
  nvrtcResult (*AddNameExpression)(nvrtcProgram, const char *);
  nvrtcResult (*GetLoweredName)(nvrtcProgram, const char *, const char **);
  nvrtcResult (*GetPCHHeapSize)(size_t *);
  nvrtcResult (*SetPCHHeapSize)(size_t);
  nvrtcResult (*GetPCHCreateStatus)(nvrtcProgram);
  nvrtcResult (*GetPCHHeapSizeRequired)(nvrtcProgram, size_t *);
  nvrtcResult (*SetFlowCallback)(nvrtcProgram, int (*)(void *, void *), void *);
} real;
static pthread_once_t real_once = PTHREAD_ONCE_INIT;

/* NVRTC dlopen()s libnvrtc-builtins.so.<ver> by bare name. Loading it first
 * from the real library's folder makes that lookup find it by its SONAME,
 * without LD_LIBRARY_PATH. */
static void preload_builtins(const char *real_path) {
  char dir[PATH_MAX];
  if (snprintf(dir, sizeof dir, "%s", real_path) >= (int)sizeof dir) return;
  char *slash = strrchr(dir, '/');
  if (!slash) return;
  *slash = '\0';
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *ent;
  while ((ent = readdir(d)) != NULL) {
    if (strncmp(ent->d_name, "libnvrtc-builtins.so.", 21) != 0) continue;
    char path[PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
    if (!dlopen(path, RTLD_NOW | RTLD_LOCAL)) shim_log("could not preload %s: %s", path, dlerror());
  }
  closedir(d);
}

static void load_real(void) {
  const char *path = getenv("TRAINTOP_REAL_NVRTC");
  if (!path || !*path) {
    shim_log("TRAINTOP_REAL_NVRTC is not set: point it at NVIDIA's libnvrtc.so.13 (the nvidia-cuda-nvrtc "
             "wheel's nvidia/cu13/lib/libnvrtc.so.13); every NVRTC call fails until then");
    return;
  }
  if (!strchr(path, '/')) {
    shim_log("TRAINTOP_REAL_NVRTC=%s must be a path (with a '/'), not a bare library name, or the loader "
             "would find this shim again", path);
    return;
  }
  preload_builtins(path);
  /* RTLD_LOCAL: the real symbols stay out of the global scope, where they
   * would clash with this shim's. The real library is linked -Bsymbolic, so
   * its internal calls bind to itself, not to the shim. */
  void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    shim_log("cannot load TRAINTOP_REAL_NVRTC=%s: %s", path, dlerror());
    return;
  }
#define LOAD(field, name)                                  \
  do {                                                     \
    *(void **)&real.field = dlsym(lib, name);              \
  } while (0)
  LOAD(GetErrorString, "nvrtcGetErrorString");
  LOAD(Version, "nvrtcVersion");
  LOAD(GetNumSupportedArchs, "nvrtcGetNumSupportedArchs");
  LOAD(GetSupportedArchs, "nvrtcGetSupportedArchs");
  LOAD(CreateProgram, "nvrtcCreateProgram");
  LOAD(DestroyProgram, "nvrtcDestroyProgram");
  LOAD(CompileProgram, "nvrtcCompileProgram");
  LOAD(GetPTXSize, "nvrtcGetPTXSize");
  LOAD(GetPTX, "nvrtcGetPTX");
  LOAD(GetCUBINSize, "nvrtcGetCUBINSize");
  LOAD(GetCUBIN, "nvrtcGetCUBIN");
  LOAD(GetLTOIRSize, "nvrtcGetLTOIRSize");
  LOAD(GetLTOIR, "nvrtcGetLTOIR");
  LOAD(GetOptiXIRSize, "nvrtcGetOptiXIRSize");
  LOAD(GetOptiXIR, "nvrtcGetOptiXIR");
  LOAD(GetProgramLogSize, "nvrtcGetProgramLogSize");
  LOAD(GetProgramLog, "nvrtcGetProgramLog");
  LOAD(AddNameExpression, "nvrtcAddNameExpression");
  LOAD(GetLoweredName, "nvrtcGetLoweredName");
  LOAD(GetPCHHeapSize, "nvrtcGetPCHHeapSize");
  LOAD(SetPCHHeapSize, "nvrtcSetPCHHeapSize");
  LOAD(GetPCHCreateStatus, "nvrtcGetPCHCreateStatus");
  LOAD(GetPCHHeapSizeRequired, "nvrtcGetPCHHeapSizeRequired");
  LOAD(SetFlowCallback, "nvrtcSetFlowCallback");
#undef LOAD
  /* If the path led back to this very library, every call would recurse. */
  Dl_info self, other;
  if (!real.CreateProgram || !real.CompileProgram || !real.GetPTX ||
      (dladdr((void *)&load_real, &self) && dladdr((void *)real.CreateProgram, &other) &&
       self.dli_fbase == other.dli_fbase)) {
    shim_log("TRAINTOP_REAL_NVRTC=%s is not NVIDIA's NVRTC (is it this shim?)", path);
    memset(&real, 0, sizeof real);
    return;
  }
  real.lib = lib;
}

/* Each forwarding function starts with this: the real function, or a clear
 * failure. */
#define REAL(field)                                                                   \
  do {                                                                                \
    pthread_once(&real_once, load_real);                                              \
    if (!real.field) {                                                                \
      if (real.lib) shim_log("%s is not in this NVRTC", "nvrtc" #field);              \
      return NVRTC_ERROR_INTERNAL_ERROR;                                              \
    }                                                                                 \
  } while (0)

/* ------------------------------------------------------------------------ */
/* Program sources                                                            */
/* ------------------------------------------------------------------------ */
struct program {
  nvrtcProgram prog;
  char *source;
  struct program *next;
};
static struct program *programs;
static pthread_mutex_t programs_lock = PTHREAD_MUTEX_INITIALIZER;

static void remember_source(nvrtcProgram prog, const char *src) {
  struct program *p = calloc(1, sizeof *p);
  if (!p || !(p->source = strdup(src))) {
    free(p);
    shim_log("out of memory: a program's source is not kept, its kernels cannot run on the fake driver");
    return;
  }
  p->prog = prog;
  pthread_mutex_lock(&programs_lock);
  p->next = programs;
  programs = p;
  pthread_mutex_unlock(&programs_lock);
}

static void forget_source(nvrtcProgram prog) {
  pthread_mutex_lock(&programs_lock);
  for (struct program **pp = &programs; *pp; pp = &(*pp)->next)
    if ((*pp)->prog == prog) {
      struct program *p = *pp;
      *pp = p->next;
      free(p->source);
      free(p);
      break;
    }
  pthread_mutex_unlock(&programs_lock);
}

/* A copy of prog's source (free it), or NULL. */
static char *source_of(nvrtcProgram prog) {
  char *s = NULL;
  pthread_mutex_lock(&programs_lock);
  for (struct program *p = programs; p; p = p->next)
    if (p->prog == prog) {
      s = strdup(p->source);
      break;
    }
  pthread_mutex_unlock(&programs_lock);
  return s;
}

/* ------------------------------------------------------------------------ */
/* Forwarded API                                                              */
/* ------------------------------------------------------------------------ */
SHIM_EXPORT const char *nvrtcGetErrorString(nvrtcResult result) {
  pthread_once(&real_once, load_real);
  if (real.GetErrorString) return real.GetErrorString(result);
  /* No real NVRTC: still describe the error the shim itself returns. */
  return result == NVRTC_ERROR_INTERNAL_ERROR
             ? "NVRTC_ERROR_INTERNAL_ERROR (traintop NVRTC shim: the real NVRTC is not loaded, see TRAINTOP_REAL_NVRTC)"
             : "NVRTC_ERROR unknown (traintop NVRTC shim: the real NVRTC is not loaded)";
}

SHIM_EXPORT nvrtcResult nvrtcVersion(int *major, int *minor) {
  REAL(Version);
  return real.Version(major, minor);
}

SHIM_EXPORT nvrtcResult nvrtcGetNumSupportedArchs(int *numArchs) {
  REAL(GetNumSupportedArchs);
  return real.GetNumSupportedArchs(numArchs);
}

SHIM_EXPORT nvrtcResult nvrtcGetSupportedArchs(int *supportedArchs) {
  REAL(GetSupportedArchs);
  return real.GetSupportedArchs(supportedArchs);
}

SHIM_EXPORT nvrtcResult nvrtcCreateProgram(nvrtcProgram *prog, const char *src, const char *name, int numHeaders,
                                           const char *const *headers, const char *const *includeNames) {
  REAL(CreateProgram);
  nvrtcResult r = real.CreateProgram(prog, src, name, numHeaders, headers, includeNames);
  if (r == NVRTC_SUCCESS && prog && *prog && src) {
    if (numHeaders > 0)
      shim_log("program %s has %d in-memory header(s); the fake driver's host build will not see them",
               name ? name : "(unnamed)", numHeaders);
    remember_source(*prog, src);
  }
  return r;
}

SHIM_EXPORT nvrtcResult nvrtcDestroyProgram(nvrtcProgram *prog) {
  REAL(DestroyProgram);
  nvrtcProgram p = prog ? *prog : NULL;
  nvrtcResult r = real.DestroyProgram(prog);
  if (r == NVRTC_SUCCESS && p) forget_source(p);
  return r;
}

static int is_arch_option(const char *o, int *takes_next) {
  *takes_next = !strcmp(o, "--gpu-architecture") || !strcmp(o, "-arch");
  return *takes_next || !strncmp(o, "--gpu-architecture=", 19) || !strncmp(o, "-arch=", 6);
}

SHIM_EXPORT nvrtcResult nvrtcCompileProgram(nvrtcProgram prog, int numOptions, const char *const *options) {
  REAL(CompileProgram);
  if (numOptions < 0 || (numOptions > 0 && !options)) return real.CompileProgram(prog, numOptions, options);
  const char *arch = getenv("TRAINTOP_NVRTC_ARCH");
  const char *inc = getenv("TRAINTOP_CUDA_INCLUDE");
  if (arch && !*arch) arch = NULL;
  if (inc && !*inc) inc = NULL;

  /* The program's options, with the architecture replaced and the include
   * folder added. */
  const char **opts = calloc((size_t)numOptions + 2, sizeof *opts);
  char *arch_opt = NULL, *inc_opt = NULL;
  if (!opts) return NVRTC_ERROR_OUT_OF_MEMORY;
  int n = 0, replaced = 0;
  if (arch && asprintf(&arch_opt, "--gpu-architecture=%s", arch) < 0) arch_opt = NULL;
  for (int i = 0; i < numOptions; i++) {
    int takes_next;
    if (arch_opt && options[i] && is_arch_option(options[i], &takes_next)) {
      if (!replaced) opts[n++] = arch_opt;
      replaced = 1;
      if (takes_next) i++;
      continue;
    }
    opts[n++] = options[i];
  }
  if (arch_opt && !replaced) opts[n++] = arch_opt;
  if (inc && asprintf(&inc_opt, "--include-path=%s", inc) >= 0) opts[n++] = inc_opt;

  nvrtcResult r = real.CompileProgram(prog, n, opts);
  if (r != NVRTC_SUCCESS && !inc)
    shim_log("compile failed and TRAINTOP_CUDA_INCLUDE is not set; NVRTC 13 needs it to find cuda_fp16.h "
             "(the nvidia-cuda-runtime wheel's nvidia/cu13/include)");
  free(opts);
  free(arch_opt);
  free(inc_opt);
  return r;
}

SHIM_EXPORT nvrtcResult nvrtcGetPTXSize(nvrtcProgram prog, size_t *ptxSizeRet) {
  REAL(GetPTXSize);
  return real.GetPTXSize(prog, ptxSizeRet);
}

static uint64_t fnv1a(const void *data, size_t n) {
  const unsigned char *p = data;
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

/* Writes path once: through a temporary name, skipped if it already exists
 * (the name is a hash of the content). */
static void write_once(const char *path, const char *data, size_t len) {
  if (access(path, F_OK) == 0) return;
  char tmp[PATH_MAX + 64];
  if (snprintf(tmp, sizeof tmp, "%s.tmp.%d.%lx", path, (int)getpid(), (unsigned long)pthread_self()) >=
      (int)sizeof tmp)
    return;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    shim_log("cannot write %s: %s", tmp, strerror(errno));
    return;
  }
  size_t off = 0;
  while (off < len) {
    ssize_t w = write(fd, data + off, len - off);
    if (w <= 0) break;
    off += (size_t)w;
  }
  if (close(fd) != 0 || off != len || rename(tmp, path) != 0) {
    shim_log("cannot write %s", path);
    unlink(tmp);
  }
}

SHIM_EXPORT nvrtcResult nvrtcGetPTX(nvrtcProgram prog, char *ptx) {
  REAL(GetPTX);
  nvrtcResult r = real.GetPTX(prog, ptx);
  size_t size = 0;
  if (r != NVRTC_SUCCESS || !ptx || !real.GetPTXSize || real.GetPTXSize(prog, &size) != NVRTC_SUCCESS)
    return r;
  size_t len = strnlen(ptx, size);
  char *src = source_of(prog);
  if (!src) return r;

  /* Tell the fake driver, if it is the loaded libcuda. */
  void (*reg)(const char *, size_t, const char *) =
      (void (*)(const char *, size_t, const char *))dlsym(RTLD_DEFAULT, "traintop_fake_cuda_register");
  if (reg) reg(ptx, len, src);

  const char *dir = getenv("TRAINTOP_PTX_DIR");
  if (dir && *dir) {
    mkdir(dir, 0755);
    char path[PATH_MAX];
    unsigned long long h = (unsigned long long)fnv1a(ptx, len);
    if (snprintf(path, sizeof path, "%s/%016llx.ptx", dir, h) < (int)sizeof path) write_once(path, ptx, len);
    if (snprintf(path, sizeof path, "%s/%016llx.cu", dir, h) < (int)sizeof path) write_once(path, src, strlen(src));
  }
  free(src);
  return r;
}

SHIM_EXPORT nvrtcResult nvrtcGetCUBINSize(nvrtcProgram prog, size_t *cubinSizeRet) {
  REAL(GetCUBINSize);
  return real.GetCUBINSize(prog, cubinSizeRet);
}

SHIM_EXPORT nvrtcResult nvrtcGetCUBIN(nvrtcProgram prog, char *cubin) {
  REAL(GetCUBIN);
  return real.GetCUBIN(prog, cubin);
}

SHIM_EXPORT nvrtcResult nvrtcGetLTOIRSize(nvrtcProgram prog, size_t *LTOIRSizeRet) {
  REAL(GetLTOIRSize);
  return real.GetLTOIRSize(prog, LTOIRSizeRet);
}

SHIM_EXPORT nvrtcResult nvrtcGetLTOIR(nvrtcProgram prog, char *LTOIR) {
  REAL(GetLTOIR);
  return real.GetLTOIR(prog, LTOIR);
}

SHIM_EXPORT nvrtcResult nvrtcGetOptiXIRSize(nvrtcProgram prog, size_t *optixirSizeRet) {
  REAL(GetOptiXIRSize);
  return real.GetOptiXIRSize(prog, optixirSizeRet);
}

SHIM_EXPORT nvrtcResult nvrtcGetOptiXIR(nvrtcProgram prog, char *optixir) {
  REAL(GetOptiXIR);
  return real.GetOptiXIR(prog, optixir);
}

SHIM_EXPORT nvrtcResult nvrtcGetProgramLogSize(nvrtcProgram prog, size_t *logSizeRet) {
  REAL(GetProgramLogSize);
  return real.GetProgramLogSize(prog, logSizeRet);
}

SHIM_EXPORT nvrtcResult nvrtcGetProgramLog(nvrtcProgram prog, char *log) {
  REAL(GetProgramLog);
  return real.GetProgramLog(prog, log);
}

SHIM_EXPORT nvrtcResult nvrtcAddNameExpression(nvrtcProgram prog, const char *const name_expression) {
  REAL(AddNameExpression);
  return real.AddNameExpression(prog, name_expression);
}

SHIM_EXPORT nvrtcResult nvrtcGetLoweredName(nvrtcProgram prog, const char *const name_expression,
                                            const char **lowered_name) {
  REAL(GetLoweredName);
  return real.GetLoweredName(prog, name_expression, lowered_name);
}

SHIM_EXPORT nvrtcResult nvrtcGetPCHHeapSize(size_t *ret) {
  REAL(GetPCHHeapSize);
  return real.GetPCHHeapSize(ret);
}

SHIM_EXPORT nvrtcResult nvrtcSetPCHHeapSize(size_t size) {
  REAL(SetPCHHeapSize);
  return real.SetPCHHeapSize(size);
}

SHIM_EXPORT nvrtcResult nvrtcGetPCHCreateStatus(nvrtcProgram prog) {
  REAL(GetPCHCreateStatus);
  return real.GetPCHCreateStatus(prog);
}

SHIM_EXPORT nvrtcResult nvrtcGetPCHHeapSizeRequired(nvrtcProgram prog, size_t *size) {
  REAL(GetPCHHeapSizeRequired);
  return real.GetPCHHeapSizeRequired(prog, size);
}

SHIM_EXPORT nvrtcResult nvrtcSetFlowCallback(nvrtcProgram prog, int (*callback)(void *, void *), void *payload) {
  REAL(SetFlowCallback);
  return real.SetFlowCallback(prog, callback, payload);
}
