//! The recurrence of Qwen3.5's Gated DeltaNet layers (`model/deltanet.rs`), one value head
//! over a run of tokens: the state's rows stream, a group at a time, through multiply-add
//! loops of independent sums, compiled for the selected tier (the tests of `model/deltanet.rs` check
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

/// Accumulator lanes of the portable row loops (a multiple of every vector width; independent
/// sums hide the multiply-add latency).
pub(crate) const LANES: usize = 8;

/// State rows advanced together by the portable loops: the key and query are loaded once for
/// all of them (`2 · ROWS` vectors of [`LANES`] sums: 8 of AVX2's 16 registers).
pub(crate) const ROWS: usize = 4;

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

/// `Σ a[i]·b[i]` in [`LANES`] sums (a fixed order; vectorized on every target).
#[inline(always)]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let (mut xs, mut ys) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    for (x, y) in (&mut xs).zip(&mut ys) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    let tail: f32 = xs
        .remainder()
        .iter()
        .zip(ys.remainder())
        .map(|(x, y)| x * y)
        .sum();
    lanes_sum(acc) + tail
}

/// One token's step of the value head, per state row `r` (row `j` of the head's state is
/// column `j` of S): with the row as it was, `sk = row·k` and `sq = row·q`; then
/// `delta = beta (v_j - g sk)` and the output `(g sq + delta (k·q)) / sqrt(hd)`, and the row
/// becomes `g row + delta k`. (The decay applied to the dots rather than to the row first,
/// and `Sᵀq` of the new state written with the old one, so the row is read twice per token,
/// written once.)
pub(crate) struct Token<'a> {
    pub q: &'a [f32],
    pub k: &'a [f32],
    /// `k·q`.
    pub kq: f32,
    /// The decay.
    pub g: f32,
    pub beta: f32,
    pub q_scale: f32,
}

impl Token<'_> {
    /// `(delta, output)` of a row from its dots with the key and the query and its value.
    #[inline(always)]
    fn delta_out<const FMA: bool>(&self, sk: f32, sq: f32, v: f32) -> (f32, f32) {
        let delta = (v - self.g * sk) * self.beta;
        (
            delta,
            madd::<FMA>(delta, self.kq, self.g * sq) * self.q_scale,
        )
    }
}

/// [`Token`]'s step for `R` consecutive rows (`rows`: `R × hd`), their values `v` and outputs
/// `o` (`R` each), with [`LANES`] sums per dot.
#[inline(always)]
fn step_rows<const FMA: bool, const R: usize>(
    tok: &Token,
    rows: &mut [f32],
    v: &[f32],
    o: &mut [f32],
) {
    let hd = tok.k.len();
    let whole = hd / LANES * LANES;
    let (k, q) = (&tok.k[..hd], &tok.q[..hd]);
    let mut sk = [[0f32; LANES]; R];
    let mut sq = [[0f32; LANES]; R];
    let mut i = 0;
    while i < whole {
        for r in 0..R {
            let row = &rows[r * hd + i..][..LANES];
            for l in 0..LANES {
                sk[r][l] = madd::<FMA>(row[l], k[i + l], sk[r][l]);
                sq[r][l] = madd::<FMA>(row[l], q[i + l], sq[r][l]);
            }
        }
        i += LANES;
    }
    let mut delta = [0f32; R];
    for r in 0..R {
        let (mut tk, mut tq) = (0f32, 0f32);
        for i in whole..hd {
            tk = madd::<FMA>(rows[r * hd + i], k[i], tk);
            tq = madd::<FMA>(rows[r * hd + i], q[i], tq);
        }
        let sums = (lanes_sum(sk[r]) + tk, lanes_sum(sq[r]) + tq);
        (delta[r], o[r]) = tok.delta_out::<FMA>(sums.0, sums.1, v[r]);
    }
    for r in 0..R {
        for (x, &ki) in rows[r * hd..][..hd].iter_mut().zip(k) {
            *x = madd::<FMA>(ki, delta[r], *x * tok.g);
        }
    }
}

/// The step with NEON vectors on aarch64 (LLVM leaves `f32::mul_add` loops scalar there: one
/// FMADD per element). One vector of sums per dot and row, so the sums' order differs from
/// [`step_rows`]'s (both are checked against an f64 reference).
#[cfg(target_arch = "aarch64")]
mod neon {
    use super::{madd, Token};
    use core::arch::aarch64::*;

