#!/usr/bin/python3
"""The cases of golden_test.cpp, and the generator of its tables: each expected string is what
Python's jinja2 renders with transformers' configuration (render_reference.py's environment).

usage: /usr/bin/python3 golden_cases.py   (rewrites the tables in golden_test.cpp in place)
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from render_reference import make_environment  # noqa: E402

CASES = [
 # whitespace control
 ("trim_blocks", "{% if true %}\nyes\n{% endif %}\nafter", {}),
 ("lstrip_blocks", "a\n    {% if true %}\n    b\n    {% endif %}\nc", {}),
 ("lstrip_not_for_variables", "a\n    {{ 'x' }}\nc", {}),
 ("minus_strips_both_sides", "a   \n  {{- 'x' -}}  \n  b", {}),
 ("block_minus", "x\n{%- if true -%}\n  y  \n{%- endif -%}\n z", {}),
 ("plus_disables_lstrip", "a\n    {%+ if true %}b{% endif %}", {}),
 ("plus_disables_trim", "{% if true +%}\nb{% endif %}", {}),
 ("comment_trim", "a\n  {# note #}\nb {#- c -#} c", {}),
 ("trailing_newline_dropped", "line\n", {}),
 ("crlf_normalised", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\n", {}),
 ("raw_block", "{% raw %}{{ not }} {% tags %}{% endraw %}", {}),
 ("lstrip_after_text_on_line", "x {% if true %}y{% endif %}", {}),
 # printing
 ("print_types", "{{ none }}|{{ true }}|{{ false }}|{{ 1 }}|{{ 1.0 }}|{{ 0.5 }}|{{ 1e-5 }}|{{ 1e16 }}|{{ 123456789.0 }}|{{ -0.0 }}|{{ 2.5e-7 }}", {}),
 ("print_containers", "{{ [1, 'a', none, true, 1.5, {'k': 'v'}] }}|{{ {'a': [1, 2], 'b': none} }}|{{ (1,) }}|{{ (1, 'x') }}|{{ [] }}|{{ {} }}", {}),
 ("print_repr_quotes", "{{ [\"it's\", 'say \"hi\"', 'both \\' \"', 'new\\nline', 'tab\\t', 'back\\\\slash'] }}", {}),
 ("print_repr_unicode", "{{ ['caf\u00e9', '\u00a0', '\u3000', '\u200b', '\U0001F600', '\x7f', '\x01'] }}", {}),
 ("print_undefined", "[{{ missing }}][{{ missing_attr.x if false }}]", {}),
 ("print_dict_order", "{{ d }}", {"d": {"z": 1, "a": 2, "m": 3}}),
 # literals and operators
 ("string_escapes", "{{ 'a\\tb\\n' ~ \"\\u00e9\\x41\\101\" ~ 'q\\'' ~ '\\d' }}", {}),
 ("adjacent_strings", "{{ 'a' 'b' \"c\" }}", {}),
 ("integer_literals", "{{ 0x1F }} {{ 0o17 }} {{ 0b101 }} {{ 1_000 }} {{ 1_0.5 }} {{ 1e3 }}", {}),
 ("arithmetic", "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 7 / 2 }} {{ 6 / 3 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ 1 + 2.5 }} {{ true + 1 }} {{ 3 * 'ab' }} {{ [1] * 3 }} {{ 'ab' * 0 }}", {}),
 ("concat_tilde", "{{ 1 ~ 'a' ~ none ~ true ~ missing ~ [1] }}", {}),
 ("comparisons", "{{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }} {{ 1 == 1.0 }} {{ true == 1 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ none == none }} {{ missing == missing }} {{ 'a' != 'a' }} {{ 2 >= 2 }}", {}),
 ("and_or_return_operands", "{{ 0 or 'x' }}|{{ 'a' and 'b' }}|{{ '' and 'b' }}|{{ none or [] }}|{{ not 0 }}|{{ not 'x' }}|{{ missing or 'd' }}", {}),
 ("in_operator", "{{ 'a' in 'cat' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 'z' not in {'k': 1} }} {{ 'x' in missing }} {{ [1] in [[1], 2] }}", {}),
 ("conditional_expr", "{{ 'y' if true else 'n' }}|{{ 'y' if false else 'n' }}|{{ 'y' if false }}|{{ 1 if 0 else 2 if 0 else 3 }}", {}),
 ("unary", "{{ -3 }} {{ - -3 }} {{ +2 }} {{ -1.5 }} {{ -(2 + 3) }} {{ -2 ** 2 }}", {}),
 ("filter_precedence", "{{ -1|abs }} {{ 'ab' ~ 'cd'|upper }} {{ '  x '|trim + '!' }} {{ 1 + 2|string|length }}", {}),
 # variables and scoping
 ("set_and_scope", "{% set x = 1 %}{% for i in [1, 2] %}{% set x = x + i %}{{ x }},{% endfor %}{{ x }}", {}),
 ("set_in_if_leaks", "{% if true %}{% set y = 'in' %}{% endif %}{{ y }}", {}),
 ("loop_body_fresh_each_iteration", "{% for i in [1, 2] %}{% if i == 1 %}{% set x = 'a' %}{% endif %}[{{ x }}]{% endfor %}", {}),
 ("namespace", "{% set ns = namespace(count=0, found=false) %}{% for i in [1, 2, 3] %}{% set ns.count = ns.count + i %}{% if i == 2 %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.count }} {{ ns.found }} {{ ns.missing is defined }}", {}),
 ("namespace_print", "{{ namespace(a=1, b='x') }}", {}),
 ("tuple_unpack_set", "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set c, d = [3, 4] %}{{ c }}{{ d }}", {}),
 ("block_set", "{% set greeting %}Hello {{ name }}!{% endset %}[{{ greeting }}]", {"name": "Ann"}),
 ("block_set_filter", "{% set s | upper %}quiet {{ 1 + 1 }}{% endset %}{{ s }}", {}),
 ("context_override", "{% set messages = messages[1:] %}{{ messages|length }}", {"messages": [1, 2, 3]}),
 ("with_block", "{% set a = 1 %}{% with a = 2, b = a %}{{ a }}{{ b }}{% endwith %}{{ a }}", {}),
 # loops
 ("loop_vars", "{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}", {}),
 ("loop_prev_next", "{% for x in [1, 2, 3] %}({{ loop.previtem }},{{ loop.nextitem }}){% endfor %}", {}),
 ("loop_cycle_changed", "{% for x in [1, 1, 2] %}{{ loop.cycle('a', 'b') }}{{ loop.changed(x) }} {% endfor %}", {}),
 ("loop_filter", "{% for x in range(10) if x is odd %}{{ x }}{{ ',' if not loop.last }}{% endfor %}", {}),
 ("for_else", "{% for x in [] %}{{ x }}{% else %}empty{% endfor %}|{% for x in [1] %}{{ x }}{% else %}empty{% endfor %}", {}),
 ("break_continue", "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}", {}),
 ("loop_over_dict", "{% for k in d %}{{ k }}{% endfor %}|{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}|{% for k, v in d|items %}{{ k }}{{ v }}{% endfor %}", {"d": {"b": 1, "a": 2}}),
 ("nested_loops", "{% for a in [1, 2] %}{% for b in 'xy' %}{{ loop.index }}{{ a }}{{ b }} {% endfor %}{{ loop.index }}|{% endfor %}", {}),
 ("loop_over_undefined_and_string", "{% for x in missing %}no{% endfor %}{% for c in 'h\u00e9' %}[{{ c }}]{% endfor %}", {}),
 ("reverse_slice_loop", "{% for m in messages[::-1] %}{{ m }}{% endfor %}", {"messages": ["a", "b", "c"]}),
 # macros
 ("macro_basic", "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('Bo') }} {{ greet('Al', punct='?') }} {{ greet(name='Cy') }}", {}),
 ("macro_recursive", "{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1)|int }}{% endif %}{% endmacro %}{{ fact(5) }}", {}),
 ("macro_varargs_kwargs", "{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, x=4) }}", {}),
 ("macro_sees_outer", "{% set x = 1 %}{% macro m() %}{{ x }}{% endmacro %}{% set x = 2 %}{{ m() }}", {}),
 ("macro_missing_arg", "{% macro m(a, b) %}[{{ a }}][{{ b }}]{% endmacro %}{{ m(1) }}", {}),
 ("call_block", "{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}bold {{ 1 + 1 }}{% endcall %}", {}),
 ("call_block_args", "{% macro each(items) %}{% for i in items %}{{ caller(i) }}{% endfor %}{% endmacro %}{% call(item) each([1, 2]) %}<{{ item }}>{% endcall %}", {}),
 ("filter_block", "{% filter upper %}shout {{ 'this' }}{% endfilter %}", {}),
 # attribute / item access
 ("attr_vs_item", "{{ m.role }} {{ m['role'] }} {{ m.get('role') }} {{ m.get('nope', 'dflt') }} {{ m.items is defined }} {{ m['items'] }} {{ m.nope is defined }}", {"m": {"role": "user", "items": "I"}}),
 ("index_and_slice", "{{ l[0] }} {{ l[-1] }} {{ l[5] is defined }} {{ l[1:] }} {{ l[:-1] }} {{ l[::2] }} {{ l[::-1] }} {{ 'h\u00e9llo'[1] }} {{ 'h\u00e9llo'[1:3] }} {{ 'hello'[::-1] }} {{ l.0 }}", {"l": [1, 2, 3, 4]}),
 ("none_attribute_is_undefined", "{{ x.y is defined }} {{ n.y is defined }} {{ s.nope is defined }}", {"x": None, "n": 1, "s": "str"}),
 # tests
 ("tests", "{{ 1 is number }}{{ true is number }}{{ 1 is integer }}{{ true is integer }}{{ 1.0 is float }}{{ 'a' is string }}{{ {} is mapping }}{{ [] is sequence }}{{ 'a' is sequence }}{{ {} is iterable }}{{ 1 is iterable }}{{ none is none }}{{ true is boolean }}{{ false is false }}{{ 1 is true }}{{ 3 is odd }}{{ 4 is even }}{{ 9 is divisibleby 3 }}{{ 'a' is lower }}{{ 'A' is upper }}{{ missing is undefined }}{{ 2 is in [1, 2] }}{{ 'x' is eq 'x' }}{{ 3 is gt 2 }}{{ x is sameas none }}{{ 'upper' is filter }}{{ 'odd' is test }}", {"x": None}),
 ("is_not", "{{ x is not none }} {{ y is not defined }} {{ not x is defined }}", {"x": 1}),
 ("test_without_parens", "{{ 10 is divisibleby 5 }} {{ 'a' is equalto 'a' }}", {}),
 # filters
 ("filters_string", "{{ '  hi  '|trim }}|{{ 'xxhixx'|trim('x') }}|{{ 'hello world'|title }}|{{ 'hELLO'|capitalize }}|{{ 'Hi'|upper }}{{ 'Hi'|lower }}|{{ 'aaa'|replace('a', 'b', 2) }}|{{ 'abc'|center(7) }}|{{ 'ab'|reverse }}|{{ 'a-b (c) d'|title }}", {}),
 ("filters_length_list", "{{ 'h\u00e9'|length }} {{ [1, 2]|count }} {{ {'a': 1}|length }} {{ 'ab'|list }} {{ {'a': 1, 'b': 2}|list }} {{ missing|length }}", {}),
 ("filters_first_last", "{{ [1, 2, 3]|first }} {{ [1, 2, 3]|last }} {{ 'abc'|first }} {{ []|first is defined }}", {}),
 ("filters_join", "{{ [1, 'a', none]|join(', ') }}|{{ users|join(', ', attribute='name') }}|{{ 'abc'|join('-') }}", {"users": [{"name": "a"}, {"name": "b"}]}),
 ("filters_default", "{{ missing|default('d') }} {{ ''|default('d') }} {{ ''|default('d', true) }} {{ none|d('n') }} {{ missing|d }}", {}),
 ("filters_int_float", "{{ '42'|int }} {{ '42.7'|int }} {{ 'x'|int }} {{ 'x'|int(7) }} {{ 3.9|int }} {{ '0x1A'|int(0, 16) }} {{ '1.5'|float }} {{ 'x'|float }} {{ 2|float }} {{ true|int }} {{ ' 12 '|int }}", {}),
 ("filters_string_conv", "{{ 12|string ~ 'a' }} {{ none|string }} {{ [1]|string }} {{ 1.5|string }}", {}),
 ("filters_tojson", "{{ data|tojson }}|{{ data|tojson(indent=2) }}|{{ 'caf\u00e9 \"q\" </s>'|tojson }}|{{ data|tojson(sort_keys=true) }}|{{ [1.0, 1e-07, 1e22, 3]|tojson }}|{{ 'x\u00e9'|tojson(ensure_ascii=true) }}|{{ data|tojson(separators=(',', ':')) }}", {"data": {"b": [1, {"c": None}], "a": True, "\u00e9": "\U0001F600"}}),
 ("filters_tojson_indent_string", "{{ {'a': [1, 2], 'b': {}}|tojson(indent='\t') }}|{{ []|tojson(indent=2) }}|{{ [[]]|tojson(indent=0) }}", {}),
 ("filters_items_dictsort", "{% for k, v in d|dictsort %}{{ k }}{{ v }}{% endfor %}|{% for k, v in d|dictsort(by='value', reverse=true) %}{{ k }}{% endfor %}|{{ d|dictsort }}", {"d": {"b": 1, "A": 3, "c": 2}}),
 ("filters_select", "{{ nums|select('odd')|list }} {{ nums|reject('odd')|list }} {{ nums|select|list }} {{ nums|select('gt', 2)|list }} {{ nums|select('in', [1, 4])|list }}", {"nums": [0, 1, 2, 3, 4]}),
 ("filters_selectattr", "{{ msgs|selectattr('role', 'equalto', 'user')|map(attribute='content')|list }} {{ msgs|rejectattr('role', 'eq', 'user')|list|length }} {{ msgs|selectattr('tool_calls')|list|length }} {{ msgs|selectattr('tool_calls', 'undefined')|list|length }} {{ msgs|selectattr('tool_calls', 'defined')|list|length }}", {"msgs": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "tool_calls": [1]}, {"role": "user", "content": "c"}]}),
 ("filters_map", "{{ ['a', 'b']|map('upper')|join }} {{ xs|map(attribute='n', default=0)|list }} {{ xs|map(attribute='n.v', default=0)|list }} {{ [' a ', 'b ']|map('trim')|list }} {{ ['1', '2']|map('int')|sum }}", {"xs": [{"n": {"v": 1}}, {}]}),
 ("filters_sort_unique", "{{ [3, 1, 2]|sort }} {{ [3, 1, 2]|sort(reverse=true) }} {{ ['b', 'A', 'c']|sort }} {{ ['b', 'A', 'c']|sort(case_sensitive=true) }} {{ us|sort(attribute='age')|map(attribute='n')|join }} {{ ['a', 'A', 'b', 'a']|unique|list }} {{ us|sort(attribute='age,n')|map(attribute='n')|join }}", {"us": [{"n": "x", "age": 3}, {"n": "y", "age": 1}, {"n": "z", "age": 3}]}),
 ("filters_min_max_sum", "{{ [3, 1, 2]|max }} {{ [3, 1, 2]|min }} {{ ['b', 'A']|max }} {{ [1, 2.5]|sum }} {{ us|sum(attribute='age') }} {{ us|max(attribute='age') }} {{ []|max is defined }}", {"us": [{"age": 3}, {"age": 5}]}),
 ("filters_round_abs", "{{ 2.5|round }} {{ 3.5|round }} {{ 2.675|round(2) }} {{ 1.23456|round(3, 'floor') }} {{ 1.2|round(0, 'ceil') }} {{ 3|round }} {{ -3|abs }} {{ -2.5|abs }} {{ 1234|round(-2) }} {{ 42.55|round }}", {}),
 ("filters_indent", "{{ 'a\\nb\\n\\nc'|indent }}|{{ 'a\\nb'|indent(2, true) }}|{{ 'a\\n\\nb'|indent(width='> ', blank=true) }}", {}),
 ("filters_batch_slice", "{{ [1, 2, 3, 4, 5]|batch(2)|list }} {{ [1, 2, 3]|batch(2, 0)|list }} {{ [1, 2, 3, 4, 5]|slice(2)|list }}", {}),
 ("filters_misc", "{{ 'a b  c'|wordcount }} {{ '<b>x</b>  y'|striptags }} {{ 'long text here'|truncate(9, leeway=0) }} {{ 'a b'|urlencode }} {{ '%s-%d'|format('a', 3) }} {{ '<&>'|e }} {{ '<x>'|safe }} {{ [1, 2]|attr('count') is defined }}", {}),
 ("filters_groupby", "{% for g in us|groupby('k') %}{{ g.grouper }}:{{ g.list|map(attribute='n')|join }};{% endfor %}", {"us": [{"k": "b", "n": 1}, {"k": "a", "n": 2}, {"k": "b", "n": 3}]}),
 ("markup_contagion", "{{ '<p>'|safe + '<q>' }}|{{ '<a>' + '<b>'|safe }}|{{ '<x>'|e ~ '<y>' }}|{{ ('%s' | safe) % '<z>' }}|{{ '<i>'|safe is escaped }}", {}),
 # string methods
 ("str_methods", "{{ ' a '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'a,b,c'.rsplit(',', 1) }}|{{ 'Ab'.startswith('A') }}{{ 'Ab'.endswith(('x', 'b')) }}|{{ 'ab'.upper() }}{{ 'AB'.lower() }}|{{ \"they're bill's\".title() }}|{{ 'aXb'.replace('X', '-') }}|{{ 'hello'.find('l') }}{{ 'hello'.rfind('l') }}{{ 'hello'.find('z') }}|{{ '-'.join(['a', 'b']) }}|{{ 'a\\nb\\r\\nc'.splitlines() }}|{{ 'abcabc'.count('b') }}|{{ '5'.zfill(3) }}|{{ 'x'.center(5, '*') }}|{{ 'a=b=c'.partition('=') }}|{{ 'abc'.removeprefix('a') }}|{{ ' x'.lstrip() }}{{ 'x '.rstrip() }}|{{ '12'.isdigit() }}{{ 'ab'.isalpha() }}", {}),
 ("str_format", "{{ '{} and {}'.format('a', 'b') }}|{{ '{1}{0}'.format('x', 'y') }}|{{ '{name}!'.format(name='N') }}|{{ '{:>5}|{:<4}|{:^5}'.format('a', 'b', 'c') }}|{{ '{:.2f} {:d} {:05d} {:,}'.format(3.14159, 42, 7, 1234567) }}|{{ '{0[k]}'.format(d) }}|{{ '{!r}'.format('q') }}|{{ '{{}}'.format() }}", {"d": {"k": "v"}}),
 ("percent_format", "{{ '%s|%5s|%-5s|%d|%05.1f|%x|%r|%%' % ('a', 'b', 'c', 42, 3.14159, 255, 'q') }}|{{ '%(a)s-%(b)d' % {'a': 'x', 'b': 2} }}|{{ '%s' % 'solo' }}|{{ '%.2e' % 12345.678 }}|{{ '%g' % 0.0001 }}", {}),
 ("dict_methods", "{{ d.keys()|list }} {{ d.values()|list }} {{ d.items()|list }} {{ d.get('a') }} {{ d.get('z') }}", {"d": {"a": 1, "b": [2]}}),
 ("list_methods", "{{ l.index(2) }} {{ l.count(1) }} {{ l.copy() }}", {"l": [1, 2, 1]}),
 # globals
 ("range", "{{ range(3)|list }} {{ range(1, 7, 2)|list }} {{ range(5, 0, -2)|list }} {{ range(0)|list }}", {}),
 ("dict_global", "{{ dict(a=1, b='x') }} {{ dict({'z': 0}, y=1) }}", {}),
 ("strftime_now", "{{ strftime_now('%d %b %Y') }}", {}),
 ("joiner_cycler", "{% set j = joiner('|') %}{% for x in 'abc' %}{{ j() }}{{ x }}{% endfor %} {% set c = cycler('x', 'y') %}{{ c.next() }}{{ c.next() }}{{ c.next() }}{{ c.current }}", {}),
 # generation tag
 ("generation_tag", "A{% generation %}gen {{ 1 }}{% endgeneration %}B", {}),
 # equality of dicts / lists
 ("deep_equality", "{{ a == b }} {{ a == c }} {{ [1, [2]] == [1, [2]] }} {{ (1, 2) == [1, 2] }} {{ a in [c, b] }}", {"a": {"x": 1, "y": [1, {"z": None}]}, "b": {"y": [1, {"z": None}], "x": 1}, "c": {"x": 2}}),
 # unicode
 ("unicode_strings", "{{ 'h\u00e9llo w\u00f6rld'|upper }} {{ '\u00c9COLE \u0393\u0394'|lower }} {{ '\u4f60\u597d'|length }} {{ '\U0001F600x'[1] }} {{ '\u00e9t\u00e9'.title() }} {{ 'stra\u00dfe'|upper }}", {}),
 ("split_maxsplit", "{{ ' a b '.split(none, 0) }} {{ 'a b c '.split(none, 1) }} {{ ' a b c'.rsplit(none, 1) }} {{ '  '.split(none, 0) }} {{ ' x '.rsplit(none, 0) }} {{ 'a,b,c'.split(',', 0) }} {{ ''.split(',') }} {{ ''.split() }} {{ 'a::b'.split('::') }}", {}),
 ("lstrip_rstrip_chars", "{{ 'xxhixy'.lstrip('x') }} {{ 'xxhixy'.rstrip('xy') }} {{ '\n\nhi\n'.strip('\n') }} {{ 'hi'.strip('') }}", {}),
 ("loop_over_items_tuple_print", "{% for pair in {'a': 1}.items() %}{{ pair }}{% endfor %} {{ {'a': 1}.items()|list }}", {}),
 ("none_in_string_concat_tilde", "{{ none ~ 'x' }} {{ 'x' ~ 1.0 }} {{ [none] ~ '' }}", {}),
 ("if_elif_else", "{% for n in [1, 2, 3] %}{% if n == 1 %}one{% elif n == 2 %}two{% else %}many{% endif %} {% endfor %}", {}),
 ("nested_namespace_in_macro", "{% set ns = namespace(items=[]) %}{% macro add(x) %}{% set ns.items = ns.items + [x] %}{% endmacro %}{{ add(1) }}{{ add(2) }}{{ ns.items }}", {}),
 ("messages_index_negative", "{{ messages[-1].role }} {{ messages[0]['content'] }} {{ (messages|last).content }}", {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]}),
 ("pow_of_negative_literal", "{{ -2 ** x }} {{ -2 ** 2 }} {{ -(2) ** x }} {{ - -2 ** x }} {{ -2.5 ** x }} {{ -0.0 ** x }} {{ -2 ** (1 + 1) }} {{ 2 ** -x }} {{ -x ** 2 }}", {"x": 2}),
 ("percent_mapping_like", "{{ 'no specifiers' % [1] }}|{{ '%s' % [1, 2] }}|{{ 'x' % {} }}", {}),
 ("int_of_big_float_fails_not", "{{ 1e15|int }} {{ -2.9|int }}", {}),
 ("parenthesized_targets", "{% for (k, v) in d.items() %}{{ k }}{{ v }}{% endfor %} {% set (a, b) = [1, 2] %}{{ a }}{{ b }} {% for (x) in [[1]] %}{{ x }}{% endfor %}", {"d": {"a": 1, "b": 2}}),
 ("namespace_cycles_print", "{% set ns = namespace(a=1) %}{% set ns.me = ns %}{{ ns }} {% set n2 = namespace(l=[]) %}{% set n2.l = [n2] %}{{ n2.l }}", {}),
 ("unicode_whitespace_strip", "[{{ '\u3000\u00a0 x \u2028'|trim }}] {{ 'a\u3000b'.split() }}", {}),
]

ERROR_CASES = [
 ("undefined_attribute_of_undefined", "{{ missing.attr }}", {}),
 ("undefined_plus", "{{ missing + 1 }}", {}),
 ("str_plus_int", "{{ 'a' + 1 }}", {}),
 ("none_plus_str", "{{ none + 'a' }}", {}),
 ("raise_exception", "{{ raise_exception('Roles must alternate!') }}", {}),
 ("call_non_callable", "{{ 'x'() }}", {}),
 ("division_by_zero", "{{ 1 / 0 }}", {}),
 ("modulo_by_zero", "{{ 1 % 0 }}", {}),
 ("compare_mixed", "{{ 1 < 'a' }}", {}),
 ("iterate_int", "{% for x in 5 %}{% endfor %}", {}),
 ("length_of_generator", "{{ [1]|map('string')|length }}", {}),
 ("list_append_blocked", "{{ l.append(1) }}", {"l": []}),
 ("dict_update_blocked", "{{ d.update({'a': 1}) }}", {"d": {}}),
 ("set_attr_on_non_namespace", "{% set x = 1 %}{% set x.a = 2 %}", {}),
 ("tojson_undefined", "{{ missing|tojson }}", {}),
 ("unpack_mismatch", "{% set a, b = [1, 2, 3] %}", {}),
 ("range_too_big", "{{ range(100001)|length }}", {}),
 ("macro_too_many_args", "{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}", {}),
 ("macro_unknown_kwarg", "{% macro m(a) %}{% endmacro %}{{ m(b=1) }}", {}),
 ("in_int", "{{ 1 in 2 }}", {}),
 ("int_in_string", "{{ 1 in 'a1' }}", {}),
 ("undefined_call", "{{ nothing() }}", {}),
 ("slice_step_zero", "{{ [1][::0] }}", {}),
 ("unknown_filter_in_if_when_run", "{% if true %}{{ 1|nosuchfilter }}{% endif %}", {}),
]

SYNTAX_ERRORS = [
 ("unknown_filter", "line 1\n{{ x|nosuchfilter }}"),
 ("unknown_test", "{{ x is nosuchtest }}"),
 ("unclosed_block", "{% if true %}open"),
 ("unclosed_variable", "{{ x "),
 ("bad_token", "{{ x $ y }}"),
 ("unknown_tag", "{% frobnicate %}"),
 ("endfor_without_for", "{% endfor %}"),
 ("unbalanced_paren", "{{ (1 + 2 }}"),
 ("unclosed_comment", "{# never closed"),
 ("break_outside_loop", "{% break %}"),
 ("unclosed_string", "{{ 'abc }}"),
 ("do_not_enabled", "{% do x %}"),
]


def c_string(s):
    out = '"'
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out += '\\"'
        elif ch == "\\":
            out += "\\\\"
        elif ch == "\n":
            out += "\\n"
        elif ch == "\t":
            out += "\\t"
        elif ch == "\r":
            out += "\\r"
        elif o < 0x20 or o == 0x7F:
            out += '\\x%02x""' % o
        elif o > 0x7F:
            out += "".join("\\x%02x" % b for b in ch.encode("utf-8")) + '""'
        else:
            out += ch
    return out + '"'


def tables():
    env = make_environment(1721952000)
    golden, failing, syntax = [], [], []
    for name, source, context in CASES:
        output = env.from_string(source).render(**context)
        golden.append(f"  {{{c_string(name)}, {c_string(source)}, {c_string(json.dumps(context, ensure_ascii=False))}, "
                      f"{c_string(output)}}},\n")
    for name, source, context in ERROR_CASES:
        try:
            env.from_string(source).render(**context)
        except Exception as e:
            failing.append(f"  {{{c_string(name)}, {c_string(source)}, "
                           f"{c_string(json.dumps(context, ensure_ascii=False))}}},  // {type(e).__name__}: {str(e)[:80]}\n")
        else:
            raise SystemExit(f"{name} renders in jinja2; it is not an error case")
    for name, source in SYNTAX_ERRORS:
        try:
            env.from_string(source)
        except Exception as e:
            syntax.append(f"  {{{c_string(name)}, {c_string(source)}}},  // {type(e).__name__}: {str(e)[:80]}\n")
        else:
            raise SystemExit(f"{name} parses in jinja2; it is not a syntax error case")
    return "".join(golden), "".join(failing), "".join(syntax)


def replace_table(text, start_marker, end_marker, body):
    start = text.index(start_marker) + len(start_marker)
    end = text.index(end_marker, start)
    return text[:start] + body + text[end:]


def main():
    golden, failing, syntax = tables()
    path = os.path.join(HERE, "golden_test.cpp")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    text = replace_table(text, "const Golden kGolden[] = {\n", "};\n", golden)
    text = replace_table(text, "const Failing kFailing[] = {\n", "};\n", failing)
    text = replace_table(text, "const BadSyntax kBadSyntax[] = {\n", "};\n", syntax)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
