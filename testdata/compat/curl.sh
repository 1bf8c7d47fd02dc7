#!/usr/bin/env bash
# The README's curl walk-through of the STRM-compatible HTTP surface, run by
# cmd/strmlocal's TestCurlWalkthrough against a fresh server. It needs
# STRMLOCAL (the binary), STRMLOCAL_SERVER and XDG_CONFIG_HOME, and prints
# one line per step; the test compares the output with curl.golden.
set -euo pipefail
: "${STRMLOCAL:?}" "${STRMLOCAL_SERVER:?}" "${XDG_CONFIG_HOME:?}"
url=$STRMLOCAL_SERVER

# The credentials as create stream prints them (it saves them too).
creds=$("$STRMLOCAL" create stream curl-demo -o json 2>/dev/null)
field() { printf '%s\n' "$2" | sed -n "s/.*\"$1\": *\"\([^\"]*\)\".*/\1/p" | head -n 1; }
id=$(field clientId "$creds")
secret=$(field clientSecret "$creds")

event='{"strmMeta": {"eventContractRef": "streammachine/example/1.3.0", "consentLevels": [2]}, "uniqueIdentifier": "unique-curl-json", "consistentValue": "session-curl-json", "someSensitiveValue": "sensitive-curl-json"}'
invalid='{"strmMeta": {"eventContractRef": "streammachine/example/1.3.0", "consentLevels": [2]}, "consistentValue": ""}'
# The same kind of event as a bare Avro binary datum (schema demo/1.0.2).
avro() {
  printf '6streammachine/example/1.3.0\000\000\000\000\002\004\000\002 unique-curl-avro"session-curl-avro\002&sensitive-curl-avro\002\036plain-curl-avro'
}

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
for proto in --http1.1 --http2-prior-knowledge; do
  echo "== curl $proto"
  reply=$(curl -sS "$proto" -u "$id:$secret" -d grant_type=client_credentials \
    "$url/auth/realms/streams/protocol/openid-connect/token")
  token=$(printf '%s' "$reply" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
  echo "token: $(printf '%s' "$reply" | grep -o '"token_type":"[^"]*"')"

  send() { # send TOKEN SERIALIZATION BODY-FILE: prints the status and the body
    local status body
    status=$(curl -sS "$proto" -o "$tmp" -w '%{http_code}' "$url/event" \
      -H "Authorization: Bearer $1" \
      -H 'Strm-Schema-Ref: streammachine/demo/1.0.2' \
      -H "Strm-Serialization-Type: $2" \
      --data-binary "@$3")
    body=$(cat "$tmp")
    echo "$status${body:+ $body}"
  }
  echo "json: $(send "$token" application/json <(printf '%s' "$event"))"
  echo "avro: $(send "$token" application/x-avro-binary <(avro))"
  echo "invalid: $(send "$token" application/json <(printf '%s' "$invalid"))"
  echo "bad token: $(send not-a-token application/json <(printf '%s' "$event"))"
done

echo "== strmlocal egress curl-demo"
"$STRMLOCAL" egress curl-demo --follow=false | sed -n 's/.*"consistentValue": *"\([^"]*\)".*/\1/p' | while read -r v; do
  case $v in
    session-*) echo "PLAINTEXT $v" ;;
    *) echo "encrypted (${#v} characters of base64)" ;;
  esac
done