    /// Rows per step: 16 vectors of sums, the key, the query and 8 rows' vectors take 26 of
    /// the 32 registers (4 rows: 10.3 instructions per row and vector of 4; 8 rows: 8.6).
    pub(super) const ROWS: usize = 8;

    /// [`super::step_rows`] for [`ROWS`] rows with NEON vectors.
    #[inline(always)]
    pub(super) fn step_rows(tok: &Token, rows: &mut [f32], v: &[f32], o: &mut [f32]) {
        let hd = tok.k.len();
        assert!(tok.q.len() >= hd && rows.len() >= ROWS * hd && v.len() >= ROWS && o.len() >= ROWS);
        let whole = hd / 4 * 4;
        let (kp, qp, rp) = (tok.k.as_ptr(), tok.q.as_ptr(), rows.as_mut_ptr());
        // SAFETY: every access is at `r·hd + i .. r·hd + i + 4` with `r < ROWS` and
        // `i + 4 <= whole <= hd` (or `i + 4 <= whole` into `k` and `q`), inside the slices
        // checked above; baseline Advanced SIMD only.
        unsafe {
            let row: [*mut f32; ROWS] = core::array::from_fn(|r| rp.add(r * hd));
            let mut sk = [vdupq_n_f32(0.0); ROWS];
            let mut sq = [vdupq_n_f32(0.0); ROWS];
            let mut dots = |i: usize| {
                let (kv, qv) = (vld1q_f32(kp.add(i)), vld1q_f32(qp.add(i)));
                for r in 0..ROWS {
                    let x = vld1q_f32(row[r].add(i));
                    sk[r] = vfmaq_f32(sk[r], x, kv);
                    sq[r] = vfmaq_f32(sq[r], x, qv);
                }
            };
            // two vectors per iteration: the rows' addresses are computed once for both
            let mut i = 0;
            while i + 8 <= whole {
                dots(i);
                dots(i + 4);
                i += 8;
            }
            if i < whole {
                dots(i);
            }
            let mut delta = [0f32; ROWS];
            for r in 0..ROWS {
                let (mut tk, mut tq) = (vaddvq_f32(sk[r]), vaddvq_f32(sq[r]));
                for i in whole..hd {
                    let x = *rp.add(r * hd + i);
                    tk = madd::<true>(x, *kp.add(i), tk);
                    tq = madd::<true>(x, *qp.add(i), tq);
                }
                (delta[r], o[r]) = tok.delta_out::<true>(tk, tq, v[r]);
            }
            let update = |i: usize| {
                let kv = vld1q_f32(kp.add(i));
                for (r, &d) in delta.iter().enumerate() {
                    let at = row[r].add(i);
                    vst1q_f32(at, vfmaq_n_f32(vmulq_n_f32(vld1q_f32(at), tok.g), kv, d));
                }
            };
            let mut i = 0;
            while i + 8 <= whole {
                update(i);
                update(i + 4);
                i += 8;
            }
            if i < whole {
                update(i);
            }
            for (r, &d) in delta.iter().enumerate() {
                for i in whole..hd {
                    let at = rp.add(r * hd + i);
                    *at = madd::<true>(*kp.add(i), d, *at * tok.g);
                }
            }
        }
    }

    /// [`super::conv_sums`] of 4 taps, 4 channels per vector (`LD4` splits the channel-major
    /// taps; a multiply and an add per tap, as the definition rounds).
    pub(super) fn conv4_sums(w: &[f32], hist: &[f32], x: &[f32], out: &mut [f32]) {
        let nch = out.len();
        assert!(w.len() >= 4 * nch && hist.len() >= 3 * nch && x.len() >= nch);
        let whole = nch / 4 * 4;
        // SAFETY: channel `c + 3 < whole <= nch`: the taps at `4c .. 4c + 16 <= 4 nch`, the
        // inputs at `i·nch + c .. + 4 <= 3 nch` and `c .. c + 4 <= nch`, inside the slices
        // checked above; baseline Advanced SIMD only.
        unsafe {
            let (wp, hp, xp, op) = (w.as_ptr(), hist.as_ptr(), x.as_ptr(), out.as_mut_ptr());
            let mut c = 0;
            while c < whole {
                let taps = vld4q_f32(wp.add(4 * c));
                let mut sum = vdupq_n_f32(0.0);
                sum = vaddq_f32(sum, vmulq_f32(vld1q_f32(hp.add(c)), taps.0));
                sum = vaddq_f32(sum, vmulq_f32(vld1q_f32(hp.add(nch + c)), taps.1));
                sum = vaddq_f32(sum, vmulq_f32(vld1q_f32(hp.add(2 * nch + c)), taps.2));
                sum = vaddq_f32(sum, vmulq_f32(vld1q_f32(xp.add(c)), taps.3));
                vst1q_f32(op.add(c), sum);
                c += 4;
            }
        }
        for c in whole..nch {
            let t = &w[4 * c..][..4];
            let mut sum = 0f32;
            for (i, &wi) in t[..3].iter().enumerate() {
                sum += hist[i * nch + c] * wi;
            }
            out[c] = sum + x[c] * t[3];
        }
    }
}

