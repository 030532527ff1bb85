"""The parser: every construct of SPEC §1 to its typed AST, locations, and syntax errors."""

from __future__ import annotations

import pytest

from compiler.syntax import ast
from compiler.syntax.parser import U256_MAX, parse

from conftest import dedent, fmt, parse_ok


# ------------------------------------------------------------------ helpers


def sexpr(e: ast.Expr) -> str:
    """An expression as a fully parenthesised S-expression, to check the tree's shape."""
    if isinstance(e, ast.Binary):
        return f"({e.op} {sexpr(e.left)} {sexpr(e.right)})"
    if isinstance(e, ast.Unary):
        return f"({e.op} {sexpr(e.operand)})"
    if isinstance(e, ast.Name):
        return e.id
    if isinstance(e, ast.IntLit):
        return str(e.value)
    if isinstance(e, ast.BoolLit):
        return "true" if e.value else "false"
    if isinstance(e, ast.Member):
        return f"{sexpr(e.obj)}.{e.name}"
    if isinstance(e, ast.Index):
        return f"{sexpr(e.base)}[{', '.join(sexpr(k) for k in e.keys)}]"
    if isinstance(e, ast.Call):
        return f"{e.func}({', '.join(sexpr(a) for a in e.args)})"
    if isinstance(e, ast.MethodCall):
        return f"{sexpr(e.obj)}.{e.method}({', '.join(sexpr(a) for a in e.args)})"
    raise AssertionError(f"unexpected node {e!r}")


def type_str(t: ast.TypeExpr | None) -> str:
    if t is None:
        return "-"
    if isinstance(t, ast.NamedType):
        return t.name
    if isinstance(t, ast.MapType):
        return f"map<{type_str(t.key)}, {type_str(t.value)}>"
    if isinstance(t, ast.ArrayType):
        return f"array<{type_str(t.elem)}, {sexpr(t.size)}>"
    if isinstance(t, ast.TupleType):
        return "(" + ", ".join(type_str(i) for i in t.items) + ")"
    raise AssertionError(t)


def body_of(stmts: str) -> list[ast.Stmt]:
    """The statements of ``fn f()`` whose body is ``stmts``."""
    module = parse_ok("contract C {\n    fn f() {\n" + stmts + "\n    }\n}\n")
    return module.contracts[0].functions[0].body.stmts


def expr_of(text: str) -> ast.Expr:
    (stmt,) = body_of(f"let x = {text};")
    assert isinstance(stmt, ast.Let)
    return stmt.value


def span(node_or_loc) -> tuple[int, int, int, int]:
    loc = node_or_loc.loc if isinstance(node_or_loc, ast.Node) else node_or_loc
    return (loc.line, loc.column, loc.end_line, loc.end_column)


# ---------------------------------------------------------------- top level


def test_empty_file_is_an_empty_module():
    module, diags = parse("", "empty.lane")
    assert diags == []
    assert module.imports == [] and module.contracts == []
    assert module.file == "empty.lane"


def test_imports_and_several_contracts_per_file():
    module = parse_ok('''
        import "token.lane";
        import "lib/math.lane";

        contract A {}
        contract B { storage x: u256; }
        contract C {}
        ''')
    assert [i.path for i in module.imports] == ["token.lane", "lib/math.lane"]
    assert [c.name for c in module.contracts] == ["A", "B", "C"]
    assert module.contracts[0].members == []
    assert [s.name for s in module.contracts[1].storage] == ["x"]


