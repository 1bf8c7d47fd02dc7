// Package client is the Go client of a strmlocal server, shared by the CLI,
// the terminal UI, the simulator and strmtest:
//
//   - Client: every Connect service of a server, with the admin token on
//     every call shape (unary and streaming) when the server has one, and
//     Client.AsStream for the calls made with a stream's own credentials;
//   - BasicAuth and BearerAuth: interceptors for unary and streaming calls;
//   - Saved: the saved entities (stream credentials) under the config dir,
//     one folder per server (by its server id), each file in the shape the
//     original STRM CLI kept them; the legacy shared folder is still read;
//   - Message and OneLine: the server's message of an error, as one line;
//   - LoadSandbox: a sandbox file (YAML or JSON) read and its file
//     references inlined, as SandboxService.Apply takes it (docs/sandbox.md);
//   - the vocabulary of the STRM-compatible HTTP surface (TokenPath, the
//     Strm-* header names), which the server (package rpc) serves by.
package client
