"""Source text to a typed AST, with parse errors a person can act on."""

from __future__ import annotations

import re

from lark import Token, Transformer_NonRecursive, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.lexer import PatternStr

from ..diagnostics import Diagnostic, Diagnostics, Location, Severity
from ..limits import MAX_SOURCE_BYTES, size_text
from . import ast
from .grammar import lark_parser
from .nesting import check_nesting

U256_MAX = 2**256 - 1
# The most digits a literal of at most 2^256-1 has (leading zeros aside): a longer one is
# too large without converting it, which CPython refuses past 4,300 decimal digits anyway.
_MAX_DIGITS = {10: len(str(U256_MAX)), 16: 64}


def parse(text: str, file: str) -> tuple[ast.Module | None, list[Diagnostic]]:
    """Parse one file.  Returns the module (None on a syntax error or past a limit) and its diagnostics."""
    diags = Diagnostics()
    if _too_large(text):
        diags.error("limit", f"contract file is larger than {size_text(MAX_SOURCE_BYTES)} (the limit)",
                    Location.point(file, 1, 1))
        return None, list(diags)
    try:
        tree = lark_parser().parse(text)
    except UnexpectedInput as err:
        diags.add(_syntax_error(err, text, file))
        return None, list(diags)
    too_deep = check_nesting(tree, file)
    if too_deep:
        diags.extend(too_deep)
        return None, list(diags)
    module = _Builder(file, diags).transform(tree)
    return module, list(diags)


def _too_large(text: str) -> bool:
    """More than MAX_SOURCE_BYTES of UTF-8 (an editor's buffer is never read through the capped reader)."""
    if len(text) * 4 <= MAX_SOURCE_BYTES:  # at most four bytes a character: no need to encode
        return False
    return len(text) > MAX_SOURCE_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_SOURCE_BYTES


# ---------------------------------------------------------------- the builder


def _loc_of_token(file: str, tok: Token) -> Location:
    return Location(file, tok.line, tok.column, tok.end_line, tok.end_column)


_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


def _quoted(text: str) -> str:
    """A literal as a message quotes it: in full, or its start and its length when it is long."""
    if len(text) <= 80:
        return f"'{text}'"
    return f"'{text[:20]}...' ({len(text):,} characters)"


def _is_digits(s: str, digits: str) -> bool:
    """Digits with single underscores only between them."""
    if not s or s[0] == "_" or s[-1] == "_" or "__" in s:
        return False
    return all(c in digits or c == "_" for c in s)


_DEC = "0123456789"
_HEX = "0123456789abcdefABCDEF"


def _is_token(x: object) -> bool:
    return isinstance(x, Token)