def test_members_of_a_contract():
    module = parse_ok('''
        contract Pool {
            storage token0: Token;
            storage reserves: map<Token, u256>;
            storage positions: map<(address, u256), u256>;
            storage allowances: map<address, map<address, u256>>;
            const FEE_BPS: u256 = 30;
            event Swap(trader: address, amount_in: u256, amount_out: u256);
            event Ping();
            init(t0: Token, t1: Token) { token0 = t0; }
            pub fn swap(amount_in: u256, min_out: u256) -> u256 { return 0; }
            pub view fn quote(amount_in: u256) -> u256 { return 0; }
            view fn peek() -> bool { return true; }
            fn fee(x: u256) -> u256 { return x * FEE_BPS / 10_000; }
            fn noop() {}
            pub fn batch(to: array<address, 16>, amounts: array<u256, MAX>,) {}
        }
        ''')
    (c,) = module.contracts
    assert [(s.name, type_str(s.type)) for s in c.storage] == [
        ("token0", "Token"),
        ("reserves", "map<Token, u256>"),
        ("positions", "map<(address, u256), u256>"),
        ("allowances", "map<address, map<address, u256>>"),
    ]
    (const,) = c.consts
    assert (const.name, type_str(const.type), sexpr(const.value)) == ("FEE_BPS", "u256", "30")
    assert [(e.name, [(p.name, type_str(p.type)) for p in e.params]) for e in c.events] == [
        ("Swap", [("trader", "address"), ("amount_in", "u256"), ("amount_out", "u256")]),
        ("Ping", []),
    ]
    (init,) = c.inits
    assert init.is_init and init.name == "init" and init.return_type is None
    assert [(p.name, type_str(p.type)) for p in init.params] == [("t0", "Token"), ("t1", "Token")]
    sigs = [(f.name, f.is_pub, f.is_view, [type_str(p.type) for p in f.params], type_str(f.return_type))
            for f in c.functions]
    assert sigs == [
        ("swap", True, False, ["u256", "u256"], "u256"),
        ("quote", True, True, ["u256"], "u256"),
        ("peek", False, True, [], "bool"),
        ("fee", False, False, ["u256"], "u256"),
        ("noop", False, False, [], "-"),
        ("batch", True, False, ["array<address, 16>", "array<u256, MAX>"], "-"),
    ]
    # Members keep their source order.
    kinds = [type(m).__name__ for m in c.members]
    assert kinds == ["StorageDecl"] * 4 + ["ConstDecl", "EventDecl", "EventDecl"] + ["FunctionDecl"] * 7


# --------------------------------------------------------------- statements


def test_every_statement_form():
    stmts = body_of('''
        let x: u256 = 1;
        let y = x;
        x = 2;
        m[k] = 3;
        m[a][b] = 4;
        positions[a, id] = 5;
        x += 1;
        x -= 1;
        x *= 2;
        x /= 2;
        if c { x = 1; } else if d { x = 2; } else { x = 3; }
        if c { }
        for i in a..b { x += i; }
        require(c, "message");
        require(c);
        revert("boom");
        revert();
        emit Swap(msg.sender, x, y);
        return e;
        return;
        t.transfer(to, amount);
        helper(1);
    ''')
    kinds = [type(s).__name__ for s in stmts]
    assert kinds == ["Let", "Let", "Assign", "Assign", "Assign", "Assign", "Assign", "Assign", "Assign", "Assign",
                     "If", "If", "For", "Require", "Require", "Revert", "Revert", "Emit", "Return", "Return",
                     "ExprStmt", "ExprStmt"]
    let_typed, let_inferred = stmts[0], stmts[1]
    assert (let_typed.name, type_str(let_typed.type), sexpr(let_typed.value)) == ("x", "u256", "1")
    assert (let_inferred.name, let_inferred.type, sexpr(let_inferred.value)) == ("y", None, "x")
    assigns = [(sexpr(s.target), s.op, sexpr(s.value)) for s in stmts[2:10]]
    assert assigns == [
        ("x", "=", "2"), ("m[k]", "=", "3"), ("m[a][b]", "=", "4"), ("positions[a, id]", "=", "5"),
        ("x", "+=", "1"), ("x", "-=", "1"), ("x", "*=", "2"), ("x", "/=", "2"),
    ]
    # m[a][b] is an index of an index; positions[a, id] one index with two keys.
    nested, tuple_key = stmts[4].target, stmts[5].target
    assert isinstance(nested.base, ast.Index) and len(nested.keys) == 1
    assert isinstance(tuple_key.base, ast.Name) and len(tuple_key.keys) == 2

    chain = stmts[10]
    assert sexpr(chain.cond) == "c"
    assert isinstance(chain.orelse, ast.If) and sexpr(chain.orelse.cond) == "d"
    assert isinstance(chain.orelse.orelse, ast.Block) and len(chain.orelse.orelse.stmts) == 1
    assert stmts[11].orelse is None and stmts[11].then.stmts == []

    loop = stmts[12]
    assert (loop.var, sexpr(loop.start), sexpr(loop.end)) == ("i", "a", "b")
    assert len(loop.body.stmts) == 1

    assert (sexpr(stmts[13].cond), stmts[13].message) == ("c", "message")
    assert (sexpr(stmts[14].cond), stmts[14].message) == ("c", None)
    assert stmts[15].message == "boom" and stmts[16].message is None
    emit = stmts[17]
    assert (emit.event, [sexpr(a) for a in emit.args]) == ("Swap", ["msg.sender", "x", "y"])
    assert sexpr(stmts[18].value) == "e" and stmts[19].value is None
    assert sexpr(stmts[20].expr) == "t.transfer(to, amount)"
    assert isinstance(stmts[20].expr, ast.MethodCall)
    assert sexpr(stmts[21].expr) == "helper(1)" and isinstance(stmts[21].expr, ast.Call)


