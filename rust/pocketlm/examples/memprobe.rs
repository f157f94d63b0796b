//! Prints anonymous memory after each stage of loading and running a model (Linux).
fn anon_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("RssAnon:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap()
        .parse()
        .unwrap()
}
fn main() {
    let path = std::env::args().nth(1).expect("model path");
    println!("start: {} KiB", anon_kib());
    let m = pocketlm::Model::load(&path).unwrap();
    println!("loaded: {} KiB", anon_kib());
    let mut s = pocketlm::Session::new(
        m.clone(),
        pocketlm::SessionOptions {
            context_length: 256,
            threads: 2,
        },
    )
    .unwrap();
    println!("session: {} KiB", anon_kib());
    let toks: Vec<u32> = (0..128).map(|i| 300 + i).collect();
    s.eval(&toks).unwrap();
    println!("prefill 128: {} KiB", anon_kib());
    for i in 0..128 {
        s.eval(&[400 + i]).unwrap();
    }
    println!(
        "256 tokens: {} KiB (kv cache {} KiB)",
        anon_kib(),
        s.cache_bytes() / 1024
    );
}
