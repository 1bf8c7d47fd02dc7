package keys

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/strmlocal/strmlocal/internal/store"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"
)

const (
	// MasterKeyEnv is the environment variable that may hold the master
	// key; it wins over the file.
	MasterKeyEnv = "STRMLOCAL_MASTER_KEY"
	// MasterKeyFile is the name of the master key file in a data dir.
	MasterKeyFile = "master.key"
)

// maxMasterKeyFile bounds what LoadMaster reads: a keyset of one AES-GCM
// key is about 200 bytes.
const maxMasterKeyFile = 64 << 10

// LoadMaster returns the master AEAD that wraps every stored key. env is
// the value of STRMLOCAL_MASTER_KEY ("" when unset). In order:
//
//   - env set: the key it holds, a cleartext Tink JSON keyset of an AEAD
//     key (as NewMasterKeyset writes), or the standard base64 of one;
//   - dataDir "" (an in-memory server): a fresh random key, gone with the
//     process, as is everything it protects;
//   - else <dataDir>/master.key, the same format, created with mode 0600 on
//     first start (one AES256-GCM key), atomically: it holds either nothing
//     or the whole key.
//
// A master.key that other users may read or write (mode wider than 0600) is
// refused, as ssh refuses such a private key: whoever reads it and the
// data dir reads every key. The check is skipped on Windows, whose file
// modes do not express this.
//
// Call LoadMaster after store.Open, which creates the data dir and locks it
// against a second server creating a second key. Errors match ErrMaster,
// name the file or the variable, and never quote the key.
func LoadMaster(dataDir, env string) (tink.AEAD, error) {
	if env != "" {
		h, err := parseMaster([]byte(env))
		if err != nil {
			return nil, fmt.Errorf("%w: %s is not a cleartext Tink JSON keyset of an AEAD key, nor the base64 of one", ErrMaster, MasterKeyEnv)
		}
		return masterAEAD(h, MasterKeyEnv)
	}
	if dataDir == "" {
		h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
		if err != nil {
			return nil, fmt.Errorf("%w: new key: %w", ErrMaster, err)
		}
		return masterAEAD(h, "new key")
	}
	path := filepath.Join(dataDir, MasterKeyFile)
	a, err := readMasterFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createMasterFile(dataDir, path)
	}
	return a, err
}

// NewMasterKeyset returns a new master key in the form LoadMaster reads: a
// cleartext Tink JSON keyset of one AES256-GCM key, on one line. It is
// secret.
func NewMasterKeyset() (string, error) {
	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		return "", fmt.Errorf("%w: new key: %w", ErrMaster, err)
	}
	b, err := cleartextJSON(h)
	return string(b), err
}

func cleartextJSON(h *keyset.Handle) ([]byte, error) {
	var buf, line bytes.Buffer
	if err := insecurecleartextkeyset.Write(h, keyset.NewJSONWriter(&buf)); err != nil {
		return nil, fmt.Errorf("%w: write key: %w", ErrMaster, err)
	}
	// (A JSON error could quote key bytes: never wrap it.)
	if err := json.Compact(&line, buf.Bytes()); err != nil {
		return nil, fmt.Errorf("%w: Tink wrote invalid JSON", ErrMaster)
	}
	return line.Bytes(), nil
}

// parseMaster reads a cleartext JSON keyset, or its base64. Its errors may
// quote the input: callers must not pass them on.
func parseMaster(b []byte) (*keyset.Handle, error) {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] != '{' {
		dec, err := base64.StdEncoding.DecodeString(string(b))
		if err != nil {
			return nil, err
		}
		b = bytes.TrimSpace(dec)
	}
	return insecurecleartextkeyset.Read(keyset.NewJSONReader(bytes.NewReader(b)))
}

func masterAEAD(h *keyset.Handle, from string) (tink.AEAD, error) {
	a, err := aead.New(h)
	if err != nil {
		return nil, fmt.Errorf("%w: %s holds a Tink keyset, but not of an AEAD key", ErrMaster, from)
	}
	return a, nil
}

func readMasterFile(path string) (tink.AEAD, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMaster, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMaster, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrMaster, path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("%w: %s has mode %04o, open to other users; restrict it with: chmod 600 %s", ErrMaster, path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxMasterKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMaster, err)
	}
	h, err := parseMaster(b)
	if len(b) > maxMasterKeyFile || err != nil {
		return nil, fmt.Errorf("%w: %s is not a cleartext Tink JSON keyset of an AEAD key; restore the right file, or set %s", ErrMaster, path, MasterKeyEnv)
	}
	return masterAEAD(h, path)
}

// createMasterFile writes a new key to a temporary file and links it into
// place, so that path never holds half a key and an existing one is never
// replaced.
func createMasterFile(dataDir, path string) (tink.AEAD, error) {
	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		return nil, fmt.Errorf("%w: new key: %w", ErrMaster, err)
	}
	b, err := cleartextJSON(h)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("%w: create data dir: %w", ErrMaster, err)
	}
	tmp, err := os.CreateTemp(dataDir, "."+MasterKeyFile+"-*") // mode 0600
	if err != nil {
		return nil, fmt.Errorf("%w: create %s: %w", ErrMaster, path, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(append(b, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("%w: write %s: %w", ErrMaster, path, err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			// Another process created it first: use theirs.
			return readMasterFile(path)
		}
		return nil, fmt.Errorf("%w: create %s: %w", ErrMaster, path, err)
	}
	if err := syncDir(dataDir); err != nil {
		return nil, fmt.Errorf("%w: create %s: %w", ErrMaster, path, err)
	}
	return masterAEAD(h, path)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Initialized reports whether db already holds keys, made under some
// master key. A missing master key file must then not be replaced by a new
// one: the new key would open none of them.
func Initialized(db store.Reader) (bool, error) {
	ok, err := store.Contains(db, hashKeyKey)
	if err != nil {
		return false, fmt.Errorf("keys: read hash key: %w", err)
	}
	return ok, nil
}

// MissingMaster checks, before LoadMaster would create a master key file in
// dataDir, that db holds no keys made under a lost one.
func MissingMaster(dataDir string, db store.Reader) error {
	path := filepath.Join(dataDir, MasterKeyFile)
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	used, err := Initialized(db)
	if err != nil || !used {
		return err
	}
	return fmt.Errorf("%w: %s is missing, but this data dir holds keys made under it: restore the file, or set %s to its content", ErrMaster, path, MasterKeyEnv)
}