def test_string_escapes_in_messages():
    (stmt,) = body_of(r'require(ok, "say \"hi\"\n\\ done");')
    assert stmt.message == 'say "hi"\n\\ done'


def test_for_bound_expressions():
    (loop,) = body_of("for i in 0..min(n, K) + 1 { }")
    assert sexpr(loop.end) == "(+ min(n, K) 1)"


# -------------------------------------------------------------- expressions


@pytest.mark.parametrize("text, shape", [
    # §1.5: || then && then == != then < <= > >= then + - then * / % then unary !.
    ("a || b && c == d < e + f * g", "(|| a (&& b (== c (< d (+ e (* f g))))))"),
    ("a * b + c < d == e && f || g", "(|| (&& (== (< (+ (* a b) c) d) e) f) g)"),
    ("!a && b", "(&& (! a) b)"),
    ("!!a", "(! (! a))"),
    ("!(a && b)", "(! (&& a b))"),
    ("a || b || c", "(|| (|| a b) c)"),
    ("a && b && c", "(&& (&& a b) c)"),
    ("a - b - c", "(- (- a b) c)"),
    ("a / b / c", "(/ (/ a b) c)"),
    ("a - b + c", "(+ (- a b) c)"),
    ("a % b * c", "(* (% a b) c)"),
    ("a - (b - c)", "(- a (- b c))"),
    ("a / (b / c)", "(/ a (/ b c))"),
    ("(a + b) * c", "(* (+ a b) c)"),
    ("((a))", "a"),
    ("(a || b) && c", "(&& (|| a b) c)"),
    ("a < b == c >= d", "(== (< a b) (>= c d))"),
    ("a != b == c", "(== (!= a b) c)"),
    ("a <= b", "(<= a b)"),
    ("a > b", "(> a b)"),
    ("!m[k] || !msg.sender == self", "(|| (! m[k]) (== (! msg.sender) self))"),
    ("m[a][b] + m[a, b]", "(+ m[a][b] m[a, b])"),
    ("t.f(1)[2]", "t.f(1)[2]"),
    ("block.number * block.timestamp", "(* block.number block.timestamp)"),
    ("min(a, max(b, c)) + len(xs)", "(+ min(a, max(b, c)) len(xs))"),
    ("u256(a) + u256(address(n))", "(+ u256(a) u256(address(n)))"),
    ("Token(addr).balance_of(self)", "Token(addr).balance_of(self)"),
    ("f(a, b,)", "f(a, b)"),
    ("true && !false", "(&& true (! false))"),
])
def test_precedence_and_associativity(text, shape):
    assert sexpr(expr_of(text)) == shape


