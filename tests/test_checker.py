"""The semantic checker: valid programs pass, every rule of SPEC §1 rejects with an exact message and position."""

from __future__ import annotations

import os
import textwrap

import pytest

from compiler.pipeline import CompilerData
from compiler.syntax import ast

from conftest import check_source, dedent, errors, fmt

# A small contract other snippets call through their contract types.
TOKEN = """
contract Token {
    storage balances: map<address, u256>;
    storage secret: u256;
    pub fn transfer(to: address, amount: u256) -> bool { balances[to] += amount; return true; }
    pub view fn balance_of(who: address) -> u256 { return balances[who]; }
    fn internal_only() {}
}
"""
# Indented like the snippets below, so that dedenting a snippet + TOKEN keeps the snippet's columns.
TOKEN = textwrap.indent(TOKEN, " " * 8)


# ====================================================================== valid

VALID = [
    pytest.param("", id="empty-file"),
    pytest.param("contract Empty {}", id="empty-contract"),
    pytest.param("""
        contract A { pub fn f() {} }
        contract B { storage a: A; pub fn g() { a.f(); } }
        contract C { storage b: B; storage a: A; pub fn h() { b.g(); a.f(); } }
        """, id="several-contracts-acyclic-calls"),
    pytest.param("""
        contract C {
            storage owner: address;
            storage count: u256;
            storage flags: map<u256, bool>;
            storage nested: map<address, map<address, u256>>;
            storage pos: map<(address, u256), u256>;
            storage deep: map<(address, bool, C), map<u256, map<u256, address>>>;
            const K: u256 = 10;
            const FLAG: bool = true && !false;
            const ZERO: address = address(0);
            const DEAD: address = address(0xdead);
            const BIG: u256 = 0xffff_ffff * 2 + K % 3 - 1;
            event E(a: address, n: u256, b: bool, c: C);
            init(o: address) { owner = o; }
            pub fn f(a: address, n: u256, b: bool) -> u256 {
                nested[a][msg.sender] = n;
                pos[a, n] += 1;
                deep[a, b, C(self)][n][n] = a;
                flags[n] = !flags[n] || b && FLAG;
                count = count + n * K / 2 % 7 - 0;
                emit E(a, n, b, C(self));
                return nested[a][msg.sender] + pos[a, n] + block.number + block.timestamp;
            }
        }
        """, id="storage-maps-consts-events"),
    pytest.param("""
        contract C {
            pub fn f(x: u256) -> u256 {
                let a: u256 = 1;
                let b = a + x;
                a = b;
                a += 1; a -= 1; a *= 2; a /= 2;
                let ok = a >= b || a < b;
                require(ok, "never");
                require(ok);
                if a == b { return 1; } else if a != b { return 2; } else { revert("impossible"); }
            }
        }
        """, id="statements-and-operators"),
    pytest.param("""
        contract D {}
        contract C {
            pub fn f(a: address, n: u256, d: D) -> bool {
                let x: u256 = u256(a);
                let y: address = address(n);
                let z: address = address(d);
                let w: D = D(a);
                let lit: address = address(0x00000000000000000000000000000000000a11ce);
                let same: u256 = u256(n);
                let again: address = address(a);
                let t: bool = bool(true);
                let dd: D = D(d);
                return x == u256(y) && z == address(w) && lit != address(0) && same == n && again == a && t && dd == d;
            }
        }
        """, id="conversions-accepted"),
    pytest.param("""
        contract C {
            const K: u256 = 10;
            const N: u256 = 4;
            pub fn f(n: u256, xs: array<u256, 8>, ys: array<address, N>) -> u256 {
                let total = 0;
                for i in 0..10 { total += i; }
                for i in 1..K * 2 + 1 { total += i; }
                for i in 0..len(xs) { total += xs[i]; }
                for i in 0..len(ys) { require(ys[i] != address(0)); }
                for i in 0..min(n, K) { total += i; }
                for i in 0..min(K, n) { total += i; }
                for i in n..K { total += i; }
                for i in 0..min(n, 3) { for j in 0..min(i, 3) { total += j; } }
                return total;
            }
        }
        """, id="loops-with-static-bounds"),
    pytest.param("""
        contract C {
            fn a(c: bool) -> u256 { if c { return 1; } else { return 2; } }
            fn b(c: bool) -> u256 { if c { return 1; } revert("no"); }
            fn d(c: bool, e: bool) -> u256 {
                if c { return 1; } else if e { revert("e"); } else { return 3; }
            }
            fn r() -> u256 { revert(); }
            fn f() { return; }
            pub fn g() -> u256 { return a(true) + b(false) + d(true, false) + r(); }
        }
        """, id="returns-on-every-path"),
    pytest.param("""
        contract C {
            storage x: u256;
            event E(v: u256);
            fn leaf() -> u256 { return 1; }
            view fn helper() -> u256 { return x; }
            fn writer() { x = leaf(); emit E(x); }
            pub view fn v(t: Token) -> u256 { return helper() + t.balance_of(self); }
            pub fn w() { writer(); writer(); }
            init() { writer(); }
        }
        """ + TOKEN, id="call-graph-without-cycles-and-views"),
    pytest.param("""
        contract C {
            storage t: Token;
            pub fn f(to: address) -> bool {
                t.transfer(to, 1);
                let ok = t.transfer(to, 2);
                return ok && Token(to).transfer(msg.sender, 3);
            }
        }
        """ + TOKEN, id="cross-contract-calls"),
    pytest.param("""
        contract C {
            fn f() { if true { let y = 1; } let y = 2; for i in 0..3 {} for i in 0..3 {} }
        }
        """, id="sibling-scopes-reuse-names"),
    pytest.param(f"""
        contract C {{
            const MAX: u256 = {2**256 - 1};
            const MAX_HEX: u256 = 0x{'f' * 64};
            const TOP: address = address({2**160 - 1});
        }}
        """, id="largest-literals"),
]


