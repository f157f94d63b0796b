//! The CLI on a model file whose chat template is hostile (crashes the template engine, loops,
//! or prints gigabytes): `reply` and `chat` stop with a clear error and exit status 1, never a
//! panic (exit 101), a signal or a hang. (`generate` does not apply the chat template.)

use pocketlm::internals::gguf::synthetic::{SyntheticArch, SyntheticModel};
use pocketlm::internals::gguf::WriteValue;
use pocketlm::internals::quant::GgmlType;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const HOSTILE: [(&str, &str); 3] = [
    ("engine panic", "{{ [][::-1] }}"),
    (
        "endless loop",
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    ),
    (
        "huge output",
        "{% for i in range(100000) %}{{ 'x' * 100000 }}{% endfor %}",
    ),
];

fn model_with_template(dir: &Path, template: &str) -> std::path::PathBuf {
    let mut m = SyntheticModel::new(SyntheticArch::Llama, GgmlType::Q8_0);
    m.set("tokenizer.chat_template", WriteValue::Str(template.into()));
    let path = dir.join("hostile.gguf");
    std::fs::write(&path, m.to_bytes()).unwrap();
    path
}

/// Runs the CLI with `stdin` and a 60 s watchdog (a hang fails the test instead of stalling it).
fn run(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pocketlm"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > Duration::from_secs(60) {
            child.kill().ok();
            panic!("pocketlm {args:?} hung for 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn check(what: &str, cmd: &str, out: &Output, expected: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{cmd} on a template with {what}: status {:?}, stderr:\n{stderr}",
        out.status
    );
    assert!(
        !stderr.contains("panicked"),
        "{cmd} on {what}: a panic was printed:\n{stderr}"
    );
    assert!(
        stderr.contains("error:") && stderr.contains("chat template") && stderr.contains(expected),
        "{cmd} on {what}: no clear error ({expected:?} expected):\n{stderr}"
    );
}

#[test]
fn reply_and_chat_fail_cleanly_on_hostile_templates() {
    let dir = tempfile::tempdir().unwrap();
    for ((what, template), expected) in HOSTILE.iter().zip([
        "crashed the template engine",
        "execution budget",
        "more than",
    ]) {
        let model = model_with_template(dir.path(), template);
        let model = model.to_str().unwrap();
        let out = run(
            &["reply", "--model", model, "--message", "are you coming?"],
            "",
        );
        check(what, "reply", &out, expected);
        let out = run(
            &["chat", "--model", model, "--threads", "1"],
            "hello\nagain\n",
        );
        check(what, "chat", &out, expected);
    }
}

#[test]
fn the_same_model_with_a_sane_template_works() {
    let dir = tempfile::tempdir().unwrap();
    let model = model_with_template(
        dir.path(),
        "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}assistant:",
    );
    let model = model.to_str().unwrap();
    let out = run(
        &[
            "chat",
            "--model",
            model,
            "--threads",
            "1",
            "--max-tokens",
            "4",
        ],
        "hello\n",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("tokens"), "{stderr}");
}
