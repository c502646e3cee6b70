//! Small dense kernels on plain slices (the per-row hot loops of ALS and scoring) and the
//! two large dense operations delegated to `faer` (Gram matrices and the EASE inverse).
//!
//! The hot loops work on vectors of `factors` (32..256) floats, where a BLAS call costs more
//! than it computes; they are written with 8 independent accumulators so that LLVM
//! vectorizes them, and [`with_simd`] runs a closure compiled for AVX2 when the CPU has it.

use faer::linalg::solvers::DenseSolveCore;
use faer::{Mat, Side};
use rayon::prelude::*;

/// `sum(a[i] * b[i])`.
///
/// On x86-64 with AVX2 and FMA: four independent 8-lane fused multiply-add chains (one
/// chain would make every step wait for the previous one). Elsewhere: 8 accumulators that
/// LLVM vectorizes.
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    if has_fma() {
        // SAFETY: the CPU supports AVX2 and FMA (checked by `has_fma`).
        return unsafe { x86::dot(a, b) };
    }
    dot_portable(a, b)
}

/// `sum(a[i] * b[i])` with `b` as `i8` codes (a quantized row; multiply by its scale).
#[inline(always)]
pub fn dot_i8(a: &[f32], b: &[i8]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    if has_fma() {
        // SAFETY: the CPU supports AVX2 and FMA (checked by `has_fma`).
        return unsafe { x86::dot_i8(a, b) };
    }
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k] as f32;
        }
    }
    let mut s = 0f32;
    for (x, y) in ra.iter().zip(rb) {
        s += x * *y as f32;
    }
    (acc[0] + acc[4]) + (acc[1] + acc[5]) + (acc[2] + acc[6]) + (acc[3] + acc[7]) + s
}

#[inline(always)]
fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut s = 0f32;
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    (acc[0] + acc[4]) + (acc[1] + acc[5]) + (acc[2] + acc[6]) + (acc[3] + acc[7]) + s
}

/// Whether the CPU has AVX2 and FMA (detected once).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub fn has_fma() -> bool {
    use std::sync::atomic::{AtomicU8, Ordering};
    static STATE: AtomicU8 = AtomicU8::new(0);
    match STATE.load(Ordering::Relaxed) {
        1 => false,
        2 => true,
        _ => {
            let yes = std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma");
            STATE.store(if yes { 2 } else { 1 }, Ordering::Relaxed);
            yes
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// Dot product with AVX2 + FMA intrinsics, 32 floats per step in four chains.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let (mut s0, mut s1, mut s2, mut s3) = (
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
        );
        let mut i = 0;
        // SAFETY (all loads): `i + 32 <= n` / `i + 8 <= n` keep every 8-float load inside
        // both slices (`n` is the shorter length); unaligned loads are allowed.
        while i + 32 <= n {
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), s0);
            s1 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i + 8)), _mm256_loadu_ps(pb.add(i + 8)), s1);
            s2 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i + 16)), _mm256_loadu_ps(pb.add(i + 16)), s2);
            s3 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i + 24)), _mm256_loadu_ps(pb.add(i + 24)), s3);
            i += 32;
        }
        while i + 8 <= n {
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), s0);
            i += 8;
        }
        let v = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
        let q = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let h = _mm_add_ps(q, _mm_movehl_ps(q, q));
        let mut s = _mm_cvtss_f32(_mm_add_ss(h, _mm_shuffle_ps(h, h, 1)));
        while i < n {
            s += a[i] * b[i];
            i += 1;
        }
        s
    }

    /// `dot` with `b` as `i8`: 8 codes widened to `i32` then `f32` per lane group, 32 per
    /// step in four chains.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub unsafe fn dot_i8(a: &[f32], b: &[i8]) -> f32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let (mut s0, mut s1, mut s2, mut s3) = (
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
        );
        // 8 codes at `p` as 8 floats. A macro, not a function: a helper function would
        // not carry this function's target features, and its intrinsics would become calls.
        macro_rules! widen {
            ($p:expr) => {
                _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64($p.cast())))
            };
        }
        let mut i = 0;
        // SAFETY (all loads): `i + 32 <= n` / `i + 8 <= n` keep every 8-element load inside
        // both slices (`n` is the shorter length); unaligned loads are allowed.
        while i + 32 <= n {
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), widen!(pb.add(i)), s0);
            s1 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i + 8)), widen!(pb.add(i + 8)), s1);
            s2 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i + 16)), widen!(pb.add(i + 16)), s2);
            s3 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i + 24)), widen!(pb.add(i + 24)), s3);
            i += 32;
        }
        while i + 8 <= n {
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), widen!(pb.add(i)), s0);
            i += 8;
        }
        let v = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
        let q = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let h = _mm_add_ps(q, _mm_movehl_ps(q, q));
        let mut s = _mm_cvtss_f32(_mm_add_ss(h, _mm_shuffle_ps(h, h, 1)));
        while i < n {
            s += a[i] * b[i] as f32;
            i += 1;
        }
        s
    }
}