@pytest.mark.parametrize("text", VALID)
def test_valid(check, text):
    assert fmt(check(text)) == []


# ==================================================================== invalid


def case(text: str, *expected: tuple[int, int, str, str], id: str):
    """An invalid program and its exact errors: (line, column, code, message), in source order."""
    return pytest.param(text, list(expected), id=id)


INVALID = [
    # ------------------------------------------------------------ unknown names
    case("""
        contract C {
            fn f() -> u256 { return y; }
        }
        """, (2, 29, "unknown-name", "unknown name 'y'"), id="unknown-variable"),
    case("""
        contract C {
            fn f() { g(); }
        }
        """, (2, 14, "unknown-name", "unknown function 'g'"), id="unknown-function"),
    case("""
        contract C {
            storage x: Foo;
        }
        """, (2, 16, "unknown-type", "unknown type 'Foo'"), id="unknown-type"),
    case("""
        contract C {
            fn f(a: map<address, Bar>) {}
        }
        """, (2, 26, "unknown-type", "unknown type 'Bar'"), id="unknown-type-inside-map"),
    case("""
        contract C {
            fn f() { emit E(1); }
        }
        """, (2, 19, "unknown-name", "unknown event 'E'"), id="unknown-event"),
    case("""
        contract C {
            fn f(t: Token) { t.burn(1); }
        }
        """ + TOKEN, (2, 24, "unknown-name", "contract 'Token' has no function 'burn'"), id="unknown-method"),
    case("""
        contract C {
            fn f() -> address { return msg.origin; }
        }
        """, (2, 36, "unknown-name", "'msg' has no member 'origin'; Lane has msg.sender"), id="unknown-msg-member"),
    case("""
        contract C {
            fn f() -> u256 { return block.gas; }
        }
        """, (2, 35, "unknown-name", "'block' has no member 'gas'; Lane has block.number and block.timestamp"),
        id="unknown-block-member"),
    # --------------------------------------------------------------- duplicates
    case("""
        contract C {}
        contract C {}
        """, (2, 10, "duplicate-name", "contract 'C' is already declared"), id="duplicate-contract"),
    case("""
        contract C {
            storage x: u256;
            fn x() {}
        }
        """, (3, 8, "duplicate-name", "'x' is already declared in contract 'C'"), id="duplicate-member"),
    case("""
        contract C {
            event E();
            const E: u256 = 1;
        }
        """, (3, 11, "duplicate-name", "'E' is already declared in contract 'C'"), id="duplicate-event-const"),
    case("""
        contract C {
            storage D: u256;
        }
        contract D {}
        """, (2, 13, "duplicate-name", "'D' is already the name of a contract"), id="member-named-like-contract"),
    case("""
        contract C {
            fn f(a: u256, a: bool) {}
        }
        """, (2, 19, "duplicate-name", "parameter 'a' is declared twice"), id="duplicate-param"),
    case("""
        contract C {
            event E(a: u256, a: u256);
        }
        """, (2, 22, "duplicate-name", "parameter 'a' is declared twice"), id="duplicate-event-param"),
    case("""
        contract C {
            fn f() { let a = 1; let a = 2; }
        }
        """, (2, 29, "duplicate-name", "'a' is already declared in this function"), id="duplicate-local"),
    case("""
        contract C {
            fn f(a: u256) { if true { let a = 1; } }
        }
        """, (2, 35, "duplicate-name", "'a' is already declared in this function"), id="local-shadows-param"),
    case("""
        contract C {
            fn f() { for i in 0..3 { let i = 1; } }
        }
        """, (2, 34, "duplicate-name", "'i' is already declared in this function"), id="local-shadows-loop-var"),
    case("""
        contract C {
            init() {}
            init(x: u256) {}
        }
        """, (3, 5, "duplicate-name", "contract 'C' has more than one init"), id="two-inits"),
    # -------------------------------------------------------------- type errors
    case("""
        contract C {
            fn f(a: address) { let x: u256 = a; }
        }
        """, (2, 38, "type-mismatch", "expected u256, found address: 'x' is u256"), id="address-to-u256"),
    case("""
        contract C {
            fn f() { let a: address = 1; }
        }
        """, (2, 31, "type-mismatch", "expected address, found u256: 'a' is address"), id="u256-to-address"),
    case("""
        contract C {
            fn f(t: Token) -> address { return t; }
        }
        """ + TOKEN, (2, 40, "type-mismatch", "expected address, found Token: function 'f' returns address"),
        id="contract-to-address"),
    case("""
        contract C {
            storage t: Token;
            fn f(a: address) { t = a; }
        }
        """ + TOKEN, (3, 28, "type-mismatch", "expected Token, found address: the target is Token"),
        id="address-to-contract"),
    case("""
        contract C {
            fn f() -> u256 { return true + 1; }
        }
        """, (2, 29, "type-mismatch", "expected u256, found bool: '+' needs u256 operands"), id="bool-arithmetic"),
    case("""
        contract C {
            fn f(n: u256) -> bool { return n && true; }
        }
        """, (2, 36, "type-mismatch", "expected bool, found u256: '&&' needs bool operands"), id="u256-logic"),
    case("""
        contract C {
            fn f(n: u256) -> bool { return !n; }
        }
        """, (2, 37, "type-mismatch", "expected bool, found u256: '!' needs a bool"), id="not-of-u256"),
    case("""
        contract C {
            fn f(a: address) -> bool { return a == 1; }
        }
        """, (2, 41, "type-mismatch", "cannot compare address with u256"), id="compare-address-u256"),
    case("""
        contract C {
            fn f(t: Token, a: address) -> bool { return t != a; }
        }
        """ + TOKEN, (2, 51, "type-mismatch", "cannot compare Token with address"), id="compare-contract-address"),
    case("""
        contract C {
            fn f(a: address, b: address) -> bool { return a < b; }
        }
        """, (2, 51, "type-mismatch", "expected u256, found address: '<' needs u256 operands"),
        (2, 55, "type-mismatch", "expected u256, found address: '<' needs u256 operands"), id="order-addresses"),
    case("""
        contract C {
            fn f() { if 1 {} }
        }
        """, (2, 17, "type-mismatch", "expected bool, found u256: an if condition must be bool"),
        id="if-condition-not-bool"),
    case("""
        contract C {
            fn f() { require(0, "zero"); }
        }
        """, (2, 22, "type-mismatch", "expected bool, found u256: require must be bool"), id="require-not-bool"),
    case("""
        contract C {
            fn g(x: u256) {}
            fn f(a: address) { g(a); }
        }
        """, (3, 26, "type-mismatch", "expected u256, found address: parameter 'x' of function 'g' is u256"),
        id="argument-type"),
    case("""
        contract C {
            event E(x: u256);
            fn f() { emit E(false); }
        }
        """, (3, 21, "type-mismatch", "expected u256, found bool: parameter 'x' of event 'E' is u256"),
        id="event-argument-type"),
    case("""
        contract C {
            fn f(t: Token) { t.transfer(1, 2); }
        }
        """ + TOKEN,
        (2, 33, "type-mismatch", "expected address, found u256: parameter 'to' of function 'Token.transfer' is address"),
        id="method-argument-type"),
    case("""
        contract C {
            storage m: map<address, u256>;
            fn f() -> u256 { return m[1]; }
        }
        """, (3, 31, "type-mismatch", "expected address, found u256: the map's key is address"), id="map-key-type"),
    case("""
        contract C {
            storage b: bool;
            fn f() { b += 1; }
        }
        """, (3, 16, "type-mismatch", "'+=' needs a u256 target, not bool"), id="compound-on-bool"),
    case("""
        contract C {
            fn f() { let x: u256 = 1; x = false; }
        }
        """, (2, 35, "type-mismatch", "expected u256, found bool: the target is u256"), id="assign-wrong-type"),
    case("""
        contract C {
            const K: u256 = true;
        }
        """, (2, 21, "type-mismatch", "constant 'K' is u256 but its value is bool"), id="constant-type"),
    case("""
        contract C {
            fn f() { for i in 0..true {} }
        }
        """, (2, 26, "type-mismatch", "expected u256, found bool: a loop runs over u256"), id="loop-over-bool"),
    # ------------------------------------------------- maps and arrays by place
    case("""
        contract C {
            fn f() { let m: map<u256, u256> = 0; }
        }
        """, (2, 21, "map-outside-storage",
              "map types are only allowed for storage variables, not in a local variable"), id="map-as-local"),
    case("""
        contract C {
            fn f(m: map<u256, u256>) {}
        }
        """, (2, 13, "map-outside-storage", "map types are only allowed for storage variables, not in a parameter"),
        id="map-as-param"),
    case("""
        contract C {
            fn f() -> map<u256, u256> {}
        }
        """, (2, 15, "map-outside-storage",
              "map types are only allowed for storage variables, not in a return type"), id="map-as-return"),
    case("""
        contract C {
            event E(m: map<u256, u256>);
        }
        """, (2, 16, "map-outside-storage",
              "map types are only allowed for storage variables, not in an event parameter"), id="map-in-event"),
    case("""
        contract C {
            storage a: array<u256, 3>;
        }
        """, (2, 16, "array-outside-params", "array types are only allowed for function parameters, not in storage"),
        id="array-in-storage"),
    case("""
        contract C {
            storage m: map<u256, array<u256, 3>>;
        }
        """, (2, 26, "array-outside-params",
              "array types are only allowed for function parameters, not as map values"), id="array-as-map-value"),
    case("""
        contract C {
            fn f() { let a: array<u256, 3> = 0; }
        }
        """, (2, 21, "array-outside-params",
              "array types are only allowed for function parameters, not in a local variable"), id="array-as-local"),
    case("""
        contract C {
            fn f() -> array<u256, 3> {}
        }
        """, (2, 15, "array-outside-params",
              "array types are only allowed for function parameters, not in a return type"), id="array-as-return"),
    case("""
        contract C {
            fn f(a: array<u256, 0>) {}
        }
        """, (2, 25, "bad-array-size", "array size must be at least 1"), id="array-size-zero"),
    case("""
        contract C {
            fn f(a: array<u256, N>) {}
        }
        """, (2, 25, "bad-array-size", "array size must be an integer or a u256 constant; 'N' is not a constant"),
        id="array-size-unknown"),
    case("""
        contract C {
            storage m: map<map<u256, u256>, u256>;
        }
        """, (2, 20, "bad-map-key",
              "a map key must be u256, bool, address, a contract or a tuple of those, not map<u256, u256>"),
        id="map-as-map-key"),
    case("""
        contract C {
            storage t: (u256, u256);
        }
        """, (2, 16, "bad-tuple", "a tuple type can only be the key of a map"), id="tuple-outside-map-key"),
    case("""
        contract C {
            storage m: map<u256, u256>;
            fn f() { let x = m; }
        }
        """, (3, 22, "map-as-value", "a map (map<u256, u256>) can only be indexed, not used as a value"),
        id="map-as-value"),
    case("""
        contract C {
            storage m: map<u256, map<u256, u256>>;
            fn f() -> u256 { return m[1]; }
        }
        """, (3, 29, "map-as-value", "a map (map<u256, u256>) can only be indexed, not used as a value"),
        id="partly-indexed-map-as-value"),
    case("""
        contract C {
            storage m: map<u256, u256>;
            fn g(x: u256) {}
            fn f() { g(m); }
        }
        """, (4, 16, "map-as-value", "a map (map<u256, u256>) can only be indexed, not used as a value"),
        id="map-as-argument"),
    case("""
        contract C {
            fn f(xs: array<u256, 3>) { let y = xs; }
        }
        """, (2, 40, "array-as-value",
              "an array (array<u256, 3>) can only be indexed, measured with len() or passed to a function"),
        id="array-as-value"),
    # ------------------------------------------ contract types: only pub functions
    case("""
        contract C {
            fn f(t: Token) { t.internal_only(); }
        }
        """ + TOKEN, (2, 24, "not-pub",
                      "function 'Token.internal_only' is not pub; another contract can call only pub functions"),
        id="call-non-pub"),
    case("""
        contract C {
            fn f(t: Token) -> u256 { return t.secret; }
        }
        """ + TOKEN, (2, 39, "bad-member", "cannot read 'secret' of contract Token: another contract's storage "
                      "is reached only through its pub functions"), id="read-other-storage"),
    case("""
        contract C {
            fn f(a: address) { a.transfer(a, 1); }
        }
        """, (2, 26, "bad-call", "cannot call 'transfer' on a value of type address"), id="method-on-address"),
    case("""
        contract C {
            fn f(n: u256) -> u256 { return n.size; }
        }
        """, (2, 38, "bad-member", "a value of type u256 has no member 'size'"), id="member-of-u256"),
    # ------------------------------------------------------------------- arity
    case("""
        contract C {
            fn g(a: u256) {}
            fn f() { g(); g(1, 2); }
        }
        """, (3, 14, "wrong-arity", "function 'g' takes 1 argument, found 0"),
        (3, 19, "wrong-arity", "function 'g' takes 1 argument, found 2"), id="function-arity"),
    case("""
        contract C {
            fn f(t: Token) { t.transfer(msg.sender); }
        }
        """ + TOKEN, (2, 22, "wrong-arity", "function 'Token.transfer' takes 2 arguments, found 1"),
        id="method-arity"),
    case("""
        contract C {
            event E(a: u256, b: u256);
            fn f() { emit E(1); }
        }
        """, (3, 14, "wrong-arity", "event 'E' takes 2 arguments, found 1"), id="event-arity"),
    case("""
        contract C {
            fn f() -> u256 { return min(1) + max(1, 2, 3); }
        }
        """, (2, 29, "wrong-arity", "min takes 2 arguments, found 1"),
        (2, 38, "wrong-arity", "max takes 2 arguments, found 3"), id="builtin-arity"),
    case("""
        contract C {
            fn f(xs: array<u256, 2>) -> u256 { return len(xs, xs); }
        }
        """, (2, 47, "wrong-arity", "len takes 1 argument, found 2"), id="len-arity"),
    case("""
        contract C {
            fn f(a: address) -> u256 { return u256(a, a); }
        }
        """, (2, 39, "wrong-arity", "conversion u256(...) takes 1 argument, found 2"), id="conversion-arity"),
    case("""
        contract C {
            storage m: map<u256, u256>;
            fn f() -> u256 { return m[1, 2]; }
        }
        """, (3, 29, "wrong-arity", "map map<u256, u256> takes 1 key, found 2"), id="map-key-arity"),
    case("""
        contract C {
            storage pos: map<(address, u256), u256>;
            fn f() -> u256 { return pos[msg.sender]; }
        }
        """, (3, 29, "wrong-arity", "map map<(address, u256), u256> takes 2 keys, found 1"), id="tuple-key-arity"),
    case("""
        contract C {
            fn f(xs: array<u256, 2>) -> u256 { return xs[0, 1]; }
        }
        """, (2, 47, "wrong-arity", "an array takes one index, found 2"), id="array-index-arity"),
    # ------------------------------------------------------------------- views
    case("""
        contract C {
            storage x: u256;
            view fn f() { x = 1; }
        }
        """, (3, 19, "view-writes", "view function 'f' writes storage variable 'x'"), id="view-writes"),
    case("""
        contract C {
            storage m: map<u256, u256>;
            pub view fn f() { m[1] += 1; }
        }
        """, (3, 23, "view-writes", "view function 'f' writes storage variable 'm'"), id="view-writes-map"),
    case("""
        contract C {
            event E();
            view fn f() { emit E(); }
        }
        """, (3, 19, "view-emits", "view function 'f' emits event 'E'"), id="view-emits"),
    case("""
        contract C {
            fn g() {}
            view fn f() { g(); }
        }
        """, (3, 19, "view-calls", "view function 'f' calls non-view function 'g'"), id="view-calls-internal"),
    case("""
        contract C {
            pub view fn f(t: Token) -> bool { return t.transfer(msg.sender, 1); }
        }
        """ + TOKEN, (2, 48, "view-calls", "view function 'f' calls non-view function 'Token.transfer'"),
        id="view-calls-external"),
    # ------------------------------------------------------------- loop bounds
    case("""
        contract C {
            fn f() { let n = 5; for i in 0..n {} }
        }
        """, (2, 37, "unbounded-loop", "loop bound must be static: a constant expression, len(p) of an array "
                                       "parameter, or min(e, K) with K constant"), id="loop-bound-local"),
    case("""
        contract C {
            storage n: u256;
            fn f() { for i in 0..n {} }
        }
        """, (3, 26, "unbounded-loop", "loop bound must be static: a constant expression, len(p) of an array "
                                       "parameter, or min(e, K) with K constant"), id="loop-bound-storage"),
    case("""
        contract C {
            fn f(n: u256) { for i in 0..n + 1 {} }
        }
        """, (2, 33, "unbounded-loop", "loop bound must be static: a constant expression, len(p) of an array "
                                       "parameter, or min(e, K) with K constant"), id="loop-bound-param"),
    case("""
        contract C {
            fn f(n: u256) { for i in 0..max(n, 10) {} }
        }
        """, (2, 33, "unbounded-loop", "loop bound must be static: a constant expression, len(p) of an array "
                                       "parameter, or min(e, K) with K constant"), id="loop-bound-max"),
    case("""
        contract C {
            fn f(n: u256, m: u256) { for i in 0..min(n, m) {} }
        }
        """, (2, 42, "unbounded-loop", "loop bound must be static: a constant expression, len(p) of an array "
                                       "parameter, or min(e, K) with K constant"), id="loop-bound-min-of-params"),
    case("""
        contract C {
            storage m: map<u256, u256>;
            fn f() { for i in 0..len(m) {} }
        }
        """, (3, 30, "type-mismatch", "len needs an array, found map<u256, u256>"), id="len-of-map"),
    case("""
        contract C {
            fn f(n: u256) { for i in 0..len(n) {} }
        }
        """, (2, 37, "type-mismatch", "len needs an array, found u256"), id="len-of-u256"),
    # ------------------------------------------------------ recursion and cycles
    case("""
        contract C {
            fn f() { f(); }
        }
        """, (2, 14, "recursion", "recursion is not allowed: f -> f"), id="direct-recursion"),
    case("""
        contract C {
            fn f() { g(); }
            fn g() { h(); }
            fn h() { f(); }
        }
        """, (2, 14, "recursion", "recursion is not allowed: f -> g -> h -> f"), id="mutual-recursion"),
    case("""
        contract A {
            storage b: B;
            pub fn f() { b.g(); }
        }
        contract B {
            storage a: A;
            pub fn g() { a.f(); }
        }
        """, (3, 20, "reentrancy", "contract call cycle (re-entrancy): A -> B -> A"), id="reentrancy-two-contracts"),
    case("""
        contract A {
            storage b: B;
            pub fn f() { b.g(); }
            pub fn unrelated() {}
        }
        contract B {
            storage c: Cc;
            pub fn g() { c.h(msg.sender); }
        }
        contract Cc {
            pub fn h(a: address) { A(a).unrelated(); }
        }
        """, (3, 20, "reentrancy", "contract call cycle (re-entrancy): A -> B -> Cc -> A"),
        id="reentrancy-three-contracts"),
    case("""
        contract A {
            storage other: A;
            pub fn f() { other.f(); }
        }
        """, (3, 24, "reentrancy", "contract call cycle (re-entrancy): A -> A"), id="reentrancy-self-type"),
    # ----------------------------------------------------------------- returns
    case("""
        contract C {
            fn f() -> u256 { return true; }
        }
        """, (2, 29, "type-mismatch", "expected u256, found bool: function 'f' returns u256"),
        id="return-type-mismatch"),
    case("""
        contract C {
            fn f(c: bool) -> u256 { if c { return 1; } }
        }
        """, (2, 8, "missing-return", "function 'f' must return a value of type u256 on every path"),
        id="missing-return-if-without-else"),
    case("""
        contract C {
            fn f(c: bool, d: bool) -> u256 { if c { return 1; } else if d { return 2; } }
        }
        """, (2, 8, "missing-return", "function 'f' must return a value of type u256 on every path"),
        id="missing-return-else-if-without-else"),
    case("""
        contract C {
            fn f() -> bool { for i in 0..3 { return true; } }
        }
        """, (2, 8, "missing-return", "function 'f' must return a value of type bool on every path"),
        id="missing-return-after-loop"),
    case("""
        contract C {
            fn f() -> u256 {}
        }
        """, (2, 8, "missing-return", "function 'f' must return a value of type u256 on every path"),
        id="missing-return-empty-body"),
    case("""
        contract C {
            fn f() -> u256 { return; }
        }
        """, (2, 22, "missing-return-value", "function 'f' must return a value of type u256"),
        id="return-without-value"),
    case("""
        contract C {
            fn f() { return 1; }
        }
        """, (2, 21, "unexpected-return-value", "function 'f' does not return a value; use 'return;'"),
        id="return-value-from-void"),
    case("""
        contract C {
            init() { return 1; }
        }
        """, (2, 21, "unexpected-return-value", "init does not return a value; use 'return;'"),
        id="return-value-from-init"),
    case("""
        contract C {
            fn g() {}
            fn f() { let x = g(); }
        }
        """, (3, 22, "void-value", "this call returns nothing; it cannot be used as a value"), id="void-as-value"),
    # ------------------------------------------------------------- assignments
    case("""
        contract C {
            const K: u256 = 1;
            fn f() { K = 2; }
        }
        """, (3, 14, "assign-immutable", "cannot assign to constant 'K'"), id="assign-constant"),
    case("""
        contract C {
            fn f(a: u256) { a += 1; }
        }
        """, (2, 21, "assign-immutable", "cannot assign to parameter 'a'"), id="assign-parameter"),
    case("""
        contract C {
            fn f() { for i in 0..3 { i = 2; } }
        }
        """, (2, 30, "assign-immutable", "cannot assign to loop variable 'i'"), id="assign-loop-variable"),
    case("""
        contract C {
            fn f(xs: array<u256, 3>) { xs[0] = 1; }
        }
        """, (2, 32, "assign-immutable", "array parameter 'xs' is read-only"), id="assign-array-element"),
    case("""
        contract C {
            storage m: map<u256, u256>;
            fn f() { m = 1; }
        }
        """, (3, 14, "bad-assignment", "cannot assign to map 'm' as a whole; assign to one of its keys"),
        id="assign-whole-map"),
    case("""
        contract C {
            storage m: map<u256, map<u256, u256>>;
            fn f() { m[1] = 2; }
        }
        """, (3, 14, "bad-assignment",
              "cannot assign to a whole map of type map<u256, u256>; index it down to a value"),
        id="assign-inner-map"),
    case("""
        contract C {
            fn f(a: address) { msg.sender = a; }
        }
        """, (2, 24, "bad-assignment", "cannot assign to this expression"), id="assign-msg-sender"),
    case("""
        contract C {
            fn g() -> u256 { return 1; }
            fn f() { g() = 1; }
        }
        """, (3, 14, "bad-assignment", "cannot assign to this expression"), id="assign-call"),
    # ---------------------------------------------------------------- literals
    case(f"""
        contract C {{
            fn f() -> u256 {{ return {2**256}; }}
        }}
        """, (2, 29, "literal-too-large", f"integer literal '{2**256}' exceeds 2^256-1"), id="literal-too-large"),
    case("""
        contract C {
            fn f() -> address { return address(0x00000000000000000000000000000000000000001); }
        }
        """, (2, 40, "bad-address", "address literal has 41 hex digits; at most 40 allowed"),
        id="address-41-hex-digits"),
    case(f"""
        contract C {{
            fn f() -> address {{ return address({2**160}); }}
        }}
        """, (2, 40, "bad-address", "address literal out of range: it needs more than 160 bits"),
        id="address-decimal-too-large"),
    case(f"""
        contract C {{
            const A: address = address({2**159} * 2);
        }}
        """, (2, 24, "const-eval", "address out of range: the value needs more than 160 bits"),
        id="address-constant-too-large"),
    # ------------------------------------------------------------- conversions
    case("""
        contract C {
            fn f(n: u256) -> Token { return Token(n); }
        }
        """ + TOKEN, (2, 43, "bad-conversion", "cannot convert u256 to Token; Token(...) takes address"),
        id="contract-from-u256"),
    case("""
        contract C {
            fn f(b: bool) -> u256 { return u256(b); }
        }
        """, (2, 41, "bad-conversion", "cannot convert bool to u256; u256(...) takes u256 or address"),
        id="u256-from-bool"),
    case("""
        contract C {
            fn f(t: Token) -> u256 { return u256(t); }
        }
        """ + TOKEN, (2, 42, "bad-conversion", "cannot convert Token to u256; u256(...) takes u256 or address"),
        id="u256-from-contract"),
    case("""
        contract C {
            fn f(b: bool) -> address { return address(b); }
        }
        """, (2, 47, "bad-conversion",
              "cannot convert bool to address; address(...) takes address or u256 or a contract"),
        id="address-from-bool"),
    case("""
        contract C {
            fn f(n: u256) -> bool { return bool(n); }
        }
        """, (2, 41, "bad-conversion", "cannot convert u256 to bool; bool(...) takes bool"), id="bool-from-u256"),
    case("""
        contract D {}
        contract C {
            fn f(t: Token) -> D { return D(t); }
        }
        """ + TOKEN, (3, 36, "bad-conversion", "cannot convert Token to D; D(...) takes address"),
        id="contract-from-other-contract"),
    # ---------------------------------------------------------- reserved names
    case("""
        contract C {
            fn f() { let self = 1; }
        }
        """, (2, 18, "reserved-name", "'self' is reserved and cannot be declared"), id="let-self"),
    case("""
        contract C {
            fn len(x: u256) -> u256 { return x; }
        }
        """, (2, 8, "reserved-name", "'len' is a builtin function and cannot be declared"), id="function-named-len"),
    case("""
        contract C {
            storage msg: address;
        }
        """, (2, 13, "reserved-name", "'msg' is reserved and cannot be declared"), id="storage-named-msg"),
    case("""
        contract C {
            fn f(block: u256) {}
        }
        """, (2, 10, "reserved-name", "'block' is reserved and cannot be declared"), id="param-named-block"),
    case("""
        contract C {
            fn f() { for address in 0..3 {} }
        }
        """, (2, 18, "reserved-name", "'address' is reserved and cannot be declared"), id="loop-var-named-address"),
    case("""
        contract max {}
        """, (1, 10, "reserved-name", "'max' is a builtin function and cannot be declared"), id="contract-named-max"),
    # ---------------------------------------------------- expression statements
    case("""
        contract C {
            fn f(a: u256) { a + 1; }
        }
        """, (2, 21, "useless-expression", "this expression does nothing; only calls can be statements"),
        id="arithmetic-statement"),
    case("""
        contract C {
            storage x: u256;
            fn f() { x; }
        }
        """, (3, 14, "useless-expression", "this expression does nothing; only calls can be statements"),
        id="name-statement"),
    case("""
        contract C {
            fn f() { min(1, 2); }
        }
        """, (2, 14, "useless-expression", "this expression does nothing; only calls can be statements"),
        id="builtin-statement"),
    case("""
        contract C {
            fn f(a: address) { u256(a); }
        }
        """, (2, 24, "useless-expression", "this expression does nothing; only calls can be statements"),
        id="conversion-statement"),
    # ------------------------------------------------------- names used wrongly
    case("""
        contract C {
            fn g() {}
            fn f() { let x = g; }
        }
        """, (3, 22, "bad-name-use", "function 'g' must be called: g(...)"), id="function-as-value"),
    case("""
        contract C {
            event E();
            fn f() { E(); }
        }
        """, (3, 14, "bad-call", "'E' is an event; emit it with: emit E(...);"), id="event-called"),
    case("""
        contract C {
            storage x: u256;
            fn f() { x(); }
        }
        """, (3, 14, "bad-call", "'x' is not a function"), id="storage-called"),
    case("""
        contract C {
            fn f() -> address { return msg; }
        }
        """, (2, 32, "bad-name-use", "'msg' is not a value; use msg.sender"), id="bare-msg"),
    case("""
        contract C {
            fn f() -> u256 { return u256; }
        }
        """, (2, 29, "bad-name-use", "'u256' is a type, not a value"), id="type-as-value"),
    case("""
        contract C {
            storage x: u256;
            fn f() -> u256 { return x[0]; }
        }
        """, (3, 29, "not-indexable", "cannot index a value of type u256"), id="index-scalar"),
    # --------------------------------------------------------------- constants
    case("""
        contract C {
            storage s: u256;
            const K: u256 = s + 1;
        }
        """, (3, 21, "not-constant", "storage variable 's' cannot be used in a constant"), id="const-from-storage"),
    case("""
        contract C {
            const K: address = msg.sender;
        }
        """, (2, 24, "not-constant", "'msg.sender' cannot be used in a constant"), id="const-from-msg-sender"),
    case("""
        contract C {
            const K: u256 = J + 1;
            const J: u256 = K;
        }
        """, (2, 11, "const-cycle", "constant 'K' is defined in terms of itself"), id="const-cycle"),
    case("""
        contract C {
            const K: u256 = 1 / 0;
            fn f() { for i in 0..K {} }
        }
        """, (2, 21, "const-eval", "division by zero in a constant expression"), id="const-division-by-zero"),
    case("""
        contract C {
            const K: u256 = 1 - 2;
        }
        """, (2, 21, "const-eval", "arithmetic underflow in a constant expression"), id="const-underflow"),
    case("""
        contract C {
            const K: Token = Token(address(0));
        }
        """ + TOKEN, (2, 14, "bad-const-type", "a constant must be u256, bool or address, not Token"),
        id="const-of-contract-type"),
]


