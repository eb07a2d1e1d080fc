// Optimizer steps for WebAssembly SIMD (Adadelta, Adam: the ones with square roots and divisions; SGD
// stays in TypeScript, where it has neither), on elements [lo, hi) of one parameter: PyTorch 1.13's
// single-tensor formulas in float32, op by op in PyTorch's order (the TypeScript loops compute the same
// formulas in float64 and round once: the two agree within a few float32 roundings).
//
// Memory-bound: Adadelta reads 4 arrays and writes 3 (28 bytes per element); f32x4 square roots and
// divisions keep the arithmetic (2 sqrt + 1 div per element, ~12 cycles each per vector) off the
// critical path that scalar JavaScript hits.
#include <wasm_simd128.h>

// Adadelta: v = ρv + (1−ρ)g²; Δ = √(u+ε)/√(v+ε)·g; u = ρu + (1−ρ)Δ²; θ −= lr·Δ (g += wd·θ first).
// 1 − ρ comes computed in float64 and rounded once, as PyTorch's Python passes it.
__attribute__((export_name("adadelta_f32"))) void adadelta_f32(float *param, const float *grad, float *square_avg,
                                                               float *acc_delta, int lo, int hi, float lr, float rho,
                                                               float one_minus_rho, float eps, float weight_decay) {
  v128_t vrho = wasm_f32x4_splat(rho), vone = wasm_f32x4_splat(one_minus_rho), veps = wasm_f32x4_splat(eps);
  v128_t vlr = wasm_f32x4_splat(-lr), vwd = wasm_f32x4_splat(weight_decay);
  int i = lo;
  for (; i + 4 <= hi; i += 4) {
    v128_t p = wasm_v128_load(param + i), g = wasm_v128_load(grad + i);
    if (weight_decay != 0.0f) g = wasm_f32x4_add(g, wasm_f32x4_mul(vwd, p));
    v128_t v = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(square_avg + i), vrho),
                              wasm_f32x4_mul(wasm_f32x4_mul(vone, g), g));
    wasm_v128_store(square_avg + i, v);
    v128_t u = wasm_v128_load(acc_delta + i);
    v128_t delta = wasm_f32x4_mul(
        wasm_f32x4_div(wasm_f32x4_sqrt(wasm_f32x4_add(u, veps)), wasm_f32x4_sqrt(wasm_f32x4_add(v, veps))), g);
    u = wasm_f32x4_add(wasm_f32x4_mul(u, vrho), wasm_f32x4_mul(wasm_f32x4_mul(vone, delta), delta));
    wasm_v128_store(acc_delta + i, u);
    wasm_v128_store(param + i, wasm_f32x4_add(p, wasm_f32x4_mul(vlr, delta)));
  }
  for (; i < hi; i++) { // the same operations on one lane
    float p = param[i], g = grad[i];
    if (weight_decay != 0.0f) g = g + weight_decay * p;
    float v = square_avg[i] * rho + (one_minus_rho * g) * g;
    square_avg[i] = v;
    float u = acc_delta[i];
    float delta = __builtin_sqrtf(u + eps) / __builtin_sqrtf(v + eps) * g;
    acc_delta[i] = u * rho + (one_minus_rho * delta) * delta;
    param[i] = p + -lr * delta;
  }
}

// Adam (AMSGrad when max_exp_avg_sq is not 0): m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²; with AMSGrad
// v̂ = max(v̂, v), else v̂ = v; θ += −step_size · m / (√v̂ / bc2_sqrt + ε) (g += wd·θ first). step_size =
// lr / (1 − β1^t), bc2_sqrt = √(1 − β2^t), 1 − β1 and 1 − β2 come computed in float64, as PyTorch's Python
// does.
__attribute__((export_name("adam_f32"))) void adam_f32(float *param, const float *grad, float *exp_avg,
                                                       float *exp_avg_sq, float *max_exp_avg_sq, int lo, int hi,
                                                       float step_size, float bc2_sqrt, float beta1, float beta2,
                                                       float one_minus_beta1, float one_minus_beta2, float eps,
                                                       float weight_decay) {
  v128_t b1 = wasm_f32x4_splat(beta1), c1 = wasm_f32x4_splat(one_minus_beta1);
  v128_t b2 = wasm_f32x4_splat(beta2), c2 = wasm_f32x4_splat(one_minus_beta2);
  v128_t vbc2 = wasm_f32x4_splat(bc2_sqrt), veps = wasm_f32x4_splat(eps), vwd = wasm_f32x4_splat(weight_decay);
  v128_t vstep = wasm_f32x4_splat(-step_size);
  int i = lo;
  for (; i + 4 <= hi; i += 4) {
    v128_t p = wasm_v128_load(param + i), g = wasm_v128_load(grad + i);
    if (weight_decay != 0.0f) g = wasm_f32x4_add(g, wasm_f32x4_mul(vwd, p));
    v128_t m = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(exp_avg + i), b1), wasm_f32x4_mul(c1, g));
    v128_t v = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(exp_avg_sq + i), b2), wasm_f32x4_mul(wasm_f32x4_mul(c2, g), g));
    wasm_v128_store(exp_avg + i, m);
    wasm_v128_store(exp_avg_sq + i, v);
    if (max_exp_avg_sq) { // keep the larger (the old one where v is not larger, NaN included)
      v128_t old = wasm_v128_load(max_exp_avg_sq + i);
      v = wasm_v128_bitselect(v, old, wasm_f32x4_gt(v, old));
      wasm_v128_store(max_exp_avg_sq + i, v);
    }
    v128_t denom = wasm_f32x4_add(wasm_f32x4_div(wasm_f32x4_sqrt(v), vbc2), veps);
    wasm_v128_store(param + i, wasm_f32x4_add(p, wasm_f32x4_mul(vstep, wasm_f32x4_div(m, denom))));
  }
  for (; i < hi; i++) { // the same operations on one lane
    float p = param[i], g = grad[i];
    if (weight_decay != 0.0f) g = g + weight_decay * p;
    float m = exp_avg[i] * beta1 + one_minus_beta1 * g;
    float v = exp_avg_sq[i] * beta2 + (one_minus_beta2 * g) * g;
    exp_avg[i] = m, exp_avg_sq[i] = v;
    if (max_exp_avg_sq) {
      if (v > max_exp_avg_sq[i]) max_exp_avg_sq[i] = v;
      v = max_exp_avg_sq[i];
    }
    param[i] = p + -step_size * (m / (__builtin_sqrtf(v) / bc2_sqrt + eps));
  }
}
