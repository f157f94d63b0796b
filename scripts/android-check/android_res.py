#!/usr/bin/env python3
"""Android resource helpers for scripts/check-android.sh (no Android SDK needed).

  android_res.py xml FILE...                  each file well-formed XML? (PASS/FAIL line per file)
  android_res.py namespace MODULE_DIR         the module's package: build.gradle.kts `namespace`,
                                              else the manifest's `package`
  android_res.py r-class MODULE_DIR PKG OUT   write OUT (Kotlin) with the `R` class aapt would make
                                              from MODULE_DIR/src/main/res, so sources using
                                              R.layout.x / R.string.y compile; fails when a
                                              manifest or res file references a resource
                                              (@string/x, @xml/y, ...) the module does not define
  android_res.py components MANIFEST PKG CLASSDIR...
                                              every activity/service/receiver/provider/application
                                              class the manifest names exists as a compiled class
Exit status: 0 when everything checked is fine, 1 otherwise (with one line per problem).
"""

import os
import re
import sys
import xml.etree.ElementTree as ET

ANDROID_NS = "{http://schemas.android.com/apk/res/android}"

# Resource directories whose files each define one resource named after the file.
FILE_TYPES = {
    "anim", "animator", "color", "drawable", "font", "interpolator", "layout", "menu", "mipmap",
    "navigation", "raw", "transition", "xml",
}
# <tag name="..."> in res/values*/ -> resource type.
VALUE_TAGS = {
    "string": "string", "string-array": "array", "integer-array": "array", "array": "array",
    "plurals": "plurals", "color": "color", "dimen": "dimen", "bool": "bool",
    "integer": "integer", "fraction": "fraction", "style": "style", "attr": "attr",
    "drawable": "drawable",
}
REF = re.compile(r"@(?:\+)?([a-z]+)/([A-Za-z0-9_.]+)")


def check_xml(files):
    bad = 0
    for f in files:
        try:
            ET.parse(f)
            print(f"PASS  xml {f}")
        except ET.ParseError as e:
            print(f"FAIL  xml {f}: {e}")
            bad += 1
    return 1 if bad else 0


def namespace(module):
    gradle = os.path.join(module, "build.gradle.kts")
    if os.path.isfile(gradle):
        m = re.search(r'\bnamespace\s*=\s*"([^"]+)"', open(gradle, encoding="utf-8").read())
        if m:
            return m.group(1)
    manifest = os.path.join(module, "src", "main", "AndroidManifest.xml")
    if os.path.isfile(manifest):
        try:
            pkg = ET.parse(manifest).getroot().get("package")
        except ET.ParseError:
            return None
        if pkg:
            return pkg
    return None


def res_files(res):
    for d in sorted(os.listdir(res)) if os.path.isdir(res) else []:
        path = os.path.join(res, d)
        if not os.path.isdir(path):
            continue
        for f in sorted(os.listdir(path)):
            yield d, d.split("-")[0], os.path.join(path, f)


def java_name(name):
    return name.replace(".", "_")


def collect(module):
    """The resources a module defines: {type: set(names)}, plus its (file, reference) pairs."""
    res = os.path.join(module, "src", "main", "res")
    defined = {}
    refs = []

    def add(kind, name):
        defined.setdefault(kind, set()).add(java_name(name))

    def scan_refs(path):
        text = open(path, encoding="utf-8").read()
        for m in re.finditer(r'@\+id/([A-Za-z0-9_]+)', text):
            add("id", m.group(1))
        for m in re.finditer(r'(?<![A-Za-z:?])@([a-z]+)/([A-Za-z0-9_.]+)', text):
            refs.append((path, m.group(1), m.group(2)))

    styleables = {}
    for _, kind, path in res_files(res):
        if kind == "values":
            if not path.endswith(".xml"):
                continue
            try:
                root = ET.parse(path).getroot()
            except ET.ParseError:
                continue  # reported by the well-formedness check
            for el in root:
                name = el.get("name")
                if name is None:
                    continue
                if el.tag == "item":
                    add(el.get("type", "id"), name)
                elif el.tag == "declare-styleable":
                    attrs = [a.get("name") for a in el if a.tag == "attr" and a.get("name")]
                    styleables[java_name(name)] = [java_name(a.replace("android:", "android_")) for a in attrs]
                    for a in attrs:
                        if not a.startswith("android:"):
                            add("attr", a)
                elif el.tag in VALUE_TAGS:
                    add(VALUE_TAGS[el.tag], name)
            scan_refs(path)
        elif kind in FILE_TYPES:
            base = os.path.basename(path)
            name = base.split(".")[0]
            add(kind, name)
            if path.endswith(".xml"):
                scan_refs(path)
    manifest = os.path.join(module, "src", "main", "AndroidManifest.xml")
    if os.path.isfile(manifest):
        scan_refs(manifest)
    return defined, styleables, refs


def r_class(module, pkg, out):
    defined, styleables, refs = collect(module)
    problems = []
    for path, kind, name in refs:
        if kind in ("android", "null"):
            continue
        if java_name(name) not in defined.get(kind, set()):
            problems.append(f"{path}: @{kind}/{name} is not defined in {module}/src/main/res")
    lines = [
        "// Generated by scripts/android-check/android_res.py for the compile check only (what aapt",
        "// would generate; the ids are placeholders).",
        f"package {pkg}",
        "",
        "@Suppress(\"ClassName\", \"unused\")",
        "object R {",
    ]
    next_id = 0x7F000000
    for kind in sorted(defined):
        lines.append(f"    object {kind} {{")
        for name in sorted(defined[kind]):
            next_id += 1
            lines.append(f"        const val {name}: Int = {next_id}")
        lines.append("    }")
    if styleables:
        lines.append("    object styleable {")
        for name, attrs in sorted(styleables.items()):
            lines.append(f"        @JvmField val {name}: IntArray = IntArray({len(attrs)})")
            for i, a in enumerate(attrs):
                lines.append(f"        const val {name}_{a}: Int = {i}")
        lines.append("    }")
    lines.append("}")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    for p in problems:
        print(f"FAIL  {p}")
    return 1 if problems else 0


def components(manifest, pkg, classdirs):
    try:
        root = ET.parse(manifest).getroot()
    except ET.ParseError:
        return 0  # reported by the well-formedness check
    pkg = root.get("package") or pkg
    problems = []
    for el in root.iter():
        if el.tag not in ("application", "activity", "service", "receiver", "provider", "activity-alias"):
            continue
        attr = "targetActivity" if el.tag == "activity-alias" else "name"
        name = el.get(ANDROID_NS + attr)
        if not name:
            continue
        if name.startswith("."):
            name = pkg + name
        elif "." not in name:
            name = pkg + "." + name
        if name.startswith("android."):
            continue
        rel = name.replace(".", "/") + ".class"
        if not any(os.path.isfile(os.path.join(d, rel)) for d in classdirs):
            problems.append(f"{manifest}: <{el.tag} android:{attr}=\"{el.get(ANDROID_NS + attr)}\"> "
                            f"names {name}, which no compiled source defines")
    for p in problems:
        print(f"FAIL  {p}")
    return 1 if problems else 0


def main(argv):
    if len(argv) >= 2 and argv[1] == "xml":
        return check_xml(argv[2:])
    if len(argv) == 3 and argv[1] == "namespace":
        ns = namespace(argv[2])
        if ns is None:
            return 1
        print(ns)
        return 0
    if len(argv) == 5 and argv[1] == "r-class":
        return r_class(argv[2], argv[3], argv[4])
    if len(argv) >= 5 and argv[1] == "components":
        return components(argv[2], argv[3], argv[4:])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