@pytest.mark.parametrize("text, expected", INVALID)
def test_invalid(check, text, expected):
    diags = check(text)
    got = [(d.location.line, d.location.column, d.code, d.message) for d in diags]
    assert got == expected
    assert all(d.is_error for d in diags)
    assert all(d.location.file.endswith("t.lane") for d in diags)


# ============================================== hints, notes and warnings


def test_hints_suggest_conversions_and_close_names(check):
    diags = check("""
        contract C {
            storage total: u256;
            fn f(a: address) -> u256 { let n: u256 = a; return totl; }
            fn g(t: Token) -> address { return t; }
        }
        """ + TOKEN)
    assert [(d.message, d.hint) for d in diags] == [
        ("expected u256, found address: 'n' is u256", "convert it with u256(...)"),
        ("unknown name 'totl'", "did you mean 'total'?"),
        ("expected address, found Token: function 'g' returns address", "convert it with address(...)"),
    ]


def test_duplicate_declaration_points_at_the_first(check):
    (d,) = check("""
        contract C {
            storage x: u256;
            storage x: bool;
        }
        """)
    assert (d.location.line, d.location.column) == (3, 13)
    (note,) = d.notes
    assert note.message == "first declared here"
    assert (note.location.line, note.location.column) == (2, 13)


WARNINGS = [
    pytest.param("""
        contract C {
            storage x: u256;
            fn f(x: u256) {}
        }
        """, [("warning", 3, 10, "parameter 'x' shadows the storage variable 'x'")], id="param-shadows-storage"),
    pytest.param("""
        contract C {
            const K: u256 = 1;
            fn f() { let K = 2; }
        }
        """, [("warning", 3, 18, "local variable 'K' shadows the constant 'K'")], id="local-shadows-constant"),
    pytest.param("""
        contract C {
            fn g() {}
            fn f() { for g in 0..2 {} }
        }
        """, [("warning", 3, 18, "loop variable 'g' shadows the function 'g'")], id="loop-var-shadows-function"),
    pytest.param("""
        contract C {
            fn f() {
                return;
                let x = 1;
                let y = 2;
            }
        }
        """, [("warning", 4, 9, "unreachable statement")], id="unreachable-reported-once"),
    pytest.param("""
        contract C {
            fn f() -> u256 {
                revert("stop");
                return 1;
            }
        }
        """, [("warning", 4, 9, "unreachable statement")], id="unreachable-after-revert"),
]