def test_node_kinds_of_expressions():
    e = expr_of("t.f(x).g(m[a, b], msg.sender)")
    assert isinstance(e, ast.MethodCall) and e.method == "g"
    assert isinstance(e.obj, ast.MethodCall) and isinstance(e.obj.obj, ast.Name)
    index, member = e.args
    assert isinstance(index, ast.Index) and [k.id for k in index.keys] == ["a", "b"]
    assert isinstance(member, ast.Member) and (member.obj.id, member.name) == ("msg", "sender")


@pytest.mark.parametrize("text, value", [
    ("0", 0),
    ("42", 42),
    ("1_000_000", 1_000_000),
    ("0xff", 255),
    ("0XFF", 255),
    ("0xdead_beef", 0xDEADBEEF),
    ("0x0", 0),
    ("007", 7),
    (str(U256_MAX), U256_MAX),
    ("0x" + "f" * 64, U256_MAX),
    ("0x" + "ffff_" * 15 + "ffff", U256_MAX),
])
def test_integer_literals(text, value):
    lit = expr_of(text)
    assert isinstance(lit, ast.IntLit)
    assert (lit.value, lit.text) == (value, text)


def test_boolean_literals():
    assert [expr_of("true").value, expr_of("false").value] == [True, False]
    assert isinstance(expr_of("true"), ast.BoolLit)


def test_address_literal_is_a_conversion_call():
    e = expr_of("address(0x00000000000000000000000000000000000a11ce)")
    assert isinstance(e, ast.Call) and e.func == "address"
    (arg,) = e.args
    assert isinstance(arg, ast.IntLit) and arg.value == 0xA11CE
    assert arg.text == "0x00000000000000000000000000000000000a11ce"


def test_comments_of_both_styles_are_ignored():
    module = parse_ok('''
        // a line comment before everything
        /* a block comment
           over several lines, with // and * and / inside */
        contract /* inline */ C { // trailing
            storage /**/ x: u256; /* a * b / c */
            /***/
            fn f() -> u256 { return x /* after */ + 1; } //
        }
        // last line without newline''')
    (c,) = module.contracts
    (fn,) = c.functions
    assert sexpr(fn.body.stmts[0].value) == "(+ x 1)"
    # Lines after a multi-line comment keep their numbers.
    assert c.storage[0].loc.line == 5
    assert fn.loc.line == 7


def test_keywords_are_not_names_but_may_prefix_them():
    module = parse_ok('''
        contract C {
            storage letter: u256;
            storage iffy: bool;
            fn fnord(returning: u256, format: u256) { let pubkey = 1; let init_x = returning; }
        }
        ''')
    (c,) = module.contracts
    assert [s.name for s in c.storage] == ["letter", "iffy"]
    (fn,) = c.functions
    assert fn.name == "fnord" and [p.name for p in fn.params] == ["returning", "format"]
    assert [s.name for s in fn.body.stmts] == ["pubkey", "init_x"]


# ---------------------------------------------------------------- locations


def test_locations_of_declarations():
    module = parse_ok('''
        contract Token {
            storage balances: map<address, u256>;
            event Transfer(to: address);
            init(supply: u256) {
            }
            pub view fn total() -> u256 { return 1; }
        }
        ''', file="tok.lane")
    (c,) = module.contracts
    assert c.loc.file == "tok.lane"
    assert span(c) == (1, 1, 7, 2)
    assert span(c.name_loc) == (1, 10, 1, 15)
    (storage,) = c.storage
    assert span(storage) == (2, 5, 2, 42)
    assert span(storage.name_loc) == (2, 13, 2, 21)
    assert span(storage.type) == (2, 23, 2, 41)
    (event,) = c.events
    assert span(event) == (3, 5, 3, 33)
    assert span(event.params[0]) == (3, 20, 3, 31)
    (init,) = c.inits
    assert span(init) == (4, 5, 5, 6)
    assert span(init.name_loc) == (4, 5, 4, 9)
    (fn,) = c.functions
    assert span(fn) == (6, 5, 6, 46)
    assert span(fn.name_loc) == (6, 17, 6, 22)
    assert span(fn.return_type) == (6, 28, 6, 32)
    assert span(fn.body) == (6, 33, 6, 46)


