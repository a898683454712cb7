/*
 * cuda_host.h - lets the CUDA C kernels that luminal_cuda generates compile as
 * ordinary host C++ (for the traintop fake CUDA driver, fake_cuda.c).
 *
 * The fake driver includes this header first, then the kernel's CUDA source
 * unchanged, then one launcher per `extern "C" __global__` function that runs
 * the whole grid, one CUDA thread after the other. That execution model is
 * only right for kernels whose threads do not talk to each other: no shared
 * memory, no barriers, no warp primitives. Those are made compile errors
 * below, so a kernel that needs them fails loudly instead of computing
 * something plausible. Atomics are fine, because threads never overlap.
 *
 * The math follows CUDA's overload set (float versions for float arguments,
 * CUDA's max/min overloads), so overload resolution picks the same function
 * NVRTC picks. Results can differ from a GPU in the last bits: the host libm
 * is more exact than CUDA's fast paths, and the host does not contract a*b+c
 * into an FMA unless asked to.
 */
#ifndef TRAINTOP_CUDA_HOST_H
#define TRAINTOP_CUDA_HOST_H

#ifndef __cplusplus
#error "cuda_host.h is C++: the fake CUDA driver compiles kernels with a C++ compiler"
#endif

#include <math.h> /* the C++ <math.h> also puts std's float overloads in :: */
#include <stdint.h>
#include <string.h>
#include <tuple>
#include <type_traits>
#include <utility>

/* ---- CUDA keywords -------------------------------------------------- */
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __restrict__ __restrict
#define __constant__ static
#define __managed__
#define __launch_bounds__(...)
#define __grid_constant__
/* Serial execution cannot honour these: make their use a compile error
 * whose message names the feature. */
#define __shared__ traintop_fake_cuda_does_not_support___shared__
#define __syncthreads() traintop_fake_cuda_does_not_support___syncthreads()
#define __syncwarp(...) traintop_fake_cuda_does_not_support___syncwarp()
#define __shfl_sync(...) traintop_fake_cuda_does_not_support___shfl_sync()
#define __shfl_down_sync(...) traintop_fake_cuda_does_not_support___shfl_down_sync()
#define __shfl_up_sync(...) traintop_fake_cuda_does_not_support___shfl_up_sync()
#define __shfl_xor_sync(...) traintop_fake_cuda_does_not_support___shfl_xor_sync()

/* ---- built-in variables --------------------------------------------- */
struct uint3 { unsigned int x, y, z; };
struct dim3 { unsigned int x, y, z; };
/* Per host thread, set by the generated launcher before each call of the
 * kernel body. `static`: each generated module has its own copy, so the
 * module does not depend on symbols of the driver that loads it. */
static thread_local uint3 blockIdx;
static thread_local uint3 threadIdx;
static thread_local dim3 blockDim;
static thread_local dim3 gridDim;
static const int warpSize = 32;

/* ---- a few vector types --------------------------------------------- */
struct float2 { float x, y; };
struct float4 { float x, y, z, w; };
struct int2 { int x, y; };
struct int4 { int x, y, z, w; };
static inline float2 make_float2(float x, float y) { return float2{x, y}; }
static inline float4 make_float4(float x, float y, float z, float w) { return float4{x, y, z, w}; }
static inline int2 make_int2(int x, int y) { return int2{x, y}; }
static inline int4 make_int4(int x, int y, int z, int w) { return int4{x, y, z, w}; }
static inline uint3 make_uint3(unsigned x, unsigned y, unsigned z) { return uint3{x, y, z}; }