@pytest.mark.parametrize("text, expected", WARNINGS)
def test_warnings(check, text, expected):
    assert fmt(check(text)) == expected


# ================================================ several files, several errors


def test_duplicate_contract_across_two_files(tmp_path):
    diags = check_source(tmp_path, """
        import "other.lane";
        contract Token {}
        """, extra_files={"other.lane": "contract Token {}\n"})
    assert fmt(diags) == [("error", 2, 10, "contract 'Token' is already declared")]
    (note,) = diags[0].notes
    assert note.location.file.endswith("other.lane") and (note.location.line, note.location.column) == (1, 10)


def test_contracts_of_an_imported_file_are_usable(tmp_path):
    diags = check_source(tmp_path, """
        import "lib/token.lane";
        contract User {
            storage t: Token;
            pub fn f() -> u256 { return t.balance_of(msg.sender); }
        }
        """, extra_files={"lib/token.lane": TOKEN, "lib/unused.lane": "this is not Lane"})
    assert fmt(diags) == []


def test_import_paths_are_relative_to_the_importing_file(tmp_path):
    diags = check_source(tmp_path, 'import "a/b.lane";\ncontract Root { storage c: Cee; }\n', extra_files={
        "a/b.lane": 'import "c.lane";\ncontract Bee {}\n',
        "a/c.lane": "contract Cee {}\n",
    })
    assert fmt(diags) == []