def test_locations_of_statements_and_expressions():
    text = dedent('''
        contract C {
            fn f() {
                let total: u256 = a + b * c;
                m[a, b] += 1;
                t.transfer(to, 5);
                if x {
                    revert("no");
                }
            }
        }
        ''')
    module, diags = parse(text, "t.lane")
    assert diags == []
    let, assign, call, if_ = module.contracts[0].functions[0].body.stmts
    assert span(let) == (3, 9, 3, 37)
    assert span(let.name_loc) == (3, 13, 3, 18)
    add = let.value
    assert span(add) == (3, 27, 3, 36)
    assert span(add.op_loc) == (3, 29, 3, 30)
    assert span(add.left) == (3, 27, 3, 28)
    assert span(add.right) == (3, 31, 3, 36)
    assert span(add.right.op_loc) == (3, 33, 3, 34)
    assert span(assign) == (4, 9, 4, 22)
    assert span(assign.target) == (4, 9, 4, 16)
    assert span(assign.op_loc) == (4, 17, 4, 19)
    assert span(call) == (5, 9, 5, 27)
    assert span(call.expr) == (5, 9, 5, 26)
    assert span(call.expr.method_loc) == (5, 11, 5, 19)
    assert span(if_) == (6, 9, 8, 10)
    assert span(if_.then.stmts[0]) == (7, 13, 7, 26)
    # Every location's text is what the node was parsed from.
    lines = text.split("\n")
    assert lines[2][add.loc.column - 1:add.loc.end_column - 1] == "a + b * c"
    assert lines[4][call.expr.method_loc.column - 1:call.expr.method_loc.end_column - 1] == "transfer"


def test_walk_visits_every_node_in_source_order():
    module = parse_ok('''
        contract C {
            storage m: map<u256, u256>;
            fn f(k: u256) { m[k] = k + 1; }
        }
        ''')
    nodes = list(ast.walk(module))
    names = [n.id for n in nodes if isinstance(n, ast.Name)]
    # The assignment target m[k] is a child too, not only the value.
    assert names == ["m", "k", "k"]
    assert sum(isinstance(n, ast.Index) for n in nodes) == 1
    positions = [(n.loc.line, n.loc.column) for n in nodes if isinstance(n, ast.Expr)]
    assert positions == sorted(positions)


# ------------------------------------------------------------ syntax errors

TOO_BIG = str(2**256)

