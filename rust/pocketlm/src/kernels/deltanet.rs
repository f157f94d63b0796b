//! The recurrence of Qwen3.5's Gated DeltaNet layers (`model/deltanet.rs`), one value head
//! over a run of tokens: the state's rows stream through multiply-add loops of [`LANES`]
//! independent sums, compiled for the selected tier (the tests of `model/deltanet.rs` check
//! every path against an f64 reference).

use super::Tier;

/// How the recurrence's row loops are compiled: plain multiplies and adds (the scalar tier,
/// and any CPU without fused multiply-add), `f32::mul_add` where it is an instruction of the
/// baseline (aarch64), or with AVX2 + FMA enabled (x86_64's AVX2 and AVX-512 tiers, which
/// thus compute the same bits).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Path {
    Plain,
    #[cfg(target_arch = "aarch64")]
    Fma,
    #[cfg(target_arch = "x86_64")]
    Avx2,
}

impl Path {
    pub(crate) fn of(tier: Tier) -> Self {
        match tier {
            Tier::Scalar => Path::Plain,
            #[cfg(target_arch = "x86_64")]
            Tier::Avx2 | Tier::Avx512Vnni => Path::Avx2,
            #[cfg(target_arch = "aarch64")]
            Tier::Neon | Tier::Dotprod | Tier::I8mm => Path::Fma,
            #[allow(unreachable_patterns)]
            _ => Path::Plain,
        }
    }
}

/// Tokens whose keys and queries one pass over a state row reads (16 tokens of 128-wide
/// heads: 16 KB, in L1 with the row).
pub(crate) const TOKEN_BLOCK: usize = 16;

/// A run's convolved channels (`n × nch`: normed queries, normed keys, values) and gates.
pub(crate) struct RunInput<'a> {
    pub hd: usize,
    pub nch: usize,
    pub vh: usize,
    pub key_dim: usize,
    pub k_heads: usize,
    pub n: usize,
    pub c: &'a [f32],
    pub gates: &'a [f32],
    pub betas: &'a [f32],
}