def test_missing_import(tmp_path):
    diags = check_source(tmp_path, """
        import "nowhere.lane";
        contract C { storage t: Token; }
        """)
    expected_path = str(tmp_path / "nowhere.lane")
    assert fmt(diags) == [
        ("error", 1, 1, f'cannot import "nowhere.lane": no such file ({expected_path})'),
        ("error", 2, 25, "unknown type 'Token'"),
    ]
    assert [d.code for d in diags] == ["missing-import", "unknown-type"]


def test_import_of_a_file_that_is_not_utf8(tmp_path):
    (tmp_path / "bin.lane").write_bytes(b"contract B { \xff }\n")
    diags = check_source(tmp_path, 'import "bin.lane";\ncontract C {}\n')
    assert fmt(diags) == [
        ("error", 1, 1, f'cannot import "bin.lane": not valid UTF-8 text ({tmp_path / "bin.lane"})')]


def test_syntax_error_in_an_imported_file_is_reported_there(tmp_path):
    diags = check_source(tmp_path, 'import "bad.lane";\ncontract C { storage x: Missing; }\n',
                         extra_files={"bad.lane": "contract Bad { fn f() { let x = ; } }\n"})
    # Only the syntax error: checking a program with an unparsed file would only add noise.
    assert fmt(diags) == [("error", 1, 33, "expected an expression, found ';'")]
    assert diags[0].location.file.endswith("bad.lane")