SYNTAX_ERRORS = [
    pytest.param(
        """
        contract C {
            fn f() {
                let x = 1
                let y = 2;
            }
        }
        """, "syntax", 3, 18, "expected ';' or an operator, found 'let'", id="missing-semicolon-next-line"),
    pytest.param('contract C { fn f() { return 1 } }',
                 "syntax", 1, 32, "expected ';' or an operator, found '}'", id="missing-semicolon-same-line"),
    pytest.param('import "a.lane"\ncontract C {}',
                 "syntax", 1, 16, "expected ';', found 'contract'", id="import-without-semicolon"),
    pytest.param('contract C { storage x: u256 }',
                 "syntax", 1, 30, "expected ';', found '}'", id="storage-without-semicolon"),
    pytest.param('contract C { fn f() { require(true, "abc); } }',
                 "syntax", 1, 37, "unterminated string", id="unterminated-string"),
    pytest.param('contract C { fn f() { revert("line\nbreak"); } }',
                 "syntax", 1, 30, "unterminated string", id="string-across-lines"),
    pytest.param('contract C {\n    /* no end\n}\n',
                 "syntax", 2, 5, "unterminated comment: '/*' without a closing '*/'", id="unterminated-comment"),
    pytest.param('contract C { fn f() { let x = a /* no end\n} }',
                 "syntax", 1, 33, "unterminated comment: '/*' without a closing '*/'",
                 id="unterminated-comment-after-operand"),
    pytest.param('contract C { fn f() { let x = 1 @ 2; } }',
                 "syntax", 1, 33, "unexpected character '@'", id="unexpected-character"),
    pytest.param("contract C { fn f() { let x = 'a'; } }",
                 "syntax", 1, 31, "unexpected character \"'\"", id="single-quote"),
    pytest.param("contract C {\n    fn f() { let é = 1; }\n}",
                 "syntax", 2, 18, "unexpected character 'é'", id="non-ascii-name"),
    pytest.param('contract C { fn f() { let if = 1; } }',
                 "syntax", 1, 27, "expected a name, found 'if'", id="keyword-as-local"),
    pytest.param('contract C { fn storage() {} }',
                 "syntax", 1, 17, "expected a name, found 'storage'", id="keyword-as-function"),
    pytest.param('contract contract {}',
                 "syntax", 1, 10, "expected a name, found 'contract'", id="keyword-as-contract"),
    pytest.param('contract C { fn f(return: u256) {} }',
                 "syntax", 1, 19, "expected ')' or a name, found 'return'", id="keyword-as-param"),
    pytest.param('contract C {\n  fn f() -> u256 { return 1.5; } }',
                 "syntax", 2, 27, "'1.5' is not a number: Lane has whole numbers only (u256)", id="decimal-point"),
    pytest.param('contract C { fn f() { let x = 1_000.25e3; } }',
                 "syntax", 1, 31, "'1_000.25e3' is not a number: Lane has whole numbers only (u256)",
                 id="decimal-point-exponent"),
    pytest.param('contract C { fn f() { let x = y.5; } }',
                 "syntax", 1, 33, "expected a name, found '5'", id="dot-number-after-a-name"),
    pytest.param('contract C { fn f() { let x = y1.5; } }',
                 "syntax", 1, 34, "expected a name, found '5'", id="dot-number-after-a-name-ending-in-a-digit"),
    pytest.param('contract C { fn f() { let x = 1_; } }',
                 "bad-literal", 1, 31, "invalid integer literal '1_'", id="trailing-underscore"),
    pytest.param('contract C { fn f() { let x = 1__0; } }',
                 "bad-literal", 1, 31, "invalid integer literal '1__0'", id="double-underscore"),
    pytest.param('contract C { fn f() { let x = 0x; } }',
                 "bad-literal", 1, 31, "invalid integer literal '0x'", id="hex-without-digits"),
    pytest.param('contract C { fn f() { let x = 0x_1; } }',
                 "bad-literal", 1, 31, "invalid integer literal '0x_1'", id="hex-leading-underscore"),
    pytest.param('contract C { fn f() { let x = 0xZZ; } }',
                 "bad-literal", 1, 31, "invalid integer literal '0xZZ'", id="hex-bad-digits"),
    pytest.param('contract C { fn f() { let x = 12ab; } }',
                 "bad-literal", 1, 31, "invalid integer literal '12ab'", id="letters-after-digits"),
    pytest.param(f'contract C {{ fn f() {{ let x = {TOO_BIG}; }} }}',
                 "literal-too-large", 1, 31, f"integer literal '{TOO_BIG}' exceeds 2^256-1", id="literal-2^256"),
    pytest.param('contract C { fn f() { let x = 0x1' + "0" * 64 + '; } }',
                 "literal-too-large", 1, 31, f"integer literal '0x1{'0' * 64}' exceeds 2^256-1",
                 id="hex-literal-2^256"),
    pytest.param('contract C { fn f() {',
                 "syntax", 1, 22, "unexpected end of file: expected '}' or a statement", id="eof-in-body"),
    pytest.param('contract C {\n    storage x: u256;\n\n',
                 "syntax", 2, 21, "unexpected end of file: expected '}' or a declaration", id="eof-in-contract"),
    pytest.param('contract C { fn f() { let x = ',
                 "syntax", 1, 31, "unexpected end of file: expected an expression", id="eof-in-expression"),
    pytest.param('contract { }',
                 "syntax", 1, 10, "expected a name, found '{'", id="contract-without-name"),
    pytest.param('fn f() {}',
                 "syntax", 1, 1, "expected 'contract', 'import' or end of file, found 'fn'", id="fn-outside-contract"),
    pytest.param('contract C { fn f() { x = ; } }',
                 "syntax", 1, 27, "expected an expression, found ';'", id="missing-rhs"),
    pytest.param('contract C { fn f() { let x = 1 +; } }',
                 "syntax", 1, 34, "expected an expression, found ';'", id="missing-operand"),
    pytest.param('contract C { fn f() { let x = (1 + 2; } }',
                 "syntax", 1, 37, "expected ')', found ';'", id="unclosed-paren"),
    pytest.param('contract C { fn f() { let x = "s"; } }',
                 "syntax", 1, 31, "expected an expression, found a string", id="string-as-value"),
    pytest.param('contract C { fn f() { revert(x); } }',
                 "syntax", 1, 30, "expected ')' or a string, found 'x'", id="revert-needs-a-string"),
    pytest.param('contract C { pub pub fn f() {} }',
                 "syntax", 1, 18, "expected 'fn' or 'view', found 'pub'", id="pub-twice"),
    pytest.param('contract C { view pub fn f() {} }',
                 "syntax", 1, 19, "expected 'fn', found 'pub'", id="view-before-pub"),
    pytest.param('contract C { fn f() -> { } }',
                 "syntax", 1, 24, "expected '(', 'array', 'map' or a name, found '{'", id="missing-return-type"),
    pytest.param('contract C { fn f() { if x { } else } }',
                 "syntax", 1, 37, "expected 'if' or '{', found '}'", id="else-without-block"),
    pytest.param('contract C { fn f() { init(); } }',
                 "syntax", 1, 23, "expected '}' or a statement, found 'init'", id="init-is-a-keyword"),
    pytest.param('contract C { fn f() { x ** 2; } }',
                 "syntax", 1, 26, "expected an expression, found '*'", id="no-power-operator"),
    pytest.param('contract C { storage m: map<u256>; }',
                 "syntax", 1, 33, "expected ',', found '>'", id="map-with-one-type"),
]


