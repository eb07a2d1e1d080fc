// Optimizer steps for WebAssembly SIMD, on elements [lo, hi) of one parameter: PyTorch 1.13's
// single-tensor formulas in float32, op by op in PyTorch's order (the TypeScript loops compute the same
// formulas in float64 and round once: the two agree within a few float32 roundings).
//
// Memory-bound: Adadelta reads 4 arrays and writes 3 (28 bytes per element); f32x4 square roots and
// divisions keep the arithmetic (2 sqrt + 1 div per element, ~12 cycles each per vector) off the
// critical path that scalar JavaScript hits.
#include <wasm_simd128.h>

// Adadelta: v = ρv + (1−ρ)g²; Δ = √(u+ε)/√(v+ε)·g; u = ρu + (1−ρ)Δ²; θ −= lr·Δ (g += wd·θ first).
__attribute__((export_name("adadelta_f32"))) void adadelta_f32(float *param, const float *grad, float *square_avg,
                                                               float *acc_delta, int lo, int hi, float lr, float rho,
                                                               float eps, float weight_decay) {
  v128_t vrho = wasm_f32x4_splat(rho), vone = wasm_f32x4_splat(1.0f - rho), veps = wasm_f32x4_splat(eps);
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
    float v = square_avg[i] * rho + ((1.0f - rho) * g) * g;
    square_avg[i] = v;
    float u = acc_delta[i];
    float delta = __builtin_sqrtf(u + eps) / __builtin_sqrtf(v + eps) * g;
    acc_delta[i] = u * rho + ((1.0f - rho) * delta) * delta;
    param[i] = p + -lr * delta;
  }
}
