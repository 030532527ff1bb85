"""``lane lsp``: a language server that checks contracts as you type.

    framing.py      the bytes from the editor split into messages, whatever they are
    rpc.py          JSON-RPC: what goes on to pygls, what gets an error response instead
    stdio.py        the reader thread on stdin, the writer on stdout, the end of the server
    positions.py    Lane locations (1-based, characters) <-> LSP positions (0-based, UTF-16)
    diagnostics.py  Lane diagnostics as LSP ones; imported files' errors at their import
    documents.py    open buffers, which override the disk, and the last facts of each
    debounce.py     one timer per document
    workers.py      worker processes for checks: a time limit, killed when stale
    facts.py        a check in a worker: diagnostics, outline, every name's hover and declaration
    lookup.py       what the name at a position means, and where it is declared
    hover.py        hover text: access summaries and costs, who touches a storage variable
    outline.py      document symbols
    server.py       the pygls server and its guarded handlers
"""

from .server import make_server, serve

__all__ = ["make_server", "serve"]
