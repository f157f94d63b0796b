//! Replays the fuzz regression corpus (`fuzz/regressions/<target>/`: every input that ever
//! crashed or hung a target) and a bounded number of seeded random inputs through the same
//! target functions as `make fuzz`, on stable, in every `make test`.

#[path = "../../../fuzz/src/targets.rs"]
#[allow(dead_code)]
mod targets;

use targets::{mutate, repo_root, run, seeds, Rng, TARGETS};

#[test]
fn regression_corpus_replays_without_a_crash() {
    let root = repo_root().join("fuzz/regressions");
    let mut n = 0;
    for t in TARGETS {
        let Ok(dir) = std::fs::read_dir(root.join(t)) else {
            continue;
        };
        let mut files: Vec<_> = dir.flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files {
            if f.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            {
                continue;
            }
            let data = std::fs::read(&f).unwrap();
            eprintln!("replaying {}", f.display());
            assert!(run(t, &data));
            n += 1;
        }
    }
    eprintln!("{n} regression inputs replayed");
}

#[test]
fn seeds_and_random_mutations_do_not_crash() {
    for t in TARGETS {
        let seeds = seeds(t);
        assert!(!seeds.is_empty(), "{t} has no seeds");
        let mut rng = Rng(0x5EED ^ t.len() as u64);
        // Every seed once, then a fixed number of mutants (a quick smoke run; `make fuzz` runs
        // for longer).
        let mutants = match t {
            "keyboard" => 10,
            "reply_warm" => 20,
            _ => 40,
        };
        for (i, s) in seeds.iter().enumerate() {
            assert!(run(t, s), "{t} seed {i}");
        }
        for i in 0..mutants {
            let mut input = seeds[i % seeds.len()].clone();
            mutate(&mut input, &mut rng);
            run(t, &input);
        }
    }
}