def test_files_that_import_each_other_are_one_program(tmp_path):
    # The SPEC forbids cycles of calls between contracts, not of imports: A calls B, and C (which
    # imports A) holds an A without calling it.
    (tmp_path / "b.lane").write_text(
        'import "c.lane";\ncontract B { storage owner: Cc; pub fn g() -> u256 { return 2; } }\n')
    (tmp_path / "c.lane").write_text('import "a.lane";\ncontract Cc { storage a: A; }\n')
    (tmp_path / "a.lane").write_text(
        'import "b.lane";\ncontract A { storage b: B; pub fn f() -> u256 { return b.g(); } }\n')
    data = CompilerData(tmp_path / "a.lane")
    assert fmt(data.diagnostics()) == []
    assert sorted(data.checked.contracts) == ["A", "B", "Cc"]
    files = [os.path.basename(m.file) for m in data.loaded.modules]
    assert sorted(files) == ["a.lane", "b.lane", "c.lane"] and files[-1] == "a.lane"  # the root last


def test_file_importing_itself(tmp_path):
    diags = check_source(tmp_path, 'import "self_import.lane";\ncontract A {}\n', name="self_import.lane")
    assert fmt(diags) == []


def test_reentrancy_across_two_files(tmp_path):
    # Two files whose contracts call each other import each other: the call cycle is the error.
    diags = check_source(tmp_path, """
        import "b.lane";
        contract A {
            storage b: B;
            pub fn f() { b.g(); }
        }
        """, name="a.lane", extra_files={"b.lane": """
        import "a.lane";
        contract B {
            storage a: A;
            pub fn g() { a.f(); }
        }
        """})
    got = sorted((d.code, d.location.file.rsplit("/", 1)[-1], d.location.line, d.location.column, d.message)
                 for d in diags)
    assert got == [
        ("reentrancy", "a.lane", 4, 20, "contract call cycle (re-entrancy): A -> B -> A"),
    ]


