"""Differential test of lib/jsonschema against Debian's python3-jsonschema
(Draft202012Validator) as a second opinion: random schemas (every
applicator and validation keyword, $ref into $defs, booleans,
unevaluated*) and random instances from a fixed seed, so a run is
reproducible; every disagreement is printed with its schema and instance,
and fails the test.  EXECD_JSONSCHEMA_DIFF_CASES sets the number of
schemas (default 3000), EXECD_JSONSCHEMA_DIFF_SEED the seed.

Kept out of the comparison, each for a reason:
- "pattern" only from a fixed set on which ECMA-262 and Python's re agree;
- "format" (an annotation in both by default).
"""
import json
import os
import random
import subprocess
import sys

try:
    import jsonschema
except ImportError:
    print("SKIP: python3-jsonschema is not installed (the second opinion)")
    sys.exit(77)

ORACLE = sys.argv[1]
CASES = int(os.environ.get("EXECD_JSONSCHEMA_DIFF_CASES", "3000"))
SEED = int(os.environ.get("EXECD_JSONSCHEMA_DIFF_SEED", "20201200"))
rnd = random.Random(SEED)

KEYS = ["a", "b", "c", "d"]
STRINGS = ["", "a", "ab", "abc", "b", "ba", "\u00e9\u00e9", "1", "a1"]
PATTERNS = ["^a", "b$", "^[a-c]+$", "[0-9]", "^$", "a|b", "^.{2}$"]
TYPES = ["null", "boolean", "object", "array", "number", "string", "integer"]


def value(depth=0):
    r = rnd.random()
    if depth > 2 or r < 0.5:
        return rnd.choice([None, True, False, 0, 1, 2, -1, 3, 1.0, 2.5, 0.5, -0.5]
                          + STRINGS)
    if r < 0.75:
        return [value(depth + 1) for _ in range(rnd.randint(0, 4))]
    return {k: value(depth + 1) for k in rnd.sample(KEYS, rnd.randint(0, 3))}


def schema(depth=0, defs=()):
    if rnd.random() < 0.12:
        return rnd.choice([True, False])
    s = {}
    n = rnd.randint(1, 3 if depth < 2 else 2)
    for _ in range(n):
        k = rnd.choice(KEYWORDS if depth < 3 else LEAF_KEYWORDS)
        if k == "$ref" and not defs:
            continue
        s.update(GEN[k](depth + 1, defs))
    return s


def sub(depth, defs):
    return schema(depth, defs)


GEN = {
    "type": lambda d, defs: {"type": rnd.choice(TYPES) if rnd.random() < 0.6
                             else rnd.sample(TYPES, rnd.randint(1, 3))},
    "enum": lambda d, defs: {"enum": [value(2) for _ in range(rnd.randint(1, 3))]},
    "const": lambda d, defs: {"const": value(1)},
    "num": lambda d, defs: {rnd.choice(["minimum", "maximum", "exclusiveMinimum",
                                        "exclusiveMaximum"]): rnd.choice([0, 1, 2, 1.5, -1])},
    "multipleOf": lambda d, defs: {"multipleOf": rnd.choice([1, 2, 0.5, 3])},
    "len": lambda d, defs: {rnd.choice(["minLength", "maxLength"]): rnd.randint(0, 3)},
    "pattern": lambda d, defs: {"pattern": rnd.choice(PATTERNS)},
    "items": lambda d, defs: {"items": sub(d, defs)},
    "prefixItems": lambda d, defs: {"prefixItems": [sub(d, defs) for _ in range(rnd.randint(1, 2))]},
    "contains": lambda d, defs: dict({"contains": sub(d, defs)},
                                     **({rnd.choice(["minContains", "maxContains"]): rnd.randint(0, 2)}
                                        if rnd.random() < 0.5 else {})),
    "count": lambda d, defs: {rnd.choice(["minItems", "maxItems", "minProperties",
                                          "maxProperties"]): rnd.randint(0, 3)},
    "uniqueItems": lambda d, defs: {"uniqueItems": rnd.choice([True, False])},
    "properties": lambda d, defs: {"properties": {k: sub(d, defs)
                                                  for k in rnd.sample(KEYS, rnd.randint(1, 2))}},
    "patternProperties": lambda d, defs: {"patternProperties": {rnd.choice(["^a", "b", "^[cd]$"]): sub(d, defs)}},
    "additionalProperties": lambda d, defs: {"additionalProperties": sub(d, defs)},
    "required": lambda d, defs: {"required": rnd.sample(KEYS, rnd.randint(1, 2))},
    "dependentRequired": lambda d, defs: {"dependentRequired": {rnd.choice(KEYS): rnd.sample(KEYS, 1)}},
    "dependentSchemas": lambda d, defs: {"dependentSchemas": {rnd.choice(KEYS): sub(d, defs)}},
    "propertyNames": lambda d, defs: {"propertyNames": sub(d, defs)},
    "allOf": lambda d, defs: {"allOf": [sub(d, defs) for _ in range(rnd.randint(1, 2))]},
    "anyOf": lambda d, defs: {"anyOf": [sub(d, defs) for _ in range(rnd.randint(1, 3))]},
    "oneOf": lambda d, defs: {"oneOf": [sub(d, defs) for _ in range(rnd.randint(1, 3))]},
    "not": lambda d, defs: {"not": sub(d, defs)},
    "if": lambda d, defs: dict({"if": sub(d, defs)},
                               **({"then": sub(d, defs)} if rnd.random() < 0.7 else {}),
                               **({"else": sub(d, defs)} if rnd.random() < 0.7 else {})),
    "unevaluatedItems": lambda d, defs: {"unevaluatedItems": sub(d, defs)},
    "unevaluatedProperties": lambda d, defs: {"unevaluatedProperties": sub(d, defs)},
    "$ref": lambda d, defs: {"$ref": "#/$defs/" + rnd.choice(defs)},
}
KEYWORDS = list(GEN)
LEAF_KEYWORDS = ["type", "enum", "const", "num", "multipleOf", "len", "pattern", "count",
                 "uniqueItems", "required", "dependentRequired", "$ref"]


def case():
    names = ["x", "y"] if rnd.random() < 0.3 else []
    top = schema(0, tuple(names))
    if names:
        if not isinstance(top, dict):
            top = {"allOf": [top]}
        top["$defs"] = {n: schema(2, ()) for n in names}
    return top, [value() for _ in range(8)]


def main():
    cases = [case() for _ in range(CASES)]
    lines = "".join(json.dumps({"schema": s, "instances": i}) + "\n" for s, i in cases)
    p = subprocess.run([ORACLE], input=lines, capture_output=True, text=True, check=True)
    ours = [json.loads(l) for l in p.stdout.splitlines()]
    assert len(ours) == len(cases), (len(ours), len(cases))
    disagree = checked = 0
    for (s, insts), got in zip(cases, ours):
        if isinstance(got, str):
            print("DISAGREE: a schema python accepts does not compile here:", got, json.dumps(s))
            disagree += 1
            continue
        v = jsonschema.Draft202012Validator(s)
        for inst, g in zip(insts, got):
            want = v.is_valid(inst)
            checked += 1
            if want != g:
                disagree += 1
                if disagree <= 20:
                    print("DISAGREE: python says %s, lib/jsonschema %s\n  schema   %s\n  instance %s"
                          % (want, g, json.dumps(s), json.dumps(inst)))
    print("differential: %d schemas, %d instances checked, %d disagreements (seed %d)"
          % (len(cases), checked, disagree, SEED))
    return 1 if disagree else 0


if __name__ == "__main__":
    sys.exit(main())