/* ---- max / min: CUDA's overload set (crt/math_functions.hpp) ---------- */
static inline int max(const int a, const int b) { return a > b ? a : b; }
static inline unsigned int max(const unsigned int a, const unsigned int b) { return a > b ? a : b; }
static inline unsigned int max(const int a, const unsigned int b) { return max((unsigned int)a, b); }
static inline unsigned int max(const unsigned int a, const int b) { return max(a, (unsigned int)b); }
static inline long int max(const long int a, const long int b) { return a > b ? a : b; }
static inline unsigned long int max(const unsigned long int a, const unsigned long int b) { return a > b ? a : b; }
static inline unsigned long int max(const long int a, const unsigned long int b) { return max((unsigned long int)a, b); }
static inline unsigned long int max(const unsigned long int a, const long int b) { return max(a, (unsigned long int)b); }
static inline long long int max(const long long int a, const long long int b) { return a > b ? a : b; }
static inline unsigned long long int max(const unsigned long long int a, const unsigned long long int b) { return a > b ? a : b; }
static inline unsigned long long int max(const long long int a, const unsigned long long int b) { return max((unsigned long long int)a, b); }
static inline unsigned long long int max(const unsigned long long int a, const long long int b) { return max(a, (unsigned long long int)b); }
static inline float max(const float a, const float b) { return fmaxf(a, b); }
static inline double max(const double a, const double b) { return fmax(a, b); }
static inline double max(const float a, const double b) { return fmax((double)a, b); }
static inline double max(const double a, const float b) { return fmax(a, (double)b); }

static inline int min(const int a, const int b) { return a < b ? a : b; }
static inline unsigned int min(const unsigned int a, const unsigned int b) { return a < b ? a : b; }
static inline unsigned int min(const int a, const unsigned int b) { return min((unsigned int)a, b); }
static inline unsigned int min(const unsigned int a, const int b) { return min(a, (unsigned int)b); }
static inline long int min(const long int a, const long int b) { return a < b ? a : b; }
static inline unsigned long int min(const unsigned long int a, const unsigned long int b) { return a < b ? a : b; }
static inline unsigned long int min(const long int a, const unsigned long int b) { return min((unsigned long int)a, b); }
static inline unsigned long int min(const unsigned long int a, const long int b) { return min(a, (unsigned long int)b); }
static inline long long int min(const long long int a, const long long int b) { return a < b ? a : b; }
static inline unsigned long long int min(const unsigned long long int a, const unsigned long long int b) { return a < b ? a : b; }
static inline unsigned long long int min(const long long int a, const unsigned long long int b) { return min((unsigned long long int)a, b); }
static inline unsigned long long int min(const unsigned long long int a, const long long int b) { return min(a, (unsigned long long int)b); }
static inline float min(const float a, const float b) { return fminf(a, b); }
static inline double min(const double a, const double b) { return fmin(a, b); }
static inline double min(const float a, const double b) { return fmin((double)a, b); }
static inline double min(const double a, const float b) { return fmin(a, (double)b); }

static inline unsigned umax(unsigned a, unsigned b) { return a > b ? a : b; }
static inline unsigned umin(unsigned a, unsigned b) { return a < b ? a : b; }
static inline long long llmax(long long a, long long b) { return a > b ? a : b; }
static inline long long llmin(long long a, long long b) { return a < b ? a : b; }

/* ---- CUDA-only math and intrinsics ------------------------------------ */
/* Defined under traintop_ names and mapped by macros: glibc's <math.h>
 * already declares some of these names (__expf, sincosf, exp10f, ...), with
 * C linkage, and a second definition would clash. */
/* Bit casts go through memcpy: the host compiler must not assume aliasing. */
static inline float traintop_cuda_int_as_float(int i) { float f; memcpy(&f, &i, 4); return f; }
static inline int traintop_cuda_float_as_int(float f) { int i; memcpy(&i, &f, 4); return i; }
static inline float traintop_cuda_uint_as_float(unsigned int i) { float f; memcpy(&f, &i, 4); return f; }
static inline unsigned int traintop_cuda_float_as_uint(float f) { unsigned int i; memcpy(&i, &f, 4); return i; }
static inline double traintop_cuda_longlong_as_double(long long i) { double d; memcpy(&d, &i, 8); return d; }
static inline long long traintop_cuda_double_as_longlong(double d) { long long i; memcpy(&i, &d, 8); return i; }

