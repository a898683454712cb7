/*
 * Host stand-in for CUDA's cuda_fp16.h, used only when the traintop fake CUDA
 * driver compiles a kernel for the CPU (NVRTC still sees NVIDIA's real
 * header). Every luminal_cuda kernel includes "cuda_fp16.h"; the f32 kernels
 * use nothing from it, the f16 ones use __half and a handful of functions.
 *
 * __half is two bytes laid out as IEEE binary16, like on the device, so
 * buffers written by the host (Rust's half::f16) read back the same. Each
 * operation is done in float and rounded to half (round to nearest even),
 * which is what the device's half instructions compute for + - * and what
 * its conversions do.
 */
#ifndef TRAINTOP_CUDA_FP16_HOST_H
#define TRAINTOP_CUDA_FP16_HOST_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline unsigned short traintop_float_to_half_bits(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000u, e = (x >> 23) & 0xffu, m = x & 0x7fffffu;
  if (e == 0xffu) /* inf stays inf, NaN stays a quiet NaN */
    return (unsigned short)(sign | 0x7c00u | (m ? 0x200u | (m >> 13) : 0u));
  int32_t he = (int32_t)e - 127 + 15;
  if (he >= 0x1f) return (unsigned short)(sign | 0x7c00u);
  if (he <= 0) { /* half subnormal (or zero): value = hm * 2^-24 */
    if (he < -10) return (unsigned short)sign;
    m |= 0x800000u;
    int shift = 14 - he;
    uint32_t hm = m >> shift, rem = m & ((1u << shift) - 1u), halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (hm & 1u))) hm++;
    return (unsigned short)(sign | hm);
  }
  uint32_t hm = m >> 13, rem = m & 0x1fffu;
  uint32_t r = sign | ((uint32_t)he << 10) | hm;
  if (rem > 0x1000u || (rem == 0x1000u && (hm & 1u))) r++; /* a carry may round up to inf: right */
  return (unsigned short)r;
}

static inline float traintop_half_bits_to_float(unsigned short h) {
  uint32_t sign = ((uint32_t)h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, bits;
  if (e == 0) {
    float f = (float)m * 5.9604644775390625e-8f; /* 2^-24, exact */
    return sign ? -f : f;
  }
  if (e == 0x1f)
    bits = sign | 0x7f800000u | (m << 13);
  else
    bits = sign | ((e - 15u + 127u) << 23) | (m << 13);
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

struct __half {
  unsigned short __x;
  __half() = default;
  __half(float f) : __x(traintop_float_to_half_bits(f)) {}
  __half(double d) : __x(traintop_float_to_half_bits((float)d)) {}
  __half(int i) : __x(traintop_float_to_half_bits((float)i)) {}
  __half(unsigned int i) : __x(traintop_float_to_half_bits((float)i)) {}
  __half(long long i) : __x(traintop_float_to_half_bits((float)i)) {}
  __half(bool b) : __x(traintop_float_to_half_bits(b ? 1.0f : 0.0f)) {}
  operator float() const { return traintop_half_bits_to_float(__x); }
};
typedef __half half;
static_assert(sizeof(__half) == 2, "__half must be two bytes, as on the device");

static inline __half operator+(__half a, __half b) { return __half((float)a + (float)b); }
static inline __half operator-(__half a, __half b) { return __half((float)a - (float)b); }
static inline __half operator*(__half a, __half b) { return __half((float)a * (float)b); }
static inline __half operator/(__half a, __half b) { return __half((float)a / (float)b); }
static inline __half operator-(__half a) { __half r = a; r.__x ^= 0x8000u; return r; }
static inline __half &operator+=(__half &a, __half b) { return a = a + b; }
static inline __half &operator-=(__half &a, __half b) { return a = a - b; }
static inline __half &operator*=(__half &a, __half b) { return a = a * b; }
static inline __half &operator/=(__half &a, __half b) { return a = a / b; }
static inline bool operator==(__half a, __half b) { return (float)a == (float)b; }
static inline bool operator!=(__half a, __half b) { return (float)a != (float)b; }
static inline bool operator<(__half a, __half b) { return (float)a < (float)b; }
static inline bool operator>(__half a, __half b) { return (float)a > (float)b; }
static inline bool operator<=(__half a, __half b) { return (float)a <= (float)b; }
static inline bool operator>=(__half a, __half b) { return (float)a >= (float)b; }

static inline __half __float2half(float f) { return __half(f); }
static inline __half __float2half_rn(float f) { return __half(f); }
static inline float __half2float(__half h) { return (float)h; }
static inline __half __int2half_rn(int i) { return __half(i); }
static inline __half __hadd(__half a, __half b) { return a + b; }
static inline __half __hsub(__half a, __half b) { return a - b; }
static inline __half __hmul(__half a, __half b) { return a * b; }
static inline __half __hdiv(__half a, __half b) { return a / b; }
static inline __half __hneg(__half a) { return -a; }
static inline __half __hmax(__half a, __half b) { return __half(fmaxf((float)a, (float)b)); }
static inline __half __hmin(__half a, __half b) { return __half(fminf((float)a, (float)b)); }
static inline bool __hlt(__half a, __half b) { return a < b; }
static inline bool __hgt(__half a, __half b) { return a > b; }
static inline bool __heq(__half a, __half b) { return a == b; }
static inline __half hsqrt(__half a) { return __half(sqrtf((float)a)); }
static inline __half hrcp(__half a) { return __half(1.0f / (float)a); }
static inline __half hexp(__half a) { return __half(expf((float)a)); }
static inline __half hexp2(__half a) { return __half(exp2f((float)a)); }
static inline __half hlog(__half a) { return __half(logf((float)a)); }
static inline __half hlog2(__half a) { return __half(log2f((float)a)); }
static inline __half hsin(__half a) { return __half(sinf((float)a)); }
static inline __half hcos(__half a) { return __half(cosf((float)a)); }

#endif