@v_args(meta=True)
class _Builder(Transformer_NonRecursive):
    """Builds AST dataclasses; any rule without a handler is a bug, not an untyped tree.

    Non-recursive, as a second guard: the nesting limits already bound the tree's depth.
    """

    def __init__(self, file: str, diags: Diagnostics) -> None:
        super().__init__()
        self.file = file
        self.diags = diags

    def __default__(self, data, children, meta):  # pragma: no cover - guards grammar drift
        raise NotImplementedError(f"grammar rule {data!r} has no AST builder")

    def _loc(self, meta) -> Location:
        if getattr(meta, "empty", True):
            return Location(self.file, 1, 1, 1, 1)
        return Location(self.file, meta.line, meta.column, meta.end_line, meta.end_column)

    def _tok(self, tok: Token) -> Location:
        return _loc_of_token(self.file, tok)

    def _unquote(self, tok: Token) -> str:
        """A string literal's text.  An unknown escape is an error at its backslash, not a guess."""
        body = str(tok)[1:-1]
        out, i = [], 0
        while i < len(body):
            ch = body[i]
            if ch == "\\" and i + 1 < len(body):
                escaped = body[i + 1]
                if escaped in _ESCAPES:
                    out.append(_ESCAPES[escaped])
                else:
                    # A string never spans lines (the lexer's STRING stops at '\n'), so the
                    # escape's column is the token's plus its offset in the token.
                    loc = Location.point(self.file, tok.line, tok.column + 1 + i, 2)
                    what = f"'\\{escaped}'" if escaped.isprintable() else f"'\\' before U+{ord(escaped):04X}"
                    self.diags.error("bad-escape", f"unknown escape {what} in a string", loc,
                                     hint='the escapes are \\", \\\\, \\n and \\t; write a backslash as \\\\')
                    out.append(body[i:i + 2])
                i += 2
            else:
                out.append(ch)
                i += 1
        return "".join(out)

    # ---- top level
    def start(self, meta, items):
        imports = [i for i in items if isinstance(i, ast.ImportDecl)]
        contracts = [i for i in items if isinstance(i, ast.ContractDecl)]
        return ast.Module(self._loc(meta), self.file, imports, contracts)

    def import_decl(self, meta, ch):
        return ast.ImportDecl(self._loc(meta), self._unquote(ch[0]))

    def contract_decl(self, meta, ch):
        name, *members = ch
        return ast.ContractDecl(self._loc(meta), str(name), self._tok(name), members)

    def storage_decl(self, meta, ch):
        name, ty = ch
        return ast.StorageDecl(self._loc(meta), str(name), self._tok(name), ty)

    def const_decl(self, meta, ch):
        name, ty, _eq, value = ch
        return ast.ConstDecl(self._loc(meta), str(name), self._tok(name), ty, value)

    def event_decl(self, meta, ch):
        name, params = ch
        return ast.EventDecl(self._loc(meta), str(name), self._tok(name), params)

    def init_decl(self, meta, ch):
        params, body = ch
        # The name location is the `init` keyword: the first column of the declaration.
        loc = self._loc(meta)
        name_loc = Location(self.file, loc.line, loc.column, loc.line, loc.column + 4)
        return ast.FunctionDecl(loc, "init", name_loc, params, None, body, is_init=True)

    def fn_decl(self, meta, ch):
        mods, name, params, ret, body = ch
        return ast.FunctionDecl(self._loc(meta), str(name), self._tok(name), params, ret, body,
                                is_pub="pub" in mods, is_view="view" in mods)

    def modifiers(self, meta, ch):
        return {str(t) for t in ch}

    def return_type(self, meta, ch):
        return ch[0] if ch else None

    def params(self, meta, ch):
        return list(ch)

    def param(self, meta, ch):
        name, ty = ch
        return ast.Param(self._loc(meta), str(name), self._tok(name), ty)

    # ---- types
    def named_type(self, meta, ch):
        return ast.NamedType(self._loc(meta), str(ch[0]))

    def map_type(self, meta, ch):
        key, value = [c for c in ch if not _is_token(c)]
        return ast.MapType(self._loc(meta), key, value)

    def array_type(self, meta, ch):
        elem, size = [c for c in ch if not _is_token(c)]
        return ast.ArrayType(self._loc(meta), elem, size)

    def tuple_type(self, meta, ch):
        return ast.TupleType(self._loc(meta), list(ch))

    # ---- statements
    def block(self, meta, ch):
        return ast.Block(self._loc(meta), list(ch))

    def let_stmt(self, meta, ch):
        name = ch[0]
        ty = ch[1] if len(ch) == 4 else None
        return ast.Let(self._loc(meta), str(name), self._tok(name), ty, ch[-1])

    def assign_stmt(self, meta, ch):
        target, op, value = ch
        return ast.Assign(self._loc(meta), target, str(op), self._tok(op), value)

    def if_stmt(self, meta, ch):
        cond, then, *rest = ch
        return ast.If(self._loc(meta), cond, then, rest[0] if rest else None)

    def for_stmt(self, meta, ch):
        var, start, _dots, end, body = ch
        return ast.For(self._loc(meta), str(var), self._tok(var), start, end, body)

    def require_stmt(self, meta, ch):
        return ast.Require(self._loc(meta), ch[0], self._unquote(ch[1]) if len(ch) > 1 else None)

    def revert_stmt(self, meta, ch):
        return ast.Revert(self._loc(meta), self._unquote(ch[0]) if ch else None)

    def emit_stmt(self, meta, ch):
        name, args = ch
        return ast.Emit(self._loc(meta), str(name), self._tok(name), args)

    def return_stmt(self, meta, ch):
        return ast.Return(self._loc(meta), ch[0] if ch else None)

    def expr_stmt(self, meta, ch):
        return ast.ExprStmt(self._loc(meta), ch[0])

    # ---- expressions
    def binary(self, meta, ch):
        left, op, right = ch
        return ast.Binary(self._loc(meta), str(op), self._tok(op), left, right)

    def unary(self, meta, ch):
        op, operand = ch
        return ast.Unary(self._loc(meta), str(op), operand)

    def member(self, meta, ch):
        obj, name = ch
        return ast.Member(self._loc(meta), obj, str(name), self._tok(name))

    def method_call(self, meta, ch):
        obj, name, args = ch
        return ast.MethodCall(self._loc(meta), obj, str(name), self._tok(name), args)

    def index(self, meta, ch):
        base, *keys = ch
        return ast.Index(self._loc(meta), base, keys)

    def call(self, meta, ch):
        name, args = ch
        return ast.Call(self._loc(meta), str(name), self._tok(name), args)

    def args(self, meta, ch):
        return list(ch)

    def name(self, meta, ch):
        return ast.Name(self._loc(meta), str(ch[0]))

    def bool_lit(self, meta, ch):
        return ast.BoolLit(self._loc(meta), str(ch[0]) == "true")

    def integer(self, meta, ch):
        tok = ch[0]
        text = str(tok)
        loc = self._loc(meta)
        base, digits = (16, text[2:]) if text[:2] in ("0x", "0X") else (10, text)
        ok = _is_digits(digits, _HEX if base == 16 else _DEC)
        value = 0
        if not ok:
            self.diags.error("bad-literal", f"invalid integer literal {_quoted(text)}", loc,
                             hint="integers are decimal or 0x-prefixed hex digits, "
                                  "with '_' allowed only between digits")
            return ast.IntLit(loc, value, text)
        significant = digits.replace("_", "").lstrip("0")
        if len(significant) <= _MAX_DIGITS[base]:
            value = int(significant or "0", base)
        if len(significant) > _MAX_DIGITS[base] or value > U256_MAX:
            self.diags.error("literal-too-large", f"integer literal {_quoted(text)} exceeds 2^256-1", loc)
            value = 0
        return ast.IntLit(loc, value, text)


