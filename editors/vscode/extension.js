// The Lane extension: highlighting comes from syntaxes/lane.tmLanguage.json; everything
// else (diagnostics as you type, hovers, go to definition, the outline) from the language
// server `lane lsp`, which this file starts over stdin and stdout.
"use strict";

const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function makeClient() {
  const config = vscode.workspace.getConfiguration("lane");
  const server = {
    command: config.get("server.command", "lane"),
    args: config.get("server.args", ["lsp"]),
  };
  return new LanguageClient("lane", "Lane", { run: server, debug: server }, {
    documentSelector: [
      { scheme: "file", language: "lane" },
      { scheme: "untitled", language: "lane" },
    ],
  });
}

async function start() {
  client = makeClient();
  try {
    await client.start();
  } catch (err) {
    client = undefined;
    vscode.window.showErrorMessage(
      `Could not start the Lane language server (${err.message || err}). ` +
      "Install Lane (pip install lane-lang) or set lane.server.command to its lane executable.");
  }
}

async function stop() {
  if (client) {
    const running = client;
    client = undefined;
    await running.stop();
  }
}

async function activate(context) {
  context.subscriptions.push(
    vscode.commands.registerCommand("lane.restartServer", async () => {
      await stop();
      await start();
    }),
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration("lane.server")) {
        await stop();
        await start();
      }
    }),
  );
  await start();
}

function deactivate() {
  return stop();
}

module.exports = { activate, deactivate };
