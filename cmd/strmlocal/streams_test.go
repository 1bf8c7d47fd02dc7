package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDerivedStreams(t *testing.T) {
	c := newCLI(t)
	c.mustRun("create stream demo")
	c.expect("create stream --derived-from demo --levels 2", 0,
		"NAME    DERIVED FROM  CONSENT       CLIENT ID                             CLIENT SECRET                                         CREATED               TAGS  DESCRIPTION\n"+
			"demo-2  demo          cumulative 2  <client-id---------------------uuid>  <secret--------------------------------------base32>  2026-11-22T12:00:00Z        \n",
		"saved credentials to "+serverDir+"/saved-entities/Stream/demo-2.json\n")
	c.expect("create stream --derived-from demo --levels 0,1 --consent-type granular --masked-fields streammachine/example/1.3.0:uniqueIdentifier --mask-seed s --save=false -o json", 0, `{
  "stream": {
    "name": "demo-0-1",
    "credentials": {
      "clientId": "<client-id---------------------uuid>",
      "clientSecret": "<secret--------------------------------------base32>"
    },
    "createTime": "2026-11-22T12:00:00Z",
    "derivedFrom": "demo",
    "consentType": "CONSENT_TYPE_GRANULAR",
    "levels": [
      0,
      1
    ],
    "maskedFields": [
      {
        "contractRef": "streammachine/example/1.3.0",
        "fields": [
          "uniqueIdentifier"
        ]
      }
    ],
    "maskSeed": "***",
    "uuid": "<client-id---------------------uuid>"
  }
}
`, "")
	c.expect("create stream marketing --derived-from demo --levels 3 --consent-type GRANULAR --description ads", 0,
		"NAME       DERIVED FROM  CONSENT     CLIENT ID                             CLIENT SECRET                                         CREATED               TAGS  DESCRIPTION\n"+
			"marketing  demo          granular 3  <client-id---------------------uuid>  <secret--------------------------------------base32>  2026-11-22T12:00:00Z        ads\n",
		"saved credentials to "+serverDir+"/saved-entities/Stream/marketing.json\n")
	c.expect("list streams", 0,
		"NAME       DERIVED FROM  CONSENT       MASKED                                        EVENTS  CLIENT ID                             CREATED               TAGS  DESCRIPTION\n"+
			"demo                                                                                 0       <client-id---------------------uuid>  2026-11-22T12:00:00Z        \n"+
			"demo-0-1   demo          granular 0,1  streammachine/example/1.3.0:uniqueIdentifier  -       <client-id---------------------uuid>  2026-11-22T12:00:00Z        \n"+
			"demo-2     demo          cumulative 2                                                -       <client-id---------------------uuid>  2026-11-22T12:00:00Z        \n"+
			"marketing  demo          granular 3                                                  -       <client-id---------------------uuid>  2026-11-22T12:00:00Z        ads\n", "")
	c.expect("get stream demo", 0,
		"NAME  EVENTS  CLIENT ID                             CREATED               TAGS  DESCRIPTION\n"+
			"demo  0       <client-id---------------------uuid>  2026-11-22T12:00:00Z        \n", "")

	dir := c.savedDir()
	b, err := os.ReadFile(filepath.Join(dir, "demo-2.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got := scrub(string(b)); got != `{
  "name": "demo-2",
  "credentials": {
    "clientId": "<client-id---------------------uuid>",
    "clientSecret": "<secret--------------------------------------base32>"
  },
  "createTime": "2026-11-22T12:00:00Z",
  "derivedFrom": "demo",
  "consentType": "CONSENT_TYPE_CUMULATIVE",
  "levels": [
    2
  ],
  "uuid": "<client-id---------------------uuid>"
}
` {
		t.Fatalf("saved file:\n%s", got)
	}

	code, _, errs := c.run("delete", "stream", "demo")
	if want := "strmlocal: stream \"demo\" has derived streams (demo-0-1, demo-2, marketing); delete them first, or delete recursively (--recursive)\n"; code != 1 || errs != want {
		t.Fatalf("delete without --recursive: exit %d, stderr %q", code, errs)
	}
	c.expect("delete stream marketing", 0, "deleted stream marketing\n", "")
	c.expect("delete stream demo --recursive", 0, "deleted stream demo-0-1\ndeleted stream demo-2\ndeleted stream demo\n", "")
	for _, name := range []string{"demo", "demo-2", "marketing"} {
		if _, err := os.Stat(filepath.Join(dir, name+".json")); !os.IsNotExist(err) {
			t.Errorf("saved %s survived delete: %v", name, err)
		}
	}
	c.expect("list streams", 0, "NAME  EVENTS  CLIENT ID  CREATED  TAGS  DESCRIPTION\n", "")
}

func TestCreateStreamErrors(t *testing.T) {
	c := newCLI(t)
	c.mustRun("create stream demo --save=false")
	c.mustRun("create stream --derived-from demo --levels 1 --save=false")
	for _, tc := range []struct{ args, stderr string }{
		{"create stream", "name the stream: strmlocal create stream NAME (only a derived stream, with --derived-from, may leave it out)"},
		{"create stream a b", "accepts at most 1 arg(s), received 2"},
		{"create stream x --levels 2", "--levels is for derived streams: add --derived-from SOURCE"},
		{"create stream x --mask-seed s", "--mask-seed is for derived streams: add --derived-from SOURCE"},
		{"create stream --derived-from demo", "--derived-from needs --levels: the consent level(s) the derived stream reads, e.g. --levels 2"},
		{"create stream --derived-from demo --levels 0,1", "--consent-type cumulative takes one level, not 2 (0,1): use --consent-type granular for a set of levels"},
		{"create stream --derived-from demo --levels x", `invalid argument "x" for "--levels" flag: strconv.ParseInt: parsing "x": invalid syntax`},
		{"create stream --derived-from demo --levels 1 --consent-type all", `invalid --consent-type "all": use cumulative or granular`},
		{"create stream --derived-from demo --levels 1 --masked-fields uniqueIdentifier", `invalid --masked-fields "uniqueIdentifier": use CONTRACT-REF:field1,field2`},
		{"create stream --derived-from demo --levels 1 --masked-fields :uniqueIdentifier", `invalid --masked-fields ":uniqueIdentifier": use CONTRACT-REF:field1,field2`},
		{"create stream --derived-from demo --levels 1 --masked-fields streammachine/example/1.3.0:", `invalid --masked-fields "streammachine/example/1.3.0:": name at least one field after the ':' (CONTRACT-REF:field1,field2)`},
		{"create stream --derived-from demo --levels 1 --masked-fields streammachine/example/1.3.0:, --mask-seed s", `invalid --masked-fields "streammachine/example/1.3.0:,": name at least one field after the ':' (CONTRACT-REF:field1,field2)`},
		{"create stream --derived-from nope --levels 1", `derivedFrom: source stream "nope" not found (streams: demo, demo-1)`},
		{"create stream --derived-from demo-1 --levels 1", `derivedFrom: "demo-1" is itself derived from "demo"; derive from the source stream "demo" instead`},
		{"create stream --derived-from demo --levels 1", `stream "demo-1" already exists; pick another name, or delete it first`},
		{"create stream --derived-from demo --levels -1", "levels: -1 is not a valid consent level (must be >= 0)"},
		{"create stream --derived-from demo --levels 1,1 --consent-type granular", "levels: 1 is listed more than once"},
		{"create stream --derived-from demo --levels 1 --masked-fields acme/none/1.0.0:x", "masked: event contract acme/none/1.0.0 not found"},
	} {
		t.Run(tc.args, func(t *testing.T) {
			code, out, errs := c.run(strings.Fields(tc.args)...)
			if want := "strmlocal: " + tc.stderr + "\n"; code != 1 || out != "" || errs != want {
				t.Fatalf("exit %d, stdout %q\nstderr %q\nwant   %q", code, out, errs, want)
			}
		})
	}
}

func TestEmitFilterFlag(t *testing.T) {
	c := newCLI(t)
	if code, _, errs := c.run("create", "stream", "clicks", "--save=false"); code != 0 {
		t.Fatal(errs)
	}
	c.expect("create stream --derived-from clicks --levels 1 --emit-filter eventType=checkout --save=false clicks-checkout", 0,
		"NAME             DERIVED FROM  CONSENT       EMIT FILTER         CLIENT ID                             CLIENT SECRET                                         CREATED               TAGS  DESCRIPTION\n"+
			"clicks-checkout  clicks        cumulative 1  eventType=checkout  <client-id---------------------uuid>  <secret--------------------------------------base32>  2026-11-22T12:00:00Z        \n", "")
	c.expect("create stream x --emit-filter eventType=checkout", 1, "", "strmlocal: --emit-filter is for derived streams: add --derived-from SOURCE\n")
	c.expect("create stream --derived-from clicks --levels 0 --emit-filter producerSessionId=s1 --save=false", 1, "",
		"strmlocal: emitFilter: field 'producerSessionId' is PII of consent level 1 in contract 'streammachine/clickstream/1.0.0', which this stream (CUMULATIVE 0) does not decrypt: it could only compare ciphertext; filter on a field it can read\n")
}
