//! Attention over the f16 KV cache: every SIMD tier against the scalar reference, and the
//! blocked online-softmax `attend` against a two-pass f64 reference.

use half::f16;
use pocketlm::internals::kernels::attention::{
    accum_f16, accum_scalar, attend, attend_reference, exp_sum, exp_sum_scalar, scores_f16,
    scores_scalar, AttnScratch, KvHead, QueryBlock, KEY_BLOCK, MAX_QUERIES,
};
use pocketlm::internals::kernels::Tier;

use super::Rng;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Data {
    Random,
    /// Values near the f16 maximum (65504).
    Large,
    /// f16 subnormals (and their negatives).
    Subnormal,
}

fn f16s(rng: &mut Rng, n: usize, data: Data) -> Vec<f16> {
    (0..n)
        .map(|_| match data {
            Data::Random => f16::from_f32(rng.sym() * 2.0),
            Data::Large => f16::from_f32(rng.sym() * 65000.0),
            Data::Subnormal => {
                let bits = (1 + (rng.u64() % 0x3FF) as u16) | ((rng.u64() as u16) & 0x8000);
                f16::from_bits(bits)
            }
        })
        .collect()
}

fn f32s(rng: &mut Rng, n: usize, scale: f32) -> Vec<f32> {
    (0..n).map(|_| rng.sym() * scale).collect()
}

fn simd_tiers() -> Vec<Tier> {
    super::tiers_under_test()
        .into_iter()
        .filter(|&t| t != Tier::Scalar)
        .collect()
}

const HEAD_DIMS: [usize; 7] = [8, 16, 24, 64, 72, 256, 12];
const QUERIES: [usize; 8] = [1, 2, 3, 4, 5, 9, 12, 32];
const KEYS: [usize; 5] = [1, 2, 7, 33, 64];

#[test]
fn scores_match_scalar_on_every_tier() {
    let mut rng = Rng::new(11);
    let mut checked = 0;
    for tier in super::tiers_under_test() {
        for data in [Data::Random, Data::Large, Data::Subnormal] {
            for hd in HEAD_DIMS {
                for nq in QUERIES {
                    for nk in KEYS {
                        // keys interleaved with other heads: stride > hd, offset start
                        let stride = hd * 3;
                        let k = f16s(&mut rng, nk * stride + hd, data);
                        let k = &k[hd..];
                        let qs = if data == Data::Subnormal { 1e4 } else { 1.0 };
                        let q = f32s(&mut rng, nq * hd, qs);
                        let os = nk + 3;
                        let mut want = vec![f32::NAN; nq * os];
                        let mut got = want.clone();
                        scores_scalar(&q, nq, hd, k, stride, nk, &mut want, os);
                        scores_f16(tier, &q, nq, hd, k, stride, nk, &mut got, os);
                        for j in 0..nq {
                            for t in 0..nk {
                                let mag: f32 = q[j * hd..][..hd]
                                    .iter()
                                    .zip(&k[t * stride..][..hd])
                                    .map(|(a, b)| (a * b.to_f32()).abs())
                                    .sum();
                                let (w, g) = (want[j * os + t], got[j * os + t]);
                                assert!(
                                    (w - g).abs() <= 1e-5 * mag + 1e-30,
                                    "{tier} {data:?} hd {hd} nq {nq} nk {nk} [{j},{t}]: \
                                     {g} vs scalar {w}"
                                );
                                checked += 1;
                            }
                            // the padding between rows is untouched
                            assert!(want[j * os + nk..][..3].iter().all(|x| x.is_nan()));
                            assert!(got[j * os + nk..][..3].iter().all(|x| x.is_nan()));
                        }
                    }
                }
            }
        }
    }
    assert!(checked > 0);
}

