#!/usr/bin/python3
"""Reference renders of chat templates with Python's jinja2, configured as Hugging Face
transformers configures it in _compile_jinja_template (chat_template_utils.py), so the C++
interpreter can be compared with it byte for byte.

usage: render_reference.py JOB.json OUT.json

JOB.json: {"now": <unix seconds for strftime_now>,
           "templates": {name: source, ...},
           "cases": [{"id": str, "template": name, "conversation": {...},
                      "add_generation_prompt": bool, "bos_token": str, "eos_token": str}, ...]}
OUT.json: [{"id": str, "ok": true, "output": str}
           | {"id": str, "ok": false, "error_type": str, "message": str, "raised": bool}, ...]

Exit status 3 means jinja2 is missing: the caller must fail loudly, not skip.
"""

import json
import sys
from datetime import datetime

try:
    import jinja2
    import jinja2.ext
    from jinja2.exceptions import TemplateError
    from jinja2.ext import Extension
    from jinja2.sandbox import ImmutableSandboxedEnvironment
except ImportError as e:  # pragma: no cover - the C++ test reports this
    sys.stderr.write(f"jinja2 is not importable by {sys.executable}: {e}\n"
                     "install it with scripts/install-deps.sh --test (Debian: python3-jinja2)\n")
    sys.exit(3)


class RaisedByTemplate(TemplateError):
    """What raise_exception() raises: transformers raises TemplateError(message)."""


class AssistantTracker(Extension):
    """transformers' {% generation %} tag; it only records where assistant text sits, so for
    rendering it is its body."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_generation_support"), [], [], body).set_lineno(lineno)

    @jinja2.pass_eval_context
    def _generation_support(self, context, caller):
        return caller()


def make_environment(now):
    def raise_exception(message):
        raise RaisedByTemplate(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        # transformers' override: plain json.dumps instead of jinja2's HTML-safe tojson.
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return datetime.fromtimestamp(now).strftime(format)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def render_case(compiled, case):
    conversation = case["conversation"]
    kwargs = {
        "messages": conversation["messages"],
        "tools": conversation.get("tools"),
        "documents": None,
        "add_generation_prompt": case["add_generation_prompt"],
        "bos_token": case["bos_token"],
        "eos_token": case["eos_token"],
    }
    kwargs.update(conversation.get("extra", {}))
    return compiled.render(**kwargs)


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        job = json.load(f)
    env = make_environment(job["now"])
    compiled = {}
    compile_errors = {}
    for name, source in job["templates"].items():
        try:
            compiled[name] = env.from_string(source)
        except Exception as e:  # a template jinja2 cannot parse must fail to parse in C++ too
            compile_errors[name] = e
    results = []
    for case in job["cases"]:
        name = case["template"]
        try:
            if name in compile_errors:
                raise compile_errors[name]
            output = render_case(compiled[name], case)
            results.append({"id": case["id"], "ok": True, "output": output})
        except Exception as e:
            results.append({
                "id": case["id"],
                "ok": False,
                "error_type": type(e).__name__,
                "message": str(e),
                "raised": isinstance(e, RaisedByTemplate),
            })
    with open(argv[2], "w", encoding="utf-8") as f:
        json.dump(results, f, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
