"""``lane lsp``: a language server that checks contracts as you type.

    positions.py    Lane locations (1-based, characters) <-> LSP positions (0-based, UTF-16)
    diagnostics.py  Lane diagnostics as LSP ones; imported files' errors at their import
    documents.py    open buffers, which override the disk, and the last check of each
    debounce.py     one timer per document
    lookup.py       what the name at a position means, and where it is declared
    hover.py        hover text: access summaries and costs, who touches a storage variable
    outline.py      document symbols
    server.py       the pygls server and its guarded handlers
"""

from .server import make_server, serve

__all__ = ["make_server", "serve"]
