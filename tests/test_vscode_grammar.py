"""The VS Code extension's TextMate grammar: well formed, and it covers the whole language.

TextMate grammars use Oniguruma regexes; this one keeps to what Python's ``re``
compiles alike, so a small tokenizer here (``match`` rules, ``begin``/``end``
rules with inner patterns and captures, ``include`` of ``#name`` and
``$self``, line by line as editors run them) can check it: every example
tokenises with no stray character, and every keyword and operator of
grammar/lane.lark gets its own scope.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import pytest
from lark.lexer import PatternRE, PatternStr

from compiler.semantics.symbols import BUILTINS
from compiler.semantics.types import PRIMITIVES
from compiler.syntax.grammar import lark_parser
from conftest import EXAMPLES, REPO

VSCODE = REPO / "editors" / "vscode"
GRAMMAR = VSCODE / "syntaxes" / "lane.tmLanguage.json"
IDENTIFIER = "variable.other.lane"  # the scope of a name that is nothing more


# ------------------------------------------------------------ the tokenizer

@dataclass
class Rule:
    name: str | None
    match: re.Pattern | None = None
    begin: re.Pattern | None = None
    end: re.Pattern | None = None
    captures: dict = field(default_factory=dict)
    begin_captures: dict = field(default_factory=dict)
    end_captures: dict = field(default_factory=dict)
    patterns: list = field(default_factory=list)  # raw inner patterns of a begin/end rule


@dataclass(frozen=True)
class Token:
    line: int
    start: int
    end: int
    text: str
    scopes: tuple[str, ...]


class TextMate:
    """A TextMate grammar: match and begin/end rules, includes, captures; enough for Lane's."""

    def __init__(self, data: dict) -> None:
        self.data = data
        self.repository = data.get("repository", {})

    def rules(self, patterns: list[dict], seen: frozenset = frozenset()) -> list[Rule]:
        out = []
        for p in patterns:
            if "include" in p:
                ref = p["include"]
                if ref in seen:
                    continue
                if ref == "$self":
                    out += self.rules(self.data["patterns"], seen | {ref})
                else:
                    assert ref.startswith("#"), f"unsupported include {ref!r}"
                    entry = self.repository[ref[1:]]
                    out += self.rules(entry["patterns"] if "patterns" in entry and "match" not in entry
                                      and "begin" not in entry else [entry], seen | {ref})
            elif "match" in p:
                out.append(Rule(p.get("name"), match=re.compile(p["match"]), captures=p.get("captures", {})))
            elif "begin" in p:
                out.append(Rule(p.get("name"), begin=re.compile(p["begin"]), end=re.compile(p["end"]),
                                begin_captures=p.get("beginCaptures", p.get("captures", {})),
                                end_captures=p.get("endCaptures", p.get("captures", {})),
                                patterns=p.get("patterns", [])))
            else:
                raise AssertionError(f"a rule without match, begin or include: {p}")
        return out

    def tokenize(self, text: str) -> tuple[list[Token], list[tuple[int, int, str]]]:
        """Tokens, and the non-blank text no rule matched (line, column, text)."""
        tokens, stray = [], []
        stack: list[tuple[Rule, list[Rule]]] = []  # open begin/end rules with their inner rules
        top = self.rules(self.data["patterns"])
        for n, line in enumerate(text.split("\n")):
            pos = 0
            while pos <= len(line):
                scopes = tuple(r.name for r, _ in stack if r.name)
                rules = stack[-1][1] if stack else top
                best, best_rule = None, None
                if stack:
                    best = stack[-1][0].end.search(line, pos)
                for rule in rules:
                    m = (rule.match or rule.begin).search(line, pos)
                    if m is not None and (best is None or m.start() < best.start()):
                        best, best_rule = m, rule
                if best is None:
                    gap = line[pos:]
                    if not stack and gap.strip():
                        stray.append((n + 1, pos + 1, gap))
                    elif gap:
                        tokens.append(Token(n + 1, pos, len(line), gap, scopes))
                    break
                gap = line[pos:best.start()]
                if not stack and gap.strip():
                    stray.append((n + 1, pos + 1, gap))
                elif gap and stack:
                    tokens.append(Token(n + 1, pos, best.start(), gap, scopes))
                if best_rule is None:  # the end of the open rule
                    rule, _ = stack.pop()
                    tokens += _captured(n, best, scopes, rule.end_captures)
                elif best_rule.begin is not None:
                    inner = scopes + ((best_rule.name,) if best_rule.name else ())
                    tokens += _captured(n, best, inner, best_rule.begin_captures)
                    stack.append((best_rule, self.rules(best_rule.patterns)))
                else:
                    named = scopes + ((best_rule.name,) if best_rule.name else ())
                    tokens += _captured(n, best, named, best_rule.captures)
                if best.end() == pos and best_rule is not None and best_rule.begin is None:
                    pos += 1  # an empty match must not stall
                else:
                    pos = best.end()
                if pos == len(line) and not (stack and stack[-1][0].end.search(line, pos)):
                    break
        return tokens, stray