#[test]
fn accum_matches_scalar_on_every_tier() {
    let mut rng = Rng::new(12);
    for tier in super::tiers_under_test() {
        for data in [Data::Random, Data::Large, Data::Subnormal] {
            for hd in HEAD_DIMS {
                for nq in QUERIES {
                    for nk in KEYS {
                        let stride = hd * 2 + 8;
                        let v = f16s(&mut rng, nk * stride + hd, data);
                        let v = &v[hd..];
                        let ps = nk + 5;
                        // probabilities in [0, 1] as after the softmax
                        let p: Vec<f32> = (0..nq * ps).map(|_| rng.f32()).collect();
                        let acc0 = f32s(&mut rng, nq * hd, 3.0);
                        let mut want = acc0.clone();
                        let mut got = acc0.clone();
                        accum_scalar(&p, ps, nq, v, stride, nk, hd, &mut want);
                        accum_f16(tier, &p, ps, nq, v, stride, nk, hd, &mut got);
                        for j in 0..nq {
                            for d in 0..hd {
                                let mag: f32 = acc0[j * hd + d].abs()
                                    + (0..nk)
                                        .map(|t| (p[j * ps + t] * v[t * stride + d].to_f32()).abs())
                                        .sum::<f32>();
                                let (w, g) = (want[j * hd + d], got[j * hd + d]);
                                assert!(
                                    (w - g).abs() <= 1e-5 * mag + 1e-30,
                                    "{tier} {data:?} hd {hd} nq {nq} nk {nk} [{j},{d}]: \
                                     {g} vs scalar {w}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn simd_f16_conversion_is_exact_for_every_finite_value() {
    // A unit query picks one key element: the score is that f16 value converted exactly.
    let keys: Vec<f16> = (0..=u16::MAX)
        .map(f16::from_bits)
        .filter(|h| h.is_finite())
        .collect();
    let hd = 8;
    let nk = keys.len() / hd;
    for tier in super::tiers_under_test() {
        for lane in 0..hd {
            let mut q = vec![0.0f32; hd];
            q[lane] = 1.0;
            let mut out = vec![0.0f32; nk];
            scores_f16(tier, &q, 1, hd, &keys, hd, nk, &mut out, nk);
            for (t, &o) in out.iter().enumerate() {
                let want = keys[t * hd + lane].to_f32();
                // `==`: a key of -0.0 may come out as +0.0 (sum with the other lanes' zeros)
                assert!(
                    o == want,
                    "{tier}: f16 {:#06x} gave {o}, want {want}",
                    keys[t * hd + lane].to_bits()
                );
            }
        }
    }
}

#[test]
fn exp_sum_matches_scalar_on_every_tier() {
    let mut rng = Rng::new(14);
    for tier in super::tiers_under_test() {
        for n in [0, 1, 3, 7, 8, 9, 16, 63, 64, 65] {
            for (m, spread) in [(0.0, 1.0), (5.0, 20.0), (100.0, 1000.0), (-3.0, 0.5)] {
                let mut x: Vec<f32> = (0..n).map(|_| m - rng.f32() * spread).collect();
                if n > 2 {
                    x[0] = m; // the maximum itself: exp(0) = 1
                    x[1] = m - 87.0; // near the bottom of the f32 range
                }
                let mut want = x.clone();
                let want_sum = exp_sum_scalar(&mut want, m);
                let mut got = x.clone();
                let got_sum = exp_sum(tier, &mut got, m);
                for i in 0..n {
                    let exact = ((x[i] - m) as f64).exp();
                    assert!(
                        (got[i] as f64 - exact).abs() <= 4e-7 * exact + 1e-37,
                        "{tier} n {n}: exp({}) = {} vs {exact}",
                        x[i] - m,
                        got[i]
                    );
                }
                assert!(
                    (got_sum - want_sum).abs() <= 1e-6 * want_sum.max(1e-30),
                    "{tier} n {n}: sum {got_sum} vs scalar {want_sum}"
                );
            }
        }
        // arguments past both ends of the range stay finite and ordered
        let mut x = vec![-1e4, -200.0, -90.0, 0.0, 10.0, 87.0];
        exp_sum(tier, &mut x, 0.0);
        assert!(
            x.iter().all(|v| v.is_finite() && *v >= 0.0),
            "{tier}: {x:?}"
        );
        assert!(x.windows(2).all(|w| w[0] <= w[1]), "{tier}: {x:?}");
        assert_eq!(x[3], 1.0, "{tier}");
    }
}

/// One attention problem: `rows` consecutive positions ending at `last_pos`, `heads` query
/// heads on one KV head, optional window and soft-cap.
struct Case {
    hd: usize,
    heads: usize,
    rows: usize,
    last_pos: usize,
    window: Option<usize>,
    softcap: Option<f32>,
    q_scale: f32,
    data: Data,
}

fn run_case(tier: Tier, c: &Case, rng: &mut Rng, scratch: &mut AttnScratch) {
    let (hd, heads) = (c.hd, c.heads);
    let n_kv = 2; // another KV head interleaved, so strides and offsets matter
    let stride = n_kv * hd;
    let len = c.last_pos + 1;
    let k = f16s(rng, len * stride, c.data);
    let v = f16s(rng, len * stride, Data::Random);
    let kv = KvHead {
        k: &k[hd..],
        v: &v[hd..],
        stride,
    };
    let q_stride = heads * hd + 8;
    let q = f32s(rng, c.rows * q_stride, c.q_scale);
    let ranges: Vec<(usize, usize)> = (0..c.rows)
        .map(|r| {
            let end = c.last_pos + 1 - (c.rows - 1 - r);
            (c.window.map_or(0, |w| end.saturating_sub(w)), end)
        })
        .collect();
    let out_stride = heads * hd + 4;
    let mut out = vec![f32::NAN; c.rows * out_stride];
    let qb = QueryBlock {
        q: &q,
        q_stride,
        heads,
        ranges: &ranges,
    };
    attend(tier, hd, &qb, kv, c.softcap, scratch, &mut out, out_stride);
    let vmax = v.iter().map(|x| x.to_f32().abs()).fold(0.0, f32::max);
    // Scores of size S carry f32 rounding of ~S·1e-7 into the weights.
    let tol = if c.q_scale > 10.0 || c.data == Data::Large {
        5e-3
    } else {
        2e-5
    } * vmax;
    let mut want = vec![0.0f32; hd];
    for (r, &range) in ranges.iter().enumerate() {
        for h in 0..heads {
            attend_reference(
                &q[r * q_stride + h * hd..][..hd],
                kv,
                hd,
                range,
                c.softcap,
                &mut want,
            );
            let got = &out[r * out_stride + h * hd..][..hd];
            for d in 0..hd {
                assert!(
                    (got[d] - want[d]).abs() <= tol,
                    "{tier} hd {hd} heads {heads} rows {} last_pos {} window {:?} cap {:?} \
                     q×{} {:?}: row {r} head {h} [{d}] {} vs reference {}",
                    c.rows,
                    c.last_pos,
                    c.window,
                    c.softcap,
                    c.q_scale,
                    c.data,
                    got[d],
                    want[d]
                );
            }
        }
        // gaps between output rows are untouched
        assert!(out[r * out_stride + heads * hd..][..4]
            .iter()
            .all(|x| x.is_nan()));
    }
}

/// The attention problems of [`attend_matches_reference_on_every_tier`] for these head sizes
/// (two halves, so that the test harness runs them on two threads: under qemu each half is the
/// longest test of the suite).
fn attend_cases(head_dims: &[usize], edge_cases: bool) -> Vec<Case> {
    let mut cases = Vec::new();
    for &hd in head_dims {
        for heads in [1, 3, 4, 9] {
            for (rows, last_pos) in [
                (1, 0),
                (1, 1),
                (1, 62),
                (1, 63),
                (1, 64),
                (1, 200),
                (3, 2),
                (7, 70),
                (13, 129),
                (MAX_QUERIES + 5, 300),
            ] {
                if rows > last_pos + 1 {
                    continue;
                }
                for window in [None, Some(1), Some(5), Some(KEY_BLOCK), Some(100)] {
                    cases.push(Case {
                        hd,
                        heads,
                        rows,
                        last_pos,
                        window,
                        softcap: None,
                        q_scale: 0.3,
                        data: Data::Random,
                    });
                }
            }
        }
    }
    if !edge_cases {
        return cases;
    }
    // soft-capping, large scores (max subtraction), large and subnormal keys
    for (softcap, q_scale, data) in [
        (Some(50.0), 30.0, Data::Random),
        (Some(0.5), 1.0, Data::Random),
        (None, 200.0, Data::Random),
        (None, 1e-3, Data::Large),
        (None, 1.0, Data::Subnormal),
    ] {
        for (hd, heads, rows, last_pos, window) in [
            (64, 3, 1, 100, None),
            (64, 3, 10, 100, Some(33)),
            (256, 4, 8, 90, Some(512)),
            (256, 4, 1, 7, None),
        ] {
            cases.push(Case {
                hd,
                heads,
                rows,
                last_pos,
                window,
                softcap,
                q_scale,
                data,
            });
        }
    }
    cases
}

fn attend_on_every_tier(cases: &[Case], seed: u64) {
    let mut rng = Rng::new(seed);
    for tier in super::tiers_under_test() {
        let mut scratch = AttnScratch::default();
        for c in cases {
            run_case(tier, c, &mut rng, &mut scratch);
        }
    }
}

#[test]
fn attend_matches_reference_on_every_tier() {
    attend_on_every_tier(&attend_cases(&[64, 12], true), 13);
    for tier in simd_tiers() {
        println!("attention [{tier}]: matches scalar and reference");
    }
}

#[test]
fn attend_matches_reference_on_every_tier_wide_heads() {
    attend_on_every_tier(&attend_cases(&[256, 24], false), 14);
}
