#include "backend/cpu/ops.h"

#include <algorithm>
#include <cmath>

namespace llmp::engine {

void rms_norm(const float* x, const float* w, float* y, int64_t n_rows, int64_t n, float eps) {
  for (int64_t r = 0; r < n_rows; ++r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    double ss = 0;  // double: the reference sums in higher precision too
    for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(xr[i]) * xr[i];
    const float scale = 1.0f / std::sqrt(static_cast<float>(ss / static_cast<double>(n)) + eps);
    for (int64_t i = 0; i < n; ++i) yr[i] = xr[i] * scale * w[i];
  }
}

void layer_norm(const float* x, const float* w, const float* b, float* y, int64_t n_rows, int64_t n, float eps) {
  for (int64_t r = 0; r < n_rows; ++r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    double mean = 0;
    for (int64_t i = 0; i < n; ++i) mean += xr[i];
    mean /= static_cast<double>(n);
    double var = 0;
    for (int64_t i = 0; i < n; ++i) var += (xr[i] - mean) * (xr[i] - mean);
    var /= static_cast<double>(n);
    const float inv = 1.0f / std::sqrt(static_cast<float>(var) + eps);
    for (int64_t i = 0; i < n; ++i) yr[i] = static_cast<float>(xr[i] - mean) * inv * w[i] + b[i];
  }
}

void silu_mul(float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    gate[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void gelu(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * 0.70710678118654752f));
}

void add_inplace(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

void softmax(float* x, int64_t n) {
  float max = -INFINITY;
  for (int64_t i = 0; i < n; ++i) max = std::max(max, x[i]);
  float sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  const float inv = 1.0f / sum;
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

std::vector<float> rope_frequencies(const ModelConfig& c, const float* factors) {
  const int64_t half = c.head_dim / 2;
  std::vector<float> freqs(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i) {
    double f = std::pow(c.rope_theta, -2.0 * static_cast<double>(i) / static_cast<double>(c.head_dim));
    if (factors) {
      f /= factors[i];
    } else if (c.rope_scaling.type == "llama3") {
      // As HF's _compute_llama3_parameters: long wavelengths slowed by `factor`, short ones
      // kept, a smooth blend between.
      const auto& s = c.rope_scaling;
      const double low_wavelen = static_cast<double>(s.original_context) / s.low_freq_factor;
      const double high_wavelen = static_cast<double>(s.original_context) / s.high_freq_factor;
      const double wavelen = 2.0 * M_PI / f;
      if (wavelen > low_wavelen) {
        f /= s.factor;
      } else if (wavelen >= high_wavelen) {
        const double smooth =
            (static_cast<double>(s.original_context) / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
        f = (1.0 - smooth) * f / s.factor + smooth * f;
      }
    }
    freqs[static_cast<size_t>(i)] = static_cast<float>(f);
  }
  return freqs;
}

void rope_apply(float* x, int64_t head_dim, int64_t pos, const float* freqs, RopeLayout layout, float pos_scale) {
  const int64_t half = head_dim / 2;
  const float p = static_cast<float>(pos) * pos_scale;
  for (int64_t i = 0; i < half; ++i) {
    const float angle = p * freqs[i];
    const float c = std::cos(angle), s = std::sin(angle);
    // rotate_half pairs (i, i + d/2); interleaved pairs (2i, 2i + 1).
    const int64_t a = layout == RopeLayout::rotate_half ? i : 2 * i;
    const int64_t b = layout == RopeLayout::rotate_half ? i + half : 2 * i + 1;
    const float x0 = x[a], x1 = x[b];
    x[a] = x0 * c - x1 * s;
    x[b] = x0 * s + x1 * c;
  }
}

}  // namespace llmp::engine