/// `v / ‖v‖` (the zero vector stays zero).
pub fn unit(v: &[f32]) -> Vec<f32> {
    let n = dot(v, v).sqrt().max(1e-12);
    v.iter().map(|x| x / n).collect()
}

/// `y += alpha * x`.
#[inline(always)]
pub fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    debug_assert_eq!(x.len(), y.len());
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

/// `out = m * v` for a row-major square `n x n` matrix `m`.
#[inline(always)]
pub fn symv(m: &[f32], v: &[f32], out: &mut [f32]) {
    let n = v.len();
    for (i, o) in out.iter_mut().enumerate() {
        *o = dot(&m[i * n..(i + 1) * n], v);
    }
}

/// Runs `f` in a function compiled with AVX2 enabled when the CPU supports it, so the
/// `#[inline(always)]` kernels above inlined into `f` use 256-bit registers.
#[inline(always)]
pub fn with_simd<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        if has_fma() {
            // SAFETY: the CPU supports AVX2 and FMA (checked just above).
            return unsafe { avx2(f) };
        }
    }
    f()
}

/// `Y^T Y` for a row-major `n x f` matrix `y`, returned row-major `f x f` (symmetric).
///
/// Rows are summed in parallel blocks, each into an upper triangle of its own, in `f64`.
/// Not faer's matmul: its packing workspace is a thread-local sized by the inner
/// dimension `n`, kept by every rayon worker for the life of the process (629 MB after a
/// model of 17,632 items was loaded, measured with heaptrack). This costs `n f^2 / 2`
/// multiply-adds, a few milliseconds at `n` = 20,000, `f` = 64.
pub fn gram(y: &[f32], f: usize) -> Vec<f32> {
    if f == 0 {
        return Vec::new();
    }
    const ROWS: usize = 2048;
    let upper = y
        .par_chunks(f * ROWS)
        .map(|block| {
            with_simd(|| {
                let mut acc = vec![0f64; f * f];
                for row in block.chunks_exact(f) {
                    for (i, &a) in row.iter().enumerate() {
                        let a = a as f64;
                        let out = &mut acc[i * f + i..(i + 1) * f];
                        for (o, &b) in out.iter_mut().zip(&row[i..]) {
                            *o += a * b as f64;
                        }
                    }
                }
                acc
            })
        })
        .reduce(
            || vec![0f64; f * f],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                a
            },
        );
    let mut g = vec![0f32; f * f];
    for i in 0..f {
        for j in i..f {
            let v = upper[i * f + j] as f32;
            g[i * f + j] = v;
            g[j * f + i] = v;
        }
    }
    g
}

