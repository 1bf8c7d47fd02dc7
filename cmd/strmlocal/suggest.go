package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strings"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/catalog"
)

// missingStreamRE matches the server's message for a stream it does not
// have, alone or after what named it ("derivedFrom: source stream ...").
var missingStreamRE = regexp.MustCompile(`(?:^|\s)stream "([^"]*)" not found$`)

// missingStream is the name of the stream a NotFound message is about.
func missingStream(msg string) (string, bool) {
	m := missingStreamRE.FindStringSubmatch(msg)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// maxListed is how many stream names a not-found message lists.
const maxListed = 10

// streamsBesides completes "stream NAME not found" with the streams the
// server has: the close ones, or all of them (a few), or none.
func (e *env) streamsBesides(ctx context.Context, name string) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	res, err := e.streams().ListStreams(ctx, connect.NewRequest(&v1.ListStreamsRequest{}))
	if err != nil {
		return "; see what exists with `strmlocal list streams`"
	}
	var names, close []string
	for _, st := range res.Msg.Streams {
		names = append(names, st.Name)
		if closeName(name, st.Name) {
			close = append(close, st.Name)
		}
	}
	switch {
	case len(names) == 0:
		return ": there are no streams; create one with `strmlocal create stream NAME`"
	case len(close) > 0:
		return "; did you mean " + joinOr(close) + "?"
	case len(names) > maxListed:
		return fmt.Sprintf(" (streams: %s and %d more; see `strmlocal list streams`)", strings.Join(names[:maxListed], ", "), len(names)-maxListed)
	}
	return " (streams: " + strings.Join(names, ", ") + ")"
}

// closeName reports whether name looks like a typo of have: at most two
// edits apart (as cobra suggests commands), or one a prefix of the other,
// ignoring case.
func closeName(name, have string) bool {
	a, b := strings.ToLower(name), strings.ToLower(have)
	if a == "" {
		return false
	}
	return strings.HasPrefix(b, a) || strings.HasPrefix(a, b) || editDistance(a, b) <= 2
}

// editDistance is the Levenshtein distance of a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// joinOr is "a", "a or b", "a, b or c".
func joinOr(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// sendingCredentials is streamCredentials for a command that reads or
// writes a stream (send, egress, simulate). A stream without saved
// credentials that the server does not have either is most likely a typo:
// that is reported as the server's "not found" (with the streams it has),
// not with advice to create it.
func (e *env) sendingCredentials(ctx context.Context, name string) (*v1.Credentials, error) {
	creds, err := e.streamCredentials(name)
	if err == nil {
		return creds, nil
	}
	// Only a stream with no saved credentials at all (not a damaged file).
	if catalog.ValidateName(name) != nil || !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	_, gerr := e.streams().GetStream(ctx, connect.NewRequest(&v1.GetStreamRequest{Name: name}))
	if connect.CodeOf(gerr) == connect.CodeNotFound {
		return nil, gerr
	}
	return nil, err
}
