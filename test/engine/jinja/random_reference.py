#!/usr/bin/python3
"""Random templates for a differential test: whitespace control around nested blocks, and
expressions mixing operators, filters, tests, methods and subscripts over a fixed context.
Renders each with jinja2 configured as transformers does (render_reference.py) and writes the
cases with their outcomes, so the C++ interpreter can be compared on inputs nobody hand-picked.

usage: random_reference.py SEED COUNT OUT.json
OUT.json: [{"template": str, "ok": bool, "output": str, "error": str}, ...]
"""

import copy
import json
import random
import sys

from render_reference import make_environment

CONTEXT = {"x": 5, "y": -2.5, "z": "str", "s": "a b  c", "l": [3, 1, 2], "d": {"b": 2, "a": 1}}

TEXT = ["a", "b", " ", "  ", "\n", "\n\n", "\t", " \n", "\n  ", "x y", "\u3000", "\u00a0", "\r\n", "é"]
# Ints stay within int64 (Python's are unbounded, ours are not).
ATOMS = ["1", "0", "-3", "2.5", "0.1", "1e-5", "1e15", "'ab'", "''", "'Hé'", "none", "true", "false", "[1, 2]", "[]",
         "(1, 'a')", "{'k': 1}", "{}", "x", "y", "z", "missing", "s", "l", "d", "'  pad '", "'a,b'", "7", "-0.0", "3.0"]
BINARY = ["+", "-", "*", "/", "//", "%", "**", "~", "==", "!=", "<", ">", "<=", ">=", "in", "not in", "and", "or"]
# Not here: |reverse and dict views printed directly (Python prints their object addresses).
FILTERS = ["length", "upper", "lower", "trim", "first", "last", "list", "string", "int", "float", "abs", "tojson", "sort",
           "join", "join(',')", "default('D')", "default('D', true)", "capitalize", "title", "unique|list", "min", "max",
           "sum", "round", "round(1)", "items|list", "dictsort", "count", "e", "safe", "indent(2)", "center(6)",
           "replace('a', 'X')", "batch(2)|list", "map('string')|list", "select|list", "reject|list", "tojson(indent=1)",
           "wordcount", "truncate(3, leeway=0)", "format(1)"]
TESTS = ["defined", "undefined", "none", "string", "number", "integer", "float", "mapping", "iterable", "sequence",
         "boolean", "true", "false", "odd", "even", "divisibleby(2)", "in([1, 'ab'])", "lower", "upper", "eq(1)", "gt(0)"]
METHODS = ["strip()", "upper()", "split(',')", "split()", "startswith('a')", "endswith('b')", "replace('a', 'z')",
           "find('b')", "title()", "capitalize()", "lstrip('a')", "count('a')", "get('k')", "get('k', 5)", "index(1)",
           "format(1)"]


def whitespace_template(rng):
    def sign():
        return rng.choice(["", "", "-", "+"])

    def space():
        return rng.choice([" ", "  ", "", "\n", " \n "])

    def text():
        return "".join(rng.choice(TEXT) for _ in range(rng.randint(0, 3)))

    def block(depth):
        parts = []
        for _ in range(rng.randint(1, 4)):
            k = rng.random()
            parts.append(text())
            if k < 0.3:
                parts.append("{{" + rng.choice(["", "-"]) + space() + rng.choice(["'v'", "x", "none", "x|upper"]) + space() +
                             rng.choice(["", "-"]) + "}}")
            elif k < 0.45:
                parts.append("{#" + rng.choice(["", "-"]) + " c " + rng.choice(["", "-", "+"]) + "#}")
            elif k < 0.75 and depth < 3:
                parts.append("{%" + sign() + space() + "if " + rng.choice(["true", "false", "x"]) + space() + sign() + "%}")
                parts.append(block(depth + 1))
                if rng.random() < 0.4:
                    parts.append("{%" + sign() + " else " + sign() + "%}")
                    parts.append(block(depth + 1))
                parts.append("{%" + sign() + space() + "endif" + space() + sign() + "%}")
            elif depth < 3:
                parts.append("{%" + sign() + " for i in [1, 2] " + sign() + "%}")
                parts.append(block(depth + 1))
                parts.append("{%" + sign() + " endfor " + sign() + "%}")
            parts.append(text())
        return "".join(parts)

    source = block(0)
    return source + "\n" if rng.random() < 0.3 else source


def expression_template(rng):
    def expr(depth):
        r = rng.random()
        if depth > 2 or r < 0.3:
            return rng.choice(ATOMS)
        if r < 0.55:
            return "(" + expr(depth + 1) + " " + rng.choice(BINARY) + " " + expr(depth + 1) + ")"
        if r < 0.7:
            return "(" + expr(depth + 1) + "|" + rng.choice(FILTERS) + ")"
        if r < 0.78:
            return "(" + expr(depth + 1) + " is " + rng.choice(["", "not "]) + rng.choice(TESTS) + ")"
        if r < 0.86:
            return "(" + expr(depth + 1) + ")." + rng.choice(METHODS)
        if r < 0.92:
            # Subscripts of names only: jinja2 folds constant expressions at compile time with
            # other rules for what cannot be subscripted.
            return "(" + rng.choice(["x", "y", "z", "s", "l", "d", "missing"]) + ")[" + \
                rng.choice(["0", "-1", "1:", "::-1", "'k'", ":1", "5"]) + "]"
        if r < 0.96:
            return "(not " + expr(depth + 1) + ")"
        return "(" + expr(depth + 1) + " if " + expr(depth + 1) + " else " + expr(depth + 1) + ")"

    return "{{ " + expr(0) + " }}"


def main(argv):
    seed, count, out_path = int(argv[1]), int(argv[2]), argv[3]
    rng = random.Random(seed)
    env = make_environment(1721952000)
    cases = []
    for i in range(count):
        source = whitespace_template(rng) if i % 2 == 0 else expression_template(rng)
        case = {"template": source}
        try:
            # A fresh context each time: some filters mutate lists in place in Python.
            case["output"] = env.from_string(source).render(**copy.deepcopy(CONTEXT))
            case["ok"] = True
        except Exception as e:
            case["ok"] = False
            case["error"] = f"{type(e).__name__}: {e}"
        cases.append(case)
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump({"context": CONTEXT, "cases": cases}, f, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    import warnings

    warnings.simplefilter("ignore")  # jinja2's generated code trips SyntaxWarnings on odd subscripts
    sys.exit(main(sys.argv))