/// Solves `A x = b` for a symmetric positive-definite row-major `n x n` matrix by Cholesky
/// in `f64` (small systems: one ALS fold-in); only the lower triangle of `A` is read.
/// Returns `None` if `A` is not positive definite.
pub fn cholesky_solve(a: &[f32], b: &[f32]) -> Option<Vec<f32>> {
    let n = b.len();
    let mut l = vec![0f64; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s = a[i * n + j] as f64 - dot64(&l[i * n..i * n + j], &l[j * n..j * n + j]);
            if i == j {
                if s <= 0.0 {
                    return None;
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    let mut y = vec![0f64; n];
    for i in 0..n {
        let s = b[i] as f64 - dot64(&l[i * n..i * n + i], &y[..i]);
        y[i] = s / l[i * n + i];
    }
    let mut x = vec![0f64; n];
    for i in (0..n).rev() {
        let mut s = y[i];
        for k in i + 1..n {
            s -= l[k * n + i] * x[k];
        }
        x[i] = s / l[i * n + i];
    }
    Some(x.into_iter().map(|v| v as f32).collect())
}

/// `Σ a_k b_k` in `f64` with four independent sums (a single running sum is a chain of
/// dependent adds the compiler may not reorder; four let it use vector lanes: the
/// 256-factor fold-in's Cholesky is mostly this).
#[inline]
fn dot64(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0f64; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..4 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// The inverse of a symmetric positive-definite matrix (column-major, `n x n`), by faer's
/// multithreaded Cholesky. Used by EASE^R.
pub fn spd_inverse(a: Mat<f32>) -> Option<Mat<f32>> {
    let llt = a.llt(Side::Lower).ok()?;
    Some(llt.inverse())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels() {
        let a: Vec<f32> = (0..19).map(|i| i as f32).collect();
        let b: Vec<f32> = (0..19).map(|i| (i % 3) as f32).collect();
        let want: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert_eq!(with_simd(|| dot(&a, &b)), want);
        for n in [0, 7, 8, 31, 32, 33, 100, 128, 257] {
            let a: Vec<f32> = (0..n).map(|i| (i % 7) as f32).collect();
            let b: Vec<f32> = (0..n).map(|i| (i % 5) as f32 - 2.0).collect();
            let want: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert_eq!(dot(&a, &b), want, "n = {n}");
            assert_eq!(dot_portable(&a, &b), want, "n = {n}");
        }
        for n in [0, 7, 8, 31, 32, 33, 100, 384, 385] {
            let a: Vec<f32> = (0..n).map(|i| (i % 7) as f32 - 3.0).collect();
            let c: Vec<i8> = (0..n).map(|i: i32| (i * 37 % 255 - 127) as i8).collect();
            let want: f32 = a.iter().zip(&c).map(|(x, y)| x * *y as f32).sum();
            assert_eq!(dot_i8(&a, &c), want, "i8, n = {n}");
            assert_eq!(with_simd(|| dot_i8(&a, &c)), want, "i8 simd, n = {n}");
        }
        let mut y = b.clone();
        axpy(2.0, &a, &mut y);
        assert_eq!(y[5], 2.0 * 5.0 + 2.0);
    }

    #[test]
    fn gram_matches_the_definition_across_blocks() {
        for (n, f) in [(0usize, 3usize), (1, 1), (5, 7), (2047, 4), (2049, 5), (4100, 16)] {
            let y: Vec<f32> = (0..n * f).map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0).collect();
            let g = gram(&y, f);
            for i in 0..f {
                for j in 0..f {
                    let want: f64 = (0..n).map(|r| y[r * f + i] as f64 * y[r * f + j] as f64).sum();
                    let got = g[i * f + j] as f64;
                    assert!(
                        (got - want).abs() <= 1e-4 * want.abs().max(1.0),
                        "n {n} f {f} ({i},{j}): {got} vs {want}"
                    );
                }
            }
        }
        assert!(gram(&[], 0).is_empty());
    }

    #[test]
    fn gram_and_solve() {
        // Y = 3 x 2
        let y = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let g = gram(&y, 2);
        assert_eq!(g, vec![35.0, 44.0, 44.0, 56.0]);
        let a = [4.0, 1.0, 1.0, 3.0];
        let x = cholesky_solve(&a, &[1.0, 2.0]).unwrap();
        assert!((x[0] - 1.0 / 11.0).abs() < 1e-6 && (x[1] - 7.0 / 11.0).abs() < 1e-6);
        assert!(cholesky_solve(&[0.0, 0.0, 0.0, 0.0], &[1.0, 1.0]).is_none());
        let inv = spd_inverse(Mat::from_fn(2, 2, |i, j| a[i * 2 + j])).unwrap();
        assert!((inv[(0, 0)] - 3.0 / 11.0).abs() < 1e-6);
        assert!((inv[(0, 1)] + 1.0 / 11.0).abs() < 1e-6);
    }
}