# ------------------------------------------------------------ syntax errors

# Terminals described in words rather than by their token names.
_WORDS = {
    "NAME": "a name",
    "INT": "an integer",
    "STRING": "a string",
    "$END": "end of file",
    "COMPOUND_ASSIGN": "'+='",
}
_OPERATORS = {"OROR", "ANDAND", "EQ", "NE", "LT", "LE", "GT", "GE",
              "PLUS", "MINUS", "STAR", "SLASH", "PERCENT"}
_EXPR_CONTINUATIONS = {"DOT", "LSQB"}
_EXPR_STARTS = {"NAME", "INT", "TRUE", "FALSE", "LPAR", "BANG"}
_STMT_STARTS = {"LET", "IF", "FOR", "REQUIRE", "REVERT", "EMIT", "RETURN"}
_MEMBER_STARTS = {"STORAGE", "CONST", "EVENT", "INIT", "FN", "PUB", "VIEW"}


def _terminal_text(name: str) -> str:
    if name in _WORDS:
        return _WORDS[name]
    for term in lark_parser().terminals:
        if term.name == name and isinstance(term.pattern, PatternStr):
            return f"'{term.pattern.value}'"
    return name.lower()


def describe_expected(expected: set[str]) -> str:
    """Words for a set of acceptable terminals: ``';' or an operator``."""
    expected = set(expected)
    groups: list[str] = []
    if _STMT_STARTS <= expected:
        expected -= _STMT_STARTS | _EXPR_STARTS
        groups.append("a statement")
    if _MEMBER_STARTS <= expected:
        expected -= _MEMBER_STARTS
        groups.append("a declaration")
    if _EXPR_STARTS <= expected:
        expected -= _EXPR_STARTS
        groups.append("an expression")
    if len(expected & _OPERATORS) >= 5:
        expected -= _OPERATORS | _EXPR_CONTINUATIONS
        groups.append("an operator")
    if "ASSIGN" in expected and "COMPOUND_ASSIGN" in expected:
        expected -= {"ASSIGN", "COMPOUND_ASSIGN"}
        groups.append("'='")
    words = sorted({_terminal_text(t) for t in expected}, key=lambda w: (w[0] != "'", w))
    words += groups
    if not words:
        return "something else"
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def _found(tok: Token) -> str:
    if tok.type == "$END":
        return "end of file"
    if tok.type in ("NAME", "INT"):
        return f"'{tok}'"
    if tok.type == "STRING":
        return "a string"
    return f"'{tok}'"


