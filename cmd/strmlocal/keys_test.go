package main

import (
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tink-crypto/tink-go/v2/daead"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
)

func TestKeysListAndExport(t *testing.T) {
	c := newCLI(t)
	sendDemo(c)
	var l labels
	c.expectLabeled(&l, "keys list demo", 0,
		"KEY LINK                              CREATED               ROTATES AT            EXPIRES AT            SHREDDED\n"+
			"<key-1----------------------------->  2026-11-22T12:00:00Z  2026-11-23T12:00:00Z  2026-11-30T12:00:00Z  no\n", "")
	c.expectLabeled(&l, "keys list demo -o json", 0, `{
  "keyLinks": [
    {
      "keyLink": "<key-1----------------------------->",
      "stream": "demo",
      "createTime": "2026-11-22T12:00:00Z",
      "rotateTime": "2026-11-23T12:00:00Z",
      "expireTime": "2026-11-30T12:00:00Z"
    }
  ]
}
`, "")

	// The export: every field quoted, one row per key, and a keyset that
	// Tink decrypts the stream's ciphertexts with.
	_, out, _ := c.runRaw("keys", "export", "demo")
	if !regexp.MustCompile(`^"[0-9a-f-]{36}","\{(""|[^"])*\}","1796040000000"\n$`).MatchString(out) {
		t.Fatalf("export:\n%s", out)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	h, err := insecurecleartextkeyset.Read(keyset.NewJSONReader(strings.NewReader(rows[0][1])))
	if err != nil {
		t.Fatal(err)
	}
	d, err := daead.New(h)
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		StrmMeta         struct{ KeyLink string }
		UniqueIdentifier string
	}
	if err := json.Unmarshal([]byte(strings.SplitN(c.mustRun("egress demo --follow=false"), "\n", 2)[0]), &ev); err != nil {
		t.Fatal(err)
	}
	ct, err := base64.StdEncoding.DecodeString(ev.UniqueIdentifier)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := d.DecryptDeterministically(ct, []byte("uniqueIdentifier"))
	if ev.StrmMeta.KeyLink != rows[0][0] || err != nil || string(pt) != "user-1" {
		t.Fatalf("key link %s, exported %s; decrypt: %q, %v", ev.StrmMeta.KeyLink, rows[0][0], pt, err)
	}

	c.expect("keys list nope", 1, "", "strmlocal: stream \"nope\" not found (streams: demo, demo-2)\n")
	c.expect("keys export", 1, "", "strmlocal: accepts 1 arg(s), received 0\n")
	c.expect("keys export demo-2", 1, "", "strmlocal: stream \"demo-2\" is derived from \"demo\"; key links belong to the source stream \"demo\"\n")
}

// clickEvent is a valid clickstream event: session is the keyField,
// customer the data subject.
func clickEvent(session, customer string) string {
	return `{"strmMeta": {"eventContractRef": "streammachine/clickstream/1.0.0", "consentLevels": [0, 1]}, "producerSessionId": "` + session +
		`", "url": "https://shop.example/p/1", "eventType": "view", "referrer": "", "userAgent": "ua", "conversion": 0, "abTests": [], "customer": {"id": "` + customer + `"}}`
}

func TestKeysForget(t *testing.T) {
	c := newCLI(t)
	c.mustRun("create stream shop")
	c.mustRun("create stream --derived-from shop --levels 1")
	c.stdin = clickEvent("p-1", "c-1") + "\n" + clickEvent("p-1", "c-1") + "\n" + clickEvent("p-2", "c-2") + "\n"
	c.mustRun("send shop --schema-ref streammachine/clickstream/1.0.0")
	c.stdin = ""
	var l labels
	// c-1's events come first: its key link is <key-1----------------------------->, c-2's <key-2----------------------------->.
	l.scrub(c.mustRun("egress shop --follow=false"))
	c.expectLabeled(&l, "keys forget c-1", 0, "forgot c-1: 1 key link deleted, 2 events can no longer be decrypted\n", "")
	c.expectLabeled(&l, "keys forget c-3", 0, "forgot c-3: 0 key links deleted, 0 events can no longer be decrypted\n", "")
	// Both links were created at the same time: their order is the
	// order of their random ids.
	code, out, errs := c.runRaw("keys", "list", "shop")
	if got, want := sortedRows(l.scrub(out)),
		"KEY LINK                              CREATED               ROTATES AT            EXPIRES AT            SHREDDED\n"+
			"<key-1----------------------------->  2026-11-22T12:00:00Z  2026-11-23T12:00:00Z  2026-11-30T12:00:00Z  2026-11-22T12:00:00Z (forgotten)\n"+
			"<key-2----------------------------->  2026-11-22T12:00:00Z  2026-11-23T12:00:00Z  2026-11-30T12:00:00Z  no\n"; code != 0 || got != want {
		t.Fatalf("keys list: exit %d, stderr %q\n%s\nwant\n%s", code, errs, got, want)
	}
	// The derived stream keeps the forgotten customer's events, but cannot
	// decrypt them any more and says so.
	click := func(key, session, customer string) string {
		return `{"strmMeta":{"eventContractRef":"streammachine/clickstream/1.0.0","nonce":<nonce>,"timestamp":1795348800000,"keyLink":"` + key + `","billingId":null,"consentLevels":[0,1]},` +
			`"producerSessionId":"` + session + `","url":"https://shop.example/p/1","eventType":"view","referrer":"","userAgent":"ua","conversion":0,"abTests":[],"customer":{"id":"` + customer + `"}}` + "\n"
	}
	c.expectLabeled(&l, "egress shop-1 --follow=false", 0,
		click("<key-1----------------------------->", "<ct-1>", "<ct-2>")+
			click("<key-1----------------------------->", "<ct-1>", "<ct-2>")+
			click("<key-2----------------------------->", "p-2", "c-2"), "")
	type record struct {
		Offset               string
		Decrypted, Encrypted []string
		Shredded             bool
	}
	var got []record
	for line := range strings.Lines(c.mustRun("egress shop-1 --follow=false --records")) {
		var r record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	pii := []string{"customer/id", "producerSessionId"}
	want := []record{{"0", []string{}, pii, true}, {"1", []string{}, pii, true}, {"2", pii, []string{}, false}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("records %+v\nwant    %+v", got, want)
	}
}

// sortedRows sorts the lines of a table after its header.
func sortedRows(table string) string {
	lines := strings.SplitAfter(table, "\n")
	slices.Sort(lines[1:])
	return strings.Join(lines, "")
}
