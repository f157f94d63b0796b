#!/usr/bin/env python3
"""Reference renderings of llama.cpp's chat-template corpus by Python jinja2, the engine Hugging
Face `transformers` renders chat templates with, under its conventions (sandboxed environment,
trim_blocks + lstrip_blocks, loop controls, `{% generation %}` blocks rendering their content,
`raise_exception`, `tojson` without ASCII escaping). PocketLM's renderer (minijinja) is tested
against these outputs: rust/pocketlm/tests/chat_templates.rs.

    scripts/gen-template-refs.sh            # regenerate tests/fixtures/chat-templates.jsonl
    scripts/gen-template-refs.sh --check    # fail if the fixture is stale

The conversation and the context are PocketLM's conventions, shared with the Rust test:
- messages: system, user, assistant, user (CONVERSATION below); add_generation_prompt = true;
- bos_token "<s>", eos_token "</s>"; `tools` and `functions` empty (a list, and for
  `functions`, which templates concatenate to text, an empty string); the date variables
  llama.cpp passes (`datetime`, `date_string`) and `strftime_now` give "" (a fixed prompt);
- a template that raises an exception when the first message is a system message gets the system
  text folded into the first user message (system + "\\n" + user), as llama.cpp does for
  templates that do not support the system role.
"""
import hashlib
import json
import os
import sys

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment

CONVERSATION = [
    {"role": "system", "content": "You are a helpful assistant. Answer briefly."},
    {"role": "user", "content": "Hello! What is 2+2?"},
    {"role": "assistant", "content": "2+2 is 4."},
    {"role": "user", "content": "And what is 3+3?"},
]
BOS, EOS = "<s>", "</s>"


class TemplateRaised(Exception):
    pass


def raise_exception(message):
    raise TemplateRaised(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


class Generation(Extension):
    """`{% generation %}...{% endgeneration %}` renders its body (transformers' AssistantTracker
    when no assistant mask is requested)."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def make_env():
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[Generation, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: ""
    return env


def fold_system(messages):
    if len(messages) > 1 and messages[0]["role"] == "system":
        first = dict(messages[1])
        first["content"] = messages[0]["content"] + "\n" + first["content"]
        return [first] + messages[2:]
    return messages[1:] if messages and messages[0]["role"] == "system" else messages


def render(env, source, messages):
    tmpl = env.from_string(source)
    return tmpl.render(
        messages=messages,
        add_generation_prompt=True,
        bos_token=BOS,
        eos_token=EOS,
        tools=[],
        functions="",
        datetime="",
        date_string="",
    )


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def main():
    check = "--check" in sys.argv
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    src = os.environ["LLAMA_SRC"]
    tdir = os.path.join(src, "models", "templates")
    out_path = os.path.join(root, "tests", "fixtures", "chat-templates.jsonl")
    env = make_env()
    lines = []
    for name in sorted(os.listdir(tdir)):
        if not name.endswith(".jinja"):
            continue
        with open(os.path.join(tdir, name), "rb") as f:
            raw = f.read()
        source = raw.decode("utf-8")
        rec = {"template": name, "sha256": hashlib.sha256(raw).hexdigest(), "fnv1a64": f"{fnv1a64(raw):016x}"}
        try:
            try:
                rec["text"] = render(env, source, CONVERSATION)
                rec["folded_system"] = False
            except TemplateRaised:
                rec["text"] = render(env, source, fold_system(CONVERSATION))
                rec["folded_system"] = True
        except Exception as e:  # the reference could not render it either
            rec["text"] = None
            rec["error"] = f"{type(e).__name__}: {e}"
        lines.append(json.dumps(rec, ensure_ascii=False))
    text = "\n".join(lines) + "\n"
    if check:
        old = open(out_path, encoding="utf-8").read() if os.path.exists(out_path) else ""
        if old != text:
            sys.exit(f"{out_path} is stale: run scripts/gen-template-refs.sh and commit it")
        return
    with open(out_path, "w", encoding="utf-8") as f:
        f.write(text)
    n_err = sum(1 for l in lines if json.loads(l)["text"] is None)
    print(f"wrote {out_path}: {len(lines)} templates, {n_err} jinja2 could not render", file=sys.stderr)


if __name__ == "__main__":
    main()