def _captured(line: int, m: re.Match, scopes: tuple[str, ...], captures: dict) -> list[Token]:
    """The match as one token, or as its captured groups (each with its name) when there are captures."""
    if m.end() == m.start():
        return []
    if not captures or set(captures) == {"0"}:
        name = captures.get("0", {}).get("name")
        return [Token(line + 1, m.start(), m.end(), m.group(), scopes + ((name,) if name else ()))]
    out = []
    for group, capture in sorted(captures.items(), key=lambda kv: int(kv[0])):
        if m.group(int(group)) is not None:
            out.append(Token(line + 1, m.start(int(group)), m.end(int(group)), m.group(int(group)),
                             scopes + (capture["name"],)))
    return out


@pytest.fixture(scope="module")
def grammar() -> TextMate:
    return TextMate(json.loads(GRAMMAR.read_text()))


def scopes_of(grammar: TextMate, text: str) -> list[tuple[str, str]]:
    tokens, stray = grammar.tokenize(text)
    assert stray == []
    return [(t.text, t.scopes[-1] if t.scopes else "") for t in tokens if t.text.strip()]


# -------------------------------------------------------------------- tests

def test_the_extension_files_are_valid_json_and_agree():
    package = json.loads((VSCODE / "package.json").read_text())
    json.loads((VSCODE / "language-configuration.json").read_text())
    (language,) = package["contributes"]["languages"]
    (contributed,) = package["contributes"]["grammars"]
    assert language["extensions"] == [".lane"] and contributed["language"] == language["id"] == "lane"
    assert (VSCODE / contributed["path"]).resolve() == GRAMMAR
    assert (VSCODE / language["configuration"]).is_file() and (VSCODE / package["main"]).is_file()
    assert json.loads(GRAMMAR.read_text())["scopeName"] == contributed["scopeName"] == "source.lane"
    assert "vscode-languageclient" in package["dependencies"]
    assert package["contributes"]["configuration"]["properties"]["lane.server.args"]["default"] == ["lsp"]