def _previous_token(text: str, tok: Token) -> Token | None:
    before = list(lark_parser().lex(text[: tok.start_pos]))
    return before[-1] if before else None


def _end_of_file(file: str, text: str) -> Location:
    """Just after the last character of the last non-empty line.

    Lines are split on '\\n' only, as Lark counts them; ``str.splitlines`` also
    breaks at form feeds and Unicode separators and would give other numbers.
    """
    lines = text.split("\n")
    while len(lines) > 1 and not lines[-1].rstrip("\r"):
        lines.pop()
    last = lines[-1].rstrip("\r")
    return Location.point(file, len(lines), len(last) + 1)


def _syntax_error(err: UnexpectedInput, text: str, file: str) -> Diagnostic:
    if isinstance(err, UnexpectedCharacters):
        line, col = err.line, err.column
        rest = text[err.pos_in_stream:]
        if rest.startswith('"'):
            msg = "unterminated string"
        elif rest.startswith("/*"):
            msg = "unterminated comment: '/*' without a closing '*/'"
        else:
            msg = f"unexpected character {rest[:1]!r}"
        return Diagnostic(Severity.ERROR, "syntax", msg, Location.point(file, line, col))
    if isinstance(err, UnexpectedToken):
        tok = err.token
        # `accepts` tries each terminal on the parser state; `expected` is LALR's wider guess.
        accepts = getattr(err, "accepts", None) or err.expected
        if tok.type == "SLASH" and text.startswith("/*", tok.start_pos):
            return Diagnostic(Severity.ERROR, "syntax",
                              "unterminated comment: '/*' without a closing '*/'",
                              Location.point(file, tok.line, tok.column, 2))
        if tok.type == "STAR" and tok.start_pos > 0 and text[tok.start_pos - 1] == "/":
            # `a /* ...` never closed: '/' was taken as division, the error comes at '*'.
            return Diagnostic(Severity.ERROR, "syntax",
                              "unterminated comment: '/*' without a closing '*/'",
                              Location.point(file, tok.line, tok.column - 1, 2))
        if tok.type == "INT":
            before = text[max(0, tok.start_pos - 100):tok.start_pos]
            whole = re.search(r"(?<![0-9A-Za-z_])[0-9][0-9A-Za-z_]*\.$", before)
            if whole is not None:  # `1.5`: a number, a '.', a number
                start = tok.start_pos - len(whole.group())
                number = text[start:tok.end_pos]
                line = text.count("\n", 0, start) + 1
                column = start - (text.rfind("\n", 0, start) + 1) + 1
                return Diagnostic(Severity.ERROR, "syntax",
                                  f"{_quoted(number)} is not a number: Lane has whole numbers only (u256)",
                                  Location.point(file, line, column, len(number)),
                                  hint="scale to whole units (1.5 tokens as 1_500 thousandths of a token)")
        expected = describe_expected(accepts)
        if tok.type == "$END":
            loc = _end_of_file(file, text)
            return Diagnostic(Severity.ERROR, "syntax",
                              f"unexpected end of file: expected {expected}", loc)
        loc = _loc_of_token(file, tok)
        prev = _previous_token(text, tok)
        if "SEMICOLON" in accepts and prev is not None and prev.end_line < tok.line:
            # A missing ';' belongs to the line that lacks it (as rustc reports it).
            loc = Location.point(file, prev.end_line, prev.end_column)
        return Diagnostic(Severity.ERROR, "syntax",
                          f"expected {expected}, found {_found(tok)}", loc)
    if isinstance(err, UnexpectedEOF):  # pragma: no cover - LALR reports $END as a token
        return Diagnostic(Severity.ERROR, "syntax", "unexpected end of file", _end_of_file(file, text))
    return Diagnostic(Severity.ERROR, "syntax", str(err).splitlines()[0],  # pragma: no cover
                      Location.point(file, getattr(err, "line", 1) or 1, getattr(err, "column", 1) or 1))
