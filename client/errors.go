package client

import (
	"errors"
	"strings"

	"connectrpc.com/connect"
)

// Message is the server's own message of an error (without the Connect code
// prefix), or the error's text for anything else, as one line.
func Message(err error) string {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return OneLine(ce.Message())
	}
	return OneLine(err.Error())
}

// OneLine joins the lines of a message that reports several problems.
func OneLine(msg string) string { return strings.ReplaceAll(strings.TrimSpace(msg), "\n", "; ") }