def test_several_independent_errors_in_one_run(check):
    diags = check("""
        contract C {
            storage x: u256;
            storage x: bool;
            fn f(a: address) -> u256 {
                let n: u256 = a;
                undefined();
                for i in 0..n {}
                return true;
            }
            view fn g() { x = 1; }
            fn h() { h(); }
        }
        """)
    assert fmt(diags) == [
        ("error", 3, 13, "'x' is already declared in contract 'C'"),
        ("error", 5, 23, "expected u256, found address: 'n' is u256"),
        ("error", 6, 9, "unknown function 'undefined'"),
        ("error", 7, 21, "loop bound must be static: a constant expression, len(p) of an array parameter, "
                         "or min(e, K) with K constant"),
        ("error", 8, 16, "expected u256, found bool: function 'f' returns u256"),
        ("error", 10, 19, "view function 'g' writes storage variable 'x'"),
        ("error", 11, 14, "recursion is not allowed: h -> h"),
    ]


def test_errors_in_two_files_are_all_reported(tmp_path):
    diags = check_source(tmp_path, 'import "lib.lane";\ncontract Main { fn f() { g(); } }\n',
                         extra_files={"lib.lane": "contract Lib { fn f() -> u256 { return false; } }\n"})
    got = [(d.location.file.rsplit("/", 1)[-1], d.location.line, d.location.column, d.message) for d in diags]
    assert sorted(got) == [
        ("lib.lane", 1, 40, "expected u256, found bool: function 'f' returns u256"),
        ("t.lane", 2, 26, "unknown function 'g'"),
    ]


