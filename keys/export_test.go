package keys

// HashKeyOf exposes the hash key to tests that look for it on disk.
func HashKeyOf(ks *Keys) []byte { return ks.hashKey }