@pytest.mark.parametrize("text, code, line, col, message", SYNTAX_ERRORS)
def test_syntax_errors(text, code, line, col, message):
    module, diags = parse(dedent(text), "bad.lane")
    assert fmt(diags) == [("error", line, col, message)]
    assert [d.code for d in diags] == [code]
    assert diags[0].location.file == "bad.lane"
    if code == "syntax":
        assert module is None
    else:
        # A bad literal is reported by the AST builder: the module is still built.
        assert module is not None


def test_missing_semicolon_points_just_after_the_last_token_of_its_line():
    text = "contract C {\n    fn f() {\n        total += amount\n        emit Done();\n    }\n}\n"
    _, diags = parse(text, "t.lane")
    (d,) = diags
    loc = d.location
    assert (loc.line, loc.column, loc.end_line, loc.end_column) == (3, 24, 3, 25)
    assert text.split("\n")[2][: loc.column - 1].endswith("amount")


def test_end_of_file_position_ignores_form_feeds_and_unicode_line_separators():
    # Lark counts lines at '\n' only; the reported line must be the same one.
    _, diags = parse("// note\u2028more\ncontract C {\x0c", "t.lane")
    assert fmt(diags) == [("error", 2, 14, "unexpected end of file: expected '}' or a declaration")]


def test_only_the_first_syntax_error_is_reported_but_literal_errors_accumulate():
    _, diags = parse("contract C { fn f() { let a = 1_; let b = 0x; let c = 2; } }", "t.lane")
    assert fmt(diags) == [
        ("error", 1, 31, "invalid integer literal '1_'"),
        ("error", 1, 43, "invalid integer literal '0x'"),
    ]
    assert diags[0].hint == "integers are decimal or 0x-prefixed hex digits, with '_' allowed only between digits"