def test_every_rule_is_well_formed_and_every_regex_compiles(grammar):
    data = grammar.data
    assert isinstance(data["patterns"], list) and isinstance(data["repository"], dict)

    def walk(rule: dict, where: str) -> None:
        keys = {"match", "begin", "include", "patterns"} & set(rule)
        assert keys, f"{where}: a rule needs match, begin, include or patterns"
        if "include" in rule:
            ref = rule["include"]
            assert ref == "$self" or (ref.startswith("#") and ref[1:] in data["repository"]), f"{where}: {ref}"
        for key in ("match", "begin", "end"):
            if key in rule:
                re.compile(rule[key])
        assert ("begin" in rule) == ("end" in rule), f"{where}: begin without end"
        for key in ("captures", "beginCaptures", "endCaptures"):
            for group, capture in rule.get(key, {}).items():
                assert group.isdigit() and "name" in capture, f"{where}: {key}"
        for i, inner in enumerate(rule.get("patterns", [])):
            walk(inner, f"{where}.patterns[{i}]")

    for i, rule in enumerate(data["patterns"]):
        walk(rule, f"patterns[{i}]")
    for name, rule in data["repository"].items():
        walk(rule, f"repository.{name}")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_tokenises_with_nothing_left_over(grammar, path):
    tokens, stray = grammar.tokenize(path.read_text())
    assert stray == []
    assert any(t.scopes and t.scopes[-1] == "entity.name.type.contract.lane" for t in tokens)


def _literals() -> set[str]:
    """Every fixed token of grammar/lane.lark: keywords, operators, punctuation."""
    out = set()
    for term in lark_parser().terminals:
        if isinstance(term.pattern, PatternStr):
            out.add(term.pattern.value)
        elif isinstance(term.pattern, PatternRE):
            body = re.fullmatch(r"\(\?:([^\[\]]*)\)", term.pattern.value)  # an alternation of literals
            if body and "|" in body.group(1):
                out |= {re.sub(r"\\(.)", r"\1", alt) for alt in body.group(1).split("|")}
    return out


def test_every_keyword_of_the_grammar_has_a_scope_of_its_own(grammar):
    words = {w for w in _literals() if w.isidentifier()} | set(PRIMITIVES) | set(BUILTINS)
    assert {"contract", "storage", "pub", "view", "import", "emit", "array", "map", "u256"} <= words
    for word in sorted(words):
        text = f"{word}(" if word in BUILTINS else word  # builtins are highlighted where they are called
        (token, *_) = scopes_of(grammar, text)
        assert token[0] == word and token[1] != IDENTIFIER, f"{word!r} is highlighted as a plain name"


def test_every_operator_and_punctuation_is_one_token(grammar):
    symbols = {s for s in _literals() if not s.isidentifier()}
    assert {"+=", "->", "..", "&&", "||", "!=", ";", "{"} <= symbols
    for symbol in sorted(symbols):
        assert scopes_of(grammar, f"a {symbol} b")[1][0] == symbol, symbol


def test_scopes_of_a_small_contract(grammar):
    text = ('import "token.lane";\n'
            "contract Vault { // a comment\n"
            "    storage owner: address; const FEE: u256 = 0x1_f;\n"
            '    pub view fn get(k: Token) -> u256 { require(msg.sender == self, "no \\"way\\""); '
            "return min(1_000, FEE); }\n"
            "    /* a block\n       comment */ event Paid(to: address);\n}\n")
    tokens, stray = grammar.tokenize(text)
    assert stray == []
    scope = {t.text.strip(): t.scopes[-1] for t in tokens}
    assert scope['token.lane'] == "string.quoted.double.lane" and scope['"'] == "punctuation.definition.string.end.lane"
    assert scope["Vault"] == "entity.name.type.contract.lane"
    assert scope["// a comment"] == "comment.line.double-slash.lane"
    assert scope["owner"] == "variable.other.member.lane"
    assert scope["FEE"] == "variable.other.constant.lane"
    assert scope["0x1_f"] == "constant.numeric.hex.lane" and scope["1_000"] == "constant.numeric.decimal.lane"
    assert scope["get"] == "entity.name.function.lane" and scope["Token"] == "entity.name.type.lane"
    assert scope["msg.sender"] == scope["self"] == "variable.language.lane"
    assert scope["\\\""] == "constant.character.escape.lane"
    assert scope["min"] == "support.function.builtin.lane"
    assert scope["comment"] == "comment.block.lane"  # the second line of a block comment
    assert scope["Paid"] == "entity.name.type.event.lane"
