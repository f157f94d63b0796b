"""llama.cpp against itself: compares two random-model fixtures (scripts/llama-agreement/
random-fixture.py) of the same model made under different settings, e.g. the checked-in one
(flash attention on) and one made with FLASH_ATTN=0, with the rule of tests/families.rs: top-10
logprobs of the tokens both list, the top-1 at every prompt position and at greedy steps up to
the first step where the two runs chose differently (after that they see different prefixes).

usage: compare-fixtures.py REFERENCE.jsonl OTHER.jsonl
e.g.   FLASH_ATTN=0 python3 scripts/llama-agreement/random-fixture.py \
         ~/.cache/pocketlm/llama.cpp-0.3.36/bin/llama-logprobs models/random/M.gguf /tmp/M.jsonl
       python3 scripts/llama-agreement/compare-fixtures.py tests/fixtures/random/M.jsonl /tmp/M.jsonl
"""
import json
import sys


def main():
    a = [json.loads(line) for line in open(sys.argv[1])]
    b = [json.loads(line) for line in open(sys.argv[2])]
    diffs, first, n, same, worst_gap = [], [], 0, 0, 0.0
    for x, y in zip(a, b):
        assert x["tokens"] == y["tokens"], x["id"]
        rows = list(zip(x["prompt_top10"], y["prompt_top10"]))
        for j, (ga, gb) in enumerate(zip(x["greedy"], y["greedy"])):
            rows.append((x["greedy_top10"][j], y["greedy_top10"][j]))
            if ga != gb:
                break
        for i, (ra, rb) in enumerate(rows):
            other = {int(t): v for t, v in rb}
            for t, v in ra:
                if int(t) in other:
                    diffs.append(abs(v - other[int(t)]))
                    if i == 0:
                        first.append(diffs[-1])
            n += 1
            if ra[0][0] == rb[0][0]:
                same += 1
            else:
                worst_gap = max(worst_gap, ra[0][1] - ra[1][1])
    diffs.sort()
    print(f"{sys.argv[2]}: mean |diff| {sum(diffs) / len(diffs):.4f}, p95 "
          f"{diffs[len(diffs) * 95 // 100]:.4f}, max {diffs[-1]:.4f} (first positions "
          f"{max(first):.4f}); top-1 {same}/{n}, largest top-two gap at a different top-1 "
          f"{worst_gap:.3f}")


if __name__ == "__main__":
    main()
