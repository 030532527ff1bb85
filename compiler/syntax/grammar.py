"""Loading ``lane.lark``: once per process, from inside the installed package.

An installed Lane carries the grammar as ``compiler/grammar/lane.lark``; a
source checkout has it at ``grammar/lane.lark`` beside the package.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

from lark import Lark

import compiler


def grammar_text() -> str:
    packaged = resources.files(compiler).joinpath("grammar", "lane.lark")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    checkout = Path(compiler.__file__).resolve().parent.parent / "grammar" / "lane.lark"
    return checkout.read_text(encoding="utf-8")


@functools.cache
def lark_parser(cache: bool = True) -> Lark:
    """The parser.  Its LALR tables are kept in a temporary file keyed by the grammar (building them
    takes half a second); ``cache=False`` builds them, and keeps the grammar on the parser (what
    ``hypothesis.extra.lark`` generates programs from)."""
    # The basic lexer (not the contextual one) keeps keywords reserved: with the
    # contextual lexer "let if = 1" would lex `if` as a name.
    return Lark(
        grammar_text(),
        parser="lalr",
        lexer="basic",
        propagate_positions=True,
        maybe_placeholders=False,
        cache=cache,
    )


def token_digest(text: str) -> str:
    """A source file by its tokens (type and text of each, in order): what the lexer keeps of it
    (a world's identity names its contracts' files so, comments and layout aside)."""
    import hashlib

    h = hashlib.sha256()
    for token in lark_parser().lex(text):
        h.update(token.type.encode() + b"\0" + token.value.encode("utf-8", "surrogatepass") + b"\1")
    return h.hexdigest()
