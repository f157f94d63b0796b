fn main() {
    let a: Vec<String> = std::env::args().collect();
    let m = pocketlm::Model::load(&a[1]).unwrap();
    let toks: Vec<u32> = a[2].split(',').map(|x| x.parse().unwrap()).collect();
    let probe: Vec<usize> = a[3].split(',').map(|x| x.parse().unwrap()).collect();
    let mut s = pocketlm::Session::new(
        m.clone(),
        pocketlm::SessionOptions {
            context_length: 512,
            threads: 2,
        },
    )
    .unwrap();
    let mut out = Vec::new();
    s.eval_all(&toks, &mut out).unwrap();
    let v = m.config().vocab_size;
    let mut lp = vec![0f32; v];
    for i in 0..toks.len() {
        pocketlm::ops::log_softmax(&out[i * v..(i + 1) * v], &mut lp);
        println!(
            "{i} {:?}",
            probe
                .iter()
                .map(|&t| (t, (lp[t] * 1e4).round() / 1e4))
                .collect::<Vec<_>>()
        );
    }
}