/// The step with AVX2 vectors on x86_64 (the portable loops' arrays of sums vectorize poorly
/// there: a prefill spent 20% of its time in the recurrence with them, 13% before). One
/// vector of 8 sums per dot and row.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{madd, Token};
    use core::arch::x86_64::*;

    /// Rows per step: 8 vectors of sums, the key, the query and a row's vector take 11 of the
    /// 16 registers.
    pub(super) const ROWS: usize = 4;

    /// The sum of a vector's 8 lanes.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn hsum(v: __m256) -> f32 {
        let x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let x = _mm_add_ps(x, _mm_movehl_ps(x, x));
        _mm_cvtss_f32(_mm_add_ss(x, _mm_movehdup_ps(x)))
    }

    /// [`super::step_rows`] for [`ROWS`] rows with AVX2 vectors.
    ///
    /// # Safety
    /// AVX2 and FMA present.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(super) unsafe fn step_rows(tok: &Token, rows: &mut [f32], v: &[f32], o: &mut [f32]) {
        let hd = tok.k.len();
        assert!(tok.q.len() >= hd && rows.len() >= ROWS * hd && v.len() >= ROWS && o.len() >= ROWS);
        let whole = hd / 8 * 8;
        let (kp, qp, rp) = (tok.k.as_ptr(), tok.q.as_ptr(), rows.as_mut_ptr());
        // SAFETY: every access is at `r·hd + i .. r·hd + i + 8` with `r < ROWS` and
        // `i + 8 <= whole <= hd` (or `i + 8 <= whole` into `k` and `q`), or at one element
        // below `hd`, inside the slices checked above; AVX2 and FMA are the caller's.
        unsafe {
            let mut sk = [_mm256_setzero_ps(); ROWS];
            let mut sq = [_mm256_setzero_ps(); ROWS];
            let mut i = 0;
            while i < whole {
                let (kv, qv) = (_mm256_loadu_ps(kp.add(i)), _mm256_loadu_ps(qp.add(i)));
                for r in 0..ROWS {
                    let x = _mm256_loadu_ps(rp.add(r * hd + i));
                    sk[r] = _mm256_fmadd_ps(x, kv, sk[r]);
                    sq[r] = _mm256_fmadd_ps(x, qv, sq[r]);
                }
                i += 8;
            }
            let mut delta = [0f32; ROWS];
            for r in 0..ROWS {
                let (mut tk, mut tq) = (hsum(sk[r]), hsum(sq[r]));
                for i in whole..hd {
                    let x = *rp.add(r * hd + i);
                    tk = madd::<true>(x, *kp.add(i), tk);
                    tq = madd::<true>(x, *qp.add(i), tq);
                }
                (delta[r], o[r]) = tok.delta_out::<true>(tk, tq, v[r]);
            }
            let g = _mm256_set1_ps(tok.g);
            let mut i = 0;
            while i < whole {
                let kv = _mm256_loadu_ps(kp.add(i));
                for (r, &d) in delta.iter().enumerate() {
                    let at = rp.add(r * hd + i);
                    let x = _mm256_mul_ps(_mm256_loadu_ps(at), g);
                    _mm256_storeu_ps(at, _mm256_fmadd_ps(kv, _mm256_set1_ps(d), x));
                }
                i += 8;
            }
            for (r, &d) in delta.iter().enumerate() {
                for i in whole..hd {
                    let at = rp.add(r * hd + i);
                    *at = madd::<true>(*kp.add(i), d, *at * tok.g);
                }
            }
        }
    }
}

/// Rows per group of the path: [`ROWS`], or the vector loops' on the fused paths.
#[inline(always)]
fn group_rows<const FMA: bool>() -> usize {
    #[cfg(target_arch = "aarch64")]
    if FMA {
        return neon::ROWS;
    }
    #[cfg(target_arch = "x86_64")]
    if FMA {
        return avx2::ROWS;
    }
    ROWS
}

