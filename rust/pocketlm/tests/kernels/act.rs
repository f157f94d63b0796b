//! Gated activations: every tier against the libm scalar reference, and the pool split.

use pocketlm::internals::kernels::act::{
    glu, glu_parallel, glu_reference, silu, silu_reference, softcap, softcap_reference, GluAct,
};
use pocketlm::internals::kernels::ThreadPool;

/// Inputs covering the interesting range: tiny, ordinary, large of both signs, and lengths
/// that leave a SIMD remainder.
fn inputs(n: usize) -> (Vec<f32>, Vec<f32>) {
    let gate: Vec<f32> = (0..n)
        .map(|i| {
            let t = i as f32 / n as f32;
            match i % 4 {
                0 => (t - 0.5) * 24.0,
                1 => (t - 0.5) * 200.0,
                2 => (t - 0.5) * 1e-3,
                _ => (t - 0.5) * 6.0,
            }
        })
        .collect();
    let up: Vec<f32> = (0..n).map(|i| 1.0 + (i % 7) as f32 * 0.25 - 0.75).collect();
    (gate, up)
}

#[test]
fn glu_every_tier_matches_reference() {
    for act in [GluAct::Silu, GluAct::GeluTanh] {
        for n in [1usize, 7, 8, 13, 64, 1001] {
            let (gate, up) = inputs(n);
            let mut want = gate.clone();
            glu_reference(act, &mut want, &up);
            for tier in super::tiers_under_test() {
                let mut got = gate.clone();
                glu(tier, act, &mut got, &up);
                for i in 0..n {
                    // a few ulp of |x · up| (the reference's own `1 + tanh` cancellation for
                    // negative x is of that order too)
                    let tol = 4e-7 * (gate[i] * up[i]).abs().max(1e-30) + 1e-37;
                    assert!(
                        (got[i] - want[i]).abs() <= tol,
                        "{act:?} {tier}: x = {}, up = {}: {} vs reference {}",
                        gate[i],
                        up[i],
                        got[i],
                        want[i]
                    );
                }
            }
        }
    }
}

#[test]
fn silu_every_tier_matches_reference() {
    for n in [1usize, 3, 4, 7, 8, 13, 64, 1001] {
        let (x, _) = inputs(n);
        let mut want = x.clone();
        silu_reference(&mut want);
        for tier in super::tiers_under_test() {
            let mut got = x.clone();
            silu(tier, &mut got);
            for i in 0..n {
                let tol = 4e-7 * x[i].abs().max(1e-30) + 1e-37;
                assert!(
                    (got[i] - want[i]).abs() <= tol,
                    "{tier}: x = {}: {} vs reference {}",
                    x[i],
                    got[i],
                    want[i]
                );
            }
        }
    }
}

#[test]
fn glu_parallel_matches_single_thread() {
    let pool = ThreadPool::new(3);
    let tier = pocketlm::internals::kernels::selected_tier();
    for act in [GluAct::Silu, GluAct::GeluTanh] {
        for n in [5usize, 40_000, 100_003] {
            let (gate, up) = inputs(n);
            let mut want = gate.clone();
            glu(tier, act, &mut want, &up);
            let mut got = gate.clone();
            glu_parallel(&pool, act, &mut got, &up);
            assert_eq!(got, want, "{act:?}, n = {n}");
        }
    }
}

#[test]
fn softcap_every_tier_matches_reference() {
    for cap in [30.0f32, 15.0] {
        for n in [1usize, 3, 4, 7, 8, 13, 64, 1001] {
            let (x, _) = inputs(n);
            let mut want = x.clone();
            softcap_reference(&mut want, cap);
            for tier in super::tiers_under_test() {
                let mut got = x.clone();
                softcap(tier, &mut got, cap);
                for i in 0..n {
                    // a few ulp of `cap` (the SIMD form ends in `2·cap / (1 + e) - cap`)
                    let tol = 4e-7 * cap;
                    assert!(
                        (got[i] - want[i]).abs() <= tol,
                        "{tier}: cap {cap}, x = {}: {} vs reference {}",
                        x[i],
                        got[i],
                        want[i]
                    );
                }
            }
        }
    }
}