/// Value head `h` over the run: `m` is its state (row `j` = column `j` of S, the keys'
/// weights of value `j`: each row's update needs only itself), `o` its outputs (`n × hd`).
pub(crate) fn head(path: Path, r: &RunInput, h: usize, m: &mut [f32], o: &mut [f32]) {
    match path {
        Path::Plain => head_with::<false>(r, h, m, o),
        #[cfg(target_arch = "aarch64")]
        Path::Fma => head_with::<true>(r, h, m, o),
        // SAFETY: `Path::Avx2` comes only from the AVX2 and AVX-512 tiers, which are selected
        // only on CPUs with AVX2 and FMA (`Tier::is_supported`).
        #[cfg(target_arch = "x86_64")]
        Path::Avx2 => unsafe { head_avx2(r, h, m, o) },
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn head_avx2(r: &RunInput, h: usize, m: &mut [f32], o: &mut [f32]) {
    head_with::<true>(r, h, m, o)
}

/// Accumulator lanes of the row loops (a multiple of every vector width; independent sums
/// hide the multiply-add latency).
pub(crate) const LANES: usize = 32;

#[inline(always)]
fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// The lanes' sum, pairwise (a fixed order).
#[inline(always)]
fn lanes_sum(mut acc: [f32; LANES]) -> f32 {
    let mut w = LANES / 2;
    while w > 0 {
        for i in 0..w {
            acc[i] += acc[i + w];
        }
        w /= 2;
    }
    acc[0]
}

/// `row *= g`, then `Σ row[i]·k[i]`.
#[inline(always)]
fn scale_dot<const FMA: bool>(row: &mut [f32], g: f32, k: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let mut rs = row.chunks_exact_mut(LANES);
    let mut ks = k.chunks_exact(LANES);
    for (r, k) in (&mut rs).zip(&mut ks) {
        let r: &mut [f32; LANES] = r.try_into().expect("a chunk of LANES");
        let k: &[f32; LANES] = k.try_into().expect("a chunk of LANES");
        for i in 0..LANES {
            r[i] *= g;
            acc[i] = madd::<FMA>(r[i], k[i], acc[i]);
        }
    }
    let mut tail = 0f32;
    for (r, &k) in rs.into_remainder().iter_mut().zip(ks.remainder()) {
        *r *= g;
        tail = madd::<FMA>(*r, k, tail);
    }
    lanes_sum(acc) + tail
}

/// `row += delta·k`, then `Σ row[i]·q[i]`.
#[inline(always)]
fn update_dot<const FMA: bool>(row: &mut [f32], delta: f32, k: &[f32], q: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let mut rs = row.chunks_exact_mut(LANES);
    let mut ks = k.chunks_exact(LANES);
    let mut qs = q.chunks_exact(LANES);
    for ((r, k), q) in (&mut rs).zip(&mut ks).zip(&mut qs) {
        let r: &mut [f32; LANES] = r.try_into().expect("a chunk of LANES");
        let k: &[f32; LANES] = k.try_into().expect("a chunk of LANES");
        let q: &[f32; LANES] = q.try_into().expect("a chunk of LANES");
        for i in 0..LANES {
            r[i] = madd::<FMA>(k[i], delta, r[i]);
            acc[i] = madd::<FMA>(r[i], q[i], acc[i]);
        }
    }
    let mut tail = 0f32;
    for ((r, &k), &q) in rs
        .into_remainder()
        .iter_mut()
        .zip(ks.remainder())
        .zip(qs.remainder())
    {
        *r = madd::<FMA>(k, delta, *r);
        tail = madd::<FMA>(*r, q, tail);
    }
    lanes_sum(acc) + tail
}

/// The row loops with NEON vectors on aarch64: LLVM leaves the `f32::mul_add` loops above
/// scalar there (one FMADD per element; 77 M instructions per token, 23% of a Qwen3.5-0.8B
/// decode). The same operations lane for lane as `scale_dot::<true>` / `update_dot::<true>`
/// (`LANES` sums as 8 vectors of 4, reduced pairwise in the same order).
#[cfg(target_arch = "aarch64")]
mod neon {
    use super::{madd, LANES};
    use core::arch::aarch64::*;

    const VECS: usize = LANES / 4;

    /// [`super::lanes_sum`] of the 32 lanes held as 8 vectors.
    #[inline(always)]
    fn lanes_sum(acc: [float32x4_t; VECS]) -> f32 {
        // SAFETY: baseline Advanced SIMD (always present on aarch64), registers only.
        unsafe {
            let a: [float32x4_t; 4] = core::array::from_fn(|v| vaddq_f32(acc[v], acc[v + 4]));
            let a = [vaddq_f32(a[0], a[2]), vaddq_f32(a[1], a[3])];
            let a = vaddq_f32(a[0], a[1]);
            let b = vadd_f32(vget_low_f32(a), vget_high_f32(a));
            vget_lane_f32::<0>(b) + vget_lane_f32::<1>(b)
        }
    }

    /// `row *= g`, then `Σ row[i]·k[i]`: [`super::scale_dot`] with vectors.
    #[inline(always)]
    pub(super) fn scale_dot(row: &mut [f32], g: f32, k: &[f32]) -> f32 {
        let n = row.len().min(k.len());
        let whole = n / LANES * LANES;
        // SAFETY: every load and store below is at `i + 4v .. i + 4v + 4 <= whole <= n`,
        // inside both slices; baseline Advanced SIMD only.
        let acc = unsafe {
            let mut acc = [vdupq_n_f32(0.0); VECS];
            let (rp, kp) = (row.as_mut_ptr(), k.as_ptr());
            let mut i = 0;
            while i < whole {
                for (v, a) in acc.iter_mut().enumerate() {
                    let r = vmulq_n_f32(vld1q_f32(rp.add(i + 4 * v)), g);
                    vst1q_f32(rp.add(i + 4 * v), r);
                    *a = vfmaq_f32(*a, r, vld1q_f32(kp.add(i + 4 * v)));
                }
                i += LANES;
            }
            acc
        };
        let mut tail = 0f32;
        for (r, &k) in row[whole..n].iter_mut().zip(&k[whole..n]) {
            *r *= g;
            tail = madd::<true>(*r, k, tail);
        }
        lanes_sum(acc) + tail
    }

    /// `row += delta·k`, then `Σ row[i]·q[i]`: [`super::update_dot`] with vectors.
    #[inline(always)]
    pub(super) fn update_dot(row: &mut [f32], delta: f32, k: &[f32], q: &[f32]) -> f32 {
        let n = row.len().min(k.len()).min(q.len());
        let whole = n / LANES * LANES;
        // SAFETY: as in `scale_dot`: every access is inside the three slices' first `whole`.
        let acc = unsafe {
            let mut acc = [vdupq_n_f32(0.0); VECS];
            let (rp, kp, qp) = (row.as_mut_ptr(), k.as_ptr(), q.as_ptr());
            let mut i = 0;
            while i < whole {
                for (v, a) in acc.iter_mut().enumerate() {
                    let at = i + 4 * v;
                    let r = vfmaq_n_f32(vld1q_f32(rp.add(at)), vld1q_f32(kp.add(at)), delta);
                    vst1q_f32(rp.add(at), r);
                    *a = vfmaq_f32(*a, r, vld1q_f32(qp.add(at)));
                }
                i += LANES;
            }
            acc
        };
        let mut tail = 0f32;
        for ((r, &k), &q) in row[whole..n].iter_mut().zip(&k[whole..n]).zip(&q[whole..n]) {
            *r = madd::<true>(k, delta, *r);
            tail = madd::<true>(*r, q, tail);
        }
        lanes_sum(acc) + tail
    }
}

/// `scale_dot` of the path: NEON vectors for aarch64's fused path.
#[inline(always)]
fn scale_dot_of<const FMA: bool>(row: &mut [f32], g: f32, k: &[f32]) -> f32 {
    #[cfg(target_arch = "aarch64")]
    if FMA {
        return neon::scale_dot(row, g, k);
    }
    scale_dot::<FMA>(row, g, k)
}

/// `update_dot` of the path: NEON vectors for aarch64's fused path.
#[inline(always)]
fn update_dot_of<const FMA: bool>(row: &mut [f32], delta: f32, k: &[f32], q: &[f32]) -> f32 {
    #[cfg(target_arch = "aarch64")]
    if FMA {
        return neon::update_dot(row, delta, k, q);
    }
    update_dot::<FMA>(row, delta, k, q)
}

/// Per token (ggml's gated_delta_net): `S = decay·S`, `S += k (beta (v - Sᵀk))ᵀ`,
/// `o = Sᵀq / sqrt(hd)`. Row by row of S, each row through a block of tokens while it is in
/// L1 (the rows are independent), so the state is read and written once per block.
#[inline(always)]
fn head_with<const FMA: bool>(r: &RunInput, h: usize, m: &mut [f32], o: &mut [f32]) {
    let (hd, nch, vh) = (r.hd, r.nch, r.vh);
    let kh = h % r.k_heads;
    let (q_off, k_off, v_off) = (kh * hd, r.key_dim + kh * hd, 2 * r.key_dim + h * hd);
    let q_scale = 1.0 / (hd as f32).sqrt();
    let mut t0 = 0;
    while t0 < r.n {
        let t1 = (t0 + TOKEN_BLOCK).min(r.n);
        for (j, row) in m.chunks_exact_mut(hd).enumerate() {
            for t in t0..t1 {
                let c = &r.c[t * nch..][..nch];
                let (q, k) = (&c[q_off..][..hd], &c[k_off..][..hd]);
                let sk = scale_dot_of::<FMA>(row, r.gates[t * vh + h], k);
                let delta = (c[v_off + j] - sk) * r.betas[t * vh + h];
                o[t * hd + j] = update_dot_of::<FMA>(row, delta, k, q) * q_scale;
            }
        }
        t0 = t1;
    }
}