/* Round-to-nearest variants: the host's default rounding mode is nearest. */
static inline float traintop_cuda_frcp_rn(float x) { return 1.0f / x; }
static inline double traintop_cuda_drcp_rn(double x) { return 1.0 / x; }
static inline float traintop_cuda_fsqrt_rn(float x) { return sqrtf(x); }
static inline float traintop_cuda_fdiv_rn(float a, float b) { return a / b; }
static inline float traintop_cuda_fadd_rn(float a, float b) { return a + b; }
static inline float traintop_cuda_fsub_rn(float a, float b) { return a - b; }
static inline float traintop_cuda_fmul_rn(float a, float b) { return a * b; }
static inline float traintop_cuda_fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
static inline float traintop_cuda_fdividef(float a, float b) { return a / b; }
static inline float traintop_cuda_expf(float x) { return expf(x); }
static inline float traintop_cuda_exp10f(float x) { return powf(10.0f, x); }
static inline float traintop_cuda_logf(float x) { return logf(x); }
static inline float traintop_cuda_log2f(float x) { return log2f(x); }
static inline float traintop_cuda_log10f(float x) { return log10f(x); }
static inline float traintop_cuda_sinf(float x) { return sinf(x); }
static inline float traintop_cuda_cosf(float x) { return cosf(x); }
static inline float traintop_cuda_tanf(float x) { return tanf(x); }
static inline float traintop_cuda_powf(float a, float b) { return powf(a, b); }
static inline float traintop_cuda_saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : (x == x ? x : 0.0f)); }
static inline float traintop_cuda_rsqrtf(float x) { return 1.0f / sqrtf(x); }
static inline double traintop_cuda_rsqrt(double x) { return 1.0 / sqrt(x); }
static inline float traintop_cuda_rcbrtf(float x) { return 1.0f / cbrtf(x); }
static inline void traintop_cuda_sincosf(float x, float *s, float *c) { *s = sinf(x); *c = cosf(x); }
static inline float traintop_cuda_sinpif(float x) { return sinf(3.14159265358979323846f * x); }
static inline float traintop_cuda_cospif(float x) { return cosf(3.14159265358979323846f * x); }
static inline int traintop_cuda_float2int_rn(float x) { return (int)nearbyintf(x); }
static inline int traintop_cuda_float2int_rz(float x) { return (int)x; }
static inline int traintop_cuda_float2int_rd(float x) { return (int)floorf(x); }
static inline int traintop_cuda_float2int_ru(float x) { return (int)ceilf(x); }
static inline float traintop_cuda_int2float_rn(int x) { return (float)x; }
static inline int traintop_cuda_popc(unsigned int x) { return __builtin_popcount(x); }
static inline int traintop_cuda_clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned)x); }
static inline int traintop_cuda_ffs(int x) { return __builtin_ffs(x); }
#define __int_as_float traintop_cuda_int_as_float
#define __float_as_int traintop_cuda_float_as_int
#define __uint_as_float traintop_cuda_uint_as_float
#define __float_as_uint traintop_cuda_float_as_uint
#define __longlong_as_double traintop_cuda_longlong_as_double
#define __double_as_longlong traintop_cuda_double_as_longlong
#define __frcp_rn traintop_cuda_frcp_rn
#define __drcp_rn traintop_cuda_drcp_rn
#define __fsqrt_rn traintop_cuda_fsqrt_rn
#define __fdiv_rn traintop_cuda_fdiv_rn
#define __fadd_rn traintop_cuda_fadd_rn
#define __fsub_rn traintop_cuda_fsub_rn
#define __fmul_rn traintop_cuda_fmul_rn
#define __fmaf_rn traintop_cuda_fmaf_rn
#define __fdividef traintop_cuda_fdividef
#define __expf traintop_cuda_expf
#define __exp10f traintop_cuda_exp10f
#define exp10f traintop_cuda_exp10f
#define __logf traintop_cuda_logf
#define __log2f traintop_cuda_log2f
#define __log10f traintop_cuda_log10f
#define __sinf traintop_cuda_sinf
#define __cosf traintop_cuda_cosf
#define __tanf traintop_cuda_tanf
#define __powf traintop_cuda_powf
#define __saturatef traintop_cuda_saturatef
#define rsqrtf traintop_cuda_rsqrtf
#define rsqrt traintop_cuda_rsqrt
#define rcbrtf traintop_cuda_rcbrtf
#define sincosf traintop_cuda_sincosf
#define sinpif traintop_cuda_sinpif
#define cospif traintop_cuda_cospif
#define __float2int_rn traintop_cuda_float2int_rn
#define __float2int_rz traintop_cuda_float2int_rz
#define __float2int_rd traintop_cuda_float2int_rd
#define __float2int_ru traintop_cuda_float2int_ru
#define __int2float_rn traintop_cuda_int2float_rn
#define __popc traintop_cuda_popc
#define __clz traintop_cuda_clz
#define __ffs traintop_cuda_ffs