/// A group's step ([`group_rows`] rows) on the path: NEON or AVX2 vectors on the fused paths.
#[inline(always)]
fn step_group<const FMA: bool>(tok: &Token, rows: &mut [f32], v: &[f32], o: &mut [f32]) {
    #[cfg(target_arch = "aarch64")]
    if FMA {
        return neon::step_rows(tok, rows, v, o);
    }
    #[cfg(target_arch = "x86_64")]
    if FMA {
        // SAFETY: on x86_64 the fused path is compiled only inside `head_avx2`, reached from
        // `Path::Avx2`, which the AVX2 and AVX-512 tiers select on CPUs with AVX2 and FMA.
        return unsafe { avx2::step_rows(tok, rows, v, o) };
    }
    step_rows::<FMA, ROWS>(tok, rows, v, o)
}

/// Per token (ggml's gated_delta_net): `S = decay·S`, `S += k (beta (v - Sᵀk))ᵀ`,
/// `o = Sᵀq / sqrt(hd)`, as [`Token`] computes it. [`group_rows`] rows of S at a time, each group
/// through a block of tokens while it is in L1 (the rows are independent), so the state is
/// read and written once per block.
#[inline(always)]
fn head_with<const FMA: bool>(r: &RunInput, h: usize, m: &mut [f32], o: &mut [f32]) {
    let (hd, nch, vh) = (r.hd, r.nch, r.vh);
    let kh = h % r.k_heads;
    let (q_off, k_off, v_off) = (kh * hd, r.key_dim + kh * hd, 2 * r.key_dim + h * hd);
    let q_scale = 1.0 / (hd as f32).sqrt();
    let token = |t: usize, kq: f32| {
        let c = &r.c[t * nch..][..nch];
        Token {
            q: &c[q_off..][..hd],
            k: &c[k_off..][..hd],
            kq,
            g: r.gates[t * vh + h],
            beta: r.betas[t * vh + h],
            q_scale,
        }
    };
    let mut t0 = 0;
    while t0 < r.n {
        let t1 = (t0 + TOKEN_BLOCK).min(r.n);
        let mut kqs = [0f32; TOKEN_BLOCK];
        for (t, kq) in (t0..t1).zip(&mut kqs) {
            let c = &r.c[t * nch..][..nch];
            *kq = dot(&c[k_off..][..hd], &c[q_off..][..hd]);
        }
        let group = group_rows::<FMA>();
        for j in (0..hd).step_by(group) {
            let rows = j..(j + group).min(hd);
            let m = &mut m[rows.start * hd..rows.end * hd];
            for (t, &kq) in (t0..t1).zip(&kqs) {
                let tok = token(t, kq);
                let v = &r.c[t * nch + v_off..][rows.clone()];
                let out = &mut o[t * hd..][rows.clone()];
                if rows.len() == group {
                    step_group::<FMA>(&tok, m, v, out);
                } else {
                    for ((m, &v), out) in m.chunks_exact_mut(hd).zip(v).zip(out) {
                        step_rows::<FMA, 1>(&tok, m, &[v], std::slice::from_mut(out));
                    }
                }
            }
        }
        t0 = t1;
    }
}

/// The causal convolution's sums of one token (ggml_ssm_conv: per channel a float sum over
/// the taps in order, from 0): `out[ch] = Σ_i hist[i][ch]·w[ch][i] + x[ch]·w[ch][kernel-1]`,
/// with `w` channel-major (`kernel` taps per channel) and `hist` the last `kernel - 1` inputs,
/// oldest first. The same bits on every path.
pub(crate) fn conv_sums(
    path: Path,
    w: &[f32],
    kernel: usize,
    hist: &[f32],
    x: &[f32],
    out: &mut [f32],
) {
    let nch = out.len();
    assert!(kernel >= 2 && w.len() >= nch * kernel && hist.len() >= (kernel - 1) * nch);
    assert!(x.len() >= nch);
    #[cfg(target_arch = "aarch64")]
    if path == Path::Fma && kernel == 4 {
        return neon::conv4_sums(w, hist, x, out);
    }
    let _ = path;
    // tap by tap over the channels: each channel's sum in the order of the definition
    out.fill(0.0);
    for i in 0..kernel - 1 {
        let h = &hist[i * nch..][..nch];
        for ((o, &hv), wc) in out.iter_mut().zip(h).zip(w.chunks_exact(kernel)) {
            *o += hv * wc[i];
        }
    }
    for ((o, &xv), wc) in out.iter_mut().zip(x).zip(w.chunks_exact(kernel)) {
        *o += xv * wc[kernel - 1];
    }
}
