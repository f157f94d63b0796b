#!/usr/bin/env python3
"""Validates generated JSON against JSON Schemas with Python's `jsonschema` (an implementation
independent of llguidance). Reads JSON lines {"schema": <schema>, "output": "<text>"} on stdin;
writes one line per input: {"parses": bool, "valid": bool, "error": str|null}.
Run with the venv of scripts/setup-jsonschema.sh."""
import json
import sys

import jsonschema

for line in sys.stdin:
    if not line.strip():
        continue
    case = json.loads(line)
    result = {"parses": False, "valid": False, "error": None}
    try:
        value = json.loads(case["output"])
        result["parses"] = True
        cls = jsonschema.validators.validator_for(case["schema"])
        cls.check_schema(case["schema"])
        cls(case["schema"]).validate(value)
        result["valid"] = True
    except Exception as e:  # noqa: BLE001 - any failure is reported, not raised
        result["error"] = f"{type(e).__name__}: {e}"[:300]
    print(json.dumps(result), flush=True)
