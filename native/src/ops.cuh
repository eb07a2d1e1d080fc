/*
 * ops.cuh: one functor per row of native/ops.def, the name of each code, and the JavaScript
 * number semantics the int32 paths need.
 *
 * UnaryF<code>, BinaryF<code>, ScalarF<code> compute the row's C expression in the type they are
 * called with (float, or double: see ops.def); BinaryF/ScalarF<code>::cmp says whether the op is a
 * comparison (int32 0/1 out). A code with no row has no specialisation: it cannot be launched, and
 * *_op_name() returns NULL for it, which the entry points turn into CN_ERR_INVALID.
 */
#ifndef CN_OPS_CUH
#define CN_OPS_CUH

#include "common.h"

/* JavaScript's ToInt32, what storing a number into an Int32Array does. */
__device__ __forceinline__ int32_t js_int32(double v) {
  if (!(fabs(v) <= 1.7976931348623157e308)) return 0; /* NaN, +-Inf */
  const double t = trunc(v);
  if (t >= -2147483648.0 && t < 2147483648.0) return (int32_t)t;
  double m = fmod(t, 4294967296.0);
  if (m < 0) m += 4294967296.0;
  return (int32_t)(uint32_t)m;
}

/* JavaScript's x ** s: NaN for 1 ** Infinity and x ** NaN (C's pow says 1). */
__device__ __forceinline__ double cn_js_pow(double x, double s) {
  if (s == 2.0) return x * x;
  if (s == 1.0) return x;
  if (s != s || (fabs(x) == 1.0 && fabs(s) == INFINITY)) return (double)NAN;
  return pow(x, s);
}

template <int CODE>
struct UnaryF;
template <int CODE>
struct BinaryF;
template <int CODE>
struct ScalarF;

#define CN_UNARY_OP(NAME, ts, code, c_expr, ts_expr)               \
  template <>                                                      \
  struct UnaryF<code> {                                            \
    template <class T>                                             \
    __device__ __forceinline__ T operator()(T x) const {           \
      return (T)(c_expr);                                          \
    }                                                              \
  };
#include "../ops.def"

#define CN_BINARY_OP(NAME, ts, code, c_expr, ts_expr)              \
  template <>                                                      \
  struct BinaryF<code> {                                           \
    static constexpr bool cmp = false;                             \
    template <class T>                                             \
    __device__ __forceinline__ T operator()(T a, T b) const {      \
      return (T)(c_expr);                                          \
    }                                                              \
  };
#define CN_BINARY_CMP(NAME, ts, code, c_expr, ts_expr)             \
  template <>                                                      \
  struct BinaryF<code> {                                           \
    static constexpr bool cmp = true;                              \
    template <class T>                                             \
    __device__ __forceinline__ int32_t operator()(T a, T b) const { \
      return (c_expr) ? 1 : 0;                                     \
    }                                                              \
  };
#include "../ops.def"

#define CN_SCALAR_OP(NAME, ts, code, c_expr, ts_expr)              \
  template <>                                                      \
  struct ScalarF<code> {                                           \
    static constexpr bool cmp = false;                             \
    __device__ __forceinline__ double operator()(double x, double s) const { \
      return (double)(c_expr);                                     \
    }                                                              \
  };
#define CN_SCALAR_CMP(NAME, ts, code, c_expr, ts_expr)             \
  template <>                                                      \
  struct ScalarF<code> {                                           \
    static constexpr bool cmp = true;                              \
    __device__ __forceinline__ int32_t operator()(double x, double s) const { \
      return (c_expr) ? 1 : 0;                                     \
    }                                                              \
  };
#include "../ops.def"

/* The row's NAME for a code, or NULL when the code is not in the table. */
static inline const char *unary_op_name(int32_t op) {
  switch (op) {
#define CN_UNARY_OP(NAME, ts, code, c_expr, ts_expr) \
  case code: return #NAME;
#include "../ops.def"
  }
  return NULL;
}
static inline const char *binary_op_name(int32_t op) {
  switch (op) {
#define CN_BINARY_OP(NAME, ts, code, c_expr, ts_expr) \
  case code: return #NAME;
#include "../ops.def"
  }
  return NULL;
}
static inline const char *scalar_op_name(int32_t op) {
  switch (op) {
#define CN_SCALAR_OP(NAME, ts, code, c_expr, ts_expr) \
  case code: return #NAME;
#include "../ops.def"
  }
  return NULL;
}
static inline const char *reduce_op_name(int32_t op) {
  switch (op) {
#define CN_REDUCE_OP(NAME, ts, code, policy) \
  case code: return #NAME;
#include "../ops.def"
  }
  return NULL;
}

/* "0 NEG, 1 EXP, ..." for the messages that reject a code. */
static inline const char *cn_unary_codes(void) {
#define CN_UNARY_OP(NAME, ts, code, c_expr, ts_expr) " " #code " " #NAME
  return ""
#include "../ops.def"
      ;
}
static inline const char *cn_binary_codes(void) {
#define CN_BINARY_OP(NAME, ts, code, c_expr, ts_expr) " " #code " " #NAME
  return ""
#include "../ops.def"
      ;
}
static inline const char *cn_scalar_codes(void) {
#define CN_SCALAR_OP(NAME, ts, code, c_expr, ts_expr) " " #code " " #NAME
  return ""
#include "../ops.def"
      ;
}
static inline const char *cn_reduce_codes(void) {
#define CN_REDUCE_OP(NAME, ts, code, policy) " " #code " " #NAME
  return ""
#include "../ops.def"
      ;
}

/* CN_ERR_INVALID for an op code that is not a row of the family. */
#define CN_UNKNOWN_OP(fn, family, op, codes) \
  cn_fail(CN_ERR_INVALID, "%s: op code %d is not a %s op (native/ops.def:%s)", fn, (int)(op), family, codes())

#endif /* CN_OPS_CUH */
