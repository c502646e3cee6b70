//! Small dense kernels on plain slices (the per-row hot loops of ALS and scoring) and the
//! two large dense operations delegated to `faer` (Gram matrices and the EASE inverse).
//!
//! The hot loops work on vectors of `factors` (32..256) floats, where a BLAS call costs more
//! than it computes; they are written with 8 independent accumulators so that LLVM
//! vectorizes them, and [`with_simd`] runs a closure compiled for AVX2 when the CPU has it.

use faer::linalg::solvers::DenseSolveCore;
use faer::{Mat, MatRef, Par, Side};

/// `sum(a[i] * b[i])`.
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
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
        #[target_feature(enable = "avx2")]
        unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            return unsafe { avx2(f) };
        }
    }
    f()
}

/// `Y^T Y` for a row-major `n x f` matrix `y`, returned row-major `f x f` (symmetric).
pub fn gram(y: &[f32], f: usize) -> Vec<f32> {
    let n = y.len().checked_div(f).unwrap_or(0);
    // row-major n x f == column-major f x n, i.e. Y^T
    let yt = MatRef::from_column_major_slice(y, f, n);
    let mut out = Mat::<f32>::zeros(f, f);
    faer::linalg::matmul::matmul(
        out.as_mut(),
        faer::Accum::Replace,
        yt,
        yt.transpose(),
        1.0f32,
        Par::rayon(0),
    );
    let mut g = vec![0f32; f * f];
    for i in 0..f {
        for j in 0..f {
            g[i * f + j] = out[(i, j)];
        }
    }
    g
}

/// Solves `A x = b` for a symmetric positive-definite row-major `n x n` matrix by Cholesky
/// in `f64` (small systems: one ALS fold-in). Returns `None` if `A` is not positive definite.
pub fn cholesky_solve(a: &[f32], b: &[f32]) -> Option<Vec<f32>> {
    let n = b.len();
    let mut l = vec![0f64; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = a[i * n + j] as f64;
            for k in 0..j {
                s -= l[i * n + k] * l[j * n + k];
            }
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
        let mut s = b[i] as f64;
        for k in 0..i {
            s -= l[i * n + k] * y[k];
        }
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
        let mut y = b.clone();
        axpy(2.0, &a, &mut y);
        assert_eq!(y[5], 2.0 * 5.0 + 2.0);
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