/* ---- atomics: exact, because no two CUDA threads run at once ------------ */
template <typename T> static inline T atomicAdd(T *a, T v) { T o = *a; *a = o + v; return o; }
template <typename T> static inline T atomicSub(T *a, T v) { T o = *a; *a = o - v; return o; }
template <typename T> static inline T atomicExch(T *a, T v) { T o = *a; *a = v; return o; }
template <typename T> static inline T atomicMax(T *a, T v) { T o = *a; *a = max(o, v); return o; }
template <typename T> static inline T atomicMin(T *a, T v) { T o = *a; *a = min(o, v); return o; }
template <typename T> static inline T atomicCAS(T *a, T cmp, T v) { T o = *a; if (o == cmp) *a = v; return o; }

/* ---- checks that the math resolves as on the device --------------------- */
static_assert(std::is_same<decltype(exp2(1.0f)), float>::value, "exp2(float) must be the float overload");
static_assert(std::is_same<decltype(log2(1.0f)), float>::value, "log2(float) must be the float overload");
static_assert(std::is_same<decltype(sin(1.0f)), float>::value, "sin(float) must be the float overload");
static_assert(std::is_same<decltype(sqrt(1.0f)), float>::value, "sqrt(float) must be the float overload");
static_assert(std::is_same<decltype(fmod(1.0f, 1.0f)), float>::value, "fmod(float, float) must be the float overload");
static_assert(std::is_same<decltype(max(1.0f, 1.0f)), float>::value, "max(float, float) must be float");
static_assert(std::is_same<decltype(max(1, 1)), int>::value, "max(int, int) must be int");

/* ---- launcher used by the generated code ------------------------------- */
namespace traintop_fake_cuda {
/* Runs kernel k over the whole grid, one CUDA thread after the other. The
 * parameter types come from k's own declaration, so nothing is parsed out of
 * the source: each argument is copied out of kernelParams once (as the
 * device does at launch time), reading as many bytes as the kernel's
 * parameter has. */
template <typename... A, std::size_t... I>
static void run_grid(void (*k)(A...), const unsigned *g, const unsigned *b, void **p, std::index_sequence<I...>) {
  (void)p;
  std::tuple<typename std::decay<A>::type...> args{*static_cast<typename std::decay<A>::type *>(p[I])...};
  (void)args;
  gridDim = dim3{g[0], g[1], g[2]};
  blockDim = dim3{b[0], b[1], b[2]};
  for (unsigned bz = 0; bz < g[2]; ++bz)
    for (unsigned by = 0; by < g[1]; ++by)
      for (unsigned bx = 0; bx < g[0]; ++bx) {
        blockIdx = uint3{bx, by, bz};
        for (unsigned tz = 0; tz < b[2]; ++tz)
          for (unsigned ty = 0; ty < b[1]; ++ty)
            for (unsigned tx = 0; tx < b[0]; ++tx) {
              threadIdx = uint3{tx, ty, tz};
              k(std::get<I>(args)...);
            }
      }
}
template <typename... A>
static void run(void (*k)(A...), const unsigned *g, const unsigned *b, void **p) {
  run_grid(k, g, b, p, std::index_sequence_for<A...>{});
}
/* The size of each parameter, checked by the driver against the PTX. */
template <typename... A>
static const unsigned *param_sizes(void (*)(A...), unsigned *n) {
  static const unsigned sizes[] = {(unsigned)sizeof(typename std::decay<A>::type)..., 0u};
  *n = (unsigned)sizeof...(A);
  return sizes;
}
} // namespace traintop_fake_cuda

#endif
