package client_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/client"
)

const (
	idA = "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f"
	idB = "0b9a8c7d-6e5f-4a3b-9c2d-1e0f2a3b4c5d"
)

func stream(name, id string) *v1.Stream {
	return &v1.Stream{Name: name, Credentials: &v1.Credentials{ClientId: id, ClientSecret: "secret-" + id}}
}

// TestEntitiesPerServer: each server has its own folder; saving for one
// never touches another's or the legacy folder, which is still read.
func TestEntitiesPerServer(t *testing.T) {
	dir := t.TempDir()
	legacy := client.SavedIn(dir)
	a, err := client.ServerSaved(dir, idA)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := client.ServerSaved(dir, idB)
	if got, want := a.Dir, filepath.Join(dir, "servers", idA, "saved-entities"); got != want {
		t.Fatalf("ServerSaved = %s, want %s", got, want)
	}
	entsA := client.Entities{Server: a, Legacy: legacy}
	entsB := client.Entities{Server: b, Legacy: legacy}

	if _, err := legacy.Save("Stream", "old", stream("old", "legacy")); err != nil {
		t.Fatal(err)
	}
	pathA, err := entsA.Save("Stream", "demo", stream("demo", "a"))
	if err != nil || pathA != filepath.Join(a.Dir, "Stream", "demo.json") {
		t.Fatalf("Save on A: %s, %v", pathA, err)
	}
	if _, err := entsB.Save("Stream", "demo", stream("demo", "b")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ents       client.Entities
		name, id   string
		wantPathIn string
	}{
		{entsA, "demo", "a", a.Dir},
		{entsB, "demo", "b", b.Dir},
		{entsA, "old", "legacy", legacy.Dir},
		{entsB, "old", "legacy", legacy.Dir},
	} {
		c, path, err := tc.ents.StreamCredentials(tc.name)
		if err != nil || c.GetClientId() != tc.id || path != filepath.Join(tc.wantPathIn, "Stream", tc.name+".json") {
			t.Errorf("StreamCredentials(%s) in %s = %v, %s, %v", tc.name, tc.ents.Server.Dir, c, path, err)
		}
	}
	// The server's own file wins.
	if _, err := entsA.Save("Stream", "old", stream("old", "a")); err != nil {
		t.Fatal(err)
	}
	if c, _, _ := entsA.StreamCredentials("old"); c.GetClientId() != "a" {
		t.Errorf("A's old = %v, want A's own", c)
	}
	// Remove leaves the legacy file and other servers alone.
	if err := entsA.Remove("Stream", "old"); err != nil {
		t.Fatal(err)
	}
	if err := entsA.Remove("Stream", "demo"); err != nil {
		t.Fatal(err)
	}
	if c, _, _ := entsA.StreamCredentials("old"); c.GetClientId() != "legacy" {
		t.Errorf("A's old after Remove = %v, want the legacy one", c)
	}
	if c, _, _ := entsB.StreamCredentials("demo"); c.GetClientId() != "b" {
		t.Errorf("B's demo after A's Remove = %v", c)
	}
	_, _, err = entsA.StreamCredentials("demo")
	want := "no saved credentials for stream demo: create it with `strmlocal create stream demo`, which saves them in " +
		filepath.Join(a.Dir, "Stream", "demo.json") +
		"; if it was created elsewhere (or with --save=false), save its credentials in that file"
	if err == nil || err.Error() != want || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v\nwant %s", err, want)
	}

	// A server whose id is unknown reads the legacy folder only and saves
	// nowhere.
	unknown := client.Entities{Legacy: legacy}
	if c, _, err := unknown.StreamCredentials("old"); err != nil || c.GetClientId() != "legacy" {
		t.Errorf("unknown server: %v, %v", c, err)
	}
	if _, err := unknown.Save("Stream", "x", stream("x", "x")); err == nil || err.Error() != "the server's id is unknown: there is no folder to save its entities in" {
		t.Errorf("Save with an unknown id: %v", err)
	}
	if got := unknown.Path("Stream", "x"); got != legacy.Path("Stream", "x") {
		t.Errorf("Path with an unknown id = %s", got)
	}
}

func TestServerDirAndRecords(t *testing.T) {
	dir := t.TempDir()
	for _, id := range []string{"", "..", "../x", "not-a-uuid", "{" + idA + "}", "urn:uuid:" + idA, "6f1c2d3e4b5a4c6d8e7f0a1b2c3d4e5f"} {
		want := `invalid server id "` + id + `": a strmlocal server's id is a UUID; is it a strmlocal server of the same version?`
		if _, err := client.ServerDir(dir, id); err == nil || err.Error() != want {
			t.Errorf("ServerDir(%q) = %v", id, err)
		}
	}
	if _, ok, err := client.ServerAt(dir, "http://127.0.0.1:1"); ok || err != nil {
		t.Errorf("ServerAt without servers: %v, %v", ok, err)
	}
	t1 := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	for _, r := range []client.ServerRecord{
		{ServerID: idA, URL: "http://127.0.0.1:1/", LastSeen: t1},
		{ServerID: idB, URL: "http://127.0.0.1:1", LastSeen: t1.Add(time.Hour)},
	} {
		if err := client.WriteServerRecord(dir, r); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "servers", idA, "server.json"))
	if got, want := string(b), "{\n  \"serverId\": \""+idA+"\",\n  \"url\": \"http://127.0.0.1:1\",\n  \"lastSeen\": \"2026-11-22T12:00:00Z\"\n}\n"; got != want {
		t.Errorf("server.json:\n%s\nwant\n%s", got, want)
	}
	// Two servers seen at one URL (a restarted in-memory server): the
	// latest.
	if r, ok, err := client.ServerAt(dir, "http://127.0.0.1:1/"); !ok || err != nil || r.ServerID != idB {
		t.Errorf("ServerAt = %+v, %v, %v", r, ok, err)
	}
	if err := client.WriteServerRecord(dir, client.ServerRecord{ServerID: idA, URL: "http://127.0.0.1:1", LastSeen: t1.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if r, _, _ := client.ServerAt(dir, "http://127.0.0.1:1"); r.ServerID != idA {
		t.Errorf("ServerAt after A was seen again = %s", r.ServerID)
	}
	// A damaged record, or one in another server's folder, names no URL.
	if err := os.WriteFile(filepath.Join(dir, "servers", idA, "server.json"), []byte(`{"serverId": "`+idB+`", "url": "http://127.0.0.1:1", "lastSeen": "2030-01-01T00:00:00Z"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if r, _, _ := client.ServerAt(dir, "http://127.0.0.1:1"); r.ServerID != idB || !r.LastSeen.Equal(t1.Add(time.Hour)) {
		t.Errorf("ServerAt with a misplaced record = %+v", r)
	}
	if _, ok, _ := client.ServerAt(dir, "http://127.0.0.1:2"); ok {
		t.Error("ServerAt found a server at a URL none was seen at")
	}
}