# ================================================ what the checker fills in


def test_loop_bounds_are_computed(tmp_path):
    text = """
        contract C {
            const K: u256 = 10;
            pub fn f(n: u256, xs: array<u256, 8>) {
                for i in 0..K * 2 {}
                for i in 0..len(xs) {}
                for i in 0..min(n, K) {}
                for i in 0..min(K + 5, n) {}
            }
        }
        """
    (tmp_path / "t.lane").write_text(dedent(text))
    data = CompilerData(tmp_path / "t.lane")
    assert data.ok
    loops = [n for n in ast.walk(data.loaded.modules[0]) if isinstance(n, ast.For)]
    assert [loop.max_iterations for loop in loops] == [20, 8, 10, 15]


def test_checker_annotates_types_and_bindings(tmp_path):
    (tmp_path / "t.lane").write_text(dedent("""
        contract C {
            storage owner: address;
            const K: u256 = 3;
            pub fn f(n: u256) -> bool { let x = n + K; return owner == msg.sender && x > 0; }
        }
        """))
    data = CompilerData(tmp_path / "t.lane")
    assert data.ok
    info = data.checked.contracts["C"]
    fn = info.functions["f"]
    assert fn.signature() == "pub fn f(n: u256) -> bool"
    names = {n.id: n for n in ast.walk(data.loaded.modules[0]) if isinstance(n, ast.Name)}
    assert names["owner"].binding is info.storage["owner"]
    assert names["K"].binding is info.constants["K"]
    assert info.constants["K"].value == 3
    assert names["n"].binding is fn.params[0]
    assert str(names["owner"].ty) == "address" and str(names["x"].ty) == "u256"


def test_result_of_pipeline_is_none_when_a_file_does_not_parse(tmp_path):
    (tmp_path / "t.lane").write_text("contract C {")
    data = CompilerData(tmp_path / "t.lane")
    assert data.checked is None
    assert not data.ok
    assert [d.code for d in errors(data.diagnostics())] == ["syntax"]
