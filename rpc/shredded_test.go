package rpc_test

import (
	"context"
	"testing"

	"connectrpc.com/connect"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/strmtest"
)

// A source stream shows its events as stored, PII encrypted; once a data
// subject is forgotten, the records of that subject say shredded, as a
// derived stream's do: nobody can decrypt them any more. Records of others
// do not.
func TestSourceStreamSaysShredded(t *testing.T) {
	ctx := context.Background()
	sb := strmtest.New(t)
	src := sb.CreateStream("clicks")
	mustAccept(t, src.Send("streammachine/clickstream/1.0.0",
		click("sa1", "alice", "https://shop.example/a", 0, 1),
		click("sb1", "bob", "https://shop.example/b", 0, 1),
		click("sa2", "alice", "https://shop.example/c", 0, 1),
		click("sb1", "bob", "https://shop.example/d", 0, 1),
	))
	for _, r := range src.Read() {
		if r.Shredded {
			t.Errorf("offset %d shredded before anything was forgotten", r.Offset)
		}
	}
	if _, err := sb.Keys.ForgetDataSubject(ctx, connect.NewRequest(&v1.ForgetDataSubjectRequest{DataSubjectId: "alice"})); err != nil {
		t.Fatal(err)
	}
	alice := map[uint64]bool{0: true, 2: true}
	check := func(how string, recs []*v1.Record) {
		t.Helper()
		if len(recs) != 4 {
			t.Fatalf("%s: %d records", how, len(recs))
		}
		for _, r := range recs {
			if r.Shredded != alice[r.Offset] {
				t.Errorf("%s: offset %d shredded %v, want %v", how, r.Offset, r.Shredded, alice[r.Offset])
			}
			// Nothing else of a view: the source shows ciphertext as stored.
			if len(r.Decrypted)+len(r.Masked)+len(r.Encrypted) != 0 || !isCiphertext(fields(t, r.Json)["producerSessionId"]) {
				t.Errorf("%s: offset %d: %v", how, r.Offset, r)
			}
		}
	}
	check("ReadEvents", src.Read())

	// Tail without follow reads through the same Reader.
	tail, err := src.Egress.Tail(ctx, connect.NewRequest(&v1.TailRequest{Stream: "clicks", Start: &v1.TailRequest_FromBeginning{FromBeginning: true}}))
	if err != nil {
		t.Fatal(err)
	}
	var recs []*v1.Record
	for tail.Receive() {
		recs = append(recs, tail.Msg().Records...)
	}
	if err := tail.Err(); err != nil {
		t.Fatal(err)
	}
	check("Tail", recs)
}
